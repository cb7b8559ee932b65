// What the page keeps in the browser. For this tab alone (docs/protocol.md 5 rule 10, 10.3): its
// join link, out of the address bar, and the nonce that names it to the kiosk as one window of
// the doctor's; both in sessionStorage: a reload keeps them, another tab has its own, closing the
// tab forgets them. For every tab: the doctor's own name (localStorage), and nothing else.

const LINK_KEY = 'praxiskiosk.joinLink';
const WINDOW_KEY = 'praxiskiosk.window';
const NAME_KEY = 'praxiskiosk.doctorName';

export function storedName() {
  try {
    return localStorage.getItem(NAME_KEY);
  } catch {
    return null; // storage blocked: the default name will do
  }
}

/** Keeps the doctor's name for the next visit; an empty one forgets it. */
export function storeName(name) {
  try {
    if (name) localStorage.setItem(NAME_KEY, name);
    else localStorage.removeItem(NAME_KEY);
  } catch {
    // storage blocked: the name still goes into this visit's hellos
  }
}

/**
 * The join link's fragment, taken out of the address bar: its password and session key must not
 * stay in the URL, the history or a bookmark. A reload still rejoins the call (protocol rule 3).
 */
export function takeJoinFragment(location, history, storage) {
  if (location.hash.length > 1) {
    try {
      storage.setItem(LINK_KEY, location.hash);
    } catch {
      // Storage refused (a locked-down browser): the fragment stays, and so does a reload.
      return location.hash;
    }
    history.replaceState(null, '', location.pathname + location.search);
  }
  try {
    return storage.getItem(LINK_KEY) ?? '';
  } catch {
    return '';
  }
}

/** The tab's sessionStorage, or null where the browser refuses it (every use below then falls back). */
export function tabStorage() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

export function randomHex(bytes, random = (array) => crypto.getRandomValues(array)) {
  return Array.from(random(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * This tab's window nonce: 128 random bits as 32 hex digits, kept across reloads of the tab and
 * made afresh on any other load (`navigationType`, from the Navigation Timing entry): a
 * duplicated tab starts with a copy of its original's sessionStorage, and must not pass for it.
 * Where storage is refused, a fresh one per page load: a reload is then a new window, which the
 * kiosk lets in once the old one's media stopped.
 */
export function windowNonce(storage, navigationType, random = (bytes) => crypto.getRandomValues(bytes)) {
  try {
    const kept = storage.getItem(WINDOW_KEY);
    if (navigationType === 'reload' && kept && /^[0-9a-f]{32}$/.test(kept)) return kept;
  } catch {
    // storage refused: a fresh one below
  }
  const nonce = randomHex(16, random);
  try {
    storage.setItem(WINDOW_KEY, nonce);
  } catch {
    // kept for this page load only
  }
  return nonce;
}
