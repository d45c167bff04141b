// The admin pages: live statistics with small charts (polled every second), users (search, ban,
// unban, revoke sessions, give or take the admin role), the write buffer's dead letters,
// conversations (members, removal) and the removal of one message. Uses the chat's sign-in token (same origin).

import { t, translatePage, formatNumber, formatDateTime, formatClock } from '/app/i18n.js';

const TOKEN_KEY = 'chat.token';
const POLL_MS = 1000;
const HISTORY = 60;

document.documentElement.dataset.theme = localStorage.getItem('chat.theme') || 'light';
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else n.setAttribute(k, v);
  }
  n.append(...children.filter((c) => c !== null && c !== undefined));
  return n;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY) || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/admin${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new HttpError(res.status, data?.error?.message || `HTTP ${res.status}`);
  return data;
}

// ----- live stats -----

const METRICS = [
  ['connections', t('admin.connections'), (s) => s.connections],
  ['active_rooms', t('admin.activeRooms'), (s) => s.active_rooms],
  ['messages_per_second', t('admin.messagesPerSecond'), (s) => s.messages_per_second],
  ['write_buffer_depth', t('admin.backlog'), (s) => s.write_buffer_depth],
  ['sync_lag_ms', t('admin.syncLag'), (s) => s.sync_lag_ms],
  ['dead_letters', t('admin.deadLetters'), (s) => s.dead_letters],
  ['media_queue', t('admin.mediaQueue'), (s) => s.media_queue],
  ['push_sent', t('admin.pushSent'), (s) => s.push.sent],
  ['push_failed', t('admin.pushFailed'), (s) => s.push.failed],
  ['users', t('admin.accounts'), (s) => s.users],
];
const series = Object.fromEntries(METRICS.map(([k]) => [k, []]));

function buildStats() {
  $('stats').replaceChildren(...METRICS.map(([key, label]) => el('div', { class: 'stat', id: `stat-${key}` },
    el('div', { class: 'label', text: label }),
    el('div', { class: 'value', 'data-metric': key, text: '–' }),
    el('canvas', { width: 160, height: 36 }))));
}

function draw(canvas, values) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  if (values.length < 2) return;
  const max = Math.max(1, ...values);
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2563eb';
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = (i / (HISTORY - 1)) * w;
    const y = h - 2 - (v / max) * (h - 4);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function fmt(v) { return formatNumber(v, { minimumFractionDigits: Number.isInteger(v) ? 0 : 2, maximumFractionDigits: 2 }); }

async function poll() {
  try {
    const s = await api('GET', '/stats');
    for (const [key, , pick] of METRICS) {
      const v = Number(pick(s)) || 0;
      const arr = series[key];
      arr.push(v);
      if (arr.length > HISTORY) arr.shift();
      const box = $(`stat-${key}`);
      box.querySelector('.value').textContent = fmt(v);
      draw(box.querySelector('canvas'), arr);
    }
    $('updated').textContent = t('admin.updated', { time: formatClock(s.server_time) });
  } catch (e) {
    if (e.status === 401 || e.status === 403) return refuse(e);
    $('updated').textContent = t('admin.notUpdated', { error: e.message });
  }
  setTimeout(poll, POLL_MS);
}

// ----- users -----

/** Shows why the last action failed (or clears it with ''). */
function failed(message) {
  $('failed').textContent = message;
  $('failed').hidden = !message;
}

async function loadUsers() {
  try {
    const { users } = await api('GET', `/users?q=${encodeURIComponent($('user-search').value.trim())}`);
    $('users').replaceChildren(...users.map(userRow));
  } catch (e) { if (e.status === 401 || e.status === 403) refuse(e); }
}

/** The signed-in admin's own id (GET /api/me), so the page never offers to ban them. */
let myId = null;

