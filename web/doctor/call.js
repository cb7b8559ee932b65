// One WebRTC connection to the kiosk, as the answerer (docs/protocol.md 5), and its statistics.
//
// Owns: the RTCPeerConnection. It answers the kiosk's offer, trickles candidates through the
// `send` callback and hands the remote stream to `onRemoteStream`. Must never record: media go
// only to <video> elements, nothing here reads frames or samples.

/** Answers one offer on a fresh connection. `send(message)` publishes a signalling message. */
export class Call {
  constructor({ localStream, send, onRemoteStream, onIceState }) {
    // No STUN/TURN servers: none of a third party, and none is configured for doctors yet;
    // host candidates (and the kiosk's STUN-derived ones) find the path. Bundled as the kiosk offers.
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
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
  };
  if (!report) return out;
  for (const s of report.values()) {
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

/** The counters the quality indicator needs, from one getStats() report. */
export function qualitySample(report) {
  let received = 0;
  let lost = 0;
  let framesDecoded = 0;
  let rtt = null;
  const pairs = new Map();
  let selectedPair = null;
  for (const s of report.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      received += s.packetsReceived ?? 0;
      lost += s.packetsLost ?? 0;
      framesDecoded += s.framesDecoded ?? 0;
    } else if (s.type === 'candidate-pair') {
      pairs.set(s.id, s);
    } else if (s.type === 'transport' && s.selectedCandidatePairId) {
      selectedPair = s.selectedCandidatePairId;
    }
  }
  const pair = pairs.get(selectedPair) ?? [...pairs.values()].find((p) => p.nominated && p.state === 'succeeded');
  if (pair && typeof pair.currentRoundTripTime === 'number') rtt = pair.currentRoundTripTime;
  return { received, lost, framesDecoded, rtt };
}

// Connection quality, judged once a second from the last second's video packets and the selected
// candidate pair's round-trip time:
//   good  loss < 2 %  and RTT < 150 ms  (video and lip sync unaffected)
//   fair  loss < 8 %  and RTT < 400 ms  (visible artefacts, short delays; talk still works)
//   poor  anything worse, or no video packet at all in the last second (frozen picture)
// Loss counts packets lost in the interval over packets expected (received + lost) in it.
export const THRESHOLDS = {
  good: { loss: 0.02, rtt: 0.15 },
  fair: { loss: 0.08, rtt: 0.4 },
};

export function qualityLevel(previous, sample) {
  const received = sample.received - (previous?.received ?? 0);
  const lost = Math.max(0, sample.lost - (previous?.lost ?? 0));
  if (received <= 0) return 'poor';
  const loss = lost / (received + lost);
  const rtt = sample.rtt ?? 0; // not measured yet: judge by loss alone
  if (loss < THRESHOLDS.good.loss && rtt < THRESHOLDS.good.rtt) return 'good';
  if (loss < THRESHOLDS.fair.loss && rtt < THRESHOLDS.fair.rtt) return 'fair';
  return 'poor';
}
