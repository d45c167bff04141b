// The chat: conversation list, the open conversation, live frames, history, sending.
// Message text is only ever set with textContent.

import { get, post, token, ApiError } from './api.js';
import { TusUpload, TusCancelled } from './tus.js';
import { $, el, timeOf, lastSeenText, uuid, dayLabel, dayKey } from './util.js';
import { ask, notify } from './dialogs.js';
import { avatarFor } from './avatars.js';
import { preview, ticks, renderAttachment, swipeToReply, bodyIsFileName } from './view.js';
import { reactionRow, reactButton, applyReaction } from './reactions.js';
import { bodyNodes, setupMentionCompletion } from './mentions.js';
import { withEmoji } from './emoji.js';
import { loadPins, renderPinnedBar, loadStars, showStarred, showForward } from './curation.js';
import { t, formatNumber } from './i18n.js';

const PAGE = 30;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 6000;
/** Most older pages loaded to reach a message (40 × 30 messages). */
const MAX_JUMP_PAGES = 40;
/** Most older pages loaded at opening to reach the first unread message (10 × 30 messages). */
const MAX_UNREAD_PAGES = 10;
/** A message this soon after the previous one from the same sender joins its group. */
const GROUP_MS = 5 * 60 * 1000;
/** Farther than this from the bottom of the conversation, the jump button shows. */
const JUMP_SHOWN_PX = 200;

export class Chat {
  constructor(socket, me) {
    this.socket = socket;
    this.me = me;
    this.rooms = new Map();
    this.users = new Map();
    this.current = null;
    /** The message jumped to (search, a reply's quote, a pin), held in view; see jumpTo. */
    this.anchor = null;
    this.syncing = false;
    this.replyTo = null;
    this.editing = null;
    this.media = new Map();
    this.mediaWaiters = new Map();
    this.typingSentAt = 0;
    this.typingTimer = null;
    this.starred = new Set();
    this.bind();
  }

  /** Forgets everything of the previous account (after a sign-out). */
  reset() {
    this.rooms.clear();
    this.users.clear();
    this.media.clear();
    this.mediaWaiters.clear();
    if (this.current) this.closeRoom();
    $('room-list').replaceChildren();
  }

  // ----- people and rooms -----

  user(id) {
    if (!this.users.has(id)) this.users.set(id, { id, display_name: '…', online: false, last_seen: null });
    return this.users.get(id);
  }

  rememberUser(u) {
    const known = this.user(u.id);
    Object.assign(known, { username: u.username, display_name: u.display_name ?? known.display_name });
    if ('avatar' in u) known.avatar = u.avatar;
    if ('about' in u) known.about = u.about;
    return known;
  }

  room(id) { return this.rooms.get(id); }

  upsertRoom(summary) {
    let r = this.rooms.get(summary.id);
    if (!r) {
      r = { id: summary.id, kind: summary.kind, name: summary.name, last_seq: 0, unread: 0, members: [], last: null,
        seen: undefined, typing: new Map(), messages: new Map(), loaded: false, hasMore: true, delivered: 0, read: 0 };
      this.rooms.set(summary.id, r);
    }
    Object.assign(r, { kind: summary.kind ?? r.kind, name: summary.name ?? r.name });
    if ('avatar' in summary) r.avatar = summary.avatar;
    if (summary.last_seq !== undefined) r.last_seq = Math.max(r.last_seq, summary.last_seq);
    if (summary.unread !== undefined) r.unread = summary.unread;
    if (summary.unread_mentions !== undefined) r.unreadMentions = summary.unread_mentions;
    if (summary.members) {
      r.members = summary.members.map((m) => m.id);
      r.roles = new Map(summary.members.map((m) => [m.id, m.role]));
      for (const m of summary.members) this.rememberUser(m);
      // How far the others have read and received, as stored: ticks survive a reload.
      for (const m of summary.members) {
        if (m.id === this.me.id) continue;
        r.read = Math.max(r.read, m.last_read_seq ?? 0);
        r.delivered = Math.max(r.delivered, m.delivered_seq ?? 0, m.last_read_seq ?? 0);
      }
    }
    return r;
  }

  /** Asks who is online among everyone I share a conversation with (soon after a change). An
   *  answer older than a `presence` frame about the same person does not overwrite it: the frame
   *  can overtake the HTTP answer (someone leaves while it is on its way). */
  refreshPresence() {
    clearTimeout(this.presenceTimer);
    this.presenceTimer = setTimeout(async () => {
      const asked = this.presenceTick || 0;
      try {
        const { presence } = await get('/presence');
        for (const p of presence) this.onPresence(p, asked);
      } catch { /* the presence frames still come */ }
    }, 100);
  }

  async loadRoomDetails(r) {
    // A room forgotten while its details were on their way (I left, or was removed: another
    // member's removal can come just before mine) must not come back from the answer.
    const forgotten = () => this.rooms.get(r.id) !== r;
    try {
      const { room } = await get(`/rooms/${encodeURIComponent(r.id)}`);
      if (forgotten()) return;
      this.upsertRoom(room);
      this.refreshPresence();
      if (r.last_seq > 0 && !r.last) {
        const { messages } = await get(`/rooms/${encodeURIComponent(r.id)}/messages?limit=1`);
        if (messages.length && (!r.last || r.last.seq < messages[0].seq)) r.last = messages[0];
      }
    } catch (e) {
      if (e instanceof ApiError && (e.status === 403 || e.status === 404)) this.rooms.delete(r.id);
    }
    this.renderRooms();
    if (this.current === r.id) {
      this.renderHeader();
      for (const m of r.messages.values()) if (m.from === this.me.id) this.renderMessage(r, m);
    }
    this.onRoomChanged?.(r.id);
  }

