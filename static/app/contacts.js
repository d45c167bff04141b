// The contacts screen: my contacts (GET /api/contacts) with my nicknames for them, each editable
// (PUT /api/contacts/{user}), removable (DELETE, asked in the page) and a way to start a chat;
// and finding people from an address book file (static/app/addressbook.js, then
// POST /api/contacts/match) to add as contacts. My nicknames also name dms in the conversation
// list and header (Chat.nameOf). Text only via textContent.

import { get, api, del, post } from './api.js';
import { $, el } from './util.js';
import { avatarFor } from './avatars.js';
import { ask, openPanel } from './dialogs.js';
import { parseAddressBook, batches, MAX_BATCHES, MATCH_BATCH, MAX_FILE_BYTES } from './addressbook.js';
import { t, formatNumber } from './i18n.js';

let getChat = () => null;
let ui = null;
/** My contacts as last read: user id → {user, nickname}. */
let contacts = new Map();

/** Wires the screen: `chat()` gives the Chat; `opener` is the button that opens it. */
export function setupContacts(chat, opener) {
  getChat = chat;
  opener?.addEventListener('click', openContacts);
}

/** Reads my nicknames into the chat (at sign-in), so dms are named by them; none are kept
 * from an account signed in before. */
export async function loadNicknames() {
  contacts = new Map();
  try {
    const { contacts: list } = await get('/contacts');
    contacts = new Map(list.map((c) => [c.user.id, c]));
  } catch { /* names stay the display names */ }
  applyNicknames();
}

/** A nickname changed here or in a profile: the list and header follow. */
export function nicknameChanged(id, nickname, user) {
  const known = contacts.get(id);
  if (known) known.nickname = nickname;
  else if (user) contacts.set(id, { user, nickname });
  applyNicknames();
}

function applyNicknames() {
  const c = getChat();
  if (!c) return;
  c.nicknames = new Map([...contacts].filter(([, x]) => x.nickname).map(([id, x]) => [id, x.nickname]));
  c.renderRooms();
  c.renderHeader();
}

function build() {
  const dialog = $('contacts');
  ui = {
    list: el('ul', { class: 'members contact-list', 'aria-label': t('contacts.title') }),
    empty: el('p', { class: 'notice', text: t('contacts.empty'), hidden: true }),
    error: el('p', { class: 'error', role: 'alert', hidden: true }),
    notice: el('p', { class: 'notice', role: 'status', hidden: true }),
    file: el('input', { type: 'file', id: 'addressbook-file', accept: '.vcf,.vcard,.csv,.txt,text/vcard,text/csv,text/plain', onchange: importFile }),
    found: el('ul', { class: 'members found-list', 'aria-label': t('contacts.foundList'), hidden: true }),
    addAll: el('button', { type: 'button', text: t('contacts.addAll'), hidden: true, onclick: addAll }),
    close: el('button', { type: 'button', class: 'link', text: t('common.close'), onclick: () => dialog.close() }),
  };
  dialog.replaceChildren(
    el('h2', { id: 'contacts-title', text: t('contacts.title') }),
    ui.error, ui.notice, ui.empty, ui.list,
    el('h3', { text: t('contacts.findTitle') }),
    el('p', { class: 'notice', text: t('contacts.findNotice') }),
    el('label', {}, `${t('contacts.file')} `, ui.file),
    ui.found, ui.addAll,
    el('div', { class: 'row' }, el('span', { class: 'grow' }), ui.close));
}

function say(text, isError = false) {
  ui.error.textContent = isError ? text : '';
  ui.error.hidden = !isError;
  ui.notice.textContent = isError ? '' : text;
  ui.notice.hidden = isError || !text;
}

/** Opens the screen and reads my contacts. */
export async function openContacts() {
  build();
  openPanel($('contacts'), ui.close);
  await refresh();
}

async function refresh() {
  try {
    const { contacts: list } = await get('/contacts');
    contacts = new Map(list.map((c) => [c.user.id, c]));
    applyNicknames();
  } catch (e) { say(e.message, true); return; }
  render();
}

function render() {
  const rows = [...contacts.values()].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  ui.list.replaceChildren(...rows.map(contactRow));
  ui.empty.hidden = rows.length > 0;
}

const nameOf = (c) => c.nickname || c.user.display_name;

