// Sealed signalling (docs/protocol.md 5, "Sealed signalling"), with WebCrypto: the same as the
// Rust side's src/fleet/trust/channel.rs, checked against the vectors it writes
// (test/seal-vectors.json).
//
// Owns: the session's two direction keys (HKDF-SHA256 from the link's key), the numbering of
// what the page sends and the highest number it took from the kiosk. Must never log a key or
// what a message said; a message that does not open is dropped by the caller, never acted on.

const utf8 = new TextEncoder();
const SALT = utf8.encode('praxiskiosk signalling v2');
const TAG = { kiosk: utf8.encode('kios'), doctor: utf8.encode('doct') };
const OTHER = { kiosk: 'doctor', doctor: 'kiosk' };

/** base64url without padding → bytes, or null. */
export function fromBase64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function toBase64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The AES-256-GCM key of messages from `from`. */
async function directionKey(key, session, from, usage) {
  const material = await crypto.subtle.importKey('raw', key, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: utf8.encode(`${from}\n${session}`) },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  );
}

export function nonce(from, seq) {
  const out = new Uint8Array(12);
  out.set(TAG[from], 0);
  new DataView(out.buffer).setBigUint64(4, BigInt(seq));
  return out;
}

export function associatedData(session, from, seq) {
  return utf8.encode(`praxiskiosk signal v2\n${session}\n${from}\n${seq}`);
}

/** A session's channel for side `me` ('doctor' on the page), from the link's key (32 bytes). */
export async function channel(key, session, me) {
  return {
    session,
    me,
    send: await directionKey(key, session, me, 'encrypt'),
    receive: await directionKey(key, session, OTHER[me], 'decrypt'),
    lastSent: 0,
    lastTaken: null,
  };
}

/**
 * Seals a v1 message (its JSON text) as `{v:2, from, seq, box}`. The number is the last one
 * plus one, or the time in ms if that is higher: a reloaded page forgot its counter, but the
 * clock went on, so the kiosk still takes what it sends.
 */
export async function seal(ch, plaintext, nowMs = Date.now()) {
  const seq = Math.max(ch.lastSent + 1, Math.floor(nowMs));
  ch.lastSent = seq;
  const box = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce(ch.me, seq), additionalData: associatedData(ch.session, ch.me, seq) },
    ch.send,
    utf8.encode(plaintext),
  );
  return { v: 2, from: ch.me, seq, box: toBase64url(new Uint8Array(box)) };
}

/**
 * Opens a sealed message of the other side: its JSON text, or throws an Error whose message
 * says why (wrong direction, replay, forged), never what it said. Only a message that opens
 * raises the bound, so forged numbers cannot lock the kiosk out.
 */
export async function open(ch, msg) {
  if (!msg || msg.v !== 2 || msg.from !== OTHER[ch.me]) throw new Error('wrong direction or version');
  if (!Number.isSafeInteger(msg.seq) || msg.seq < 0) throw new Error('bad sequence number');
  if (ch.lastTaken !== null && msg.seq <= ch.lastTaken) throw new Error('replayed');
  const box = fromBase64url(msg.box);
  if (!box) throw new Error('box is not base64url');
  let plain;
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: nonce(msg.from, msg.seq), additionalData: associatedData(ch.session, msg.from, msg.seq) },
      ch.receive,
      box,
    );
  } catch {
    throw new Error('does not open');
  }
  // Checked again: another message may have been taken while this one was decrypted.
  if (ch.lastTaken !== null && msg.seq <= ch.lastTaken) throw new Error('replayed');
  ch.lastTaken = msg.seq;
  return new TextDecoder().decode(plain);
}