  roomName(r) {
    if (r.kind === 'dm') {
      const other = this.dmPeer(r);
      return other ? this.nameOf(other) : (r.name || t('room.dm'));
    }
    return r.name || t('room.group');
  }

  /** What I call `u`: my nickname for them (my contacts) or their display name. */
  nameOf(u) {
    return this.nicknames?.get(u.id) || u.display_name;
  }

  dmPeer(r) {
    const id = r.members.find((m) => m !== this.me.id);
    return id ? this.user(id) : null;
  }

  /** Someone who shares a conversation with me (or I, on another device) changed their profile. */
  onProfile(f) {
    const u = this.rememberUser({ id: f.user, username: f.username, display_name: f.display_name, avatar: f.avatar, about: f.about });
    if (f.user === this.me.id) {
      Object.assign(this.me, { username: f.username, display_name: f.display_name });
      this.onMyProfile?.(u);
    }
    this.renderRooms();
    this.renderHeader();
    const r = this.room(this.current);
    if (r) for (const m of r.messages.values()) if (m.from === f.user) this.renderMessage(r, m);
    this.onPersonChanged?.(f.user);
  }

  // ----- the socket -----

  onHello(hello) {
    this.me = { ...this.me, ...hello.user };
    const cursors = {};
    const fresh = [];
    const inHello = new Set();
    for (const s of hello.rooms) {
      inHello.add(s.id);
      const r = this.upsertRoom(s);
      if (r.seen === undefined) {
        r.seen = s.last_seq;
        fresh.push(r);
      } else {
        cursors[r.id] = r.seen;
      }
    }
    for (const id of [...this.rooms.keys()]) if (!inHello.has(id)) this.rooms.delete(id);
    this.syncing = Object.keys(cursors).length > 0;
    if (this.syncing) this.socket.send({ type: 'sync', cursors });
    else this.resendPending();
    for (const r of fresh) this.loadRoomDetails(r);
    loadStars().then((s) => { this.starred = s; }).catch(() => {});
    this.renderRooms();
    if (this.current && this.room(this.current)) this.markRead(this.room(this.current));
  }

  onFrame(f) {
    switch (f.type) {
      case 'message': return this.onMessage(f);
      case 'ack': return this.onAck(f);
      case 'ack_many': return this.onAckMany?.(f);
      case 'synced':
        this.syncing = false;
        return this.resendPending();
      case 'edited': return this.onEdited(f);
      case 'deleted': return this.onDeleted(f);
      case 'reaction': return this.onReaction(f);
      case 'pinned': return this.onPinned(f);
      case 'starred': return this.onStarred(f);
      case 'forwarded': return this.onForwarded(f);
      case 'typing': return this.onTyping(f);
      case 'presence': return this.onPresence(f);
      case 'receipt': return this.onReceipt(f);
      case 'room_event': return this.onRoomEvent(f);
      case 'media': return this.onMedia(f);
      case 'settings': return this.onSettings?.(f.settings);
      case 'profile': return this.onProfile(f);
      case 'error': return this.onError(f);
      default: return undefined;
    }
  }

  onMessage(m) {
    const r = this.room(m.room);
    if (!r) {
      const fresh = this.upsertRoom({ id: m.room, last_seq: m.seq, unread: m.from === this.me.id ? 0 : 1 });
      fresh.seen = m.seq;
      fresh.last = m;
      this.loadRoomDetails(fresh);
      return;
    }
    const isNew = this.store(r, m);
    r.seen = Math.max(r.seen ?? 0, m.seq);
    r.last_seq = Math.max(r.last_seq, m.seq);
    if (!r.last || r.last.seq <= m.seq) r.last = m;
    if (m.from !== this.me.id) {
      this.stopTyping(r, m.from);
      if (isNew && !this.syncing && !(this.current === r.id && this.visible())) {
        this.onIncoming?.(r, m);
        r.unread += 1;
        if ((m.mentions || []).includes(this.me.id)) r.unreadMentions = (r.unreadMentions ?? 0) + 1;
      }
    }
    if (this.current === r.id) {
      this.renderMessage(r, r.messages.get(m.id), true);
      this.markRead(r);
    }
    this.renderRooms();
  }

  /** Keeps a message in its room (replacing a pending copy with the same client id). */
  store(r, m) {
    if (r.messages.has(m.id)) {
      Object.assign(r.messages.get(m.id), m);
      return false;
    }
    const pendingKey = `c:${m.client_id}`;
    if (m.from === this.me.id && r.messages.has(pendingKey)) {
      const p = r.messages.get(pendingKey);
      r.messages.delete(pendingKey);
      Object.assign(p, m, { pending: false });
      r.messages.set(m.id, p);
      return false;
    }
    r.messages.set(m.id, { ...m });
    return true;
  }

  onAck(a) {
    const r = this.room(a.room);
    if (!r) return;
    const key = `c:${a.client_id}`;
    const p = r.messages.get(key);
    if (p) {
      r.messages.delete(key);
      if (!r.messages.has(a.id)) {
        Object.assign(p, { id: a.id, seq: a.seq, ts: a.ts, pending: false });
        r.messages.set(a.id, p);
        if (this.current === r.id) this.renderMessage(r, p, false, key);
      } else if (this.current === r.id) {
        this.messageNode(key)?.remove();
      }
      if (!r.last || r.last.seq <= a.seq) r.last = r.messages.get(a.id);
    }
    r.seen = Math.max(r.seen ?? 0, a.seq);
    r.last_seq = Math.max(r.last_seq, a.seq);
    this.renderRooms();
  }

  onEdited(f) {
    const r = this.room(f.room);
    const m = r?.messages.get(f.id);
    if (m) {
      Object.assign(m, { body: f.body, edited_at: f.edited_at, mentions: f.mentions ?? m.mentions });
      if (this.current === r.id) this.renderMessage(r, m);
    }
    if (r?.last?.id === f.id) Object.assign(r.last, { body: f.body });
    this.renderRooms();
  }

