import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConsent, receiptName } from '../consent.js';

const body = (fields) => Buffer.from(JSON.stringify(fields)).toString('base64url');
const consent = {
  type: 'consent',
  device: 'kiosk-7',
  session: '0123456789abcdef0123456789abcdef',
  patient: 'Max Mustermann',
  consented_at: '2026-12-01T09:30:00Z',
  text: '3f2a9c1b7d4e',
};

test('a receipt reads back as the kiosk signed it, and names its file without a person', () => {
  const read = readConsent({ v: 2, body: body(consent), sig: 'x', signer: 'y' });
  assert.deepEqual(read, consent);
  assert.equal(receiptName(read), 'einwilligung-2026-12-01-kiosk-7-01234567.json');
});

test('anything that is not a whole receipt is no receipt', () => {
  for (const broken of [
    null,
    'text',
    { body: 42 },
    { body: '!!!' },
    { body: body({ ...consent, type: 'appointment' }) },
    { body: body({ ...consent, consented_at: 'yesterday' }) },
    { body: body({ ...consent, patient: undefined }) },
  ]) {
    assert.equal(readConsent(broken), null, JSON.stringify(broken));
  }
});
