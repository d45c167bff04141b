// A group's panel, opened from the conversation header: the members with avatar, name and role
// (a name opens that person's profile). Owners and admins also rename the group, change its
// picture, find people to add and remove members; owners change roles. Everyone may leave,
// asked in the page first. While open it follows `room_event` and `profile` frames (the chat
// reloads the room and calls `refreshGroupPanel`). Errors show inline. Text only via textContent.

import { get, post, patch, del, api, upload } from './api.js';
import { $, el } from './util.js';
import { avatarFor } from './avatars.js';
import { ask, openPanel } from './dialogs.js';
import { t } from './i18n.js';

const ROLES = ['owner', 'admin', 'member'];
const RANK = { owner: 0, admin: 1, member: 2 };
const SEARCH_DELAY_MS = 150;

let getChat = () => null;
let showProfile = () => {};
/** The room shown, and the panel's nodes (built at each opening). */
let roomId = null;
let ui = null;

/** Wires the panel: `chat()` gives the Chat, `onPerson(userId)` opens a profile. */
export function setupGroupPanel(chat, onPerson) {
  getChat = chat;
  showProfile = onPerson;
}

const path = (...parts) => parts.map(encodeURIComponent).join('/');

/** Opens the panel of group `id`. */
export function openGroupPanel(id) {
  const c = getChat();
  const r = c?.room(id);
  if (!r) return;
  roomId = id;
  build();
  render();
  openPanel($('group-panel'), ui.close);
  c.loadRoomDetails(r);
}

/** Redraws the open panel after its room or one of its members changed; closes it when I am no
 * longer in the group. */
export function refreshGroupPanel() {
  if ($('group-panel').open) render();
}

function build() {
  const dialog = $('group-panel');
  let searchTimer = null;
  ui = {
    avatar: el('span', { class: 'avatar big' }),
    title: el('h2', { id: 'group-panel-title' }),
    count: el('p', { class: 'sub' }),
    error: el('p', { class: 'error', role: 'alert', hidden: true }),
    notice: el('p', { class: 'notice', role: 'status', hidden: true }),
    name: el('input', { maxlength: '100', autocomplete: 'off' }),
    file: el('input', { type: 'file', accept: 'image/*', hidden: true, onchange: changePicture }),
    members: el('ul', { class: 'members', 'aria-label': t('group.members') }),
    search: el('input', { type: 'search', placeholder: t('people.placeholder'), autocomplete: 'off',
      oninput: () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, SEARCH_DELAY_MS); } }),
    results: el('ul', { class: 'members', 'aria-label': t('people.found') }),
    close: el('button', { type: 'button', class: 'link', text: t('common.close'), onclick: () => dialog.close() }),
  };
  ui.manage = el('div', {},
    el('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); rename(); } },
      el('label', {}, t('newChat.groupName'), ui.name), el('button', { type: 'submit', text: t('group.rename') })),
    el('div', { class: 'inline' }, el('button', { type: 'button', text: t('group.changePhoto'), onclick: () => ui.file.click() }), ui.file));
  ui.adding = el('section', {}, el('h3', { text: t('group.addMembers') }), el('label', {}, t('newChat.findPeople'), ui.search), ui.results);
  dialog.replaceChildren(
    el('div', { class: 'head' }, ui.avatar, el('div', { class: 'grow' }, ui.title, ui.count)),
    ui.error, ui.notice, ui.manage,
    el('h3', { text: t('group.members') }), ui.members, ui.adding,
    el('div', { class: 'row' }, el('button', { type: 'button', class: 'danger', text: t('group.leave'), onclick: leave }), el('span', { class: 'grow' }), ui.close));
}

