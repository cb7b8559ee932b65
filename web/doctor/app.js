// The doctor's side of a praxiskiosk video consultation (docs/protocol.md 5, 10.3).
//
// Owns: the page's state (body[data-state]), the broker connection for the one session of the
// join link, the local camera and microphone, the Call, and what the doctor is told about its
// media (interrupted, relayed, video paused). Must never record or store media, never load
// anything from another host, and never store anything but what tab.js keeps. Closing or
// reloading the tab sends no bye on purpose: a reload rejoins the running call (rule 3).

import mqtt from './vendor/mqtt.js';
import { byeTextKey, initialLanguage, language, setLanguage, t } from './i18n.js';
import { parseJoinLink, sessionTopics } from './link.js';
import { dtlsFingerprints, securityCode } from './code.js';
import { channel as sealChannel, open as openSealed, seal } from './seal.js';
import {
  Call, mediaSample, parseIceServers, parseVideoMax, qualityLevel, qualitySample, selectedPairTypes,
  testStats, videoCodecs,
} from './call.js';
import { DEFAULT_RECONNECT_S, callDuration, initialWatch, parseReconnectSeconds, watchMedia } from './watch.js';
import { consentReceipt, renderConsent, showConsent } from './consent.js';
import { randomHex, storedName, storeName, tabStorage, takeJoinFragment, windowNonce } from './tab.js';
import { fitCameraTo, openCameraAndMicrophone, stopTracks, switchTracks } from './local.js';

const SESSION_TAKEN_OVER = 0x8e; // MQTT 5 DISCONNECT reason code
// Brokers before Mosquitto 2.0.15 (Debian 12 has 2.0.11) close a connection another window took
// over without saying why; three quick closes in a row are that, not a network that comes and goes.
const TAKEN_OVER_CLOSES = 3;
const QUICK_CLOSE_MS = 5000;
// A window in a call that another window threw off the broker (same login) connects again after
// this: time for the other one to read its `busy` and leave (protocol.md 5, rule 10).
const TAKEN_OVER_RETRY_MS = 5000;
const RECONNECT_MS = 2000;
const MAX_PAYLOAD = 65536; // protocol.md 1: larger payloads are dropped
const BYE_TIMEOUT_MS = 1500; // how long a hang-up waits for the broker to take the bye

const $ = (id) => document.getElementById(id);
const ui = {
  name: $('doctor-name'),
  langDe: $('lang-de'),
  langEn: $('lang-en'),
  patient: $('patient-name'),
  status: $('status'),
  remote: $('remote'),
  self: $('self'),
  problem: $('problem'),
  problemTitle: $('problem-title'),
  problemText: $('problem-text'),
  retry: $('retry'),
  endedText: $('ended-text'),
  duration: $('duration'),
  quality: $('quality'),
  qualityText: $('quality-text'),
  securityCode: $('security-code'),
  securityCodeDigits: $('security-code-digits'),
  noticeInterrupted: $('notice-interrupted'),
  noticeVideoPaused: $('notice-video-paused'),
  noticeRelay: $('notice-relay'),
  unmuteRemote: $('unmute-remote'),
  mute: $('mute'),
  camera: $('camera'),
  hangup: $('hangup'),
};

// Everything the page knows. `state` is one of connecting | waiting | patient-waiting | in-call |
// ended | error and is mirrored to body[data-state], which CSS and the end-to-end test read.
const app = {
  state: 'connecting',
  status: { key: 'connecting' },
  problem: null, // {title, text, vars}
  endedKey: null,
  join: null,
  topics: null,
  nonce: null, // this tab's window nonce (tab.js), in every hello
  // The session's sealed signalling (seal.js), when the link carries a key: then everything
  // sent is sealed and only sealed messages of the kiosk are taken.
  seal: null,
  client: null,
  localStream: null,
  call: null,
  // From the kiosk's latest hello (protocol.md 5): ICE servers, reconnect window, picture size.
  kiosk: { iceServers: [], reconnectS: DEFAULT_RECONNECT_S, videoMax: null },
  watch: initialWatch(), // watch.js: has media flowed, interrupted, video paused
  relay: false, // the selected candidate pair goes through a TURN server
  firstFrameAt: null, // performance.now() of the first remote video frame
  quality: { previous: null, level: '' },
  // The connection's security code (code.js) and the certificates it was computed from.
  code: { of: null, digits: null },
  micMuted: false,
  cameraOff: false,
  retry: null,
  timer: null,
  // When the broker last accepted this page, and its quick closes since (TAKEN_OVER_CLOSES).
  link: { connectedAt: null, quickCloses: 0 },
};

