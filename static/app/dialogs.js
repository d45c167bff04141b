// In-page replacements for the browser's alert(), confirm() and prompt(), and the picture and
// video viewer: native dialogs block the page, cannot be styled per theme and read poorly on phones.
// Text is set with textContent only.

import { $ } from './util.js';
import { t } from './i18n.js';

const NOTICE_MS = 5000;
let noticeTimer = null;

/** Shows `text` for a few seconds in the notice bar at the bottom of the page (announced to
 * screen readers). */
export function notify(text) {
  const bar = $('notice-bar');
  bar.textContent = text;
  bar.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { bar.hidden = true; }, NOTICE_MS);
}

/** Asks a question in the page's `#ask` dialog; resolves to the typed text (with `input`), true
 * (without) or null when cancelled (Cancel, Escape). */
export function ask(question, { ok = t('common.ok'), input = false, danger = false } = {}) {
  const dialog = $('ask');
  const field = $('ask-input');
  $('ask-text').textContent = question;
  $('ask-ok').textContent = ok;
  $('ask-ok').classList.toggle('danger', danger);
  field.hidden = !input;
  field.value = '';
  dialog.returnValue = '';
  openPanel(dialog, input ? field : $('ask-ok'));
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (dialog.returnValue !== 'ok') resolve(null);
      else resolve(input ? field.value.trim() || null : true);
    }, { once: true });
  });
}

/** Opens picture `url` (described by `alt`) in the viewer over the page; Escape, the close
 * button or a click beside the picture closes it. */
export function showPicture(url, alt) {
  const dialog = $('viewer');
  const img = $('viewer-img');
  img.hidden = false;
  img.src = url;
  img.alt = alt;
  dialog.setAttribute('aria-label', t('viewer.picture'));
  openPanel(dialog, $('viewer-close'));
}

/** Plays video `url` (the server's WebM, with `poster`) in the same viewer, with the player's
 * own controls; it stops when the viewer closes. */
export function showVideo(url, poster, label) {
  const dialog = $('viewer');
  $('viewer-img').hidden = true;
  const video = document.createElement('video');
  video.id = 'viewer-video';
  Object.assign(video, { src: url, controls: true, autoplay: true, playsInline: true });
  if (poster) video.poster = poster;
  video.setAttribute('aria-label', label);
  $('viewer-video')?.remove();
  dialog.append(video);
  dialog.setAttribute('aria-label', t('media.video'));
  openPanel(dialog, $('viewer-close'));
  // Started within the click that opened the viewer, so the browser lets it play with sound.
  video.play().catch(() => { /* the player's own button starts it */ });
}

/** Wires the viewer's ways out (once, at start). */
export function setupViewer() {
  const dialog = $('viewer');
  $('viewer-close').addEventListener('click', () => dialog.close());
  // A click on the backdrop or the space around the picture lands on the dialog itself.
  dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener('close', () => {
    $('viewer-img').removeAttribute('src');
    const video = $('viewer-video');
    if (video) { video.pause(); video.remove(); }
  });
}

/** Opens `dialog` (modal: Escape closes it) with focus on `first`; when it closes, focus goes
 * back to what had it before (the header, a name), so the keyboard picks up where it was. An
 * opener redrawn meanwhile (a message re-rendered) is found again by its `data-focus`. */
export function openPanel(dialog, first) {
  const opener = document.activeElement;
  const key = opener?.dataset?.focus;
  if (!dialog.open) dialog.showModal();
  first?.focus();
  dialog.addEventListener('close', () => {
    // The close event comes a moment after the dialog closed (and the browser may have put
    // focus back already): focus that went on elsewhere meanwhile stays there.
    const now = document.activeElement;
    if (now && now !== document.body && !dialog.contains(now)) return;
    const back = opener?.isConnected ? opener : key && document.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (back && typeof back.focus === 'function') back.focus();
  }, { once: true });
}

/** What Tab can reach inside `box`, in order. */
function tabStops(box) {
  return [...box.querySelectorAll('button, [href], input, select, textarea, summary, [tabindex], audio[controls], video[controls]')]
    .filter((n) => n.tabIndex >= 0 && !n.disabled && !n.closest('fieldset[disabled]') && n.checkVisibility());
}

// Tab and Shift+Tab stay inside the modal dialog on top, going round from its last control to
// its first and back (the browser would otherwise leave the page for its own toolbar).
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Tab' || e.defaultPrevented) return;
  const modals = [...document.querySelectorAll('dialog[open]')].filter((d) => d.matches(':modal'));
  const dialog = document.activeElement?.closest('dialog[open]') ?? modals.at(-1);
  if (!dialog || !modals.includes(dialog)) return;
  const stops = tabStops(dialog);
  if (!stops.length) return;
  const at = stops.indexOf(document.activeElement);
  if (e.shiftKey && at <= 0) { e.preventDefault(); stops.at(-1).focus(); }
  else if (!e.shiftKey && (at === -1 || at === stops.length - 1)) { e.preventDefault(); stops[0].focus(); }
});
