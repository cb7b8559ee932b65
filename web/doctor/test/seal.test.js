// node --test: the page's sealed signalling against the vectors the Rust side wrote
// (src/fleet/trust/channel.rs keeps test/seal-vectors.json what it seals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { channel, fromBase64url, open, seal, toBase64url } from '../seal.js';

const vectors = JSON.parse(readFileSync(new URL('./seal-vectors.json', import.meta.url), 'utf8'));
const key = fromBase64url(vectors.key);
const byKiosk = vectors.messages.filter((m) => m.from === 'kiosk');
const byDoctor = vectors.messages.filter((m) => m.from === 'doctor');

test('base64url round trips and refuses what is not', () => {
  assert.equal(toBase64url(fromBase64url(vectors.key)), vectors.key);
  assert.equal(key.length, 32);
  assert.equal(fromBase64url('a+b/'), null);
  assert.equal(fromBase64url('a'), null);
});

test('the page opens what the kiosk sealed, in order', async () => {
  const page = await channel(key, vectors.session, 'doctor');
  for (const m of byKiosk) {
    assert.equal(await open(page, { v: 2, from: 'kiosk', seq: m.seq, box: m.box }), m.plaintext);
  }
});

test('the page seals byte for byte what the Rust side seals', async () => {
  const page = await channel(key, vectors.session, 'doctor');
  for (const m of byDoctor) {
    const sealed = await seal(page, m.plaintext, m.seq);
    assert.deepEqual(sealed, { v: 2, from: 'doctor', seq: m.seq, box: m.box });
  }
});

test('a replay, an altered box or number, another session and a reflected message are refused', async () => {
  const [first, second] = byKiosk;
  const page = await channel(key, vectors.session, 'doctor');
  await open(page, { v: 2, from: 'kiosk', seq: second.seq, box: second.box });
  await assert.rejects(open(page, { v: 2, from: 'kiosk', seq: second.seq, box: second.box }), /replayed/);
  await assert.rejects(open(page, { v: 2, from: 'kiosk', seq: first.seq, box: first.box }), /replayed/);

  const fresh = await channel(key, vectors.session, 'doctor');
  const bad = first.box.slice(0, -2) + (first.box.endsWith('AA') ? 'AB' : 'AA');
  await assert.rejects(open(fresh, { v: 2, from: 'kiosk', seq: first.seq, box: bad }), /does not open/);
  await assert.rejects(open(fresh, { v: 2, from: 'kiosk', seq: first.seq + 1, box: first.box }), /does not open/);
  const elsewhere = await channel(key, 'another-session', 'doctor');
  await assert.rejects(open(elsewhere, { v: 2, from: 'kiosk', seq: first.seq, box: first.box }), /does not open/);
  // The page's own message, sent back to it.
  const d = byDoctor[0];
  await assert.rejects(open(fresh, { v: 2, from: 'doctor', seq: d.seq, box: d.box }), /wrong direction/);
  // A forgery did not raise the bound: the real message still opens.
  assert.equal(await open(fresh, { v: 2, from: 'kiosk', seq: first.seq, box: first.box }), first.plaintext);
});

test('a reloaded page numbers above what it sent before', async () => {
  const before = await channel(key, vectors.session, 'doctor');
  const a = await seal(before, '{}', 1_700_000_000_000);
  const b = await seal(before, '{}', 1_700_000_000_000);
  assert.equal(b.seq, a.seq + 1);
  const reloaded = await channel(key, vectors.session, 'doctor');
  const c = await seal(reloaded, '{}', 1_700_000_000_900);
  assert.ok(c.seq > b.seq);
  const kiosk = await channel(key, vectors.session, 'kiosk');
  for (const m of [a, b, c]) assert.equal(await open(kiosk, m), '{}');
});
