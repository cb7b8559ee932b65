// One WebRTC connection to the kiosk, as the answerer (docs/protocol.md 5), and its statistics.
//
// Owns: the RTCPeerConnection. It answers the kiosk's offer, trickles candidates through the
// `send` callback and hands the remote stream to `onRemoteStream`. Must never record: media go
// only to <video> elements, nothing here reads frames or samples. Must never use ICE servers
// but the ones the kiosk's hello names: no third party learns of a consultation.

const MAX_ICE_SERVERS = 8;
// stun:host[:port] (RFC 7064), turn:/turns:host[:port][?transport=udp|tcp] (RFC 7065); the host is
// a name, an IPv4 address or an [IPv6] address.
const ICE_URL = /^(stun|turns?):([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/;

function validIceUrl(url) {
  const m = typeof url === 'string' && ICE_URL.exec(url);
  if (!m) return false;
  const [, scheme, , port, transport] = m;
  return (port === undefined || (Number(port) >= 1 && Number(port) <= 65535)) && !(scheme === 'stun' && transport);
}

function iceServer(entry) {
  if (!entry || typeof entry !== 'object') return null;
  const urls = typeof entry.urls === 'string' ? [entry.urls] : entry.urls;
  if (!Array.isArray(urls) || !urls.length || !urls.every(validIceUrl)) return null;
  const { username, credential } = entry;
  if (![username, credential].every((v) => v === undefined || typeof v === 'string')) return null;
  // Browsers refuse the whole configuration, so every server, for a TURN URL without a login.
  const turn = urls.some((url) => url.startsWith('turn'));
  if (turn && (username === undefined || credential === undefined)) return null;
  const server = { urls };
  if (username !== undefined) server.username = username;
  if (credential !== undefined) server.credential = credential;
  return server;
}

/**
 * The ICE servers of a kiosk hello's `ice_servers` (protocol.md 5), as RTCIceServer objects:
 * malformed entries dropped, at most 8 kept. Absent: `[]`, no server at all (never a default
 * of a third party). Present but not a list: `null`, so the caller keeps what it had.
 */
export function parseIceServers(list) {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return null;
  return list.map(iceServer).filter(Boolean).slice(0, MAX_ICE_SERVERS);
}

/**
 * A kiosk hello's `video_max` (protocol.md 5), `WIDTHxHEIGHT`: the largest picture the kiosk
 * shows, as `{ width, height }`; anything else (absent, malformed, absurd) `null`: no limit.
 */
export function parseVideoMax(value) {
  const m = typeof value === 'string' ? /^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$/.exec(value) : null;
  if (!m) return null;
  const [width, height] = [Number(m[1]), Number(m[2])];
  return width >= 16 && height >= 16 && width <= 7680 && height <= 4320 ? { width, height } : null;
}

// A browser may still refuse a server that parseIceServers let through (they differ in what they
// accept), and then refuses all of them: a call on host candidates beats no call.
function peerConnection(iceServers) {
  try {
    return new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
  } catch (err) {
    console.warn('ICE servers refused, connecting without:', err?.name); // never the servers: TURN logins
    return new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
  }
}

/** Answers one offer on a fresh connection. `send(message)` publishes a signalling message. */
export class Call {
  constructor({ iceServers, localStream, send, onRemoteStream, onIceState }) {
    // The fleet's STUN servers (and TURN where it allows relaying) from the kiosk's hello; with
    // none, host candidates and the kiosk's STUN-derived ones find the path. Bundled as the kiosk offers.
    this.pc = peerConnection(iceServers);
    this.closed = false;
    for (const track of localStream.getTracks()) this.pc.addTrack(track, localStream);

    this.pc.onicecandidate = ({ candidate }) => {
      if (this.closed) return;
      if (!candidate) {
        send({ type: 'ice', mline: 0, candidate: '' }); // gathering done (rule 5)
      } else if (candidate.candidate) {
        send({ type: 'ice', mline: candidate.sdpMLineIndex ?? 0, candidate: candidate.candidate });
      }
    };
    this.pc.ontrack = ({ streams, track }) => {
      onRemoteStream(streams[0] ?? new MediaStream([track]));
    };
    this.pc.oniceconnectionstatechange = () => onIceState(this.pc.iceConnectionState);
  }

  async answer(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    return this.pc.localDescription.sdp;
  }

  async addRemoteCandidate(mline, candidate) {
    // The empty end-of-candidates marker needs nothing: ICE goes on with what it has.
    if (!candidate || this.closed) return;
    await this.pc.addIceCandidate({ candidate, sdpMLineIndex: mline });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
  }
}

/** The numbers the end-to-end test reads (window.praxiskiosk.stats), from one getStats() report. */
export function testStats(report) {
  const out = {
    videoFramesDecoded: 0,
    audioPacketsReceived: 0,
    audioSamplesReceived: 0,
    videoCodec: null,
    framesSent: 0,
    // The DTLS the connection negotiated, and the certificate the kiosk showed (base64 DER).
    dtlsCipher: null,
    tlsVersion: null,
    srtpCipher: null,
    remoteCertificate: null,
  };
  if (!report) return out;
  for (const s of report.values()) {
    if (s.type === 'transport' && s.dtlsState === 'connected') {
      out.dtlsCipher = s.dtlsCipher ?? null;
      out.tlsVersion = s.tlsVersion ?? null;
      out.srtpCipher = s.srtpCipher ?? null;
      const remote = s.remoteCertificateId && report.get(s.remoteCertificateId);
      if (remote) out.remoteCertificate = remote.base64Certificate ?? null;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.videoFramesDecoded += s.framesDecoded ?? 0;
      const codec = s.codecId && report.get(s.codecId);
      if (codec) out.videoCodec = codec.mimeType;
    } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audioPacketsReceived += s.packetsReceived ?? 0;
      out.audioSamplesReceived += s.totalSamplesReceived ?? 0;
    } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.framesSent += s.framesSent ?? 0;
    }
  }
  return out;
}

