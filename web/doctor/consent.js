// The patient's consent as the kiosk signed it (docs/protocol.md 5, the kiosk's hello's
// `consent`): when, at which kiosk, to which version of the consent text. The page shows it and
// offers the signed receipt as a file the practice can keep with its records; `kioskctl
// consent verify` checks it against the kiosk's certificate. The page keeps no copy.

import { t } from './i18n.js';

const FIELDS = ['device', 'session', 'patient', 'consented_at', 'text'];

/** The signed body of a receipt (`{v:2, body, sig, signer}`), or null if it is not one. */
export function readConsent(signed) {
  if (!signed || typeof signed !== 'object' || typeof signed.body !== 'string') return null;
  try {
    const base64 = signed.body.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const body = JSON.parse(new TextDecoder().decode(bytes));
    const complete = body?.type === 'consent' && FIELDS.every((f) => typeof body[f] === 'string');
    return complete && !Number.isNaN(Date.parse(body.consented_at)) ? body : null;
  } catch {
    return null;
  }
}

/** The receipt's file name: the day, the kiosk and the session, no name of a person. */
export function receiptName(consent) {
  return `einwilligung-${consent.consented_at.slice(0, 10)}-${consent.device}-${consent.session.slice(0, 8)}.json`;
}

let shown = null; // { consent, url }

/** Shows the consent line and the receipt link for `signed`, or hides them (null). */
export function showConsent(signed) {
  const consent = readConsent(signed);
  if (shown?.url) URL.revokeObjectURL(shown.url);
  shown = null;
  const line = document.getElementById('consent');
  if (!consent) {
    line.hidden = true;
    return;
  }
  const blob = new Blob([JSON.stringify(signed, null, 2)], { type: 'application/json' });
  shown = { consent, url: URL.createObjectURL(blob), signed };
  const save = document.getElementById('consent-save');
  save.href = shown.url;
  save.download = receiptName(consent);
  line.hidden = false;
  renderConsent();
}

/** The consent line in the page's current language. */
export function renderConsent() {
  if (!shown) return;
  const at = new Date(shown.consent.consented_at).toLocaleString(document.documentElement.lang || 'de');
  document.getElementById('consent-text').textContent = t('consentLine', {
    at,
    device: shown.consent.device,
    text: shown.consent.text,
  });
}

/** The receipt as the kiosk sent it (the end-to-end test files it with kioskctl). */
export function consentReceipt() {
  return shown?.signed ?? null;
}
