// The fleet dashboard's page: the table of kiosks and the chart of call quality, kept live over
// Server-Sent Events from `kioskctl dashboard` (src/ctl/dashboard/). No framework, no library.
// Every text from the fleet (device ids, rooms, versions) goes into the DOM as textContent,
// never as markup. It shows device states only: there is no patient data to show.
'use strict';

// A kiosk whose last heartbeat is older than this has no connection, whatever it said last.
const OFFLINE_AFTER_MS = 3 * 60 * 1000;
const CHART_DAYS = 14;
// When the event stream is closed for good (not just retrying), open a new one after this.
const REOPEN_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';

const STATES = {
  idle: ['Bereit', 'ready'],
  code_accepted: ['Code angenommen', 'code accepted'],
  consent: ['Einwilligung', 'consent'],
  waiting: ['Wartet auf Ärztin/Arzt', 'waiting for the doctor'],
  in_call: ['Im Gespräch', 'in a call'],
  ended: ['Gespräch beendet', 'call ended'],
  error: ['Störung', 'error'],
  offline: ['Offline', 'offline'],
  not_provisioned: ['Nicht eingerichtet', 'not provisioned'],
  test_call: ['Testanruf', 'test call'],
  unknown: ['Unbekannt', 'unknown'],
};
const NEVER_SEEN = ['Nie gemeldet', 'never reported'];
const HEALTH = {
  ok: ['OK', 'ok', 'ok'],
  missing: ['Fehlt', 'missing', 'bad'],
  failed: ['Defekt', 'failed', 'bad'],
  unknown: ['Unbekannt', 'unknown', 'muted'],
};
const QUALITY = {
  good: ['gut', 'good', 'ok'],
  fair: ['mittel', 'fair', 'warn'],
  poor: ['schlecht', 'poor', 'bad'],
  unknown: ['unbekannt', 'unknown', 'muted'],
};

const kiosks = new Map();
// The fleet's test calls as this page last heard of them, by device: `asking`, `running`,
// `done` (with the verdict) or `failed` (with the reason).
const testCalls = new Map();
let brokerConnected = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// German first, English below it, in one cell.
function bilingual(cell, [de, en], className) {
  cell.replaceChildren();
  const main = el('span', className, de);
  cell.append(main);
  if (en && en !== de) cell.append(el('span', 'en', en));
}

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

function duration(seconds) {
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return `${m}:${s}`;
}

function localTime(iso) {
  return new Date(iso).toLocaleString('de-DE', { dateStyle: 'short', timeStyle: 'medium' });
}

// Honest about the network: the kiosk's own word `offline` (its last will), or silence for
// longer than three heartbeats, is no connection.
function online(kiosk, now) {
  if (!kiosk.state || kiosk.state === 'offline' || !kiosk.at) return false;
  return now - Date.parse(kiosk.at) <= OFFLINE_AFTER_MS;
}

function renderSeen(cell, kiosk, now) {
  if (!kiosk.at) {
    bilingual(cell, ['—', ''], 'muted');
    return;
  }
  const ms = now - Date.parse(kiosk.at);
  const text = ms < 0 ? [`${age(-ms)} voraus`, `${age(-ms)} ahead`] : [`vor ${age(ms)}`, `${age(ms)} ago`];
  bilingual(cell, text, ms > OFFLINE_AFTER_MS ? 'bad' : '');
  cell.title = localTime(kiosk.at);
}

function renderNetwork(cell, kiosk, now) {
  const up = online(kiosk, now);
  bilingual(cell, up ? ['verbunden', 'online'] : ['keine Verbindung', 'offline'], up ? 'ok' : 'bad');
  cell.dataset.value = up ? 'online' : 'offline';
  const quality = kiosk.last_call?.quality;
  if (quality) {
    const [de, en, cls] = QUALITY[quality] ?? QUALITY.unknown;
    cell.append(el('span', `en ${cls}`, `letzter Anruf ${de} / last call ${en}`));
  }
}

function healthCell(cell, health) {
  const [de, en, cls] = HEALTH[health] ?? HEALTH.unknown;
  bilingual(cell, health ? [de, en] : ['—', ''], health ? cls : 'muted');
  cell.dataset.value = health ?? '';
}

function row(kiosk, now) {
  const tr = el('tr');
  tr.dataset.device = kiosk.device;
  const cell = (field) => {
    const td = el('td', field);
    td.dataset.field = field;
    tr.append(td);
    return td;
  };
  cell('device').textContent = kiosk.device;
  const room = cell('room');
  room.textContent = kiosk.room ?? '—';

  const state = cell('state');
  const label = kiosk.state ? (STATES[kiosk.state] ?? STATES.unknown) : NEVER_SEEN;
  bilingual(state, label, `state state-${kiosk.state ?? 'never'}`);
  state.dataset.value = kiosk.state ?? 'never';
  if (kiosk.detail) state.append(el('span', 'en', kiosk.detail));
  if (kiosk.since) state.title = `seit / since ${localTime(kiosk.since)}`;

  const version = cell('version');
  version.textContent = (kiosk.version ?? '—') + (kiosk.slot ? ` (${kiosk.slot})` : '');

  renderSeen(cell('seen'), kiosk, now);
  healthCell(cell('camera'), kiosk.health?.camera);
  healthCell(cell('microphone'), kiosk.health?.microphone);
  renderNetwork(cell('network'), kiosk, now);

  const last = cell('last_call');
  if (kiosk.last_call) {
    const call = kiosk.last_call;
    const [de, en, cls] = QUALITY[call.quality] ?? QUALITY.unknown;
    bilingual(last, [`${duration(call.duration_s)} min · ${de}`, `${en}`], cls);
    last.title = `beendet / ended ${localTime(call.ended_at)}`;
  } else {
    bilingual(last, ['—', ''], 'muted');
  }
  renderActions(cell('actions'), kiosk, now);
  tr.classList.toggle('stale', !online(kiosk, now));
  return tr;
}

