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
  const first = windowNonce(tab);
  assert.match(first, /^[0-9a-f]{32}$/);
  assert.equal(windowNonce(tab), first, 'a reload is the same window');
  assert.notEqual(windowNonce(memoryStorage()), first, 'a second tab is another window');
});

test('a kept nonce that is not ours is replaced, and refused storage still gives one', () => {
  const tab = memoryStorage();
  tab.setItem('praxiskiosk.window', 'x y');
  assert.match(windowNonce(tab), /^[0-9a-f]{32}$/);
  assert.match(windowNonce(refusing), /^[0-9a-f]{32}$/);
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