// --- rendering ------------------------------------------------------------------------------

function setState(state) {
  app.state = state;
  document.body.dataset.state = state;
}

function setStatus(key, vars) {
  app.status = { key, vars };
  ui.status.textContent = t(key, vars);
}

function render() {
  setLanguage(language());
  ui.langDe.setAttribute('aria-pressed', String(language() === 'de'));
  ui.langEn.setAttribute('aria-pressed', String(language() === 'en'));
  ui.status.textContent = app.status ? t(app.status.key, app.status.vars) : '';
  if (app.problem) {
    ui.problemTitle.textContent = t(app.problem.title, app.problem.vars);
    ui.problemText.textContent = t(app.problem.text, app.problem.vars);
  }
  ui.endedText.textContent = app.endedKey ? t(app.endedKey) : '';
  ui.mute.textContent = t(app.micMuted ? 'unmute' : 'mute');
  ui.mute.setAttribute('aria-pressed', String(app.micMuted));
  ui.camera.textContent = t(app.cameraOff ? 'cameraOn' : 'cameraOff');
  ui.camera.setAttribute('aria-pressed', String(app.cameraOff));
  ui.duration.setAttribute('aria-label', t('duration'));
  const level = app.quality.level;
  ui.qualityText.textContent = level ? t(`quality${level[0].toUpperCase()}${level.slice(1)}`) : '';
  renderConsent();
  if (!ui.name.value || ui.name.dataset.isDefault === 'true') {
    ui.name.value = t('defaultDoctorName');
    ui.name.dataset.isDefault = 'true';
  }
}

/** Shows a problem the doctor can act on; `retry` (optional) is what "try again" does. */
function showProblem(title, text, vars = {}, retry = null) {
  app.problem = { title, text, vars };
  app.retry = retry;
  ui.problem.hidden = false;
  ui.retry.hidden = !retry;
  setState('error');
  setStatus(title, vars);
  render();
}

function clearProblem() {
  app.problem = null;
  app.retry = null;
  ui.problem.hidden = true;
}

function showNotices() {
  ui.noticeInterrupted.hidden = app.watch.phase !== 'interrupted';
  ui.noticeVideoPaused.hidden = !app.watch.videoPaused;
  ui.noticeRelay.hidden = !app.relay;
}

function showDuration() {
  if (app.firstFrameAt !== null) ui.duration.textContent = callDuration(performance.now() - app.firstFrameAt);
}

function doctorName() {
  return ui.name.value.trim().slice(0, 80) || t('defaultDoctorName');
}

function onNameChange() {
  const name = ui.name.value.trim();
  ui.name.dataset.isDefault = String(!name);
  storeName(name);
  // Before a call, say hello again so the patient's screen shows the new name. During a call a
  // new hello would make the kiosk rebuild the connection (rule 3), so it waits for the next join.
  if (!app.call && app.client?.connected && ['waiting', 'patient-waiting'].includes(app.state)) {
    sayHello();
  }
}

// --- local media ------------------------------------------------------------------------------

async function startMedia() {
  clearProblem();
  setState('connecting');
  setStatus('cameraStarting');
  const { stream, problem } = await openCameraAndMicrophone(navigator.mediaDevices);
  if (problem) {
    showProblem('mediaTitle', problem, {}, () => startMedia().then((ok) => ok && connect()));
    return false;
  }
  app.localStream = stream;
  applyTrackSwitches();
  fitCameraTo(stream, app.kiosk.videoMax);
  ui.self.srcObject = stream;
  ui.self.play().catch(() => {}); // muted: always allowed; a failure only leaves the self-view blank
  return true;
}

