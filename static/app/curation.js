// Pins, stars and forwarding in the web client: the pinned bar of the open conversation, the
// list of my starred messages, and the dialog that forwards a message to other conversations.

import { get } from './api.js';
import { $, el } from './util.js';
import { openPanel } from './dialogs.js';
import { t, formatNumber } from './i18n.js';

/** The pinned messages of room `r` (newest pin first), from the server. */
export async function loadPins(r) {
  const page = await get(`/rooms/${encodeURIComponent(r.id)}/pins`);
  r.pins = page.messages;
  r.pinPolicy = page.policy;
  return r.pins;
}

/** Shows the newest pin of `r` in the bar under the header (hidden when none); clicking it
 * calls `open(id)`. */
export function renderPinnedBar(r, open) {
  const bar = $('pinned-bar');
  const top = r?.pins?.[0];
  bar.hidden = !top;
  if (!top) return;
  const more = r.pins.length > 1 ? ` (+${formatNumber(r.pins.length - 1)})` : '';
  bar.replaceChildren(el('button', {
    type: 'button', class: 'pinned', title: t('pins.show'),
    onclick: () => open(top.id),
  }, el('span', { text: '📌 ' }), el('span', { class: 'text', text: `${top.body || t('media.attachment')}${more}` })));
}

/** The ids of my starred messages (first 100), from the server. */
export async function loadStars() {
  const page = await get('/stars?limit=100');
  return new Set(page.messages.map((m) => m.id));
}

/** Opens the list of my starred messages; picking one calls `open(room, id)`. */
export async function showStarred(open) {
  const dialog = $('starred');
  const list = $('starred-list');
  list.replaceChildren(el('li', { text: t('common.loading') }));
  openPanel(dialog);
  const page = await get('/stars?limit=100');
  list.replaceChildren(...page.messages.map((m) => el('li', {},
    el('button', {
      type: 'button', class: 'link', dataset: { id: m.id },
      onclick: () => { dialog.close(); open(m.room, m.id); },
      text: m.body || t('media.attachment'),
    }))));
  if (!page.messages.length) list.replaceChildren(el('li', { text: t('starred.none') }));
}

/** Opens the forward dialog for message `m`: pick conversations from `rooms` (id, title),
 * then `send(ids)`. */
export function showForward(m, rooms, send) {
  const dialog = $('forward');
  const list = $('forward-list');
  list.replaceChildren(...rooms.map((r) => el('li', {},
    el('label', {}, el('input', { type: 'checkbox', value: r.id }), el('span', { text: ` ${r.title}` })))));
  $('forward-go').onclick = () => {
    const ids = [...list.querySelectorAll('input:checked')].map((i) => i.value);
    if (!ids.length) return;
    dialog.close();
    send(ids);
  };
  $('forward-preview').textContent = m.body || t('media.attachment');
  openPanel(dialog);
}
