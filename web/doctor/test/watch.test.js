// node --test: interruptions, the end of a lost call and paused video, fed samples and times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callDuration, initialWatch, parseReconnectSeconds, watchMedia } from '../watch.js';

/** Runs samples (defaults: connection 'A', ICE connected) through the watch; returns every state. */
function run(samples, reconnectS = 45, from = initialWatch()) {
  const states = [];
  let w = from;
  for (const s of samples) {
    w = watchMedia(w, { conn: 'A', ice: 'connected', bytes: 0, audioBytes: 0, frames: 0, ...s }, reconnectS);
    states.push(w);
  }
  return states;
}
const phases = (states) => states.map((w) => w.phase);

/** Samples once a second from `from` ms to `to` ms, with media flowing (both kinds growing). */
function flowing(from, to, extra = {}) {
  const out = [];
  for (let at = from; at <= to; at += 1000) {
    out.push({ at, bytes: 1000 + at, audioBytes: 100 + at, frames: 1 + at / 40, ...extra });
  }
  return out;
}

test('reconnect_s: a whole number of seconds, else 45', () => {
  assert.equal(parseReconnectSeconds(30), 30);
  assert.equal(parseReconnectSeconds(0), 0);
  assert.equal(parseReconnectSeconds(3600), 3600);
  for (const bad of [undefined, null, -1, 1.5, '30', 3601, Number.NaN, Infinity]) {
    assert.equal(parseReconnectSeconds(bad), 45, String(bad));
  }
});

test('before media: neither ICE failure nor silence is an interruption', () => {
  const states = run([
    { at: 0, ice: 'checking' },
    { at: 5000, ice: 'disconnected' },
    { at: 10000, ice: 'failed' },
    { at: 999000, ice: 'failed' },
  ], 0);
  assert.deepEqual(phases(states), ['before', 'before', 'before', 'before']);
  assert.deepEqual(phases(run([{ at: 0 }, { at: 1000, bytes: 1 }])), ['before', 'flowing']);
});

test('no inbound byte for 3 s interrupts, not earlier', () => {
  const states = run([
    { at: 0, bytes: 100 },
    { at: 1000, bytes: 100 },
    { at: 2999, bytes: 100 },
    { at: 3000, bytes: 100 },
  ]);
  assert.deepEqual(phases(states), ['flowing', 'flowing', 'flowing', 'interrupted']);
  assert.equal(states[3].since, 3000);
});

test('ICE disconnected or failed interrupts at once, and media that come again end it', () => {
  const states = run([
    ...flowing(0, 2000),
    { at: 3000, bytes: 4000, ice: 'disconnected' }, // bytes still grew: ICE decides
    { at: 4000, bytes: 4000, ice: 'disconnected' },
    { at: 5000, bytes: 4500, ice: 'disconnected' }, // media alone is not enough while ICE is down
    { at: 6000, bytes: 5000, ice: 'connected' },
    { at: 7000, bytes: 5000, ice: 'failed' },
  ]);
  assert.deepEqual(phases(states), ['flowing', 'flowing', 'flowing', 'interrupted', 'interrupted', 'interrupted', 'flowing', 'interrupted']);
  assert.equal(states[4].since, 3000);
  assert.equal(states[5].since, 5000, 'bytes that still come restart the clock');
});

test('an interruption ends the call only after reconnect_s + 5 s, and that is final', () => {
  const start = run(flowing(0, 1000));
  const states = run([
    { at: 4000, bytes: 2000 }, // last growth at 1000: interrupted since 4000
    { at: 18999, bytes: 2000, ice: 'disconnected' },
    { at: 19000, bytes: 2000, ice: 'failed' }, // exactly 10 + 5 s: not yet
    { at: 19001, bytes: 2000, ice: 'failed' },
    { at: 20000, bytes: 9999 }, // too late
  ], 10, start.at(-1));
  assert.deepEqual(phases(states), ['interrupted', 'interrupted', 'interrupted', 'lost', 'lost']);
});

test('a plain ICE disconnected never ends the call while media still come', () => {
  const states = run(flowing(0, 120000, { ice: 'disconnected' }), 10);
  assert.ok(states.every((w) => w.phase !== 'lost'));
});

test('the fresh offer\'s new connection counts from zero and ends the interruption when its media come', () => {
  const start = run(flowing(0, 1000)).at(-1); // connection A reached 2000 bytes
  const states = run([
    { at: 2000, bytes: 2000, ice: 'failed' },
    { at: 3000, conn: 'B', ice: 'checking', bytes: 0 },
    { at: 4000, conn: 'B', ice: 'connected', bytes: 0 },
    { at: 5000, conn: 'B', ice: 'connected', bytes: 300 }, // less than A had, but B's first bytes
  ], 45, start);
  assert.deepEqual(phases(states), ['interrupted', 'interrupted', 'interrupted', 'flowing']);
  assert.equal(states[2].since, 2000, 'the interruption goes on across connections');
});

test('a new connection while media flow gets its own 3 s before it counts as stalled', () => {
  const start = run(flowing(0, 2000)).at(-1);
  const states = run([
    { at: 2500, conn: 'B', bytes: 0 },
    { at: 5499, conn: 'B', bytes: 0 },
    { at: 5500, conn: 'B', bytes: 0 },
  ], 45, start);
  assert.deepEqual(phases(states), ['flowing', 'flowing', 'interrupted']);
});

test('video paused: no new frame for 2 s while sound grows, and back when frames come', () => {
  const states = run([
    { at: 0, bytes: 100, audioBytes: 10, frames: 5 },
    { at: 1000, bytes: 200, audioBytes: 20, frames: 5 },
    { at: 1999, bytes: 300, audioBytes: 30, frames: 5 },
    { at: 2000, bytes: 400, audioBytes: 40, frames: 5 },
    { at: 3000, bytes: 500, audioBytes: 50, frames: 5 },
    { at: 4000, bytes: 600, audioBytes: 60, frames: 6 },
  ]);
  assert.deepEqual(states.map((w) => w.videoPaused), [false, false, false, true, true, false]);
});

test('video paused: not while the sound stops too, nor before this connection showed a picture', () => {
  const silent = run([
    { at: 0, bytes: 100, audioBytes: 10, frames: 5 },
    { at: 2000, bytes: 200, audioBytes: 10, frames: 5 }, // video bytes only, no new frame, no sound
  ]);
  assert.equal(silent[1].videoPaused, false);
  const noPicture = run([
    { at: 0, bytes: 100, audioBytes: 10, frames: 0 },
    { at: 2000, bytes: 200, audioBytes: 20, frames: 0 },
    { at: 3000, bytes: 300, audioBytes: 30, frames: 0 },
  ]);
  assert.ok(noPicture.every((w) => !w.videoPaused));
  const interrupted = run([
    { at: 0, bytes: 100, audioBytes: 10, frames: 5 },
    { at: 2000, bytes: 200, audioBytes: 20, frames: 5, ice: 'disconnected' },
  ]);
  assert.deepEqual([interrupted[1].phase, interrupted[1].videoPaused], ['interrupted', false]);
});

test('the call duration shows minutes and seconds, minutes going on past an hour', () => {
  assert.equal(callDuration(0), '00:00');
  assert.equal(callDuration(61_999), '01:01');
  assert.equal(callDuration(3_725_000), '62:05');
  assert.equal(callDuration(-5), '00:00');
});