function applyTrackSwitches() {
  switchTracks(app.localStream, app);
  document.body.classList.toggle('camera-off', app.cameraOff);
  render();
}

function stopMedia() {
  stopTracks(app.localStream);
  app.localStream = null;
  ui.self.srcObject = null;
}

// --- the broker ---------------------------------------------------------------------------------

function connect() {
  clearProblem();
  setState('connecting');
  setStatus('connecting');
  const client = mqtt.connect(app.join.broker, {
    // MQTT 5 (protocol.md 1): the broker says why it closes a connection, and the one reason
    // this page must act on is another window of the same link taking the login over (the
    // login is the client id, protocol.md 10.3). MQTT 3.1.1 would just reconnect, and the two
    // windows would throw each other off every two seconds.
    protocolVersion: 5,
    clean: true,
    keepalive: 15,
    clientId: `doctor-web-${randomHex(8)}`, // the broker replaces it with the login
    username: app.join.username,
    password: app.join.password,
    reconnectPeriod: RECONNECT_MS,
    connectTimeout: 10000,
    resubscribe: false, // we subscribe ourselves on every connect, then say hello
  });
  app.client = client;

  client.on('connect', () => {
    app.link.connectedAt = performance.now();
    client.options.reconnectPeriod = RECONNECT_MS;
    client.subscribe(app.topics.kiosk, { qos: 1 }, (err, granted) => {
      // A reason code of 0x80 or above refuses the subscription (MQTT 5).
      if (err || granted?.some((g) => g.qos >= 128)) {
        refused();
        return;
      }
      if (app.state === 'connecting') {
        setState('waiting');
        setStatus('waiting');
      } else if (app.state === 'patient-waiting') {
        setStatus('patientWaiting');
      }
      // A hello makes the kiosk (re)offer. While media flow, a reconnect to the broker needs none.
      const ice = app.call?.pc.iceConnectionState;
      if (!['connected', 'completed'].includes(ice)) sayHello();
    });
  });
  client.on('message', (topic, payload) => {
    if (topic !== app.topics.kiosk) return;
    signalling = signalling.then(() => onSignal(payload)).catch((err) => console.warn('signalling:', err?.message ?? err));
  });
  client.on('error', (err) => {
    // CONNACK 0x86 (bad user name or password) and 0x87 (not authorised): the login is gone.
    if ([0x86, 0x87, 4, 5].includes(err?.code)) refused();
  });
  client.on('disconnect', (packet) => {
    if (packet?.reasonCode === SESSION_TAKEN_OVER) takenOver();
  });
  client.on('close', () => {
    const { connectedAt } = app.link;
    app.link.connectedAt = null;
    if (connectedAt === null) return; // a connection attempt that failed
    const quick = performance.now() - connectedAt < QUICK_CLOSE_MS;
    app.link.quickCloses = quick ? app.link.quickCloses + 1 : 0;
    if (app.link.quickCloses >= TAKEN_OVER_CLOSES) takenOver();
  });
  // The broker is out of reach (or not yet): mqtt.js tries again every 2 s; media, once they
  // flow, do not need it.
  client.on('reconnect', () => {
    if (['connecting', 'waiting', 'patient-waiting'].includes(app.state)) setStatus('reconnecting');
  });
}

/**
 * Another window (or device) opened the same link and took the login over. While this window's
 * call runs, it holds the call (protocol.md 5, rule 10): the other window is told `busy`, and
 * this one keeps its media and connects again a little later. Otherwise it steps back rather
 * than taking the login back: it lets go of the broker, the call and the camera, and offers to
 * continue here, which takes the call back the way a reload does.
 */
function takenOver() {
  if (app.state === 'in-call' && ['connected', 'completed'].includes(app.call?.pc.iceConnectionState)) {
    app.link.quickCloses = 0;
    if (app.client) app.client.options.reconnectPeriod = TAKEN_OVER_RETRY_MS;
    return;
  }
  app.link = { connectedAt: null, quickCloses: 0 };
  letGo();
  showProblem('takenOverTitle', 'takenOverText', {}, () => location.reload());
}

