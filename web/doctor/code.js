// The security code both people compare (docs/protocol.md 5, "The security code"), with
// WebCrypto: the same as the Rust side's src/call/code.rs, checked against the vectors it
// writes (test/code-vectors.json).
//
// Owns nothing; pure functions. Must never log the code or send it anywhere: it is shown to the
// doctor, who compares it by voice with the one the kiosk shows.

const utf8 = new TextEncoder();
const LABEL = 'praxiskiosk security code v1';

/**
 * A SHA-256 fingerprint as the code uses it: 64 upper-case hex digits, no colons (Chromium's
 * getStats() reports `AB:CD:…`, SDP the same in any case). null for anything else.
 */
export function normalisedFingerprint(text) {
  if (typeof text !== 'string') return null;
  const digits = text.trim().replace(/:/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(digits) ? digits : null;
}

/**
 * The four digits: HMAC-SHA256 keyed with the session key (32 bytes; without one, on a
 * development broker, the session id's bytes) over
 * `praxiskiosk security code v1\n{session}\n{kiosk}\n{doctor}`, the kiosk's fingerprint first;
 * the first four bytes big-endian, modulo 10000. null if a fingerprint is not a SHA-256 value.
 */
export async function securityCode(key, session, kioskFingerprint, doctorFingerprint) {
  const kiosk = normalisedFingerprint(kioskFingerprint);
  const doctor = normalisedFingerprint(doctorFingerprint);
  if (!kiosk || !doctor) return null;
  const material = key ?? utf8.encode(session);
  const hmac = await crypto.subtle.importKey('raw', material, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const tag = await crypto.subtle.sign('HMAC', hmac, utf8.encode(`${LABEL}\n${session}\n${kiosk}\n${doctor}`));
  const value = new DataView(tag).getUint32(0) % 10000;
  return String(value).padStart(4, '0');
}

/**
 * The fingerprints of this connection's DTLS certificates from one getStats() report, once the
 * transport is connected: `{ local, remote }` (as Chromium writes them), else null. Where the
 * report names no certificate (Chromium under load leaves the remote one out of its stats for
 * the whole call), the `a=fingerprint` lines of the two descriptions (`sdp`: `{ local, remote }`)
 * stand in: once DTLS is connected, the browser has checked the peer's certificate against the
 * remote one, and its own certificate is the one its description names.
 */
export function dtlsFingerprints(report, sdp = {}) {
  if (!report) return null;
  for (const s of report.values()) {
    if (s.type !== 'transport' || s.dtlsState !== 'connected') continue;
    const local = s.localCertificateId && report.get(s.localCertificateId);
    const remote = s.remoteCertificateId && report.get(s.remoteCertificateId);
    const sha256 = (c) => (c && (c.fingerprintAlgorithm ?? 'sha-256').toLowerCase() === 'sha-256' ? c.fingerprint : null);
    const fingerprints = {
      local: sha256(local) ?? sdpFingerprint(sdp.local),
      remote: sha256(remote) ?? sdpFingerprint(sdp.remote),
    };
    if (fingerprints.local && fingerprints.remote) return fingerprints;
  }
  return null;
}

/** The SHA-256 `a=fingerprint` of a description, if it names exactly one. */
export function sdpFingerprint(sdp) {
  if (typeof sdp !== 'string') return null;
  const found = [...sdp.matchAll(/^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$/gm)].map((m) => m[1].toUpperCase());
  return new Set(found).size === 1 ? found[0] : null;
}
