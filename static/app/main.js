// Entry point: sign-in (password or OAuth), then the chat, dialogs and settings.

import { get, post, patch, del, upload, token, ApiError } from './api.js';
import { Socket } from './socket.js';
import { Chat } from './chat.js';
import { $, el, show, uuid } from './util.js';
import { avatarFor } from './avatars.js';
import { setupEmojiPicker } from './emoji.js';
import { ask, notify, setupViewer, openPanel } from './dialogs.js';
import { setupCapture } from './capture.js';
import { setupAttachMenu } from './attach_menu.js';
import { setupSearch } from './search.js';
import { registerServiceWorker, enablePush } from './push.js';
import { setupContactDetails, refreshContactDetails } from './contact_details.js';
import { startSignIn, tokenFromReturn, adoptToken } from './oauth.js';
import { addInvitation, loadInvitations } from './invitations.js';
import { setupGroupPanel, openGroupPanel, refreshGroupPanel } from './group_panel.js';
import { setupProfileView, openProfile, refreshProfile } from './profile_view.js';
import { setupContacts, loadNicknames } from './contacts.js';
import { setupPrivacy } from './privacy.js';
import { setupMutes, loadMutes, isMuted, renderMuteButton } from './mute.js';
import { soundFor } from './sound.js';
import { t, translatePage, LANGUAGES, languageSetting, setLanguageSetting } from './i18n.js';

/** The themes the server accepts for `chat.theme` (src/protocol/settings.rs). */
const THEMES = { light: t('theme.light'), dark: t('theme.dark'), ocean: t('theme.ocean'), forest: t('theme.forest'), high_contrast: t('theme.highContrast') };
const THEME_KEY = 'chat.theme';

let chat = null;
let socket = null;
let me = null;
let settings = null;

function applyTheme(theme) {
  const name = THEMES[theme] ? theme : 'light';
  document.documentElement.dataset.theme = name;
  localStorage.setItem(THEME_KEY, name);
  const select = $('theme-select');
  if (select) select.value = name;
}
applyTheme(localStorage.getItem(THEME_KEY));

// ----- signing in -----

let registering = false;

function showAuth({ error, notice } = {}) {
  if (!error) setRegistering(false);
  show($('app'), false);
  show($('auth'));
  $('auth-error').textContent = error || '';
  show($('auth-error'), !!error);
  $('auth-notice').textContent = notice || '';
  show($('auth-notice'), !!notice);
  loadProviders($('oauth-providers'));
}

function setRegistering(on) {
  registering = on;
  show($('auth-display-row'), on);
  $('auth-submit').textContent = on ? t('auth.createAccountSubmit') : t('auth.logIn');
  $('auth-toggle').textContent = on ? t('auth.haveAccount') : t('auth.createAccount');
  $('auth-password').autocomplete = on ? 'new-password' : 'current-password';
}

async function loadProviders(box) {
  box.replaceChildren();
  show(box, false);
  try {
    const { providers } = await get('/auth/oauth/providers');
    for (const p of providers || []) {
      box.append(el('button', { type: 'button', text: t('auth.signInWith', { provider: p.name }), onclick: () => startSignIn(p.start_url) }));
    }
    show(box, (providers || []).length > 0);
  } catch { /* no OAuth on this server */ }
}

async function submitAuth(e) {
  e.preventDefault();
  const username = $('auth-username').value.trim();
  const password = $('auth-password').value;
  try {
    const body = { username, password };
    if (registering && $('auth-display').value.trim()) body.display_name = $('auth-display').value.trim();
    const res = await post(registering ? '/auth/register' : '/auth/login', body);
    token.set(res.token);
    $('auth-password').value = '';
    await start();
  } catch (err) {
    let msg = err.message;
    if (err.status === 401) msg = t('auth.wrong');
    if (err.status === 403 && err.message === 'banned') msg = t('auth.banned');
    if (err.status === 409) msg = t('auth.taken');
    showAuth({ error: msg });
  }
}

/** OAuth hands its outcome back in the URL fragment; take it and clear it. A token is kept only
 * if this tab started that sign-in (see oauth.js). */
