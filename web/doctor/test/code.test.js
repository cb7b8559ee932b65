// node --test: the page's security code against the vectors the Rust side wrote
// (src/call/code.rs keeps test/code-vectors.json what it computes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dtlsFingerprints, normalisedFingerprint, sdpFingerprint, securityCode } from '../code.js';
import { fromBase64url } from '../seal.js';

const vectors = JSON.parse(readFileSync(new URL('./code-vectors.json', import.meta.url), 'utf8'));

test('the page computes the code the kiosk computes, for every vector', async () => {
  assert.ok(vectors.length >= 4);
  for (const v of vectors) {
    const key = v.key === null ? null : fromBase64url(v.key);
    assert.equal(await securityCode(key, v.session, v.kiosk_fingerprint, v.doctor_fingerprint), v.code);
  }
});

test('the vectors cover a session without a key, swapped roles and a changed certificate', () => {
  assert.ok(vectors.some((v) => v.key === null));
  const codes = new Set(vectors.map((v) => v.code));
  assert.equal(codes.size, vectors.length, 'each case is another code');
});

test('fingerprints are normalised; what is not sha-256 has no code', async () => {
  const f = vectors[0].kiosk_fingerprint;
  assert.equal(normalisedFingerprint(f.toLowerCase()), f.replace(/:/g, ''));
  assert.equal(normalisedFingerprint('AB:CD'), null);
  assert.equal(normalisedFingerprint(undefined), null);
  assert.equal(await securityCode(null, 's', 'AB:CD', f), null);
});

test('the fingerprints come from the connected transport’s certificate stats', () => {
  const report = new Map([
    ['T', { type: 'transport', dtlsState: 'connected', localCertificateId: 'L', remoteCertificateId: 'R' }],
    ['L', { type: 'certificate', fingerprint: 'AA:BB', fingerprintAlgorithm: 'sha-256' }],
    ['R', { type: 'certificate', fingerprint: 'CC:DD', fingerprintAlgorithm: 'sha-256' }],
  ]);
  assert.deepEqual(dtlsFingerprints(report), { local: 'AA:BB', remote: 'CC:DD' });
  report.get('T').dtlsState = 'connecting';
  assert.equal(dtlsFingerprints(report), null);
  report.get('T').dtlsState = 'connected';
  report.get('R').fingerprintAlgorithm = 'sha-1';
  assert.equal(dtlsFingerprints(report), null);
  assert.equal(dtlsFingerprints(null), null);
});

test('without certificate stats, the descriptions name the fingerprints once DTLS is connected', () => {
  const report = new Map([
    ['T', { type: 'transport', dtlsState: 'connected', localCertificateId: 'L' }],
    ['L', { type: 'certificate', fingerprint: 'AA:BB', fingerprintAlgorithm: 'sha-256' }],
  ]);
  const remote = 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=fingerprint:sha-256 cc:dd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=fingerprint:sha-256 CC:DD\r\n';
  assert.deepEqual(dtlsFingerprints(report, { remote }), { local: 'AA:BB', remote: 'CC:DD' });
  assert.equal(dtlsFingerprints(report, {}), null, 'no remote certificate, no description');
  const connecting = new Map([['T', { type: 'transport', dtlsState: 'connecting' }]]);
  assert.equal(dtlsFingerprints(connecting, { local: remote, remote }), null, 'not before DTLS is up');
  assert.equal(sdpFingerprint(`${remote}a=fingerprint:sha-256 EE:FF\r\n`), null, 'two certificates: none');
  assert.equal(sdpFingerprint('a=fingerprint:sha-1 AA:BB\r\n'), null);
});