function contactRow(c) {
  const u = c.user;
  const input = el('input', { maxlength: '100', autocomplete: 'off', value: c.nickname || '', placeholder: u.display_name });
  return el('li', { dataset: { user: u.username } },
    avatarFor(u.display_name, u.avatar),
    el('div', { class: 'grow' },
      el('div', { class: 'person-name', text: nameOf(c) }),
      el('div', { class: 'sub', text: c.nickname ? `${u.display_name} · @${u.username}` : `@${u.username}` }),
      el('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); saveNickname(u, input.value); } },
        el('label', {}, t('contacts.nicknameFor', { name: u.display_name }), input),
        el('button', { type: 'submit', text: t('common.save') })),
      el('div', { class: 'row' },
        el('button', { type: 'button', text: t('people.message'), onclick: () => message(u) }),
        el('button', { type: 'button', class: 'danger', text: t('common.remove'), onclick: () => remove(u) }))));
}

async function saveNickname(u, value) {
  const wanted = value.trim();
  try {
    const { contact } = await api('PUT', `/contacts/${encodeURIComponent(u.id)}`, { nickname: wanted || null });
    nicknameChanged(u.id, contact.nickname ?? null, contact.user);
    say(contact.nickname ? t('contacts.nicknameSaved', { name: u.display_name, nickname: contact.nickname }) : t('contacts.nicknameCleared', { name: u.display_name }));
    render();
  } catch (e) { say(e.message, true); }
}

async function message(u) {
  try {
    const room = await getChat().dmWith(u.id);
    $('contacts').close();
    getChat().openRoom(room);
  } catch (e) { say(e.message, true); }
}

async function remove(u) {
  if (!await ask(t('contacts.removeAsk', { name: u.display_name }), { ok: t('common.remove'), danger: true })) return;
  try {
    await del(`/contacts/${encodeURIComponent(u.id)}`);
    contacts.delete(u.id);
    applyNicknames();
    render();
    say(t('contacts.removed', { name: u.display_name }));
  } catch (e) { say(e.message, true); }
}

// ----- the address book -----

/** People found by the last import, not yet added. */
let found = [];

async function importFile(e) {
  const file = e.target.files[0];
  e.target.value = '';
  ui.found.hidden = true;
  ui.addAll.hidden = true;
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) return say(t('contacts.tooBig', { file: file.name, max: MAX_FILE_BYTES / 1024 / 1024 }), true);
  let book;
  try {
    book = parseAddressBook(await file.text());
  } catch (err) { return say(t('contacts.unreadable', { file: file.name, error: err.message }), true); }
  const total = book.phones.length + book.emails.length;
  if (!total) return say(t('contacts.noneInFile', { file: file.name }), true);
  const parts = batches(book);
  if (parts.length > MAX_BATCHES) {
    return say(t('contacts.tooMany', { file: file.name, count: total, max: MAX_BATCHES * MATCH_BATCH }), true);
  }
  say(t('contacts.lookingUp', { count: total }));
  const byId = new Map();
  try {
    for (const part of parts) {
      const { matches } = await post('/contacts/match', part);
      for (const m of matches) if (!byId.has(m.user.id)) byId.set(m.user.id, { user: m.user, input: m.input });
    }
  } catch (err) {
    return say(err.status === 429 ? t('contacts.rateLimited') : err.message, true);
  }
  found = [...byId.values()];
  showFound(total);
}

function showFound(total) {
  if (!found.length) {
    say(t('contacts.nobodyFound', { count: total }));
    return;
  }
  say(t('contacts.found', { count: found.length, total: formatNumber(total) }));
  ui.found.replaceChildren(...found.map(foundRow));
  ui.found.hidden = false;
  ui.addAll.hidden = !found.some((f) => !contacts.has(f.user.id));
}

function foundRow(f) {
  const u = f.user;
  const known = contacts.has(u.id);
  return el('li', { dataset: { user: u.username } },
    avatarFor(u.display_name, u.avatar),
    el('div', { class: 'grow' },
      el('div', { class: 'person-name', text: u.display_name }),
      el('div', { class: 'sub', text: `@${u.username} · ${f.input}` })),
    known ? el('span', { class: 'role', text: t('contacts.contact') })
      : el('button', { type: 'button', text: t('common.add'), 'aria-label': t('people.add', { name: u.display_name }), onclick: () => add([u]) }));
}

async function add(users) {
  try {
    for (const u of users) {
      if (contacts.has(u.id)) continue;
      const { contact } = await api('PUT', `/contacts/${encodeURIComponent(u.id)}`, {});
      contacts.set(u.id, contact);
    }
    say(users.length === 1 ? t('contacts.addedOne', { name: users[0].display_name }) : t('contacts.added', { count: users.length }));
  } catch (e) { say(e.message, true); }
  render();
  ui.found.replaceChildren(...found.map(foundRow));
  ui.addAll.hidden = !found.some((f) => !contacts.has(f.user.id));
}

function addAll() {
  return add(found.map((f) => f.user).filter((u) => !contacts.has(u.id)));
}
