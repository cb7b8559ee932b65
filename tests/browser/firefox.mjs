// Firefox ESR (Debian's firefox-esr) for the end-to-end tests, driven over WebDriver BiDi, its
// built-in remote protocol (--remote-debugging-port): the same commands as Chromium's in
// driver.mjs. playwright-core's own BiDi path asks Firefox 153 for commands it does not have
// yet (emulation.setMediaFeaturesOverride), so this speaks the few it needs itself. Needs
// node's WebSocket (node 20: --experimental-websocket, which the test harness passes).
//
// Fake camera and microphone come from Firefox's own fake streams (prefs below); WebRTC may use
// loopback and shows host addresses as they are. PRAXISKIOSK_MEDIA=deny blocks camera and
// microphone for the page, to check its message.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { pageState } from './page-state.mjs';

const EXECUTABLE = process.env.FIREFOX || '/usr/bin/firefox-esr';
const START_WITHIN_MS = 30000;

function prefs({ locale, deny }) {
  const all = {
    // Fake devices, granted without a prompt (or refused, to test the page's message).
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': !deny,
    'permissions.default.camera': deny ? 2 : 1,
    'permissions.default.microphone': deny ? 2 : 1,
    // WebRTC over loopback, with the host addresses as they are (no mDNS names).
    'media.peerconnection.ice.loopback': true,
    'media.peerconnection.ice.default_address_only': false,
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    // The remote voice plays without a click.
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
    'intl.accept_languages': locale,
    // Nothing of its own on the network: no updates, plugins (OpenH264), telemetry, safe
    // browsing, captive portal or connectivity checks.
    'app.update.disabledForTesting': true,
    'media.gmp-manager.updateEnabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'toolkit.telemetry.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'browser.shell.checkDefaultBrowser': false,
  };
  return Object.entries(all)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`)
    .join('');
}

/** Starts Firefox; resolves with the BiDi WebSocket URL it prints. */
function launch(profile) {
  const child = spawn(
    EXECUTABLE,
    ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' } },
  );
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Firefox did not start its WebDriver BiDi')), START_WITHIN_MS);
    createInterface({ input: child.stderr }).on('line', (line) => {
      const found = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`Firefox exited (${code})`)));
  });
  return { child, url };
}

/** A WebDriver BiDi session: commands by id, events to one listener. */
class Bidi {
  constructor(socket, onEvent) {
    this.socket = socket;
    this.next = 1;
    this.waiting = new Map();
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'event') return onEvent(message);
      const pending = this.waiting.get(message.id);
      if (!pending) return;
      this.waiting.delete(message.id);
      if (message.type === 'error') pending.reject(new Error(`${message.error}: ${message.message}`));
      else pending.resolve(message.result);
    });
  }

  static async open(url, onEvent) {
    const socket = new WebSocket(`${url}/session`);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener('error', () => reject(new Error('cannot reach Firefox')), { once: true });
    });
    return new Bidi(socket, onEvent);
  }

  send(method, params = {}) {
    const id = this.next++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }
}

export async function startFirefox({ locale, deny, remember }) {
  const profile = mkdtempSync(join(tmpdir(), 'praxiskiosk-firefox-'));
  writeFileSync(join(profile, 'user.js'), prefs({ locale, deny }));
  const { child, url } = launch(profile);
  const bidi = await Bidi.open(await url, ({ method, params }) => {
    if (method === 'log.entryAdded') remember({ type: params.level ?? params.type, text: params.text ?? '' });
  });
  await bidi.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
  await bidi.send('session.subscribe', { events: ['log.entryAdded'] });
  const { contexts } = await bidi.send('browsingContext.getTree', {});
  const context = contexts[0].context;
  await bidi.send('browsingContext.setViewport', { context, viewport: { width: 1280, height: 720 } });
  let opened = false;

  // Runs `body` (the text of an async function) in the page; its result comes back as JSON.
  async function evaluate(body) {
    if (!opened) throw new Error('no page open: send {"cmd":"open","url":…} first');
    const reply = await bidi.send('script.evaluate', {
      expression: `(async () => JSON.stringify(await (${body})()))()`,
      target: { context },
      awaitPromise: true,
      resultOwnership: 'none',
    });
    if (reply.type === 'exception') throw new Error(reply.exceptionDetails?.text ?? 'exception in the page');
    return JSON.parse(reply.result.value ?? 'null');
  }

  const commands = {
    async open({ url: page }) {
      if (typeof page !== 'string') throw new Error('open needs "url"');
      await bidi.send('browsingContext.navigate', { context, url: page, wait: 'complete' });
      opened = true;
      return {};
    },
    state: () => evaluate(pageState.toString()),
    async stats() {
      const stats = await evaluate('async () => (window.praxiskiosk ? window.praxiskiosk.stats() : null)');
      if (!stats) throw new Error('the page has no window.praxiskiosk');
      return { stats };
    },
    async click({ id }) {
      const clicked = await evaluate(`async () => {
        const element = document.getElementById(${JSON.stringify(id)});
        if (!element || element.hidden || element.disabled) return false;
        element.click();
        return true;
      }`);
      if (!clicked) throw new Error(`#${id} is not there to click`);
      return {};
    },
    async reload() {
      await bidi.send('browsingContext.reload', { context, wait: 'complete' });
      return {};
    },
    async screenshot({ path }) {
      if (typeof path !== 'string') throw new Error('screenshot needs "path"');
      const { data } = await bidi.send('browsingContext.captureScreenshot', { context });
      await writeFile(path, Buffer.from(data, 'base64'));
      return {};
    },
  };

  async function close() {
    await bidi.send('session.end', {}).catch(() => {});
    child.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    rmSync(profile, { recursive: true, force: true });
  }

  return { commands, close, pid: child.pid };
}
