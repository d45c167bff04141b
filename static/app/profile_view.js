// Someone's profile, opened by clicking their name or avatar (in a group's member list, beside
// their message in a group, the header of our dm): avatar, display name, username, about, online
// or last seen, my nickname for them; and what I can do: message them (opens or creates our
// dm), block or unblock, set the nickname (my contacts, `PUT /api/contacts/{user}`). Follows
// `profile` and `presence` frames while open. Errors show inline. Text only via textContent.

import { get, post, del, api } from './api.js';
import { $, el, lastSeenText } from './util.js';
import { avatarFor } from './avatars.js';
import { ask, openPanel } from './dialogs.js';
import { nicknameChanged } from './contacts.js';
import { t } from './i18n.js';

let getChat = () => null;
/** The person shown, what I know of my relation to them, and the panel's nodes. */
let userId = null;
let blocked = false;
let nickname = null;
let ui = null;

/** Wires the view: `chat()` gives the Chat. */
export function setupProfileView(chat) {
  getChat = chat;
}

/** Opens the profile of user `id`. */
export async function openProfile(id) {
  const c = getChat();
  if (!c) return;
  userId = id;
  blocked = false;
  nickname = null;
  build();
  render();
  openPanel($('profile-view'), ui.close);
  const [profile, blocks, contacts] = await Promise.allSettled([
    get(`/users/${encodeURIComponent(id)}`), get('/blocks'), get('/contacts')]);
  if (userId !== id) return;
  if (profile.status === 'fulfilled') {
    c.rememberUser(profile.value.user);
    c.user(id).deleted = profile.value.user.deleted;
  } else say(profile.reason.message, true);
  blocked = blocks.status === 'fulfilled' && blocks.value.blocked.some((u) => u.id === id);
  nickname = contacts.status === 'fulfilled' ? contacts.value.contacts.find((x) => x.user.id === id)?.nickname ?? null : null;
  ui.nickname.value = nickname || '';
  // Usable once it is known whether they are blocked and what I call them.
  ui.actions.disabled = false;
  render();
}

/** Redraws the open view when the person shown changed (profile or presence). */
export function refreshProfile(id) {
  if ($('profile-view').open && id === userId) render();
}

function build() {
  const dialog = $('profile-view');
  ui = {
    avatar: el('span', { class: 'avatar big' }),
    title: el('h2', { id: 'profile-view-title' }),
    username: el('p', { class: 'sub username' }),
    presence: el('p', { class: 'sub presence' }),
    called: el('p', { class: 'sub nickname' }),
    about: el('p', { class: 'about' }),
    error: el('p', { class: 'error', role: 'alert', hidden: true }),
    notice: el('p', { class: 'notice', role: 'status', hidden: true }),
    nickname: el('input', { maxlength: '100', autocomplete: 'off' }),
    message: el('button', { type: 'button', text: t('people.message'), onclick: message }),
    block: el('button', { type: 'button', class: 'danger', onclick: toggleBlock }),
    close: el('button', { type: 'button', class: 'link', text: t('common.close'), onclick: () => dialog.close() }),
  };
  ui.actions = el('fieldset', { class: 'actions', disabled: true },
    el('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); saveNickname(); } },
      el('label', {}, t('profile.nickname'), ui.nickname), el('button', { type: 'submit', text: t('profile.saveNickname') })),
    el('div', { class: 'row' }, ui.message, ui.block));
  dialog.replaceChildren(
    el('div', { class: 'head' }, ui.avatar, el('div', { class: 'grow' }, ui.title, ui.username, ui.called, ui.presence)),
    ui.about, ui.error, ui.notice, ui.actions,
    el('div', { class: 'row' }, el('span', { class: 'grow' }), ui.close));
}

function render() {
  const c = getChat();
  const u = c.user(userId);
  const isMe = userId === c.me.id;
  const avatar = Object.assign(avatarFor(u.display_name, u.avatar), { className: 'avatar big' });
  ui.avatar.replaceWith(avatar);
  ui.avatar = avatar;
  ui.title.textContent = u.deleted ? t('profile.deletedUser') : u.display_name;
  ui.username.textContent = u.username ? `@${u.username}` : '';
  ui.called.textContent = nickname ? t('profile.yourNickname', { nickname }) : '';
  ui.called.hidden = !nickname;
  let presence = '';
  if (isMe) presence = t('profile.you');
  else if (u.online) presence = t('presence.online');
  else if (u.last_seen) presence = lastSeenText(u.last_seen);
  ui.presence.textContent = presence;
  ui.presence.hidden = !presence;
  ui.about.textContent = u.about || '';
  ui.about.hidden = !u.about;
  ui.actions.hidden = isMe || !!u.deleted;
  ui.block.textContent = blocked ? t('profile.unblock') : t('profile.block');
}

function say(text, isError = false) {
  ui.error.textContent = isError ? text : '';
  ui.error.hidden = !isError;
  ui.notice.textContent = isError ? '' : text;
  ui.notice.hidden = isError || !text;
}

async function message() {
  try {
    const room = await getChat().dmWith(userId);
    $('profile-view').close();
    if ($('group-panel').open) $('group-panel').close();
    getChat().openRoom(room);
  } catch (e) { say(e.message, true); }
}

async function toggleBlock() {
  const id = userId;
  const name = getChat().user(id).display_name;
  try {
    if (blocked) {
      await del(`/blocks/${encodeURIComponent(id)}`);
      blocked = false;
      say(t('profile.unblocked', { name }));
    } else {
      if (!await ask(t('profile.blockAsk', { name }), { ok: t('profile.block'), danger: true })) return;
      await post('/blocks', { user: id });
      blocked = true;
      say(t('profile.blocked', { name }));
    }
    if (userId === id) render();
  } catch (e) { say(e.message, true); }
}

async function saveNickname() {
  const id = userId;
  const wanted = ui.nickname.value.trim();
  try {
    const { contact } = await api('PUT', `/contacts/${encodeURIComponent(id)}`, { nickname: wanted || null });
    if (userId !== id) return;
    nickname = contact.nickname ?? null;
    nicknameChanged(id, nickname, contact.user);
    say(nickname ? t('profile.nicknameSaved', { nickname }) : t('profile.nicknameCleared'));
    render();
  } catch (e) { say(e.message, true); }
}
