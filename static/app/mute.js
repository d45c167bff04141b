// Muting a conversation for a while (8 hours, a week) or until unmuted, from the bell in the
// conversation's header (PUT /api/push/mutes/{room} {until?}; DELETE to unmute). A muted
// conversation is marked 🔕 in the list, pushes nothing and plays no sound. Mutes are read from
// GET /api/push/settings at sign-in.

import { get, api, del } from './api.js';
import { $, el, timeOf } from './util.js';
import { openPanel } from './dialogs.js';
import { t } from './i18n.js';

const HOUR = 3600 * 1000;
const CHOICES = [[t('mute.hours', { count: 8 }), 8 * HOUR], [t('mute.week'), 7 * 24 * HOUR], [t('mute.forever'), null]];

let getChat = () => null;
/** room id → muted until (ms), or null for ever. */
let mutes = new Map();

/** Whether the conversation `room` is muted now. */
export function isMuted(room) {
  if (!mutes.has(room)) return false;
  const until = mutes.get(room);
  return until === null || until > Date.now();
}

/** Wires the header's bell `button`; `chat()` gives the Chat. */
export function setupMutes(chat, button) {
  getChat = chat;
  button.addEventListener('click', openMenu);
}

/** Reads my mutes (at sign-in). */
export async function loadMutes() {
  try {
    const { settings } = await get('/push/settings');
    mutes = new Map((settings.muted || []).map((m) => [m.room, m.until ?? null]));
  } catch { mutes = new Map(); }
  redraw();
}

/** The header's bell for conversation `r`. */
export function renderMuteButton(r) {
  const b = $('mute-button');
  if (!b || !r) return;
  const on = isMuted(r.id);
  const until = mutes.get(r.id);
  b.textContent = on ? '🔕' : '🔔';
  b.setAttribute('aria-label', on ? (until ? t('mute.buttonUntil', { time: timeOf(until) }) : t('mute.buttonMuted')) : t('mute.button'));
  b.title = b.getAttribute('aria-label');
  b.classList.toggle('on', on);
}

function redraw() {
  const c = getChat();
  if (!c) return;
  c.renderRooms();
  renderMuteButton(c.room(c.current));
}

function openMenu() {
  const c = getChat();
  const r = c?.room(c.current);
  if (!r) return;
  const dialog = $('mute-menu');
  const error = el('p', { class: 'error', role: 'alert', hidden: true });
  const act = async (until) => {
    try {
      if (until === false) {
        await del(`/push/mutes/${encodeURIComponent(r.id)}`);
        mutes.delete(r.id);
      } else {
        const at = until === null ? null : Date.now() + until;
        await api('PUT', `/push/mutes/${encodeURIComponent(r.id)}`, at === null ? {} : { until: at });
        mutes.set(r.id, at);
      }
      dialog.close();
      redraw();
    } catch (e) { error.textContent = e.message; error.hidden = false; }
  };
  const muted = isMuted(r.id);
  const until = mutes.get(r.id);
  const buttons = CHOICES.map(([text, ms]) => el('button', { type: 'button', text, onclick: () => act(ms) }));
  if (muted) buttons.unshift(el('button', { type: 'button', text: t('mute.unmute'), onclick: () => act(false) }));
  dialog.replaceChildren(
    el('h2', { id: 'mute-title', text: t('mute.title', { name: c.roomName(r) }) }),
    el('p', { class: 'notice', text: muted ? (until ? t('mute.until', { time: timeOf(until) }) : t('mute.untilUnmuted')) : t('mute.explain') }),
    error,
    el('div', { class: 'choices' }, ...buttons),
    el('div', { class: 'row' }, el('span', { class: 'grow' }), el('button', { type: 'button', class: 'link', text: t('common.cancel'), onclick: () => dialog.close() })));
  openPanel(dialog, buttons[0]);
}