function readOAuthFragment() {
  const h = new URLSearchParams(location.hash.slice(1));
  const out = {};
  if (h.has('oauth_token')) {
    out.oauthToken = tokenFromReturn(h);
    if (!out.oauthToken) out.notice = t('auth.oauthIgnored');
  }
  if (h.has('oauth_error')) out.error = h.get('oauth_error');
  if (h.has('oauth_linked')) out.notice = t('auth.oauthLinked', { provider: h.get('oauth_linked') });
  if (h.has('room')) out.room = h.get('room');
  if ([...h.keys()].length) history.replaceState(null, '', location.pathname + location.search);
  return out;
}

// ----- the app -----

async function start(opts = {}) {
  if (!token.get()) return showAuth(opts);
  try {
    ({ user: me } = await get('/me'));
    ({ settings } = await get('/me/settings'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      token.clear();
      return showAuth(opts);
    }
    return showAuth({ error: t('auth.unreachable', { error: err.message }) });
  }
  show($('auth'), false);
  show($('app'));
  applyTheme(settings.chat.theme);
  renderMe();
  show($('admin-link'), !!me.is_admin);
  loadInvitations();
  if (opts.notice || opts.error) notify(opts.notice || opts.error);
  if (socket) socket.close();
  socket = new Socket({
    onHello: (h) => chat.onHello(h),
    onFrame: (f) => (f.type === 'invitation' ? addInvitation(f.invitation) : chat.onFrame(f)),
    onState: (s) => {
      $('conn-state').className = `conn ${s}`;
      const state = { online: t('conn.online'), connecting: t('conn.connecting'), offline: t('conn.offline') }[s] ?? s;
      $('conn-state').title = state;
      $('conn-state').setAttribute('aria-label', t('conn.state', { state }));
      document.body.dataset.conn = s;
    },
    onRevoked: (reason) => {
      token.clear();
      chat.reset();
      closeDialogs();
      showAuth({ notice: t('auth.signedOut', { reason }) });
    },
  });
  if (!chat) chat = new Chat(socket, me);
  chat.reset();
  chat.socket = socket;
  chat.me = me;
  chat.settings = settings;
  chat.onSettings = (s) => { settings = s; chat.settings = s; applyTheme(s.chat.theme); fillSettings(); };
  chat.onAckMany = onAckMany;
  chat.onPerson = openProfile;
  chat.onRoomChanged = refreshGroupPanel;
  chat.onPersonChanged = (id) => { refreshGroupPanel(); refreshProfile(id); };
  // Mutes mark the list and the header's bell and silence the sound; nicknames name dms.
  Object.assign(chat, { isMuted, onHeader: renderMuteButton, onIncoming: (r) => soundFor(chat, r) });
  loadNicknames();
  loadMutes();
  // My profile changed on another device.
  chat.onMyProfile = (u) => { Object.assign(me, { display_name: u.display_name, username: u.username, about: u.about, avatar: u.avatar }); renderMe(); };
  socket.connect();
  if (opts.room) openWhenKnown(opts.room);
}

/** Opens `room` now, or as soon as the conversation list has it (the app may still be loading
 * when a notification is clicked or a link followed); gives up after 10 s. */
function openWhenKnown(room) {
  if (chat?.room(room)) { chat.openRoom(room); return; }
  const wait = setInterval(() => { if (chat?.room(room)) { clearInterval(wait); chat.openRoom(room); } }, 100);
  setTimeout(() => clearInterval(wait), 10000);
}

/** Closes what may be open over the chat (at a sign-out). */
function closeDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}

function renderMe() {
  $('me-name').textContent = me.display_name;
  $('me-avatar').replaceWith(Object.assign(avatarFor(me.display_name, me.avatar), { id: 'me-avatar' }));
  $('profile-avatar').replaceWith(Object.assign(avatarFor(me.display_name, me.avatar), { id: 'profile-avatar', className: 'avatar big' }));
}

// ----- new conversation, group, broadcast -----

let tab = 'dm';
const picked = new Map();

