// Watches the kiosk's media from the doctor's side: have they flowed yet, are they interrupted,
// has an interruption outlasted the kiosk's patience, is the kiosk's video paused while its sound
// goes on.
//
// Owns: these rules and their timings. Pure: fed one sample a second (counters from getStats, the
// ICE state, the time), it returns the next state, so node --test covers every transition without
// a browser or a clock. Must never act: app.js shows the notices and ends the call.

export const STALL_MS = 3000; // no inbound RTP byte for this long: interrupted
export const VIDEO_STALL_MS = 2000; // no decoded frame for this long while sound comes: video paused
// The kiosk ends an interrupted call itself after reconnect_s (protocol.md 5) and says bye. We end
// it only if that bye does not come (the broker may be out of reach too), and a little later, so
// that we never hang up on a call the kiosk still wants to rescue.
export const LOST_MARGIN_MS = 5000;
export const DEFAULT_RECONNECT_S = 45; // protocol.md 5: `reconnect_s` absent
const MAX_RECONNECT_S = 3600; // a bigger one would keep a dead call open for hours

/** A kiosk hello's `reconnect_s`: a whole number of seconds up to an hour, else the default. */
export function parseReconnectSeconds(value) {
  return Number.isInteger(value) && value >= 0 && value <= MAX_RECONNECT_S ? value : DEFAULT_RECONNECT_S;
}

/**
 * The watch's state. `phase` is one of
 *   before       no inbound media yet in this visit (the first connection is being set up)
 *   flowing      media come in
 *   interrupted  ICE is disconnected or failed, or no byte came for STALL_MS; `since` (ms) is
 *                when that was noticed, or when bytes last came: the kiosk rebuilds the
 *                connection with a fresh offer
 *   lost         interrupted for longer than reconnect_s + LOST_MARGIN_MS: the call is over (final)
 * `videoPaused` is true only while flowing. `last` is the latest connection's counters and when
 * each last grew.
 */
export function initialWatch() {
  return { phase: 'before', videoPaused: false, last: null };
}

/**
 * The state after `sample` = {at: ms, conn: the connection (any identity), ice: its
 * iceConnectionState, bytes, audioBytes, frames: its inbound counters}. A new `conn` (the kiosk's
 * fresh offer) counts from zero and starts its clocks when first seen, while an interruption
 * goes on until the new connection brings media.
 */
export function watchMedia(watch, sample, reconnectS = DEFAULT_RECONNECT_S) {
  if (watch.phase === 'lost') return watch;
  const { at, conn, ice, bytes, audioBytes, frames } = sample;
  const prev = watch.last?.conn === conn
    ? watch.last
    : { bytes: 0, audioBytes: 0, frames: 0, bytesAt: at, framesAt: at };
  const grew = { bytes: bytes > prev.bytes, audio: audioBytes > prev.audioBytes, frames: frames > prev.frames };
  const last = {
    conn, bytes, audioBytes, frames,
    bytesAt: grew.bytes ? at : prev.bytesAt,
    framesAt: grew.frames ? at : prev.framesAt,
  };
  const iceDown = ice === 'disconnected' || ice === 'failed';

  if (watch.phase === 'before') {
    // An ICE failure before any media is no interruption but no connection at all (app.js says so).
    if (!grew.bytes) return { ...watch, last };
  } else if (watch.phase === 'interrupted') {
    if (!grew.bytes || iceDown) {
      // Bytes that still come while ICE says it is down keep the call from being given up.
      const since = grew.bytes ? at : watch.since;
      const over = at - since > reconnectS * 1000 + LOST_MARGIN_MS;
      return over ? { phase: 'lost', videoPaused: false, last } : { ...watch, since, last };
    }
  }
  if (iceDown || at - last.bytesAt >= STALL_MS) {
    // Counted from when we notice, which is no earlier than when the kiosk notices.
    return { phase: 'interrupted', since: at, videoPaused: false, last };
  }
  // Paused, not merely late: this connection has shown a picture, and its sound still grows.
  const videoPaused = frames > 0 && grew.audio && at - last.framesAt >= VIDEO_STALL_MS;
  return { phase: 'flowing', videoPaused, last };
}

/** A call's duration as the page shows it, `mm:ss` (minutes go on past 59). */
export function callDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