  onDeleted(f) {
    const r = this.room(f.room);
    const m = r?.messages.get(f.id);
    if (m) {
      Object.assign(m, { deleted: true, body: '', attachments: [] });
      if (this.current === r.id) this.renderMessage(r, m);
    }
    if (r?.last?.id === f.id) Object.assign(r.last, { deleted: true, body: '' });
    this.renderRooms();
  }

  onReaction(f) {
    const r = this.room(f.room);
    const m = r?.messages.get(f.id);
    if (!m) return;
    applyReaction(m, f);
    if (this.current === r.id) this.renderMessage(r, m);
  }

  /** Adds (`on`) or takes back my reaction `emoji` to `m`. */
  react(r, m, emoji, on) {
    this.socket.send({ type: 'react', room: r.id, id: m.id, emoji, on });
  }

  /** Scrolls to message `id` of the open room (loading older pages until it is there) and
   * outlines it for a moment with class `mark`; false when it is not there. */
  async jumpTo(r, id, mark = 'flash') {
    for (let i = 0; i < MAX_JUMP_PAGES && !this.messageNode(id) && r.hasMore && this.current === r.id; i++) {
      await this.loadOlder(r);
    }
    const node = this.messageNode(id);
    if (!node) { this.toast(t('chat.gone')); return false; }
    this.opening = null;
    // Held in view while pictures above and below it get their height (and not pulled to the
    // bottom by them), until the reader scrolls by themselves.
    this.anchor = id;
    this.stick = false;
    node.scrollIntoView({ block: 'center' });
    node.classList.add(mark);
    setTimeout(() => this.messageNode(id)?.classList.remove(mark), 2500);
    return true;
  }

  onPinned(f) {
    const r = this.room(f.room);
    if (!r || this.current !== r.id) return;
    loadPins(r).then(() => this.renderPinned(r)).catch(() => {});
  }

  renderPinned(r) {
    renderPinnedBar(r, (id) => this.jumpTo(r, id));
    for (const m of r.messages.values()) if (m.id) this.renderMessage(r, m);
  }

  onStarred(f) {
    if (f.on) this.starred.add(f.id);
    else this.starred.delete(f.id);
    const r = this.room(f.room);
    const m = r?.messages.get(f.id);
    if (m && this.current === r.id) this.renderMessage(r, m);
  }

  onForwarded(f) {
    const ok = f.results.filter((x) => !x.error).length;
    const failed = f.results.length - ok;
    this.toast(t('forward.done', { count: ok }) + (failed ? t('forward.someFailed', { count: failed }) : ''));
  }

  pin(r, m, on) { this.socket.send({ type: 'pin', room: r.id, id: m.id, on }); }

  star(m, on) { this.socket.send({ type: 'star', id: m.id, on }); }

  forward(m) {
    const rooms = [...this.rooms.values()].map((r) => ({ id: r.id, title: this.roomName(r) }));
    showForward(m, rooms, (to) => this.socket.send({ type: 'forward', id: m.id, to, client_id: uuid() }));
  }

  /** Opens room `roomId` and brings message `id` into view. */
  async openAt(roomId, id) {
    const r = this.room(roomId);
    if (!r) return;
    if (this.current !== roomId) await this.openRoom(roomId);
    await this.jumpTo(r, id);
  }

  onTyping(f) {
    const r = this.room(f.room);
    if (!r || f.user === this.me.id) return;
    if (f.state === 'start') {
      clearTimeout(r.typing.get(f.user));
      r.typing.set(f.user, setTimeout(() => this.stopTyping(r, f.user), TYPING_SHOW_MS));
    } else {
      this.stopTyping(r, f.user);
      return;
    }
    this.renderRooms();
    if (this.current === r.id) this.renderHeader();
  }

  stopTyping(r, user) {
    if (!r.typing.has(user)) return;
    clearTimeout(r.typing.get(user));
    r.typing.delete(user);
    this.renderRooms();
    if (this.current === r.id) this.renderHeader();
  }

  /** A `presence` frame, or (with `asked`) an entry of a `GET /presence` answer asked for when
   *  `presenceTick` was `asked`. */
  onPresence(f, asked) {
    const u = this.user(f.user);
    if (asked === undefined) u.presenceTick = this.presenceTick = (this.presenceTick || 0) + 1;
    else if ((u.presenceTick || 0) > asked) return;
    u.online = f.online;
    if (f.last_seen) u.last_seen = f.last_seen;
    this.renderRooms();
    if (this.current) this.renderHeader();
    this.onPersonChanged?.(f.user);
  }

  onReceipt(f) {
    const r = this.room(f.room);
    if (!r) return;
    if (f.user === this.me.id) {
      if (f.kind === 'read' && f.seq >= r.last_seq) { r.unread = 0; r.unreadMentions = 0; this.renderRooms(); }
      return;
    }
    r.delivered = Math.max(r.delivered, f.seq);
    if (f.kind === 'read') r.read = Math.max(r.read, f.seq);
    if (this.current === r.id) {
      for (const m of r.messages.values()) if (m.from === this.me.id) this.renderMessage(r, m);
    }
  }

  onRoomEvent(f) {
    if (f.event === 'member_removed' && f.user === this.me.id) {
      this.forgetRoom(f.room);
      return;
    }
    const r = this.room(f.room) || this.upsertRoom({ id: f.room });
    if (r.seen === undefined) r.seen = 0;
    this.loadRoomDetails(r);
  }

  onMedia(f) {
    this.media.set(f.id, f);
    if (f.status === 'ready' || f.status === 'failed') {
      const w = this.mediaWaiters.get(f.id);
      if (w) { this.mediaWaiters.delete(f.id); w(f); }
    }
  }