function setTab(kind) {
  tab = kind;
  for (const b of document.querySelectorAll('#new-chat .tab')) {
    const on = b.dataset.tab === kind;
    b.classList.toggle('active', on);
    b.setAttribute('aria-selected', String(on));
    // One tab stop for the tabs: the arrows move between them.
    b.tabIndex = on ? 0 : -1;
  }
  $('new-chat-panel').setAttribute('aria-labelledby', `tab-${kind}`);
  show($('group-name-row'), kind === 'group');
  show($('lists-row'), kind === 'broadcast');
  show($('broadcast-row'), kind === 'broadcast');
  show($('new-chat-go'), kind !== 'dm');
  show($('save-list'), kind === 'broadcast');
  $('new-chat-go').textContent = kind === 'group' ? t('newChat.createGroup') : t('newChat.sendAll');
  picked.clear();
  $('new-chat-error').hidden = true;
  $('new-chat-result').hidden = true;
  searchPeople();
  if (kind === 'broadcast') loadLists();
}

async function loadLists() {
  const select = $('list-select');
  select.replaceChildren(el('option', { value: '', text: t('newChat.pickBelow') }));
  try {
    const { lists } = await get('/lists');
    for (const l of lists) select.append(el('option', { value: l.id, text: t('newChat.listOption', { name: l.name, count: l.members.length }) }));
  } catch { /* none */ }
}

async function searchPeople() {
  const q = $('people-search').value.trim();
  const results = $('people-results');
  if (!q) { results.replaceChildren(...[...picked.values()].map(personRow)); return; }
  try {
    const { users } = await get(`/users?q=${encodeURIComponent(q)}`);
    results.replaceChildren(...users.filter((u) => u.id !== me.id).map(personRow));
  } catch (e) {
    newChatError(e.message);
  }
}

function personRow(u) {
  const action = tab === 'dm'
    ? el('button', { type: 'button', text: t('people.chat'), onclick: () => openDm(u) })
    : el('button', { type: 'button', text: picked.has(u.id) ? t('common.remove') : t('common.add'), onclick: (e) => {
      if (picked.has(u.id)) picked.delete(u.id); else picked.set(u.id, u);
      e.target.textContent = picked.has(u.id) ? t('common.remove') : t('common.add');
    } });
  return el('li', { dataset: { user: u.username } }, avatarFor(u.display_name, u.avatar), el('span', { text: `${u.display_name} (@${u.username})` }), action);
}

function newChatError(msg) {
  $('new-chat-error').textContent = msg;
  $('new-chat-error').hidden = !msg;
}

async function openDm(u) {
  try {
    const id = await chat.dmWith(u.id);
    $('new-chat').close();
    chat.openRoom(id);
  } catch (e) { newChatError(e.message); }
}

async function newChatGo() {
  try {
    if (tab === 'group') {
      const { room } = await post('/rooms', { name: $('group-name').value.trim(), members: [...picked.keys()] });
      $('new-chat').close();
      const r = chat.upsertRoom(room);
      if (r.seen === undefined) r.seen = room.last_seq;
      chat.renderRooms();
      chat.openRoom(room.id);
    } else {
      const body = $('broadcast-text').value.trim();
      const list = $('list-select').value;
      if (!body) return newChatError(t('newChat.writeFirst'));
      const frame = { type: 'send_many', client_id: uuid(), body };
      if (list) frame.list = list; else frame.to = [...picked.keys()];
      if (!list && !frame.to.length) return newChatError(t('newChat.pickPeople'));
      if (!socket.send(frame)) return newChatError(t('common.notConnected'));
      broadcasts.set(frame.client_id, body);
      $('new-chat-result').textContent = t('newChat.sending');
      $('new-chat-result').hidden = false;
    }
  } catch (e) { newChatError(e.message); }
}

/** Bodies of `send_many` frames waiting for their `ack_many`, by client id. */
const broadcasts = new Map();

