// A headless Chromium for the end-to-end tests, driven by JSON lines.
//
// Reads one command per line on stdin and writes exactly one JSON line per command on stdout,
// always with "ok": true or "ok": false and "error". Before the first command it prints
// {"ready":true}. Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), never a downloaded one.
// Both get a fake camera and microphone and grant them without asking (PRAXISKIOSK_MEDIA=deny:
// refuse them, to test the page's message). The page is German unless PRAXISKIOSK_LOCALE says
// otherwise (it follows the browser's language).
//
//   {"cmd":"open","url":…}            a new page (replacing the previous one), goto url
//   {"cmd":"state"}                   → state, patient, status, duration, quality (of the doctor's page)
//   {"cmd":"stats"}                   → stats: window.praxiskiosk.stats()
//   {"cmd":"click","id":"hangup"}     clicks the element with that id
//   {"cmd":"reload"}                  reloads the page (the doctor rejoins)
//   {"cmd":"screenshot","path":…}     a PNG of the page
//   {"cmd":"console"}                 → messages: console messages and page errors so far
//   {"cmd":"close"}                   closes Chromium, answers, exits 0
//
// Stdin closing also closes Chromium. Diagnostics go to stderr, never to stdout.

import { createInterface } from 'node:readline';

const MAX_CONSOLE = 2000;

function reply(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const consoleMessages = [];

function remember(entry) {
  consoleMessages.push(entry);
  if (consoleMessages.length > MAX_CONSOLE) consoleMessages.shift();
}

const options = {
  locale: process.env.PRAXISKIOSK_LOCALE || 'de-DE',
  deny: process.env.PRAXISKIOSK_MEDIA === 'deny',
  remember,
};
let browser;
try {
  if (process.env.PRAXISKIOSK_BROWSER === 'firefox') {
    const { startFirefox } = await import('./firefox.mjs');
    browser = await startFirefox(options);
  } else {
    const { startChromium } = await import('./chromium.mjs');
    browser = await startChromium(options);
  }
} catch (err) {
  reply({ ready: false, error: String(err?.message ?? err).split('\n')[0] });
  process.exit(1);
}

const commands = {
  ...browser.commands,
  async click(command) {
    if (typeof command.id !== 'string') throw new Error('click needs "id"');
    plainId(command.id);
    return browser.commands.click(command);
  },
  async console() {
    return { messages: consoleMessages.slice() };
  },
};

// Ids in this page are plain words; anything else is refused rather than built into a selector.
function plainId(id) {
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`not a plain element id: ${id}`);
  return id;
}

async function shutdown(code) {
  await browser.close();
  process.exit(code);
}

reply({ ready: true });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    reply({ ok: false, error: `not JSON: ${err.message}` });
    continue;
  }
  if (command?.cmd === 'close') {
    await browser.close();
    reply({ ok: true });
    process.exit(0);
  }
  const run = commands[command?.cmd];
  if (!run) {
    reply({ ok: false, error: `unknown cmd: ${JSON.stringify(command?.cmd)}` });
    continue;
  }
  try {
    reply({ ok: true, ...(await run(command)) });
  } catch (err) {
    reply({ ok: false, error: String(err?.message ?? err).split('\n')[0] });
  }
}
await shutdown(0);