  onError(f) {
    if (f.client_id) {
      for (const r of this.rooms.values()) {
        const p = r.messages.get(`c:${f.client_id}`);
        if (p) {
          p.failed = f.message;
          p.pending = false;
          if (this.current === r.id) this.renderMessage(r, p);
        }
      }
    }
    this.toast(f.message || f.code);
  }

  /** Tells the user `text` in the open conversation's header, else in the notice bar. */
  toast(text) {
    const s = $('chat-status');
    if (!this.current || !s) { notify(text); return; }
    s.textContent = text;
    s.classList.add('error');
    setTimeout(() => { s.classList.remove('error'); this.renderHeader(); }, 4000);
  }

  visible() { return document.visibilityState === 'visible'; }

  // ----- opening a room, history -----

  /** Opens conversation `id`; focus goes to the composer on a wide screen, or when it was opened
   * from the keyboard (`keyboard`: on a touch screen focusing it would pop up the keyboard). */
  async openRoom(id, { keyboard = false } = {}) {
    const r = this.room(id);
    if (!r) return;
    this.opening = null;
    this.anchor = null;
    // Taken before opening marks the conversation read.
    const unread = r.unread;
    this.current = id;
    this.cancelReply();
    this.cancelEdit();
    $('app').classList.add('in-chat');
    $('chat').hidden = false;
    $('empty').hidden = true;
    const list = $('messages');
    list.replaceChildren();
    r.messages = new Map([...r.messages].filter(([k]) => k.startsWith('c:')));
    r.hasMore = true;
    r.loaded = false;
    this.renderHeader();
    this.renderRooms();
    await this.loadOlder(r, true);
    for (let i = 0; i < MAX_UNREAD_PAGES && unread > 0 && !this.firstUnread(r, unread) && r.hasMore && this.current === r.id; i++) {
      await this.loadOlder(r);
    }
    if (this.current !== r.id) return;
    r.loaded = true;
    $('pinned-bar').hidden = true;
    loadPins(r).then(() => { if (this.current === r.id) this.renderPinned(r); }).catch(() => {});
    const first = unread > 0 ? this.firstUnread(r, unread) : null;
    this.opening = first ? this.markNew(first) : null;
    this.settle();
    this.markRead(r);
    if (keyboard || matchMedia('(min-width: 701px)').matches) $('composer-input').focus();
  }

  /** My dm with `userId`, made the first time (`POST /api/dms`) and listed; resolves to its id
   * (the caller closes its dialog, then opens it: focus cannot go to the composer before). */
  async dmWith(userId) {
    const { room } = await post('/dms', { user: userId });
    const r = this.upsertRoom(room);
    if (r.seen === undefined) r.seen = room.last_seq;
    this.renderRooms();
    return room.id;
  }

  /** Drops a conversation I am no longer in (removed, or left). */
  forgetRoom(id) {
    this.rooms.delete(id);
    if (this.current === id) this.closeRoom();
    this.renderRooms();
    this.onRoomChanged?.(id);
  }

  closeRoom() {
    this.current = null;
    $('app').classList.remove('in-chat');
    $('chat').hidden = true;
    $('empty').hidden = false;
    this.renderRooms();
  }

  /** Loads the page of messages before the oldest one shown (the newest page with `first`);
   * a "loading" line shows at the top meanwhile, and a start-of-conversation line once there is
   * nothing older. */
  async loadOlder(r, first = false) {
    if (r.loadingOlder || !r.hasMore) return;
    r.loadingOlder = true;
    const list = $('messages');
    // A list shorter than the screen (pictures not loaded yet) is at the top and the bottom at
    // once: one read at the bottom stays there after the older page is added above.
    const atBottom = this.stick;
    const seqs = [...r.messages.values()].filter((m) => m.seq).map((m) => m.seq);
    const before = first || !seqs.length ? '' : `&before=${Math.min(...seqs)}`;
    const loading = el('li', { class: 'history-status' }, el('span', { role: 'status', text: t('chat.loadingOlder') }));
    list.prepend(loading);
    try {
      const page = await get(`/rooms/${encodeURIComponent(r.id)}/messages?limit=${PAGE}${before}`);
      if (this.current !== r.id) return;
      loading.remove();
      const prevHeight = list.scrollHeight;
      const prevTop = list.scrollTop;
      this.batching = true;
      for (const m of page.messages) {
        this.store(r, m);
        this.renderMessage(r, r.messages.get(m.id));
      }
      this.batching = false;
      r.hasMore = page.has_more;
      if (!r.hasMore && !list.querySelector('.history-start')) {
        list.prepend(el('li', { class: 'history-start', text: t('chat.start') }));
      }
      this.decorate();
      const anchor = this.anchor && this.messageNode(this.anchor);
      if (anchor) anchor.scrollIntoView({ block: 'center' });
      else if (this.opening) this.settle();
      else if (!first && atBottom) list.scrollTop = list.scrollHeight;
      else if (!first) list.scrollTop = prevTop + (list.scrollHeight - prevHeight);
    } catch (e) {
      this.toast(t('chat.historyError', { error: e.message }));
    } finally {
      this.batching = false;
      loading.remove();
      r.loadingOlder = false;
    }
  }

  /** The first of the newest `unread` messages from others, if loaded. */
  firstUnread(r, unread) {
    const others = [...r.messages.values()].filter((m) => m.seq && m.from !== this.me.id && !m.deleted)
      .sort((a, b) => a.seq - b.seq);
    return others.length >= unread ? others[others.length - unread] : null;
  }

  /** Puts the "new messages" line above message `m`; returns it. */
  markNew(m) {
    const node = this.messageNode(m.id);
    if (!node) return null;
    const line = el('li', { class: 'new-divider', text: t('chat.newMessages') });
    node.before(line);
    this.decorate();
    return line;
  }