function onAckMany(f) {
  const body = broadcasts.get(f.client_id);
  broadcasts.delete(f.client_id);
  // The sender's own conversations show what was sent (the server sends `message` to others).
  for (const r of f.results) {
    if (r.error || body === undefined) continue;
    chat.onMessage({ type: 'message', room: r.room, id: r.id, seq: r.seq, from: me.id, body, attachments: [], reply_to: null, client_id: f.client_id, ts: Date.now(), edited_at: null });
  }
  const ok = f.results.filter((r) => !r.error).length;
  const failed = f.results.filter((r) => r.error);
  $('new-chat-result').textContent = t('newChat.sentTo', { count: ok, total: f.results.length })
    + (failed.length ? ` ${t('newChat.failed', { errors: failed.map((r) => r.error.message).join('; ') })}` : '');
  $('new-chat-result').hidden = false;
  $('broadcast-text').value = '';
}

async function saveList() {
  const name = await ask(t('newChat.listName'), { ok: t('common.save'), input: true });
  if (!name) return;
  try {
    await post('/lists', { name, members: [...picked.keys()] });
    await loadLists();
  } catch (e) { newChatError(e.message); }
}

// ----- settings -----

function fillSettings() {
  if (!settings) return;
  $('profile-display').value = me.display_name || '';
  $('profile-about').value = me.about || '';
  $('theme-select').value = settings.chat.theme;
  $('set-enter').checked = settings.chat.enter_to_send;
  $('set-receipts').checked = settings.chat.read_receipts;
  $('set-typing').checked = settings.chat.show_typing;
  $('set-push').checked = settings.notifications.push;
  $('set-preview').checked = settings.notifications.preview;
  $('set-sound').checked = settings.notifications.sound;
}

function settingsError(msg) {
  $('settings-error').textContent = msg || '';
  $('settings-error').hidden = !msg;
}

async function saveSettings(partial) {
  try {
    ({ settings } = await patch('/me/settings', partial));
    chat.settings = settings;
    applyTheme(settings.chat.theme);
    settingsError('');
  } catch (e) { settingsError(e.message); fillSettings(); }
}

async function openSettings() {
  fillSettings();
  settingsError('');
  openPanel($('settings'));
  refreshContactDetails();
  const section = $('linked-accounts');
  try {
    const { links } = await get('/auth/oauth/links');
    $('links').replaceChildren(...links.map((l) => el('li', {},
      el('span', { text: `${l.provider}: ${l.name || ''} ` }),
      el('button', { type: 'button', text: t('settings.unlink'), onclick: async () => {
        try { await del(`/auth/oauth/links/${encodeURIComponent(l.provider)}`); openSettings(); } catch (e) { settingsError(e.message); }
      } }))));
    const { providers } = await get('/auth/oauth/providers');
    $('link-buttons').replaceChildren(...providers.filter((p) => !links.some((l) => l.provider === p.name)).map((p) =>
      el('button', { type: 'button', text: t('settings.link', { provider: p.name }), onclick: async () => {
        try { const { url } = await post(`/auth/oauth/${encodeURIComponent(p.name)}/link`); location.href = url; } catch (e) { settingsError(e.message); }
      } })));
    // Nothing to link or unlink when the server has no provider.
    section.hidden = !providers.length;
  } catch {
    section.hidden = true;
  }
  section.dataset.checked = 'true';
}

async function changeAvatar(e) {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  try {
    settingsError(t('common.uploading'));
    const { id } = await upload(file, { purpose: 'avatar' });
    const done = await chat.waitMedia(id);
    if (done.status !== 'ready') throw new Error(done.error || t('media.processingFailed'));
    ({ user: me } = await patch('/me', { avatar: id }));
    settingsError('');
    renderMe();
  } catch (err) { settingsError(err.message); }
}

