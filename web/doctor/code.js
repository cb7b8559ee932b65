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
 * transport is connected: `{ local, remote }` (as Chromium writes them), else null.
 */
export function dtlsFingerprints(report) {
  if (!report) return null;
  for (const s of report.values()) {
    if (s.type !== 'transport' || s.dtlsState !== 'connected') continue;
    const local = s.localCertificateId && report.get(s.localCertificateId);
    const remote = s.remoteCertificateId && report.get(s.remoteCertificateId);
    const sha256 = (c) => (c && (c.fingerprintAlgorithm ?? 'sha-256').toLowerCase() === 'sha-256' ? c.fingerprint : null);
    if (sha256(local) && sha256(remote)) return { local: sha256(local), remote: sha256(remote) };
  }
  return null;
}
