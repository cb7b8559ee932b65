// node --test: the join link parser and the quality thresholds (pure code, no browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJoinLink, sessionTopics } from '../link.js';
import { qualityLevel } from '../call.js';

const GOOD = '#v=1&broker=wss%3A%2F%2Fbroker.example%3A8443&root=praxiskiosk%2Fv1&device=kiosk-01'
  + '&session=s-1&username=doctor-a-1&password=a%2Bb%2F%3D';

test('the link\'s key is 32 bytes of base64url, or the link is invalid', () => {
  const key = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
  const link = parseJoinLink(`${GOOD}&key=${key}`);
  assert.equal(link.ok, true);
  assert.deepEqual([...link.join.key], [...Array(32).keys()]);
  assert.deepEqual(parseJoinLink(`${GOOD}&key=AAEC`).invalid, ['key']);
  assert.deepEqual(parseJoinLink(`${GOOD}&key=`).invalid, ['key']);
  assert.deepEqual(parseJoinLink(`${GOOD}&key=${key.replace('A', '+')}`).invalid, ['key']);
  // The same 32 bytes, but the last character's spare bits set: only one spelling is a key.
  assert.deepEqual(parseJoinLink(`${GOOD}&key=${key.slice(0, -1)}h`).invalid, ['key']);
});

test('a complete link gives the session and keeps + and / in the password', () => {
  const link = parseJoinLink(GOOD);
  assert.equal(link.ok, true);
  assert.deepEqual(link.join, {
    broker: 'wss://broker.example:8443', root: 'praxiskiosk/v1', device: 'kiosk-01',
    session: 's-1', username: 'doctor-a-1', password: 'a+b/=', key: null,
  });
  assert.deepEqual(sessionTopics(link.join), {
    kiosk: 'praxiskiosk/v1/devices/kiosk-01/sessions/s-1/kiosk',
    doctor: 'praxiskiosk/v1/devices/kiosk-01/sessions/s-1/doctor',
  });
});

test('missing and invalid fields are named', () => {
  assert.deepEqual(parseJoinLink('').invalid, ['v', 'broker', 'root', 'device', 'session', 'username', 'password']);
  assert.deepEqual(parseJoinLink(GOOD.replace('&password=a%2Bb%2F%3D', '')).invalid, ['password']);
  assert.deepEqual(parseJoinLink(GOOD.replace('device=kiosk-01', 'device=kiosk%2F01')).invalid, ['device']);
  assert.deepEqual(parseJoinLink(GOOD.replace('root=praxiskiosk%2Fv1', 'root=a%2F%23')).invalid, ['root']);
  assert.deepEqual(parseJoinLink(GOOD.replace('session=s-1', 'session=%E0%A4%A')).invalid, ['session']);
});

test('plain ws only to loopback, nothing but WebSockets', () => {
  const broker = (b) => parseJoinLink(GOOD.replace('wss%3A%2F%2Fbroker.example%3A8443', encodeURIComponent(b)));
  assert.equal(broker('ws://127.0.0.1:9001').ok, true);
  assert.deepEqual(broker('ws://[::1]:9001').invalid, ['broker']);
  assert.deepEqual(broker('ws://broker.example:9001').invalid, ['broker']);
  assert.deepEqual(broker('mqtts://broker.example:8883').invalid, ['broker']);
});

test('names are percent-decoded like values, and a broken value is refused under its name', () => {
  assert.equal(parseJoinLink(GOOD.replace('#v=1', '#%76=%31')).ok, true);
  assert.deepEqual(parseJoinLink(`${GOOD}&%70assword=%ZZ`).invalid, ['password']);
  assert.equal(parseJoinLink(`${GOOD}&pass%ZZ=x`).ok, true);
});

test('another version is reported as such', () => {
  assert.equal(parseJoinLink(GOOD.replace('v=1', 'v=2')).version, '2');
});

test('quality: loss and round-trip time thresholds', () => {
  const prev = { received: 1000, lost: 10 };
  assert.equal(qualityLevel(prev, { received: 1100, lost: 10, rtt: 0.02 }), 'good');
  assert.equal(qualityLevel(prev, { received: 1100, lost: 10, rtt: 0.2 }), 'fair');
  assert.equal(qualityLevel(prev, { received: 1100, lost: 15, rtt: 0.02 }), 'fair'); // 4.8 %
  assert.equal(qualityLevel(prev, { received: 1100, lost: 30, rtt: 0.02 }), 'poor'); // 16.7 %
  assert.equal(qualityLevel(prev, { received: 1100, lost: 10, rtt: 0.5 }), 'poor');
  assert.equal(qualityLevel(prev, { received: 1000, lost: 10, rtt: 0.02 }), 'poor'); // frozen
});

test('quality: the frame rate over the time between the samples, as the kiosk judges it', () => {
  const prev = { received: 1000, lost: 0, framesDecoded: 300, at: 10_000 };
  const after = (frames, ms) => ({ received: 1100, lost: 0, rtt: 0.02, framesDecoded: 300 + frames, at: 10_000 + ms });
  assert.equal(qualityLevel(prev, after(30, 1000)), 'good');
  assert.equal(qualityLevel(prev, after(15, 1000)), 'good'); // the kiosk's smallest step
  assert.equal(qualityLevel(prev, after(16, 2000)), 'fair'); // 8 a second, over a late tick
  assert.equal(qualityLevel(prev, after(3, 1000)), 'poor'); // packets, but hardly a picture
  // No times from the browser: loss and round trip alone.
  assert.equal(qualityLevel({ received: 1000, lost: 0, framesDecoded: 300 }, after(3, 1000)), 'good');
});