function bind() {
  for (const [value, text] of Object.entries(THEMES)) $('theme-select').append(el('option', { value, text }));
  // The language: the browser's (navigator.languages), or one picked here; the page is read
  // again in it.
  $('language-select').append(el('option', { value: '', text: t('settings.languageAuto') }),
    ...Object.entries(LANGUAGES).map(([value, name]) => el('option', { value, lang: value, text: name })));
  $('language-select').value = languageSetting();
  $('language-select').addEventListener('change', (e) => { setLanguageSetting(e.target.value); location.reload(); });
  $('auth-form').addEventListener('submit', submitAuth);
  $('auth-toggle').addEventListener('click', () => setRegistering(!registering));
  $('new-chat-button').addEventListener('click', () => { setTab('dm'); $('people-search').value = ''; searchPeople(); openPanel($('new-chat'), $('people-search')); });
  const tabs = [...document.querySelectorAll('#new-chat .tab')];
  for (const b of tabs) b.addEventListener('click', () => setTab(b.dataset.tab));
  $('new-chat').querySelector('[role="tablist"]').addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const next = tabs[(tabs.findIndex((b) => b.dataset.tab === tab) + step + tabs.length) % tabs.length];
    setTab(next.dataset.tab);
    next.focus();
  });
  let searchTimer = null;
  $('people-search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(searchPeople, 150); });
  $('new-chat-go').addEventListener('click', newChatGo);
  $('save-list').addEventListener('click', saveList);
  $('me-button').addEventListener('click', openSettings);
  $('theme-select').addEventListener('change', (e) => { applyTheme(e.target.value); saveSettings({ chat: { theme: e.target.value } }); });
  const toggles = { 'set-enter': ['chat', 'enter_to_send'], 'set-receipts': ['chat', 'read_receipts'], 'set-typing': ['chat', 'show_typing'],
    'set-push': ['notifications', 'push'], 'set-preview': ['notifications', 'preview'], 'set-sound': ['notifications', 'sound'] };
  for (const [id, [section, key]] of Object.entries(toggles)) {
    $(id).addEventListener('change', (e) => saveSettings({ [section]: { [key]: e.target.checked } }));
  }
  $('profile-save').addEventListener('click', async () => {
    try {
      ({ user: me } = await patch('/me', { display_name: $('profile-display').value, about: $('profile-about').value }));
      settingsError('');
      renderMe();
    } catch (e) { settingsError(e.message); }
  });
  $('avatar-button').addEventListener('click', () => $('avatar-input').click());
  $('avatar-input').addEventListener('change', changeAvatar);
  setupContactDetails($('contact-details'), settingsError);
  $('push-enable').addEventListener('click', async () => {
    try { $('push-state').textContent = await enablePush(); } catch (e) { $('push-state').textContent = e.message; }
    $('push-state').hidden = false;
  });
  $('logout-button').addEventListener('click', async () => {
    try { await post('/auth/logout'); } catch { /* the token is dropped anyway */ }
    socket?.close();
    token.clear();
    chat?.reset();
    closeDialogs();
    showAuth({ notice: t('auth.loggedOut') });
  });
  setupEmojiPicker($('emoji-button'), $('emoji-picker'), $('composer-input'));
  setupCapture((file) => chat?.sendFiles([file]));
  setupAttachMenu();
  setupViewer();
  setupGroupPanel(() => chat, openProfile);
  setupProfileView(() => chat);
  setupContacts(() => chat, $('contacts-button'));
  setupMutes(() => chat, $('mute-button'));
  setupPrivacy($('privacy-section'), (notice) => {
    socket?.close();
    token.clear();
    chat?.reset();
    closeDialogs();
    showAuth({ notice });
  });
  // The header opens the group's panel, or the other person's profile in a dm.
  $('chat-info').addEventListener('click', () => {
    const r = chat?.room(chat.current);
    if (!r) return;
    if (r.kind === 'dm') {
      const peer = chat.dmPeer(r);
      if (peer) openProfile(peer.id);
    } else openGroupPanel(r.id);
  });
  setupSearch(() => chat);
  navigator.serviceWorker?.addEventListener('message', (e) => {
    if (e.data?.type === 'open_room' && e.data.room) openWhenKnown(e.data.room);
  });
}

translatePage(document);
bind();
registerServiceWorker();
(async () => {
  const opts = readOAuthFragment();
  if (opts.oauthToken) await adoptToken(opts.oauthToken);
  start(opts);
})();