// The "Testanruf" button, and the last test call's verdict under it.
function renderActions(cell, kiosk, now) {
  cell.replaceChildren();
  cell.dataset.device = kiosk.device;
  const test = testCalls.get(kiosk.device);
  const running = test?.phase === 'asking' || test?.phase === 'running';
  const button = el('button', 'test-call');
  button.type = 'button';
  button.id = `test-call-${kiosk.device}`;
  bilingual(button, running ? ['Testanruf läuft …', 'test call running …'] : ['Testanruf', 'test call']);
  // Only an idle kiosk takes a test call (it refuses any other way, and says why).
  button.disabled = running || kiosk.state !== 'idle' || !online(kiosk, now);
  button.title = 'Kamera, Mikrofon und Verbindung prüfen, ohne dass jemand vor Ort ist (höchstens 60 s) / '
    + 'check camera, microphone and connection with nobody on site (at most 60 s)';
  button.addEventListener('click', () => startTestCall(kiosk.device));
  cell.append(button);
  cell.dataset.value = test ? verdictValue(test) : '';
  if (test && !running) cell.append(testResult(test));
}

function verdictValue(test) {
  if (test.phase === 'done') return test.verdict?.ok ? 'ok' : 'not_ok';
  return test.phase;
}

function testResult(test) {
  const box = el('div', 'verdict');
  if (test.phase === 'failed') {
    bilingual(box, ['Test gescheitert', test.error ?? ''], 'bad');
    return box;
  }
  const v = test.verdict ?? {};
  if (v.ok) {
    const path = v.direct ? 'direkt / direct' : (v.path ?? '?');
    const rtt = v.rtt_ms == null ? '' : ` · RTT ${v.rtt_ms.toFixed(0)} ms`;
    bilingual(box, ['Test in Ordnung', `OK · ${path}${rtt}`], 'ok');
  } else {
    bilingual(box, ['Test nicht in Ordnung', (v.problems ?? []).join('; ')], 'bad');
  }
  const from = v.from_kiosk ?? {};
  const at = v.at_kiosk ?? {};
  box.title = `vom Kiosk / from the kiosk: ${from.video_frames ?? 0} frames, ${from.audio_level_dbfs?.toFixed?.(0) ?? '-'} dBFS; `
    + `am Kiosk / at the kiosk: ${at.video_frames ?? 0} frames, ${at.audio_level_dbfs ?? '-'} dBFS; `
    + `${Math.round(v.bitrate_in_kbps ?? 0)}/${Math.round(v.bitrate_out_kbps ?? 0)} kbit/s`;
  return box;
}

async function startTestCall(device) {
  testCalls.set(device, { device, phase: 'asking' });
  renderTable();
  try {
    // The header makes this a request only this page can send (kioskctl checks it).
    const answer = await fetch(`/api/test-call/${encodeURIComponent(device)}`, {
      method: 'POST',
      headers: { 'X-Praxiskiosk': 'test-call' },
    });
    if (!answer.ok) testCalls.set(device, { device, phase: 'failed', error: (await answer.text()).trim() });
  } catch {
    testCalls.set(device, { device, phase: 'failed', error: 'kioskctl nicht erreichbar / kioskctl unreachable' });
  }
  renderTable();
}

function renderTable() {
  const now = Date.now();
  const sorted = [...kiosks.values()].sort((a, b) => a.device.localeCompare(b.device));
  document.getElementById('rows').replaceChildren(...sorted.map((k) => row(k, now)));
  document.getElementById('empty').hidden = sorted.length > 0;
}

// The age ticks and a silent kiosk turns offline without a message: only those cells change.
function tick() {
  const now = Date.now();
  for (const tr of document.querySelectorAll('#rows tr')) {
    const kiosk = kiosks.get(tr.dataset.device);
    if (!kiosk) continue;
    renderSeen(tr.querySelector('td.seen'), kiosk, now);
    renderNetwork(tr.querySelector('td.network'), kiosk, now);
    tr.classList.toggle('stale', !online(kiosk, now));
  }
}

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