  /** Scrolls a conversation just opened to its "new messages" line (`this.opening`) when more
   * new messages follow it than fit, else to the bottom. Run again as pictures get their height,
   * until the reader scrolls by themselves. */
  settle() {
    const list = $('messages');
    const divider = this.opening?.isConnected ? this.opening : null;
    // The day separator right above the line stays in view too.
    const top = divider?.previousElementSibling?.classList.contains('day-sep') ? divider.previousElementSibling : divider;
    const at = top ? top.getBoundingClientRect().top - list.getBoundingClientRect().top + list.scrollTop : 0;
    if (top && list.scrollHeight - at > list.clientHeight) {
      list.scrollTop = at - 8;
      this.stick = false;
    } else {
      list.scrollTop = list.scrollHeight;
      this.stick = true;
    }
    this.showJump();
  }

  /** Shows the jump-to-newest button when the reader is far from the bottom. */
  showJump() {
    const list = $('messages');
    $('jump-button').hidden = list.scrollHeight - list.scrollTop - list.clientHeight < JUMP_SHOWN_PX;
  }

  markRead(r) {
    if (this.current !== r.id || !this.visible()) return;
    const seq = Math.max(0, ...[...r.messages.values()].filter((m) => m.seq).map((m) => m.seq));
    if (seq > 0 && (r.unread > 0 || seq > (r.readSent ?? 0))) {
      if (this.socket.send({ type: 'read', room: r.id, seq })) r.readSent = seq;
    }
    if (r.unread || r.unreadMentions) { r.unread = 0; r.unreadMentions = 0; this.renderRooms(); }
  }

  // ----- rendering -----

  renderRooms() {
    const list = $('room-list');
    const rooms = [...this.rooms.values()].sort((a, b) => (b.last?.ts ?? 0) - (a.last?.ts ?? 0));
    const shown = new Map([...list.children].map((li) => [li.dataset.room, li]));
    const fresh = rooms.map((r) => {
      const peer = r.kind === 'dm' ? this.dmPeer(r) : null;
      const typing = [...r.typing.keys()].map((u) => this.user(u).display_name);
      let last = typing.length ? t('typing.names', { names: typing.join(', '), count: typing.length }) : preview(r.last);
      if (!typing.length && r.last && r.kind !== 'dm' && r.last.from) {
        last = t('msg.fromText', { name: r.last.from === this.me.id ? t('common.you') : this.user(r.last.from).display_name, text: last });
      }
      // A button inside the item, so the keyboard reaches it (Tab, then Enter or Space).
      return el('li', { class: `room${this.current === r.id ? ' active' : ''}`, dataset: { room: r.id } },
        el('button', { type: 'button', class: 'room-open', 'aria-current': this.current === r.id ? 'true' : null, onclick: (ev) => this.openRoom(r.id, { keyboard: ev.detail === 0 }) },
          avatarFor(this.roomName(r), peer ? peer.avatar : r.avatar, peer ? peer.online : undefined),
          el('span', { class: 'info' },
            el('span', { class: 'name', text: this.roomName(r) }),
            el('span', { class: `last${typing.length ? ' typing' : ''}`, text: last })),
          this.isMuted?.(r.id) ? el('span', { class: 'muted-mark', title: t('list.muted') }, el('span', { 'aria-hidden': 'true', text: '🔕' }), el('span', { class: 'sr-only', text: t('list.muted') })) : null,
          r.unreadMentions > 0 ? el('span', { class: 'badge mention-badge' }, el('span', { 'aria-hidden': 'true', text: '@' }), el('span', { class: 'sr-only', text: t('list.unreadMentions', { count: r.unreadMentions }) })) : null,
          r.unread > 0 ? el('span', { class: 'badge' }, el('span', { 'aria-hidden': 'true', text: formatNumber(r.unread) }), el('span', { class: 'sr-only', text: t('list.unread', { count: r.unread }) })) : null));
    });
    // An entry already shown is updated in place, not replaced: a click whose press and release
    // straddle a redraw (presence, typing, receipts come often) still opens the conversation,
    // and the keyboard's focus stays on its button.
    const nodes = fresh.map((li) => {
      const old = shown.get(li.dataset.room);
      if (!old) return li;
      old.className = li.className;
      const [button, fresh] = [old.firstElementChild, li.firstElementChild];
      if (fresh.hasAttribute('aria-current')) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
      button.replaceChildren(...fresh.childNodes);
      return old;
    });
    if (nodes.length !== list.children.length || nodes.some((n, i) => list.children[i] !== n)) list.replaceChildren(...nodes);
  }

  renderHeader() {
    const r = this.room(this.current);
    if (!r) return;
    $('chat-title').textContent = this.roomName(r);
    this.onHeader?.(r);
    $('chat-info').title = r.kind === 'dm' ? t('chat.showProfile') : t('chat.showMembers');
    const peer = r.kind === 'dm' ? this.dmPeer(r) : null;
    $('chat-avatar').replaceWith(Object.assign(avatarFor(this.roomName(r), peer ? peer.avatar : r.avatar), { id: 'chat-avatar' }));
    const typing = [...r.typing.keys()].map((u) => this.user(u).display_name);
    let status;
    if (typing.length) status = r.kind === 'dm' ? t('typing.dm') : t('typing.names', { names: typing.join(', '), count: typing.length });
    else if (r.kind === 'dm') {
      const peer = this.dmPeer(r);
      status = peer?.online ? t('presence.online') : lastSeenText(peer?.last_seen);
    } else status = t('chat.members', { count: r.members.length });
    const s = $('chat-status');
    if (!s.classList.contains('error')) s.textContent = status;
  }

  messageNode(key) {
    return $('messages').querySelector(`li[data-key="${CSS.escape(key)}"]`);
  }

