// The join link's fragment (docs/protocol.md 10.3), parsed and checked.
//
// Owns: turning `#v=1&broker=…&root=…&device=…&session=…&username=…&password=…&key=…` into a Join
// object, or into the names of the fields that are missing or wrong. Pure: no DOM, no network,
// so `node --test` covers it. Must never log or echo a password.

import { fromBase64url, toBase64url } from './seal.js';

const ID = /^[A-Za-z0-9_-]{1,64}$/; // protocol.md 1: ids are one safe topic level
const REQUIRED = ['v', 'broker', 'root', 'device', 'session', 'username', 'password'];

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * Splits a fragment into its percent-decoded pairs. Not URLSearchParams: that turns `+` into a
 * space, and the link encodes by RFC 3986, where `+` would be a literal plus. Names and values
 * are decoded apart, as `kioskctl doctor --link` does (src/wire/join.rs): a value with broken
 * percent-encoding is `null` under its own name (reported as invalid below), and a name with
 * broken percent-encoding names nothing this page reads.
 */
export function fragmentPairs(hash) {
  const pairs = new Map();
  for (const part of String(hash).replace(/^#/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decoded(eq < 0 ? part : part.slice(0, eq));
    if (key !== null) pairs.set(key, decoded(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return pairs;
}

function validRoot(root) {
  return root.split('/').every((level) => level !== '' && !/[+#]/.test(level));
}

function loopbackHost(hostname) {
  // No [::1]: a CSP source cannot name an IPv6 address, so the page's CSP could not allow it.
  return hostname === 'localhost' || /^127\./.test(hostname);
}

function validBroker(broker) {
  let url;
  try {
    url = new URL(broker);
  } catch {
    return false;
  }
  // Plain WebSockets only to loopback, for development (protocol.md 1); the page's CSP says the same.
  return url.protocol === 'wss:' || (url.protocol === 'ws:' && loopbackHost(url.hostname));
}

/**
 * Returns `{ok: true, join}` with join = {broker, root, device, session, username, password,
 * key} (key: the session key's 32 bytes that seal the signalling, or null in a development
 * link without one),
 * `{ok: false, version}` for a link of another protocol version, or `{ok: false, invalid: [names]}`.
 */
export function parseJoinLink(hash) {
  const pairs = fragmentPairs(hash);
  const missing = REQUIRED.filter((key) => !pairs.get(key));
  if (missing.length) return { ok: false, invalid: missing };
  if (pairs.get('v') !== '1') return { ok: false, version: pairs.get('v') };

  const join = {
    broker: pairs.get('broker'),
    root: pairs.get('root'),
    device: pairs.get('device'),
    session: pairs.get('session'),
    username: pairs.get('username'),
    password: pairs.get('password'),
    key: null,
  };
  const invalid = [];
  if (pairs.has('key')) {
    join.key = fromBase64url(pairs.get('key'));
    // Only the one spelling of the key: atob ignores the last character's spare bits, which
    // kioskctl's decoder refuses (the join_link fuzz target found keys only the page took).
    if (join.key?.length !== 32 || toBase64url(join.key) !== pairs.get('key')) invalid.push('key');
  }
  if (!validBroker(join.broker)) invalid.push('broker');
  if (!validRoot(join.root)) invalid.push('root');
  if (!ID.test(join.device)) invalid.push('device');
  if (!ID.test(join.session)) invalid.push('session');
  return invalid.length ? { ok: false, invalid } : { ok: true, join };
}

/** The session's two signalling topics (protocol.md 2). */
export function sessionTopics({ root, device, session }) {
  const base = `${root}/devices/${device}/sessions/${session}`;
  return { kiosk: `${base}/kiosk`, doctor: `${base}/doctor` };
}