/**
 * The counters the quality indicator needs, from one getStats() report; `at` is when the video
 * counters were read (ms), for the frame rate.
 */
export function qualitySample(report) {
  let received = 0;
  let lost = 0;
  let framesDecoded = 0;
  let at = null;
  for (const s of report.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      received += s.packetsReceived ?? 0;
      lost += s.packetsLost ?? 0;
      framesDecoded += s.framesDecoded ?? 0;
      if (typeof s.timestamp === 'number') at = Math.max(at ?? 0, s.timestamp);
    }
  }
  const rtt = selectedPair(report)?.currentRoundTripTime;
  return { received, lost, framesDecoded, at, rtt: typeof rtt === 'number' ? rtt : null };
}

/** The counters the media watch needs (watch.js), from one getStats() report. */
export function mediaSample(report) {
  const out = { bytes: 0, audioBytes: 0, frames: 0 };
  for (const s of report.values()) {
    if (s.type !== 'inbound-rtp') continue;
    out.bytes += s.bytesReceived ?? 0;
    if (s.kind === 'audio') out.audioBytes += s.bytesReceived ?? 0;
    if (s.kind === 'video') out.frames += s.framesDecoded ?? 0;
  }
  return out;
}

/** The candidate pair media use: the transport's selected one, else a nominated, succeeded one. */
export function selectedPair(report) {
  let selectedId = null;
  const pairs = [];
  for (const s of report.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId) selectedId = s.selectedCandidatePairId;
    else if (s.type === 'candidate-pair') pairs.push(s);
  }
  return pairs.find((p) => p.id === selectedId)
    ?? pairs.find((p) => p.nominated && p.state === 'succeeded')
    ?? null;
}

/**
 * The `candidateType` (host, srflx, prflx, relay) of the selected pair's local and remote
 * candidate, each null while unknown. Either being `relay` means media go through a TURN server.
 */
export function selectedPairTypes(report) {
  const pair = selectedPair(report);
  const type = (id) => (id && report.get(id)?.candidateType) || null;
  return { local: type(pair?.localCandidateId), remote: type(pair?.remoteCandidateId) };
}

// Connection quality, judged once a second from the last second's video packets and frames and
// the selected candidate pair's round-trip time, as the kiosk judges it (src/ui/quality.rs):
//   good  loss < 2 %, RTT < 150 ms and 10 frames a second or more (video and lip sync unaffected;
//         the kiosk's smallest step on a narrow link sends 15 of its camera's 30)
//   fair  loss < 8 %, RTT < 400 ms and 5 frames a second or more (visible artefacts, short
//         delays, a jerky picture; talk still works)
//   poor  anything worse, or no video packet at all in the last second (frozen picture)
// Loss counts packets lost in the interval over packets expected (received + lost) in it.
export const THRESHOLDS = {
  good: { loss: 0.02, rtt: 0.15, fps: 10 },
  fair: { loss: 0.08, rtt: 0.4, fps: 5 },
};

export function qualityLevel(previous, sample) {
  const received = sample.received - (previous?.received ?? 0);
  const lost = Math.max(0, sample.lost - (previous?.lost ?? 0));
  if (received <= 0) return 'poor';
  const loss = lost / (received + lost);
  const rtt = sample.rtt ?? 0; // not measured yet: judge by loss alone
  // Without both times (a browser that leaves them out), by loss and round trip alone.
  const seconds = previous?.at != null && sample.at != null ? (sample.at - previous.at) / 1000 : 0;
  const fps = seconds > 0 ? Math.max(0, sample.framesDecoded - previous.framesDecoded) / seconds : Infinity;
  const within = (t) => loss < t.loss && rtt < t.rtt && fps >= t.fps;
  if (within(THRESHOLDS.good)) return 'good';
  if (within(THRESHOLDS.fair)) return 'fair';
  return 'poor';
}

/**
 * The video codecs this browser can both send and receive, as SDP names them (`VP8`, `H264`, …;
 * protocol.md 5, rule 7): the kiosk sends the first of its own preference among them. Firefox
 * offers no H.264 where its OpenH264 plugin could not be downloaded. Empty where the browser
 * does not say: the kiosk then keeps its own.
 */
export function videoCodecs(sender = globalThis.RTCRtpSender, receiver = globalThis.RTCRtpReceiver) {
  const names = (side) =>
    (side?.getCapabilities?.('video')?.codecs ?? []).map((c) => c.mimeType.replace(/^video\//i, '').toUpperCase());
  const received = new Set(names(receiver));
  const notCodecs = ['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'];
  return [...new Set(names(sender))].filter((name) => received.has(name) && !notCodecs.includes(name));
}
