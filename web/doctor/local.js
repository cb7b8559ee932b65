// The doctor's own camera and microphone: opened once per page, fitted to what the kiosk can
// show, switched by muting tracks. Nothing of them is ever recorded or stored.

/** Opens camera and microphone: `{ stream }`, or `{ problem }` naming the text that says why not. */
export async function openCameraAndMicrophone(mediaDevices) {
  try {
    const stream = await mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 25 } },
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    return { stream };
  } catch (err) {
    return { problem: problemText(err?.name) };
  }
}

export function problemText(errorName) {
  return (
    {
      NotFoundError: 'mediaMissingText',
      OverconstrainedError: 'mediaMissingText',
      NotReadableError: 'mediaBusyText',
      AbortError: 'mediaBusyText',
    }[errorName] ?? 'mediaText' // NotAllowedError, SecurityError and anything unexpected
  );
}

// The kiosk shows the picture at most `max` large (its hello's `video_max`): the camera is asked
// for no more, so neither side encodes or decodes pixels nobody sees. The ideal stays as asked.
export function fitCameraTo(stream, max) {
  if (!max) return;
  for (const track of stream?.getVideoTracks() ?? []) {
    track
      .applyConstraints({ width: { ideal: 1280, max: max.width }, height: { ideal: 720, max: max.height }, frameRate: { ideal: 25 } })
      .catch((err) => console.warn('camera not fitted to the kiosk\'s screen:', err?.name));
  }
}

// Muting disables tracks instead of removing them: the kiosk keeps receiving silence and black
// frames, so nothing needs renegotiating and the kiosk's picture does not freeze on the last frame.
export function switchTracks(stream, { micMuted, cameraOff }) {
  for (const track of stream?.getAudioTracks() ?? []) track.enabled = !micMuted;
  for (const track of stream?.getVideoTracks() ?? []) track.enabled = !cameraOff;
}

export function stopTracks(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
