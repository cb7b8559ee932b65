// node --test: the kiosk's ICE servers and what getStats() says about the media path (pure code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mediaSample, parseIceServers, parseVideoMax, qualitySample, selectedPairTypes, videoCodecs } from '../call.js';

const STUN = { urls: ['stun:198.18.0.10:3478'] };
const TURN = { urls: ['turn:198.18.0.10:3478'], username: 'u', credential: 'p' };

test('ice servers: the kiosk\'s STUN and TURN entries are taken as they are', () => {
  assert.deepEqual(parseIceServers([STUN, TURN]), [STUN, TURN]);
  assert.deepEqual(parseIceServers([{ urls: 'stun:kiosk-stun.example' }]), [{ urls: ['stun:kiosk-stun.example'] }]);
  assert.deepEqual(parseIceServers([{ urls: ['turns:[2001:db8::1]:5349?transport=tcp'], username: 'u', credential: '' }]),
    [{ urls: ['turns:[2001:db8::1]:5349?transport=tcp'], username: 'u', credential: '' }]);
});

test('ice servers: absent means none, not a list keeps the old ones', () => {
  assert.deepEqual(parseIceServers(undefined), []);
  assert.equal(parseIceServers('stun:198.18.0.10:3478'), null);
  assert.equal(parseIceServers({ urls: ['stun:198.18.0.10:3478'] }), null);
  assert.equal(parseIceServers(null), null);
});

test('ice servers: malformed entries are dropped, the rest kept', () => {
  const bad = [
    null, 'stun:198.18.0.10', {}, { urls: [] }, { urls: 42 }, { urls: [42] },
    { urls: ['http://198.18.0.10'] }, { urls: ['stun://198.18.0.10:3478'] }, { urls: ['stun:'] },
    { urls: ['stun:198.18.0.10:0'] }, { urls: ['stun:198.18.0.10:65536'] }, { urls: ['stun:a b'] },
    { urls: ['stun:198.18.0.10?transport=udp'] }, { urls: ['turn:u:p@198.18.0.10'] },
    { urls: ['stun:198.18.0.10', 'ftp:x'] }, // one bad url spoils its entry
    { urls: ['turn:198.18.0.10:3478'] }, // TURN without a login: browsers would refuse every server
    { urls: ['turn:198.18.0.10:3478'], username: 'u' },
    { urls: ['stun:198.18.0.10'], username: 7 },
    { urls: ['turn:198.18.0.10:3478'], username: 'u', credential: { secret: 'p' } },
  ];
  assert.deepEqual(parseIceServers([...bad, STUN]), [STUN]);
});

test('ice servers: only known fields pass, at most 8 servers', () => {
  assert.deepEqual(parseIceServers([{ ...TURN, credentialType: 'oauth', extra: 1 }]), [TURN]);
  const many = Array.from({ length: 10 }, (_, i) => ({ urls: [`stun:198.18.0.${i + 1}`] }));
  const kept = parseIceServers(many);
  assert.equal(kept.length, 8);
  assert.deepEqual(kept.at(-1), { urls: ['stun:198.18.0.8'] });
});

// getStats() reports are maps of id → stats object.
const report = (...stats) => new Map(stats.map((s) => [s.id, s]));
const candidates = [
  { id: 'L-host', type: 'local-candidate', candidateType: 'host' },
  { id: 'L-relay', type: 'local-candidate', candidateType: 'relay' },
  { id: 'R-srflx', type: 'remote-candidate', candidateType: 'srflx' },
  { id: 'R-relay', type: 'remote-candidate', candidateType: 'relay' },
];