/** Lets go of the broker, the call and the camera, for good. */
function letGo() {
  app.client?.end(true);
  app.client = null;
  app.call?.close();
  app.call = null;
  stopMedia();
}

/** The kiosk's call is held by another window of this link (protocol.md 5, rule 10). */
function busy() {
  letGo();
  showProblem('busyTitle', 'busyText', {}, () => location.reload());
}

function refused() {
  letGo();
  showProblem('authTitle', 'authText');
}

/** Our hello (protocol.md 5): the doctor's name, this tab's window, the codecs it takes. */
function sayHello(reply = false) {
  publish({ type: 'hello', name: doctorName(), ...(reply && { reply }), nonce: app.nonce, video_codecs: videoCodecs() });
}

// Sealing is asynchronous (WebCrypto): messages go out one after another, so they leave in the
// order of their numbers, which the kiosk requires to rise.
let sending = Promise.resolve();

function publish(message, onDone) {
  const clear = JSON.stringify({ v: 1, ...message });
  // Signalling is never queued while the broker is away (protocol.md 5, rule 9): delivered
  // late it would describe a connection that is gone. A hello after the reconnect starts afresh.
  if (!app.client?.connected) return onDone?.();
  sending = sending
    .then(async () => {
      const body = app.seal ? JSON.stringify(await seal(app.seal, clear)) : clear;
      if (!app.client?.connected) return onDone?.();
      app.client.publish(app.topics.doctor, body, { qos: 1, retain: false }, () => onDone?.());
    })
    .catch(() => onDone?.());
}

// --- signalling (protocol.md 5) -------------------------------------------------------------------

// Messages are handled one after another, so a candidate is never applied before its offer.
let signalling = Promise.resolve();

async function onSignal(payload) {
  if (payload.length > MAX_PAYLOAD || ['ended', 'error'].includes(app.state)) return;
  let msg;
  try {
    msg = JSON.parse(new TextDecoder().decode(payload));
    // A sealed session takes only sealed messages that open: a replayed, altered or clear one
    // is dropped here, and never acted on.
    if (app.seal) msg = JSON.parse(await openSealed(app.seal, msg));
  } catch (err) {
    // Says why (replayed, does not open), never what the message said.
    if (app.seal) console.warn('signalling message dropped:', err?.message);
    return;
  }
  // Unknown types and fields are ignored (protocol.md 9); so is anything of another version.
  if (!msg || typeof msg !== 'object' || msg.v !== 1) return;
  switch (msg.type) {
    case 'hello':
      if (typeof msg.name !== 'string') return;
      ui.patient.textContent = msg.name;
      if (msg.consent) showConsent(msg.consent);
      // Taken by the next Call: the kiosk offers after its hello (rules 2, 3).
      app.kiosk.iceServers = parseIceServers(msg.ice_servers) ?? app.kiosk.iceServers;
      app.kiosk.reconnectS = parseReconnectSeconds(msg.reconnect_s);
      app.kiosk.videoMax = parseVideoMax(msg.video_max);
      fitCameraTo(app.localStream, app.kiosk.videoMax);
      if (['connecting', 'waiting'].includes(app.state)) {
        setState('patient-waiting');
        setStatus('patientWaiting');
      }
      if (msg.reply !== true) sayHello(true);
      return;
    case 'offer':
      if (typeof msg.sdp === 'string') await onOffer(msg.sdp);
      return;
    case 'ice':
      if (typeof msg.candidate === 'string' && Number.isInteger(msg.mline) && app.call) {
        await app.call.addRemoteCandidate(msg.mline, msg.candidate);
      }
      return;
    case 'busy':
      if (msg.nonce === app.nonce) busy(); // another window's busy is none of ours
      return;
    case 'bye':
      // Before any media, the kiosk's `error` means no path between the two (p2p_failed).
      end(msg.reason === 'error' && !mediaFlowed() ? 'p2pFailed' : byeTextKey(msg.reason));
      return;
    default:
      return;
  }
}

