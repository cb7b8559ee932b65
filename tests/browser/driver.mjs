// A headless Chromium for the end-to-end tests, driven by JSON lines.
//
// Reads one command per line on stdin and writes exactly one JSON line per command on stdout,
// always with "ok": true or "ok": false and "error". Before the first command it prints
// {"ready":true}. Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), never a downloaded one.
// It gets fake camera and microphone (a test pattern and a beep) and grants them without asking
// (PRAXISKIOSK_MEDIA=deny: refuses them, to test the page's message).
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
import { chromium } from 'playwright-core';

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  // The test fleet's certificate (nginx and the broker) is signed by the test fleet CA, which
  // Chromium does not know. The page comes over HTTP/2 from nginx (kioskctl broker config).
  '--ignore-certificate-errors',
];
const TIMEOUT_MS = 15000;
const MAX_CONSOLE = 2000;

function reply(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// PRAXISKIOSK_CHROMIUM_ARGS: more switches, separated by spaces, for debugging (e.g. --disable-http2).
ARGS.push(...(process.env.PRAXISKIOSK_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean));

// PRAXISKIOSK_MEDIA=deny makes every camera/microphone request fail as if the doctor refused.
if (process.env.PRAXISKIOSK_MEDIA === 'deny') {
  ARGS[ARGS.indexOf('--use-fake-ui-for-media-stream')] = '--use-fake-ui-for-media-stream=deny';
}

let browser;
try {
  browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: ARGS });
} catch (err) {
  reply({ ready: false, error: String(err?.message ?? err).split('\n')[0] });
  process.exit(1);
}
// German unless PRAXISKIOSK_LOCALE says otherwise: the page follows navigator.language.
const context = await browser.newContext({
  ignoreHTTPSErrors: true,
  viewport: { width: 1280, height: 720 },
  locale: process.env.PRAXISKIOSK_LOCALE || 'de-DE',
});
let page = null;
const consoleMessages = [];

function remember(entry) {
  consoleMessages.push(entry);
  if (consoleMessages.length > MAX_CONSOLE) consoleMessages.shift();
}

async function openPage(url) {
  if (page) await page.close();
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('console', (m) => remember({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => remember({ type: 'pageerror', text: String(e?.stack || e) }));
  page.on('requestfailed', (r) => remember({ type: 'requestfailed', text: `${r.url().split('#')[0]} ${r.failure()?.errorText ?? ''}` }));
  await page.goto(url, { waitUntil: 'load' });
}

function needPage() {
  if (!page) throw new Error('no page open: send {"cmd":"open","url":…} first');
  return page;
}

const commands = {
  async open({ url }) {
    if (typeof url !== 'string') throw new Error('open needs "url"');
    await openPage(url);
    return {};
  },
  async state() {
    return needPage().evaluate(() => {
      const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
      return {
        state: document.body?.dataset.state ?? null,
        patient: text('patient-name'),
        status: text('status'),
        duration: text('duration'),
        quality: document.getElementById('quality')?.dataset.level ?? null,
        url: location.href,
      };
    });
  },
  async stats() {
    const stats = await needPage().evaluate(async () => (window.praxiskiosk ? window.praxiskiosk.stats() : null));
    if (!stats) throw new Error('the page has no window.praxiskiosk');
    return { stats };
  },
  async click({ id }) {
    if (typeof id !== 'string') throw new Error('click needs "id"');
    await needPage().click(`#${plainId(id)}`);
    return {};
  },
  async reload() {
    await needPage().reload({ waitUntil: 'load' });
    return {};
  },
  async screenshot({ path }) {
    if (typeof path !== 'string') throw new Error('screenshot needs "path"');
    await needPage().screenshot({ path });
    return {};
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
  await browser.close().catch(() => {});
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
    await browser.close().catch(() => {});
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
