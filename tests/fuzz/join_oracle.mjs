// The doctor's page's join-link parser (web/doctor/link.js) as the oracle of the join_link fuzz
// target: one JSON string (a link's fragment, with its `#`) per line in, one JSON answer per line
// out. The key comes back as base64url, so both sides compare it as text.
import { createInterface } from 'node:readline';
import { parseJoinLink } from '../../web/doctor/link.js';
import { toBase64url } from '../../web/doctor/seal.js';

for await (const line of createInterface({ input: process.stdin })) {
  const parsed = parseJoinLink(JSON.parse(line));
  const answer = parsed.ok
    ? { ok: true, join: { ...parsed.join, key: parsed.join.key && toBase64url(parsed.join.key) } }
    : { ok: false, invalid: parsed.invalid ?? [], version: parsed.version ?? null };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
