// Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) for the end-to-end tests, through
// playwright-core: the commands of driver.mjs. It gets a fake camera and microphone (a test
// pattern and a beep), granted without asking, or refused (`deny`).

import { chromium } from 'playwright-core';
import { pageState } from './page-state.mjs';

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = 15000;

function args(deny) {
  const all = [
    deny ? '--use-fake-ui-for-media-stream=deny' : '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
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
  // PRAXISKIOSK_CHROMIUM_ARGS: more switches, separated by spaces, for debugging.
  return all.concat((process.env.PRAXISKIOSK_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean));
}

export async function startChromium({ locale, deny, remember }) {
  const browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: args(deny) });
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 720 },
    locale,
  });
  let page = null;

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
      return needPage().evaluate(pageState);
    },
    async stats() {
      const stats = await needPage().evaluate(async () => (window.praxiskiosk ? window.praxiskiosk.stats() : null));
      if (!stats) throw new Error('the page has no window.praxiskiosk');
      return { stats };
    },
    async click({ id }) {
      await needPage().click(`#${id}`);
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
  };

  return { commands, close: () => browser.close().catch(() => {}) };
}