async function onOffer(sdp) {
  app.call?.close(); // rule 4: every offer gets a fresh connection
  app.quality.previous = null;
  const call = new Call({
    iceServers: app.kiosk.iceServers,
    localStream: app.localStream,
    send: (message) => publish(message),
    onRemoteStream: showRemote,
    onIceState: (ice) => {
      if (call !== app.call) return;
      // Once media have flowed, a broken connection is an interruption: the tick shows it.
      if (ice === 'failed' && !mediaFlowed()) setStatus('p2pFailed');
      else if (ice === 'connected' || ice === 'completed') {
        setStatus(app.state === 'in-call' ? 'inCall' : 'patientWaiting');
      }
    },
  });
  app.call = call;
  if (app.state === 'waiting') {
    setState('patient-waiting');
    setStatus('patientWaiting');
  }
  publish({ type: 'answer', sdp: await call.answer(sdp) });
}

function showRemote(stream) {
  if (ui.remote.srcObject !== stream) ui.remote.srcObject = stream;
  ui.remote.play().catch((err) => {
    // No user gesture yet and the browser refuses sound: play the picture muted and offer a button.
    if (err?.name !== 'NotAllowedError') return;
    ui.remote.muted = true;
    ui.unmuteRemote.hidden = false;
    ui.remote.play().catch(() => {});
  });
  if ('requestVideoFrameCallback' in ui.remote) ui.remote.requestVideoFrameCallback(() => firstFrame());
}

/** Whether the kiosk's media reached this page once: then the path between the two works. */
function mediaFlowed() {
  return app.firstFrameAt !== null || app.watch.phase !== 'before';
}

function firstFrame() {
  if (!['waiting', 'patient-waiting', 'in-call'].includes(app.state)) return;
  app.firstFrameAt ??= performance.now();
  if (app.state !== 'in-call') {
    setState('in-call');
    setStatus('inCall');
    showDuration();
  }
}

// Once a second: duration, quality, media watch, relay notice (and the first frame for browsers
// without requestVideoFrameCallback).
async function tick() {
  showDuration();
  const call = app.call;
  if (!call || call.closed) return;
  const report = await call.pc.getStats();
  if (call !== app.call) return;
  checkMedia(call, report);
  await showSecurityCode(call, report);
  if (call !== app.call) return;
  const sample = qualitySample(report);
  if (sample.framesDecoded > 0) firstFrame();
  if (app.state === 'in-call') {
    app.quality.level = app.quality.previous ? qualityLevel(app.quality.previous, sample) : app.quality.level;
    ui.quality.dataset.level = app.quality.level;
    render();
  }
  app.quality.previous = sample;
}

// The code of this connection's two certificates, once its DTLS is up; each new connection (a
// renewal, a reload) has its own. The kiosk's certificate is the remote one: it comes first.
async function showSecurityCode(call, report) {
  const fingerprints = dtlsFingerprints(report, { local: call.pc.localDescription?.sdp, remote: call.pc.remoteDescription?.sdp });
  const of = fingerprints && `${fingerprints.remote}|${fingerprints.local}`;
  if (of === app.code.of) return;
  const digits = fingerprints
    ? await securityCode(app.join.key, app.join.session, fingerprints.remote, fingerprints.local)
    : null;
  if (call !== app.call) return;
  app.code = { of, digits };
  ui.securityCodeDigits.textContent = digits ?? '';
  ui.securityCode.hidden = !digits;
}

// A plain ICE `disconnected` only shows the notice (the kiosk re-offers, onOffer replaces the
// connection); the call ends only when the interruption outlasts the kiosk's own patience.
function checkMedia(call, report) {
  const sample = { at: performance.now(), conn: call, ice: call.pc.iceConnectionState, ...mediaSample(report) };
  app.watch = watchMedia(app.watch, sample, app.kiosk.reconnectS);
  const types = selectedPairTypes(report);
  app.relay = types.local === 'relay' || types.remote === 'relay';
  showNotices();
  if (app.watch.phase === 'lost') leave('error', 'endedError');
}

// --- the end ----------------------------------------------------------------------------------