  /** Renders (or re-renders) one message at its place in seq order. */
  renderMessage(r, m, scroll = false, oldKey) {
    if (!m) return;
    const list = $('messages');
    const key = m.id ?? `c:${m.client_id}`;
    const mine = m.from === this.me.id;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const mentionsMe = !m.deleted && (m.mentions || []).includes(this.me.id);
    // A message with actions is a tab stop: focused from the keyboard it shows them (class
    // `keyboard`, see bind), and Tab goes on into them.
    const li = el('li', { class: `msg${mine ? ' mine' : ''}${m.deleted ? ' deleted' : ''}${m.pending ? ' pending' : ''}${mentionsMe ? ' mentions-me' : ''}`, dataset: { key, seq: m.seq ?? '', from: m.from, ts: m.ts ?? '' },
      tabindex: !m.deleted && m.seq ? '0' : null });
    if (r.kind !== 'dm' && !mine) {
      const who = this.user(m.from);
      li.append(el('button', { type: 'button', class: 'from', title: t('msg.profileOf', { name: who.display_name }), dataset: { focus: `from:${key}` }, onclick: () => this.onPerson?.(m.from) },
        Object.assign(avatarFor(who.display_name, who.avatar), { className: 'avatar small' }),
        el('span', { class: 'from-name', text: who.display_name })));
    }
    if (m.forwarded && !m.deleted) li.append(el('div', { class: 'forwarded', text: `↪ ${t('msg.forwarded')}` }));
    if (m.reply_to) {
      const q = r.messages.get(m.reply_to);
      const who = (from) => (from === this.me.id ? t('common.you') : this.user(from).display_name);
      let text = t('msg.replyEarlier');
      if (q && !q.deleted) text = t('msg.fromText', { name: who(q.from), text: preview(q) });
      else if (m.quote?.deleted || q?.deleted) text = t('msg.originalDeleted');
      else if (m.quote) text = t('msg.fromText', { name: who(m.quote.from), text: m.quote.text });
      li.append(el('button', { type: 'button', class: 'quote', text, title: t('msg.showOriginal'), onclick: () => this.jumpTo(r, m.reply_to) }));
    }
    if (!m.deleted) {
      for (const a of m.attachments || []) li.append(renderAttachment(a));
    }
    if (m.deleted) li.append(el('div', { class: 'body', text: t('msg.deleted') }));
    else if (!bodyIsFileName(m)) li.append(el('div', { class: 'body' }, withEmoji(bodyNodes(m, this.me.id, (id) => this.user(id)))));
    if (!m.deleted) {
      const row = reactionRow(m, this.me.id, (emoji, on) => this.react(r, m, emoji, on), (id) => this.user(id).display_name);
      if (row) li.append(row);
    }
    const starred = this.starred.has(m.id);
    const pinned = (r.pins || []).some((p) => p.id === m.id);
    li.append(el('div', { class: 'meta' }, pinned && !m.deleted ? el('span', { class: 'pin-mark', text: '📌', title: t('msg.pinned') }) : null,
      starred && !m.deleted ? el('span', { class: 'star-mark', text: '★', title: t('msg.starred') }) : null,
      m.edited_at && !m.deleted ? el('span', { text: t('msg.edited') }) : null,
      el('span', { text: m.ts ? timeOf(m.ts) : '' }), ticks(r, m, this.me.id)));
    if (!m.deleted && m.seq) {
      const actions = el('div', { class: 'actions' },
        el('button', { type: 'button', text: '↩', title: t('msg.reply'), 'aria-label': t('msg.reply'), onclick: () => this.startReply(m) }),
        reactButton((emoji) => this.react(r, m, emoji, true)),
        el('button', { type: 'button', text: starred ? '★' : '☆', title: starred ? t('msg.unstar') : t('msg.star'), 'aria-label': starred ? t('msg.unstar') : t('msg.star'), onclick: () => this.star(m, !starred) }),
        el('button', { type: 'button', text: '📌', title: pinned ? t('msg.unpin') : t('msg.pin'), 'aria-label': pinned ? t('msg.unpin') : t('msg.pin'), onclick: () => this.pin(r, m, !pinned) }),
        el('button', { type: 'button', text: '↪', title: t('msg.forward'), 'aria-label': t('msg.forward'), onclick: () => this.forward(m) }));
      if (mine) {
        actions.append(el('button', { type: 'button', text: '✎', title: t('msg.edit'), 'aria-label': t('msg.edit'), onclick: () => this.startEdit(m) }),
          el('button', { type: 'button', text: '🗑', title: t('msg.delete'), 'aria-label': t('msg.delete'), onclick: () => this.deleteMessage(m) }));
      }
      li.append(actions);
      swipeToReply(li, () => this.startReply(m));
    }
    const existing = this.messageNode(oldKey ?? key) ?? (oldKey ? this.messageNode(key) : null);
    if (existing) {
      // A re-render keeps a "look here" outline that is still showing.
      for (const mark of ['flash', 'found']) if (existing.classList.contains(mark)) li.classList.add(mark);
      // So does the keyboard's place: the message itself, or the same control in it (the
      // sender's name, focused again after their profile, is found by its key); and an open
      // reaction palette stays open. Receipts, pins and profiles redraw messages often.
      const active = document.activeElement;
      const stops = (node) => [...node.querySelectorAll('button, a, [tabindex]')];
      const at = existing.contains(active) ? stops(existing).indexOf(active) : -2;
      const key = at >= 0 ? active.dataset.focus : null;
      const palette = existing.querySelector('.react-palette:not([hidden])');
      existing.replaceWith(li);
      if (palette) {
        li.querySelector('.react-palette').hidden = false;
        li.querySelector('.react-button')?.setAttribute('aria-expanded', 'true');
      }
      if (at === -1) li.focus({ preventScroll: true });
      else if (at >= 0) (key ? li.querySelector(`[data-focus="${CSS.escape(key)}"]`) : stops(li)[at])?.focus({ preventScroll: true });
    }
    else {
      const after = [...list.children].find((c) => c.dataset.seq && m.seq && Number(c.dataset.seq) > m.seq);
      if (after) list.insertBefore(li, after);
      else list.append(li);
    }
    if (!this.batching) this.decorate();
    if (scroll && (stick || mine)) {
      list.scrollTop = list.scrollHeight;
      this.stick = true;
    }
  }

