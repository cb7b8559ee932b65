import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeJoinFragment, windowNonce } from '../tab.js';

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
  };
}

const refusing = {
  getItem: () => {
    throw new Error('SecurityError');
  },
  setItem: () => {
    throw new Error('SecurityError');
  },
};

test('a tab keeps its window nonce across reloads, and another tab makes its own', () => {
  const tab = memoryStorage();
  const first = windowNonce(tab, 'navigate');
  assert.match(first, /^[0-9a-f]{32}$/);
  assert.equal(windowNonce(tab, 'reload'), first, 'a reload is the same window');
  assert.notEqual(windowNonce(memoryStorage(), 'navigate'), first, 'a second tab is another window');
});

test('a duplicated tab, which starts with a copy of the storage, is another window', () => {
  const tab = memoryStorage();
  const first = windowNonce(tab, 'navigate');
  const duplicate = memoryStorage();
  duplicate.setItem('praxiskiosk.window', tab.getItem('praxiskiosk.window'));
  for (const type of ['navigate', 'back_forward', 'prerender', undefined]) {
    assert.notEqual(windowNonce(duplicate, type), first, String(type));
  }
});

test('a kept nonce that is not ours is replaced, and refused storage still gives one', () => {
  const tab = memoryStorage();
  tab.setItem('praxiskiosk.window', 'x y');
  assert.match(windowNonce(tab, 'reload'), /^[0-9a-f]{32}$/);
  assert.match(windowNonce(refusing, 'reload'), /^[0-9a-f]{32}$/);
});

test('the join fragment leaves the address bar and a reload still finds it', () => {
  const tab = memoryStorage();
  const replaced = [];
  const history = { replaceState: (_s, _t, url) => replaced.push(url) };
  const at = { hash: '#v=1&s=abc', pathname: '/doctor/', search: '' };
  assert.equal(takeJoinFragment(at, history, tab), '#v=1&s=abc');
  assert.deepEqual(replaced, ['/doctor/']);
  const reloaded = { hash: '', pathname: '/doctor/', search: '' };
  assert.equal(takeJoinFragment(reloaded, history, tab), '#v=1&s=abc');
  assert.equal(takeJoinFragment(at, history, refusing), '#v=1&s=abc', 'refused storage keeps the URL');
});