function end(endedKey) {
  if (app.state === 'ended') return;
  app.endedKey = endedKey;
  app.call?.close();
  app.call = null;
  stopMedia();
  ui.remote.srcObject = null;
  app.quality.level = '';
  ui.quality.dataset.level = '';
  app.watch = initialWatch();
  app.relay = false;
  app.code = { of: null, digits: null };
  ui.securityCode.hidden = true;
  showNotices();
  clearInterval(app.timer);
  setState('ended');
  setStatus('ended');
  render();
  app.client?.end();
  app.client = null;
}

/** Says bye with `reason`, then shows the end with `endedKey`. */
function leave(reason, endedKey) {
  // A disabled hang-up button means a bye is already on its way.
  if (!['waiting', 'patient-waiting', 'in-call'].includes(app.state) || ui.hangup.disabled) return;
  ui.hangup.disabled = true;
  // Wait until the broker has the bye (QoS 1), but not forever: the doctor wants out.
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    end(endedKey);
  };
  publish({ type: 'bye', reason }, finish);
  setTimeout(finish, BYE_TIMEOUT_MS);
}

function hangUp() {
  leave('hangup', 'endedByYou');
}

// --- start ------------------------------------------------------------------------------------

function wireControls() {
  ui.langDe.addEventListener('click', () => { setLanguage('de'); render(); });
  ui.langEn.addEventListener('click', () => { setLanguage('en'); render(); });
  ui.name.addEventListener('change', onNameChange);
  ui.retry.addEventListener('click', () => app.retry?.());
  ui.mute.addEventListener('click', () => { app.micMuted = !app.micMuted; applyTrackSwitches(); });
  ui.camera.addEventListener('click', () => { app.cameraOff = !app.cameraOff; applyTrackSwitches(); });
  ui.hangup.addEventListener('click', hangUp);
  ui.unmuteRemote.addEventListener('click', () => {
    ui.remote.muted = false;
    ui.remote.play().catch(() => {});
    ui.unmuteRemote.hidden = true;
  });
}

// How the end-to-end test reads the call (tests/browser/driver.mjs).
window.praxiskiosk = {
  stats: async () => {
    const call = app.call && !app.call.closed ? app.call : null;
    return {
      ...testStats(call ? await call.pc.getStats() : null),
      interrupted: app.watch.phase === 'interrupted',
      relay: app.relay,
      consent: consentReceipt(),
      broker_connected: app.client?.connected ?? false,
      video_paused: app.watch.videoPaused,
      ice_servers: call ? call.pc.getConfiguration().iceServers.length : 0,
      security_code: call ? app.code.digits : null,
      security_code_shown: ui.securityCode.hidden ? null : ui.securityCodeDigits.textContent,
    };
  },
};

async function main() {
  setLanguage(initialLanguage(navigator.language));
  const saved = storedName();
  ui.name.value = saved ?? '';
  ui.name.dataset.isDefault = String(!saved);
  wireControls();
  setState('connecting');
  render();

  const storage = tabStorage();
  const link = parseJoinLink(takeJoinFragment(location, history, storage));
  if (!link.ok) {
    if (link.version !== undefined) showProblem('linkVersionTitle', 'linkVersionText', { what: link.version });
    else showProblem('linkTitle', 'linkText', { what: link.invalid.join(', ') });
    return;
  }
  if (!window.isSecureContext) return showProblem('insecureTitle', 'insecureText');
  if (!navigator.mediaDevices?.getUserMedia || !window.RTCPeerConnection) {
    return showProblem('browserTitle', 'browserText');
  }
  app.join = link.join;
  app.nonce = windowNonce(storage, performance.getEntriesByType?.('navigation')[0]?.type);
  app.topics = sessionTopics(link.join);
  if (link.join.key) app.seal = await sealChannel(link.join.key, link.join.session, 'doctor');
  app.timer = setInterval(() => tick().catch(() => {}), 1000);
  if (await startMedia()) connect();
}

// The link's fragment changes without a reload when a second link is pasted into the same tab.
window.addEventListener('hashchange', () => location.reload());

main();