// Per day of the last 14 (local time), the fleet's calls by quality.
function chartDays(now) {
  const days = [];
  const byKey = new Map();
  for (let i = CHART_DAYS - 1; i >= 0; i -= 1) {
    const date = new Date(now);
    date.setHours(12, 0, 0, 0);
    date.setDate(date.getDate() - i);
    const day = { date, good: 0, fair: 0, poor: 0 };
    days.push(day);
    byKey.set(dayKey(date), day);
  }
  for (const kiosk of kiosks.values()) {
    for (const call of kiosk.calls ?? []) {
      const day = byKey.get(dayKey(new Date(call.ended_at)));
      if (day && ['good', 'fair', 'poor'].includes(call.quality)) day[call.quality] += 1;
    }
  }
  return days;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function renderChart() {
  const days = chartDays(Date.now());
  const max = Math.max(1, ...days.map((d) => d.good + d.fair + d.poor));
  const [width, height, top, bottom, left] = [700, 180, 10, 24, 28];
  const plot = height - top - bottom;
  const step = (width - left) / days.length;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img' });
  chart.append(svg('title', {}));
  chart.firstChild.textContent = 'Anrufe pro Tag nach Qualität / calls per day by quality';
  chart.append(svg('line', { class: 'axis', x1: left, x2: width, y1: top + plot, y2: top + plot }));
  const maxLabel = svg('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' });
  maxLabel.textContent = String(max);
  chart.append(maxLabel);
  days.forEach((day, i) => {
    const x = left + i * step + step * 0.2;
    let y = top + plot;
    for (const quality of ['good', 'fair', 'poor']) {
      if (!day[quality]) continue;
      const h = (day[quality] / max) * plot;
      y -= h;
      const bar = svg('rect', { class: quality, x, y, width: step * 0.6, height: h });
      bar.dataset.day = dayKey(day.date);
      bar.dataset.count = String(day[quality]);
      const [de, en] = QUALITY[quality];
      bar.append(svg('title', {}));
      bar.firstChild.textContent = `${day.date.toLocaleDateString('de-DE')}: ${day[quality]} ${de} / ${en}`;
      chart.append(bar);
    }
    const label = svg('text', { x: x + step * 0.3, y: height - 8, 'text-anchor': 'middle' });
    label.textContent = `${day.date.getDate()}.${day.date.getMonth() + 1}.`;
    chart.append(label);
  });
  document.getElementById('chart').replaceChildren(chart);
}

function render() {
  renderTable();
  renderChart();
}

function setStatus(state, [de, en]) {
  document.body.dataset.state = state;
  const status = document.getElementById('status');
  status.replaceChildren(document.createTextNode(`${de} `), el('span', 'en', en));
}

function showLive() {
  document.body.dataset.broker = brokerConnected ? 'connected' : 'lost';
  if (brokerConnected) {
    setStatus('live', [`Live · ${kiosks.size} Kioske`, `live · ${kiosks.size} kiosks`]);
  } else {
    setStatus('live', [
      'kioskctl hat keine Verbindung zum Broker: die Angaben können veraltet sein',
      'kioskctl has lost the broker: what is shown may be stale',
    ]);
  }
}

function data(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function connect() {
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (event) => {
    const snapshot = data(event);
    if (!snapshot) return;
    kiosks.clear();
    for (const kiosk of snapshot.kiosks) kiosks.set(kiosk.device, kiosk);
    brokerConnected = snapshot.broker_connected;
    render();
    showLive();
  });
  source.addEventListener('kiosk', (event) => {
    const kiosk = data(event);
    if (!kiosk) return;
    kiosks.set(kiosk.device, kiosk);
    render();
    showLive();
  });
  source.addEventListener('gone', (event) => {
    const gone = data(event);
    if (!gone) return;
    kiosks.delete(gone.device);
    render();
    showLive();
  });
  source.addEventListener('test_call', (event) => {
    const test = data(event);
    if (!test?.device) return;
    testCalls.set(test.device, test);
    renderTable();
  });
  source.addEventListener('broker', (event) => {
    const broker = data(event);
    if (!broker) return;
    brokerConnected = broker.connected;
    showLive();
  });
  source.addEventListener('error', () => {
    setStatus('lost', [
      'Verbindung zu kioskctl verloren – neuer Versuch läuft …',
      'connection to kioskctl lost – reconnecting …',
    ]);
    // EventSource retries by itself unless the answer was no event stream at all.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, REOPEN_MS);
  });
}

// What the end-to-end tests read: what the page shows, taken from the DOM.
window.praxiskiosk = {
  stats() {
    const rows = [...document.querySelectorAll('#rows tr')].map((tr) => {
      const fields = { device: tr.dataset.device };
      for (const td of tr.cells) {
        if (td.dataset.field && td.dataset.field !== 'device') fields[td.dataset.field] = { text: td.innerText.trim(), value: td.dataset.value ?? null };
      }
      return fields;
    });
    const bars = [...document.querySelectorAll('#chart rect')].map((r) => ({
      quality: r.getAttribute('class'),
      day: r.dataset.day,
      count: Number(r.dataset.count),
    }));
    return { state: document.body.dataset.state, broker: document.body.dataset.broker, rows, bars };
  },
};

document.addEventListener('DOMContentLoaded', () => {
  render();
  connect();
  setInterval(tick, 1000);
});