test('selected pair: the transport names it', () => {
  const r = report(...candidates,
    { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    { id: 'P1', type: 'candidate-pair', nominated: true, state: 'succeeded', localCandidateId: 'L-host', remoteCandidateId: 'R-srflx' },
    { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', localCandidateId: 'L-relay', remoteCandidateId: 'R-srflx', currentRoundTripTime: 0.05 });
  assert.deepEqual(selectedPairTypes(r), { local: 'relay', remote: 'srflx' });
  assert.equal(qualitySample(r).rtt, 0.05);
});

test('selected pair: without a transport, the nominated pair that succeeded', () => {
  const r = report(...candidates,
    { id: 'P1', type: 'candidate-pair', nominated: true, state: 'failed', localCandidateId: 'L-relay', remoteCandidateId: 'R-relay' },
    { id: 'P2', type: 'candidate-pair', nominated: false, state: 'succeeded', localCandidateId: 'L-relay', remoteCandidateId: 'R-relay' },
    { id: 'P3', type: 'candidate-pair', nominated: true, state: 'succeeded', localCandidateId: 'L-host', remoteCandidateId: 'R-relay' });
  assert.deepEqual(selectedPairTypes(r), { local: 'host', remote: 'relay' });
});

test('selected pair: none yet, or candidates missing from the report', () => {
  assert.deepEqual(selectedPairTypes(report()), { local: null, remote: null });
  const r = report({ id: 'T', type: 'transport', selectedCandidatePairId: 'P9' },
    { id: 'P1', type: 'candidate-pair', nominated: true, state: 'in-progress', localCandidateId: 'L-relay' });
  assert.deepEqual(selectedPairTypes(r), { local: null, remote: null });
  const gone = report({ id: 'P1', type: 'candidate-pair', nominated: true, state: 'succeeded', localCandidateId: 'L-x', remoteCandidateId: 'R-x' });
  assert.deepEqual(selectedPairTypes(gone), { local: null, remote: null });
  assert.equal(qualitySample(gone).rtt, null);
});

test('media sample: inbound bytes of both kinds, audio bytes, decoded frames', () => {
  const r = report(
    { id: 'v', type: 'inbound-rtp', kind: 'video', bytesReceived: 5000, framesDecoded: 40 },
    { id: 'a', type: 'inbound-rtp', kind: 'audio', bytesReceived: 700 },
    { id: 'o', type: 'outbound-rtp', kind: 'video', bytesSent: 9999, framesEncoded: 50 },
    { id: 'n', type: 'inbound-rtp', kind: 'video' }); // not yet counting
  assert.deepEqual(mediaSample(r), { bytes: 5700, audioBytes: 700, frames: 40 });
  assert.deepEqual(mediaSample(report()), { bytes: 0, audioBytes: 0, frames: 0 });
});

test('video_max: the kiosk\'s largest picture, or no limit', () => {
  assert.deepEqual(parseVideoMax('800x450'), { width: 800, height: 450 });
  assert.deepEqual(parseVideoMax('720x404'), { width: 720, height: 404 });
  for (const bad of [undefined, null, 800, '', '800', '800x', 'x450', '0x450', '800x0', '-800x450',
    '800 x 450', '99999x450', '8000x450', '800x450x2', ' 800x450']) {
    assert.equal(parseVideoMax(bad), null, String(bad));
  }
});

test('the page names the video codecs it can both send and receive, without helpers', () => {
  const side = (...types) => ({ getCapabilities: () => ({ codecs: types.map((mimeType) => ({ mimeType })) }) });
  const firefox = side('video/VP8', 'video/VP9', 'video/AV1', 'video/rtx', 'video/ulpfec', 'video/red');
  assert.deepEqual(videoCodecs(firefox, firefox), ['VP8', 'VP9', 'AV1']);
  const chromium = side('video/VP8', 'video/H264', 'video/H264', 'video/rtx');
  assert.deepEqual(videoCodecs(chromium, side('video/VP8', 'video/H264')), ['VP8', 'H264']);
  assert.deepEqual(videoCodecs(side('video/H264'), side('video/VP8')), [], 'only what goes both ways');
  assert.deepEqual(videoCodecs(undefined, undefined), [], 'a browser that does not say');
});