  /** A day separator above the first message of each day, and class `grouped` on a message
   * that follows one from the same sender within GROUP_MS with nothing between them (its name
   * and avatar are not repeated). Run after messages are added or replaced. */
  decorate() {
    const list = $('messages');
    const kept = new Set();
    let day = null;
    for (const node of list.querySelectorAll(':scope > li.msg')) {
      const ts = Number(node.dataset.ts);
      if (ts) {
        const key = dayKey(ts);
        if (key !== day) {
          day = key;
          let p = node.previousElementSibling;
          while (p?.classList.contains('new-divider')) p = p.previousElementSibling;
          if (p?.classList.contains('day-sep') && p.dataset.day === key) kept.add(p);
          else {
            const sep = el('li', { class: 'day-sep', dataset: { day: key } }, el('span', { text: dayLabel(ts) }));
            node.before(sep);
            kept.add(sep);
          }
        }
      }
      const prev = node.previousElementSibling;
      const grouped = !!prev?.classList.contains('msg') && prev.dataset.from === node.dataset.from
        && ts - Number(prev.dataset.ts) < GROUP_MS;
      node.classList.toggle('grouped', grouped);
    }
    for (const sep of list.querySelectorAll(':scope > li.day-sep')) if (!kept.has(sep)) sep.remove();
  }

  // ----- composing -----

  startReply(m) {
    this.cancelEdit();
    this.replyTo = m;
    $('reply-text').textContent = m.from === this.me.id ? t('msg.replyingToSelf', { text: preview(m) })
      : t('msg.replyingTo', { name: this.user(m.from).display_name, text: preview(m) });
    $('reply-bar').hidden = false;
    $('composer-input').focus();
  }

  cancelReply() { this.replyTo = null; $('reply-bar').hidden = true; }

  startEdit(m) {
    this.cancelReply();
    this.editing = m;
    $('reply-text').textContent = t('msg.editing');
    $('reply-bar').hidden = false;
    const input = $('composer-input');
    input.value = m.body;
    input.focus();
  }

  cancelEdit() {
    if (this.editing) $('composer-input').value = '';
    this.editing = null;
    if (!this.replyTo) $('reply-bar').hidden = true;
  }

  async deleteMessage(m) {
    if (await ask(t('msg.deleteAsk'), { ok: t('msg.delete'), danger: true })) this.socket.send({ type: 'delete', id: m.id });
  }

  submit() {
    const input = $('composer-input');
    const body = input.value.trim();
    const r = this.room(this.current);
    if (!r || !body) return;
    if (this.editing) {
      this.socket.send({ type: 'edit', id: this.editing.id, body });
      this.editing = null;
      $('reply-bar').hidden = true;
    } else {
      this.sendMessage(r, body, []);
    }
    input.value = '';
    this.sendTyping(r, 'stop');
  }

  sendMessage(r, body, attachments, files = []) {
    const clientId = uuid();
    const m = { id: undefined, client_id: clientId, room: r.id, from: this.me.id, body, attachments: files, reply_to: this.replyTo?.id ?? null, ts: Date.now(), pending: true };
    const frame = { type: 'send', room: r.id, client_id: clientId, body, attachments };
    if (m.reply_to) frame.reply_to = m.reply_to;
    m.frame = frame;
    r.messages.set(`c:${clientId}`, m);
    this.opening = null;
    this.anchor = null;
    if (this.current === r.id) this.renderMessage(r, m, true);
    this.cancelReply();
    this.socket.send(frame);
  }

  /** Sends again every message still waiting for its ack (same client_id: never twice). */
  resendPending() {
    for (const r of this.rooms.values()) {
      for (const [k, m] of r.messages) if (k.startsWith('c:') && m.pending && m.frame) this.socket.send(m.frame);
    }
  }

