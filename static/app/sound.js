// A short sound for a message arriving in a conversation that is not on screen (another one is
// open, or the tab is hidden), when the notification setting "Sound" is on and the conversation
// is not muted. Made with WebAudio (no file to load). Each sound played is counted in
// `document.body.dataset.sounds` and announced as a `chat:sound` event on `window` (what the
// browser tests observe, as nothing can listen to the speakers there).

import { isMuted } from './mute.js';

let ctx = null;

/** Plays the sound for message `m` of conversation `r` if the settings want it. */
export function soundFor(chat, r) {
  if (!chat.settings?.notifications?.sound || isMuted(r.id)) return;
  play();
}

function play() {
  try {
    ctx ||= new AudioContext();
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t = ctx.currentTime;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1320, t + 0.08);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.26);
  } catch { return; /* no audio here: nothing to count */ }
  document.body.dataset.sounds = String(Number(document.body.dataset.sounds || 0) + 1);
  window.dispatchEvent(new CustomEvent('chat:sound'));
}
