// Pieces of the message view that need no chat state: previews, ticks, attachments, swipes.
// Text is set with textContent only.

import { el } from './util.js';
import { showPicture, showVideo } from './dialogs.js';
import { t, formatSize } from './i18n.js';

export { formatSize };

/** One line describing a message, for the conversation list and reply quotes. */
export function preview(m) {
  if (!m) return '';
  if (m.deleted) return t('msg.deleted');
  const att = m.attachments?.[0];
  if (att) return `${{ image: '📷', audio: '🎤', video: '🎬' }[att.kind] || '📎'} ${m.body}`;
  return m.body;
}

/** The sent / delivered / read mark of one of my messages (`r.delivered`, `r.read`: highest
 * seqs the other members reported). */
export function ticks(r, m, me) {
  if (m.from !== me) return null;
  if (m.failed) return el('span', { class: 'ticks failed', text: '⚠', title: m.failed });
  if (m.pending || !m.seq) return el('span', { class: 'ticks pending', text: '🕓', title: t('ticks.sending') });
  if (m.seq <= r.read) return el('span', { class: 'ticks read', text: '✓✓', title: t('ticks.read') });
  if (m.seq <= r.delivered) return el('span', { class: 'ticks delivered', text: '✓✓', title: t('ticks.delivered') });
  return el('span', { class: 'ticks sent', text: '✓', title: t('ticks.sent') });
}

/** An attachment shown inline: image, audio or video player, or a download link. */
export function renderAttachment(a) {
  if (a.status && a.status !== 'ready') {
    const kind = { image: t('media.image'), audio: t('media.audio'), video: t('media.video') }[a.kind] ?? t('media.file');
    const status = { processing: t('media.processing'), failed: t('media.failed') }[a.status] ?? a.status;
    return el('div', { class: 'notice', text: t('media.status', { name: a.name || kind, status }) });
  }
  if (a.kind === 'image') {
    const alt = a.name || t('media.image');
    return el('button', { type: 'button', class: 'picture', title: t('media.showPicture'), 'aria-label': t('media.show', { name: alt }), onclick: () => showPicture(a.url, alt) },
      el('img', { src: a.thumb_url || a.url, alt }));
  }
  if (a.kind === 'audio') return el('audio', { src: a.url, controls: true, preload: 'metadata' });
  if (a.kind === 'video') {
    // The first frame (or the poster) in the conversation; it plays in the viewer over the page.
    const label = a.name ? t('media.play', { name: a.name }) : t('media.playVideo');
    return el('button', { type: 'button', class: 'picture video', title: t('media.playVideo'), 'aria-label': label, onclick: () => showVideo(a.url, a.thumb_url, a.name || t('media.video')) },
      el('video', { src: a.url, poster: a.thumb_url, preload: 'metadata', muted: true, playsInline: true, tabIndex: -1 }),
      el('span', { class: 'play', 'aria-hidden': 'true', text: '▶' }));
  }
  const name = a.name || t('media.file');
  return el('a', { href: a.url, download: name, class: 'file', title: t('media.download', { name }) },
    el('span', { class: 'file-name', text: `📎 ${name}` }), el('span', { class: 'file-size', text: ` (${formatSize(a.size)})` }));
}

/** Whether the message's text only repeats the name of one of its attachments (what the
 * client sends as the text of a file sent without a caption): the attachment shows the name. */
export function bodyIsFileName(m) {
  return (m.attachments || []).some((a) => a.name && a.name === m.body);
}

/** Calls `onReply` when the message is swiped to the right on a touch screen; a tap toggles its
 * actions. */
export function swipeToReply(li, onReply) {
  let x0 = null;
  let y0 = null;
  li.addEventListener('touchstart', (e) => { x0 = e.touches[0].clientX; y0 = e.touches[0].clientY; }, { passive: true });
  li.addEventListener('touchmove', (e) => {
    if (x0 === null) return;
    const dx = e.touches[0].clientX - x0;
    if (Math.abs(e.touches[0].clientY - y0) > 30) { x0 = null; li.style.transform = ''; return; }
    if (dx > 0) li.style.transform = `translateX(${Math.min(dx, 80)}px)`;
  }, { passive: true });
  li.addEventListener('touchend', (e) => {
    const dx = x0 === null ? 0 : e.changedTouches[0].clientX - x0;
    li.style.transform = '';
    x0 = null;
    if (dx > 60) onReply();
    else li.classList.toggle('show-actions');
  });
}
