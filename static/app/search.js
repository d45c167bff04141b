// Message search: the box above the conversation list (GET /api/search). Results replace the
// list while there is a query; opening one opens its conversation scrolled to the message.
// The server's `highlight` is HTML-escaped text with <mark> around matches; it is turned into
// text nodes and <mark> elements here, never parsed as HTML.

import { get } from './api.js';
import { $, el, timeOf } from './util.js';
import { preview } from './view.js';
import { t } from './i18n.js';

const DEBOUNCE_MS = 250;

const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

function unescape(s) {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m]);
}

/** The highlight as nodes: text, and <mark> elements for the matches. */
export function highlightNodes(highlight) {
  const nodes = [];
  for (const [i, part] of highlight.split(/<\/?mark>/).entries()) {
    if (!part) continue;
    nodes.push(i % 2 ? el('mark', { text: unescape(part) }) : document.createTextNode(unescape(part)));
  }
  return nodes;
}

/** Opens `room` and scrolls to message `id` (loading older pages until it is there). */
export async function openAt(chat, roomId, id) {
  await chat.openRoom(roomId);
  const r = chat.room(roomId);
  return r ? chat.jumpTo(r, id, 'found') : false;
}

export function setupSearch(getChat) {
  const input = $('search-input');
  const results = $('search-results');
  const rooms = $('room-list');
  let timer = null;
  let asked = 0;

  function clear() {
    results.replaceChildren();
    results.hidden = true;
    rooms.hidden = false;
  }

  async function run() {
    const q = input.value.trim();
    const ticket = ++asked;
    if (!q) { clear(); return; }
    let answer;
    try {
      answer = await get(`/search?q=${encodeURIComponent(q)}&limit=30`);
    } catch (e) {
      if (ticket !== asked) return;
      results.replaceChildren(el('li', { class: 'search-note', text: e.status === 400 ? e.message : t('search.error', { error: e.message }) }));
      results.hidden = false;
      rooms.hidden = true;
      return;
    }
    if (ticket !== asked) return;
    const chat = getChat();
    const items = answer.results.map((m) => {
      const r = chat?.room(m.room);
      const from = m.from === chat?.me.id ? t('common.you') : chat?.user(m.from).display_name;
      // A button inside the item: Enter and Space open it, as any button.
      return el('li', { class: 'search-result', dataset: { room: m.room, id: m.id } },
        el('button', { type: 'button', class: 'search-open', onclick: () => chat && openAt(chat, m.room, m.id) },
          el('span', { class: 'search-head' },
            el('span', { class: 'name', text: r ? chat.roomName(r) : t('search.conversation') }),
            el('span', { class: 'when', text: timeOf(m.ts) })),
          el('span', { class: 'search-text' },
            from ? t('msg.fromText', { name: from, text: '' }) : '',
            ...(m.highlight ? highlightNodes(m.highlight) : [preview(m)]))));
    });
    results.replaceChildren(...(items.length ? items : [el('li', { class: 'search-note', text: t('search.none') })]));
    results.hidden = false;
    rooms.hidden = true;
  }

  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, DEBOUNCE_MS); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { input.value = ''; clear(); } });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); run(); });
}