async function loadMe() {
  const res = await fetch('/api/me', { headers: { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY) || ''}` } });
  if (res.ok) myId = (await res.json()).user?.id ?? null;
}

/** Asks in the page (no native confirm): resolves true if the admin confirms. */
function ask(question, yes) {
  const dialog = $('confirm');
  $('confirm-text').textContent = question;
  $('confirm-yes').textContent = yes;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-no').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
  });
}

function userRow(u) {
  const act = (label, method, path, question, body) => el('button', { type: 'button', text: label, onclick: async () => {
    if (question && !(await ask(question, label))) return;
    try { await api(method, path, body); failed(''); } catch (e) { failed(e.message); }
    loadUsers();
  } });
  const id = encodeURIComponent(u.id);
  const me = u.id === myId;
  let ban = null;
  let role = null;
  const who = { name: u.display_name, username: u.username };
  if (!me && u.is_admin) role = act(t('admin.removeAdmin'), 'PUT', `/users/${id}/admin`, t('admin.removeAdminAsk', who), { admin: false });
  else if (!me && !u.banned_at) role = act(t('admin.makeAdmin'), 'PUT', `/users/${id}/admin`, t('admin.makeAdminAsk', who), { admin: true });
  if (u.banned_at) ban = act(t('admin.unban'), 'DELETE', `/users/${id}/ban`);
  else if (!me) ban = act(t('admin.ban'), 'POST', `/users/${id}/ban`, t('admin.banAsk', who));
  return el('tr', { dataset: { user: u.username } },
    el('td', { text: me ? t('admin.userMe', who) : t('admin.userName', who) }),
    el('td', { text: u.is_admin ? t('role.admin') : t('admin.roleUser') }),
    el('td', { class: u.banned_at ? 'banned' : '', text: u.banned_at ? t('admin.banned') : t('admin.active') }),
    el('td', {},
      role,
      ban,
      me ? null : act(t('admin.revoke'), 'POST', `/users/${id}/revoke-sessions`, t('admin.revokeAsk', who))));
}

// ----- write buffer -----

/** GET /api/admin/dead-letters: what the Syncer gave up on, newest first. */
async function loadDeadLetters() {
  const { buffer, dead_letters: dead } = await api('GET', '/dead-letters');
  $('dead-letters-state').textContent = !buffer
    ? t('admin.noBuffer')
    : dead.length ? t('admin.deadCount', { count: dead.length })
      : t('admin.noDead');
  $('dead-letters-table').hidden = dead.length === 0;
  $('dead-letters').replaceChildren(...dead.map((d) => el('tr', {},
    el('td', { text: formatDateTime(d.at) }), el('td', { text: d.entry }), el('td', { text: d.error }))));
}

// ----- conversations -----

async function loadRooms() {
  try {
    const { rooms } = await api('GET', `/rooms?q=${encodeURIComponent($('room-search').value.trim())}`);
    // The row shows the members when clicked; its name is the button the keyboard reaches.
    $('rooms').replaceChildren(...rooms.map((r) => el('tr', { class: 'clickable', dataset: { room: r.id }, onclick: () => showMembers(r) },
      el('td', {}, el('button', { type: 'button', class: 'members-button', text: r.name || t('admin.dm'), title: t('chat.showMembers'),
        onclick: (ev) => { ev.stopPropagation(); showMembers(r); } })), el('td', { text: { dm: t('admin.kindDm'), group: t('admin.kindGroup') }[r.kind] ?? r.kind }),
      el('td', { text: formatNumber(r.members) }), el('td', { text: formatNumber(r.messages) }),
      el('td', {}, el('button', { type: 'button', class: 'danger', text: t('common.remove'), 'aria-label': r.name ? t('admin.removeGroup', { name: r.name }) : t('admin.removeDm'), onclick: (ev) => { ev.stopPropagation(); removeRoom(r); } })))));
  } catch (e) { if (e.status === 401 || e.status === 403) refuse(e); }
}

/** DELETE /api/admin/rooms/{id}, asked first: every member is taken out and it leaves their lists. */
async function removeRoom(r) {
  const question = r.name ? t('admin.removeGroupAsk', { name: r.name, count: r.members }) : t('admin.removeDmAsk', { count: r.members });
  if (!(await ask(question, t('admin.removeRoom')))) return;
  try {
    await api('DELETE', `/rooms/${encodeURIComponent(r.id)}`);
    failed('');
    if ($('members').dataset.room === r.id) $('members').hidden = true;
  } catch (e) { failed(e.message); }
  loadRooms();
}

// DELETE /api/admin/messages/{id}, asked first: deleted for everyone, as by its author.
$('remove-message').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const id = $('message-id').value.trim();
  $('removed').hidden = true;
  $('remove-error').hidden = true;
  if (!id || !(await ask(t('admin.removeMessageAsk'), t('admin.removeMessage')))) return;
  try {
    await api('DELETE', `/messages/${encodeURIComponent(id)}`);
    $('message-id').value = '';
    $('removed').textContent = t('admin.messageRemoved');
    $('removed').hidden = false;
  } catch (e) {
    $('remove-error').textContent = e.status === 404 ? t('admin.noSuchMessage') : e.message;
    $('remove-error').hidden = false;
  }
});

async function showMembers(r) {
  try {
    const { members } = await api('GET', `/rooms/${encodeURIComponent(r.id)}/members`);
    $('members-title').textContent = r.name ? t('admin.membersOf', { name: r.name }) : t('admin.membersOfDm');
    $('members').dataset.room = r.id;
    $('member-list').replaceChildren(...members.map((m) => el('li', { text: t('admin.member', { name: m.display_name, username: m.username, role: { owner: t('role.owner'), admin: t('role.admin'), member: t('role.member') }[m.role] ?? m.role }) })));
    $('members').hidden = false;
  } catch (e) { failed(e.message); }
}

function refuse(e) {
  $('panels').hidden = true;
  $('refused').hidden = false;
  $('refused').textContent = e.status === 403 ? t('admin.adminsOnly') : t('admin.signInFirst');
  // A signed-in non-admin may hold the server's one-time setup code (no admin yet).
  $('bootstrap').hidden = e.status !== 403;
  throw e;
}

// POST /api/admin/bootstrap {code}: the one-time code makes this account the first admin.
$('bootstrap').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('bootstrap-error').hidden = true;
  const res = await fetch('/api/admin/bootstrap', {
    method: 'POST',
    headers: { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY) || ''}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: $('bootstrap-code').value.trim() }),
  }).catch(() => null);
  if (res?.ok) { location.reload(); return; }
  const data = await res?.json().catch(() => null);
  $('bootstrap-error').textContent = data?.error?.message || t('admin.unreachable');
  $('bootstrap-error').hidden = false;
});

async function main() {
  translatePage(document);
  buildStats();
  try {
    await api('GET', '/stats');
  } catch (e) {
    if (e.status === 401 || e.status === 403) { try { refuse(e); } catch { return; } }
  }
  $('panels').hidden = false;
  await loadMe().catch(() => {});
  let t1 = null;
  let t2 = null;
  $('user-search').addEventListener('input', () => { clearTimeout(t1); t1 = setTimeout(loadUsers, 200); });
  $('room-search').addEventListener('input', () => { clearTimeout(t2); t2 = setTimeout(loadRooms, 200); });
  poll().catch(() => {});
  loadUsers().catch(() => {});
  loadRooms().catch(() => {});
  loadDeadLetters().catch((e) => failed(e.message));
  setInterval(() => { loadRooms().catch(() => {}); loadDeadLetters().catch(() => {}); }, 10000);
}

main();
