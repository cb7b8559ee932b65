// The page shows what the kiosk and the join link say (the patient's name above all) only as
// text: no script of it has an HTML sink, so a name can never become markup (protocol.md 3.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../', import.meta.url);
const sinks = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|srcdoc|createContextualFragment|DOMParser)\b/;

test('no script of the page writes HTML', () => {
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.includes('app.js'), `the page's scripts are here: ${scripts}`);
  for (const file of scripts) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const line = text.split('\n').findIndex((l) => sinks.test(l));
    assert.equal(line, -1, `${file}:${line + 1} writes HTML`);
  }
});