function render() {
  const c = getChat();
  const r = c?.room(roomId);
  const dialog = $('group-panel');
  if (!r) { dialog.close(); return; }
  const mine = r.roles?.get(c.me.id);
  const manager = mine === 'owner' || mine === 'admin';
  ui.title.textContent = c.roomName(r);
  const you = { owner: ` · ${t('group.youOwner')}`, admin: ` · ${t('group.youAdmin')}` }[mine] || '';
  ui.count.textContent = `${t('chat.members', { count: r.members.length })}${you}`;
  const avatar = Object.assign(avatarFor(c.roomName(r), r.avatar), { className: 'avatar big' });
  ui.avatar.replaceWith(avatar);
  ui.avatar = avatar;
  if (document.activeElement !== ui.name) ui.name.value = r.name || '';
  ui.manage.hidden = !manager;
  ui.adding.hidden = !manager;
  // Rebuilding the list keeps the keyboard where it was (same person, same control).
  const focused = document.activeElement?.dataset?.focus;
  const people = r.members.map((id) => c.user(id)).sort((a, b) =>
    (RANK[r.roles?.get(a.id)] ?? 3) - (RANK[r.roles?.get(b.id)] ?? 3) || (a.display_name || '').localeCompare(b.display_name || ''));
  ui.members.replaceChildren(...people.map((u) => memberRow(c, r, u, mine)));
  if (focused) ui.members.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

function memberRow(c, r, u, mine) {
  const role = r.roles?.get(u.id) || 'member';
  const isMe = u.id === c.me.id;
  const li = el('li', { dataset: { user: u.username || u.id } },
    el('button', { type: 'button', class: 'person', dataset: { focus: `p:${u.id}` }, title: t('chat.showProfile'), onclick: () => showProfile(u.id) },
      avatarFor(u.display_name, u.avatar, isMe ? undefined : u.online),
      el('span', { class: 'person-name', text: isMe ? t('group.meName', { name: u.display_name }) : u.display_name })));
  if (mine === 'owner' && !isMe) {
    const select = el('select', { 'aria-label': t('group.roleOf', { name: u.display_name }), dataset: { focus: `r:${u.id}` },
      onchange: (e) => setRole(u, e.target.value) }, ...ROLES.map((x) => el('option', { value: x, text: roleName(x) })));
    select.value = role;
    li.append(select);
  } else {
    li.append(el('span', { class: 'role', text: roleName(role) }));
  }
  if ((mine === 'owner' || mine === 'admin') && !isMe && role !== 'owner') {
    li.append(el('button', { type: 'button', class: 'danger', text: t('common.remove'), 'aria-label': t('people.remove', { name: u.display_name }),
      dataset: { focus: `x:${u.id}` }, onclick: () => remove(u) }));
  }
  return li;
}

/** A role as shown ("owner", "admin", "member"). */
function roleName(role) {
  return { owner: t('role.owner'), admin: t('role.admin'), member: t('role.member') }[role] ?? role;
}

function say(text, isError = false) {
  ui.error.textContent = isError ? text : '';
  ui.error.hidden = !isError;
  ui.notice.textContent = isError ? '' : text;
  ui.notice.hidden = isError || !text;
}

/** Takes the room of an answer and redraws what shows it. */
function took(room) {
  const c = getChat();
  c.upsertRoom(room);
  c.renderRooms();
  if (c.current === room.id) c.renderHeader();
  render();
}

async function rename() {
  const name = ui.name.value.trim();
  if (!name) { say(t('group.nameNeeded'), true); return; }
  try {
    const { room } = await patch(`/rooms/${path(roomId)}`, { name });
    ui.name.blur();
    took(room);
    say(t('group.renamed', { name }));
  } catch (e) { say(e.message, true); }
}

async function changePicture(e) {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  const id = roomId;
  try {
    say(t('common.uploading'));
    const media = await upload(file, { purpose: 'avatar' });
    const done = await getChat().waitMedia(media.id);
    if (done.status !== 'ready') throw new Error(done.error || t('group.pictureFailed'));
    const { room } = await patch(`/rooms/${path(id)}`, { avatar: media.id });
    if (roomId !== id) return;
    took(room);
    say(t('group.photoChanged'));
  } catch (err) { say(err.message, true); }
}

async function setRole(u, role) {
  try {
    const { room } = await api('PUT', `/rooms/${path(roomId, 'members', u.id)}`, { role });
    took(room);
    say({ owner: t('group.nowOwner', { name: u.display_name }), admin: t('group.nowAdmin', { name: u.display_name }) }[role] ?? t('group.nowMember', { name: u.display_name }));
  } catch (e) {
    say(e.message, true);
    render();
  }
}

async function remove(u) {
  const c = getChat();
  const r = c.room(roomId);
  if (!await ask(t('group.removeAsk', { name: u.display_name, group: c.roomName(r) }), { ok: t('common.remove'), danger: true })) return;
  try {
    await del(`/rooms/${path(roomId, 'members', u.id)}`);
    say(t('group.removed', { name: u.display_name }));
    c.loadRoomDetails(r);
  } catch (e) { say(e.message, true); }
}

async function search() {
  const q = ui.search.value.trim();
  if (!q) { ui.results.replaceChildren(); return; }
  try {
    const { users } = await get(`/users?q=${encodeURIComponent(q)}`);
    const r = getChat().room(roomId);
    if (!r || ui.search.value.trim() !== q) return;
    ui.results.replaceChildren(...users.filter((u) => !u.deleted && !r.members.includes(u.id)).map((u) => el('li', { dataset: { user: u.username } },
      avatarFor(u.display_name, u.avatar),
      el('span', { class: 'person', text: `${u.display_name} (@${u.username})` }),
      el('button', { type: 'button', text: t('common.add'), 'aria-label': t('people.add', { name: u.display_name }), onclick: (e) => add(u, e.target.closest('li')) }))));
  } catch (e) { say(e.message, true); }
}

/** Adds `u`; someone whose "who may add me" setting refuses is invited instead (202). */
async function add(u, li) {
  try {
    const answer = await post(`/rooms/${path(roomId, 'members')}`, { user: u.id });
    if (answer.invitation) {
      li.querySelector('button')?.replaceWith(el('span', { class: 'invited', text: t('group.invitedMark') }));
      say(t('group.invited', { name: u.display_name }));
    } else {
      li.remove();
      took(answer.room);
      say(t('group.added', { name: u.display_name }));
    }
  } catch (e) {
    say(e.status === 403 ? t('group.cannotAdd', { name: u.display_name }) : e.message, true);
  }
}

async function leave() {
  const c = getChat();
  const r = c.room(roomId);
  if (!r || !await ask(t('group.leaveAsk', { group: c.roomName(r) }), { ok: t('group.leaveOk'), danger: true })) return;
  try {
    await post(`/rooms/${path(r.id, 'leave')}`);
    $('group-panel').close();
    c.forgetRoom(r.id);
  } catch (e) { say(e.message, true); }
}