  sendTyping(r, state) {
    if (state === 'start') {
      const now = Date.now();
      if (now - this.typingSentAt > TYPING_SEND_EVERY_MS) {
        this.typingSentAt = now;
        this.socket.send({ type: 'typing', room: r.id, state: 'start' });
      }
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.sendTyping(r, 'stop'), TYPING_IDLE_MS);
    } else if (this.typingSentAt) {
      clearTimeout(this.typingTimer);
      this.typingSentAt = 0;
      this.socket.send({ type: 'typing', room: r.id, state: 'stop' });
    }
  }

  // ----- files -----

  waitMedia(id) {
    const seen = this.media.get(id);
    if (seen && (seen.status === 'ready' || seen.status === 'failed')) return Promise.resolve(seen);
    return new Promise((resolve) => {
      this.mediaWaiters.set(id, resolve);
      // The `media` frame may have been missed across a reconnect: ask once in a while too.
      const poll = async () => {
        if (!this.mediaWaiters.has(id)) return;
        try {
          const m = await get(`/media/${encodeURIComponent(id)}`);
          if (m.status === 'ready' || m.status === 'failed') return this.onMedia({ id, status: m.status, error: m.error });
        } catch { /* try again */ }
        setTimeout(poll, 3000);
      };
      setTimeout(poll, 3000);
    });
  }

  async sendFiles(files) {
    const r = this.room(this.current);
    if (!r) return;
    const caption = $('composer-input').value.trim();
    if (caption) $('composer-input').value = '';
    for (const file of files) {
      const bar = el('progress', { max: 1, value: 0 });
      const cancel = el('button', { type: 'button', class: 'cancel', text: '✕', title: t('upload.cancel'), 'aria-label': t('upload.cancel') });
      const row = el('div', { class: 'upload' }, el('span', { text: file.name || t('media.file') }), bar, el('span', { class: 'state', text: t('upload.uploading') }), cancel);
      $('uploads').append(row);
      const state = row.querySelector('.state');
      // Resumable (tus): a dropped connection or a reload goes on where it stopped.
      const up = new TusUpload(file, {
        token: token.get(),
        onProgress: (sent, total) => { bar.value = total ? sent / total : 1; state.textContent = t('upload.uploading'); },
        onRetry: () => { state.textContent = t('upload.reconnecting'); },
      });
      cancel.addEventListener('click', () => up.cancel());
      try {
        let id;
        try {
          id = await up.start();
        } catch (e) {
          if (e instanceof TusCancelled) { row.remove(); continue; }
          throw e;
        }
        cancel.remove();
        state.textContent = t('media.processing');
        const done = await this.waitMedia(id);
        if (done.status !== 'ready') throw new Error(done.error || t('media.processingFailed'));
        const info = await get(`/media/${encodeURIComponent(id)}`);
        row.remove();
        this.sendMessage(r, caption || file.name || t('media.file'), [id], [info]);
      } catch (e) {
        state.textContent = t('upload.failed', { error: e.message });
        setTimeout(() => row.remove(), 6000);
      }
    }
  }

  // ----- wiring -----

  bind() {
    const input = $('composer-input');
    // Before the composer's own keys, so Enter picks a name while the list is open.
    setupMentionCompletion(input, $('mention-list'), () => {
      const r = this.room(this.current);
      return (r?.members || []).filter((id) => id !== this.me.id).map((id) => this.user(id));
    });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    input.addEventListener('keydown', (e) => {
      const enterSends = this.settings?.chat?.enter_to_send ?? true;
      if (e.key === 'Enter' && !e.shiftKey && (enterSends || e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.submit();
      }
      if (e.key === 'Escape') { this.cancelEdit(); this.cancelReply(); }
    });
    input.addEventListener('input', () => {
      const r = this.room(this.current);
      if (r && input.value.trim()) this.sendTyping(r, 'start');
    });
    $('reply-cancel').addEventListener('click', () => { this.cancelEdit(); this.cancelReply(); });
    $('starred-button').addEventListener('click', () => showStarred((room, id) => this.openAt(room, id)).catch((e) => this.toast(e.message)));
    $('back-button').addEventListener('click', () => {
      const id = this.current;
      this.closeRoom();
      // The keyboard goes on from the conversation it left (the list shows again on a phone).
      $('room-list').querySelector(`li[data-room="${CSS.escape(id ?? '')}"] .room-open`)?.focus();
    });
    // Images and videos get their height only once loaded: a conversation read at the bottom
    // stays at the bottom while they come in (load events do not bubble, hence capture).
    const keepBottom = () => {
      const list = $('messages');
      const anchor = this.anchor && this.messageNode(this.anchor);
      if (anchor) anchor.scrollIntoView({ block: 'center' });
      else if (this.opening) this.settle();
      else if (this.stick) list.scrollTop = list.scrollHeight;
    };
    // The reader scrolling by themselves ends the settling of a conversation just opened, and
    // the holding of a message jumped to.
    for (const type of ['wheel', 'touchstart', 'keydown', 'mousedown']) {
      $('messages').addEventListener(type, () => { this.opening = null; this.anchor = null; }, { passive: true });
    }
    // A message reached from the keyboard shows its actions until focus goes elsewhere (a class,
    // not :focus-within: between the message losing focus and its Reply button taking it, the
    // buttons would be hidden and Tab would find nothing). A dialog opened from one of them
    // keeps them, so that focus can go back to it when the dialog closes.
    document.addEventListener('focusin', (e) => {
      if (e.target.closest?.('dialog')) return;
      const li = e.target.closest?.('#messages li.msg');
      for (const m of $('messages').querySelectorAll('li.msg.keyboard')) if (m !== li) m.classList.remove('keyboard');
      if (li && e.target.matches(':focus-visible')) li.classList.add('keyboard');
    });
    $('messages').addEventListener('focusout', (e) => {
      const li = e.target.closest('li.msg');
      if (li && !e.relatedTarget) li.classList.remove('keyboard');
    });
    $('messages').addEventListener('load', keepBottom, true);
    $('messages').addEventListener('loadedmetadata', keepBottom, true);
    $('messages').addEventListener('scroll', () => {
      const list = $('messages');
      this.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      this.showJump();
      const r = this.room(this.current);
      if (r && r.loaded && $('messages').scrollTop < 80) this.loadOlder(r);
    });
    $('jump-button').addEventListener('click', () => {
      this.opening = null;
      this.anchor = null;
      const list = $('messages');
      list.scrollTop = list.scrollHeight;
      this.stick = true;
      this.showJump();
    });
    $('attach-button').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (e) => {
      const files = [...e.target.files];
      e.target.value = '';
      this.sendFiles(files);
    });
    const chat = $('chat');
    let depth = 0;
    chat.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; $('drop-hint').hidden = false; });
    chat.addEventListener('dragover', (e) => e.preventDefault());
    chat.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; $('drop-hint').hidden = true; } });
    chat.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      $('drop-hint').hidden = true;
      const files = [...(e.dataTransfer?.files || [])];
      if (files.length) this.sendFiles(files);
    });
    document.addEventListener('visibilitychange', () => {
      const r = this.room(this.current);
      if (r) this.markRead(r);
    });
  }
}
