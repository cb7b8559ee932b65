// The page's texts in German (the default) and English.
//
// Owns: the two dictionaries, the current language and putting texts into elements marked with
// data-i18n. Must never hold a patient name or a credential: those are inserted by app.js as
// `vars`, never stored here.

const TEXTS = {
  de: {
    title: 'Videosprechstunde',
    yourName: 'Ihr Name',
    defaultDoctorName: 'Ärztin / Arzt',
    patientLabel: 'Patientin / Patient',
    retry: 'Erneut versuchen',
    hangup: 'Auflegen',
    mute: 'Mikrofon aus',
    unmute: 'Mikrofon an',
    cameraOff: 'Kamera aus',
    cameraOn: 'Kamera an',
    enableSound: 'Ton einschalten',
    ended: 'Gespräch beendet',
    duration: 'Dauer',
    callControls: 'Gespräch',

    connecting: 'Verbindung zum Server wird hergestellt …',
    reconnecting: 'Verbindung zum Server unterbrochen, neuer Versuch …',
    cameraStarting: 'Kamera und Mikrofon werden eingeschaltet …',
    waiting: 'Warten auf die Patientin / den Patienten',
    patientWaiting: 'Patient ist im Wartezimmer',
    callConnecting: 'Verbindung zur Patientin / zum Patienten wird aufgebaut …',
    inCall: 'Gespräch läuft',
    p2pFailed: 'Keine direkte Verbindung zum Kiosk möglich. Bitten Sie Ihre IT, ausgehende UDP-Verbindungen zu erlauben (STUN, Port 3478) oder für die Flotte einen TURN-Server freizugeben.',

    noticeInterrupted: 'Verbindung unterbrochen – wird wiederhergestellt …',
    noticeVideoPaused: 'Video pausiert (geringe Bandbreite) – Ton läuft weiter',
    noticeRelay: 'Über einen Relay-Server verbunden – nicht direkt (Peer-to-Peer)',

    qualityGood: 'Verbindung gut',
    qualityFair: 'Verbindung mittel',
    qualityPoor: 'Verbindung schlecht',
    securityCode: 'Sicherheitscode',
    securityCodeHint: 'Vergleichen Sie den Code mit dem Code am Kiosk',
    consentLine: 'Einwilligung am Kiosk {device} erteilt: {at} (Text {text})',
    consentSave: 'Einwilligungsbeleg speichern',

    endedByYou: 'Sie haben aufgelegt. Sie können dieses Fenster jetzt schließen.',
    endedHangup: 'Die Patientin / der Patient hat das Gespräch beendet. Sie können dieses Fenster jetzt schließen.',
    endedTimeout: 'Die Wartezeit am Kiosk ist abgelaufen. Sie können dieses Fenster jetzt schließen.',
    endedError: 'Die Verbindung zum Kiosk ist abgebrochen. Sie können dieses Fenster jetzt schließen.',
    endedSecurityCheck:
      'Sicherheitsprüfung fehlgeschlagen: Das Zertifikat der Verbindung passte nicht zu dem angekündigten. Die Verbindung wurde beendet, bevor über sie Bild oder Ton übertragen wurden. Bitte informieren Sie die Praxis-IT.',
    endedOther: 'Sie können dieses Fenster jetzt schließen.',

    linkTitle: 'Dieser Link ist unvollständig',
    linkText: 'Bitte öffnen Sie den vollständigen Link aus der Terminbestätigung. Fehlt oder ungültig: {what}.',
    linkVersionTitle: 'Dieser Link ist für eine neuere Version',
    linkVersionText: 'Diese Seite versteht Links der Version 1, der Link hat Version {what}. Bitte wenden Sie sich an Ihre Praxis-IT.',
    busyTitle: 'Diese Sprechstunde läuft bereits in einem anderen Fenster',
    busyText: 'Das Gespräch mit der Patientin oder dem Patienten wird in einem anderen Fenster oder auf einem anderen Gerät mit demselben Link geführt und läuft dort weiter. Wenn Sie das andere Fenster geschlossen haben, versuchen Sie es in einigen Sekunden erneut.',
    takenOverTitle: 'Der Termin ist in einem anderen Fenster geöffnet',
    takenOverText: 'Derselbe Link wurde in einem anderen Fenster oder auf einem anderen Gerät geöffnet; das Gespräch läuft dort weiter. Mit „Erneut versuchen“ holen Sie es in dieses Fenster zurück.',
    authTitle: 'Dieser Link ist nicht (mehr) gültig',
    authText: 'Der Termin ist vorbei oder wurde abgesagt, oder der Link ist unvollständig. Bitte lassen Sie sich von der Praxis einen neuen Link geben.',
    mediaTitle: 'Kein Zugriff auf Kamera und Mikrofon',
    mediaText: 'Bitte erlauben Sie dieser Seite den Zugriff auf Kamera und Mikrofon: Klicken Sie links in der Adressleiste auf das Schloss- oder Kamerasymbol, wählen Sie „Zulassen“ und dann „Erneut versuchen“.',
    mediaMissingText: 'Es wurde keine Kamera oder kein Mikrofon gefunden. Bitte schließen Sie beides an (oder schließen Sie andere Programme, die sie gerade benutzen) und wählen Sie dann „Erneut versuchen“.',
    mediaBusyText: 'Kamera oder Mikrofon werden gerade von einem anderen Programm benutzt. Bitte beenden Sie es und wählen Sie dann „Erneut versuchen“.',
    insecureTitle: 'Diese Seite muss über HTTPS geöffnet werden',
    insecureText: 'Der Browser gibt Kamera und Mikrofon nur auf sicheren Seiten frei. Bitte öffnen Sie den Link so, wie Sie ihn erhalten haben (https://…).',
    browserTitle: 'Dieser Browser wird nicht unterstützt',
    browserText: 'Bitte verwenden Sie einen aktuellen Chrome, Edge, Firefox oder Safari.',
  },
  en: {
    title: 'Video consultation',
    yourName: 'Your name',
    defaultDoctorName: 'Ärztin / Arzt',
    patientLabel: 'Patient',
    retry: 'Try again',
    hangup: 'Hang up',
    mute: 'Mute microphone',
    unmute: 'Unmute microphone',
    cameraOff: 'Camera off',
    cameraOn: 'Camera on',
    enableSound: 'Turn sound on',
    ended: 'Call ended',
    duration: 'Duration',
    callControls: 'Call',

    connecting: 'Connecting to the server …',
    reconnecting: 'Connection to the server lost, trying again …',
    cameraStarting: 'Turning on camera and microphone …',
    waiting: 'Waiting for the patient',
    patientWaiting: 'The patient is in the waiting room',
    callConnecting: 'Connecting to the patient …',
    inCall: 'Call in progress',
    p2pFailed: 'No direct connection to the kiosk is possible. Please ask your IT to allow outgoing UDP connections (STUN, port 3478) or to enable a TURN server for the fleet.',

    noticeInterrupted: 'Connection interrupted – reconnecting …',
    noticeVideoPaused: 'Video paused (low bandwidth) – sound continues',
    noticeRelay: 'Connected through a relay server – not directly (peer-to-peer)',

    qualityGood: 'Connection good',
    qualityFair: 'Connection fair',
    qualityPoor: 'Connection poor',
    securityCode: 'Security code',
    securityCodeHint: 'Compare it with the code shown at the kiosk',
    consentLine: 'Consent given at kiosk {device}: {at} (text {text})',
    consentSave: 'Save the consent receipt',

    endedByYou: 'You hung up. You can close this window now.',
    endedHangup: 'The patient ended the call. You can close this window now.',
    endedTimeout: 'The waiting time at the kiosk ran out. You can close this window now.',
    endedError: 'The connection to the kiosk was lost. You can close this window now.',
    endedSecurityCheck:
      "Security check failed: the connection's certificate did not match the announced one. The connection was closed before any picture or sound was sent over it. Please tell the practice's IT.",
    endedOther: 'You can close this window now.',

    linkTitle: 'This link is incomplete',
    linkText: 'Please open the complete link from the appointment confirmation. Missing or invalid: {what}.',
    linkVersionTitle: 'This link is for a newer version',
    linkVersionText: 'This page understands version 1 links; the link has version {what}. Please contact your practice IT.',
    busyTitle: 'This consultation is already running in another window',
    busyText: 'The call with the patient is held in another window or on another device with the same link, and goes on there. If you closed the other window, try again in a few seconds.',
    takenOverTitle: 'The appointment is open in another window',
    takenOverText: 'The same link was opened in another window or on another device; the call goes on there. "Try again" brings it back to this window.',
    authTitle: 'This link is not valid (any more)',
    authText: 'The appointment is over or was cancelled, or the link is incomplete. Please ask the practice for a new link.',
    mediaTitle: 'No access to camera and microphone',
    mediaText: 'Please allow this page to use your camera and microphone: click the lock or camera icon on the left of the address bar, choose "Allow", then "Try again".',
    mediaMissingText: 'No camera or microphone was found. Please connect both (or close other programs using them), then choose "Try again".',
    mediaBusyText: 'Another program is using the camera or microphone. Please close it, then choose "Try again".',
    insecureTitle: 'This page must be opened over HTTPS',
    insecureText: 'Browsers allow camera and microphone only on secure pages. Please open the link exactly as you received it (https://…).',
    browserTitle: 'This browser is not supported',
    browserText: 'Please use a current Chrome, Edge, Firefox or Safari.',
  },
};

export const LANGUAGES = Object.keys(TEXTS);

let current = 'de';

/** German unless the browser prefers English. */
export function initialLanguage(navigatorLanguage) {
  return String(navigatorLanguage || '').toLowerCase().startsWith('en') ? 'en' : 'de';
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = TEXTS[lang] ? lang : 'de';
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

/** The text for `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = TEXTS[current][key] ?? TEXTS.de[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** The text key for the kiosk's `bye` reason (protocol.md 5, rule 6). */
export function byeTextKey(reason) {
  return (
    {
      hangup: 'endedHangup',
      timeout: 'endedTimeout',
      error: 'endedError',
      security_check_failed: 'endedSecurityCheck',
    }[reason] ?? 'endedOther'
  );
}
