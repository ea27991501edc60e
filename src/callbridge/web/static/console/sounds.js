// The offer alert: a short two-note chime made with the Web Audio API (no audio files), and a browser
// notification when the console is not visible. Permission for notifications is asked on a click.

/** @type {AudioContext|null} */
let context = null;

/** Call from a user gesture so that later chimes may play (browsers' autoplay rules). */
export function unlockAudio() {
  try {
    context = context ?? new AudioContext();
    if (context.state === "suspended") void context.resume();
  } catch {
    context = null;
  }
}

/** A calm two-note chime (about 0.5 s). */
export function chime() {
  try {
    context = context ?? new AudioContext();
    const now = context.currentTime;
    for (const [offset, frequency] of [
      [0, 660],
      [0.18, 880],
    ]) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.3);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(now + offset);
      oscillator.stop(now + offset + 0.32);
    }
  } catch {
    // no audio output: the visual alert remains
  }
}

/** Ask for notification permission (call from a click). */
export function askNotificationPermission() {
  if (typeof Notification !== "undefined" && Notification.permission === "default") {
    void Notification.requestPermission().catch(() => {});
  }
}

/**
 * Show a browser notification when the page is hidden; clicking it brings the console to front.
 * @param {string} title
 * @param {string} body
 * @param {string} tag
 * @returns {boolean} whether a notification was shown
 */
export function notifyIfHidden(title, body, tag) {
  if (!document.hidden || typeof Notification === "undefined" || Notification.permission !== "granted") return false;
  try {
    const notification = new Notification(title, { body, tag, requireInteraction: true });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
    return true;
  } catch {
    return false;
  }
}
