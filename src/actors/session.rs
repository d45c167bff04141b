//! WsSession: one actor per WebSocket connection, authenticated before the upgrade. It decodes
//! frames, enforces size and rate limits, forwards work to Room actors and writes what it is sent.
//! It reads and writes its socket through `crate::websocket` ([`start`]): what to write when is
//! decided by the socket's `websocket::flush::Outgoing`, and the session performs the writes and
//! waits it asks for. [`start_piped`] runs the same session behind another transport (the
//! Socket.IO codec in `crate::socketio`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::mpsc;

mod order;
mod rate;

use self::order::AckOrders;
use self::rate::RateLimit;
use super::outbox::{self, CloseSession, SessionHandle};
use super::registry::{OpenRoom, RoomRegistry, SessionClosed, SessionOpened};
use super::room::{Check, Draft, MarkDelivered, MarkRead, Post, Room, Typing};
use super::slow::{self, Backlog, Verdict};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, RoomId, SessionId};
use crate::media::urls::UrlSigner;
use crate::metrics;
use crate::protocol::close;
use crate::protocol::settings::UserSettings;
use crate::protocol::{
    decode, ClientFrame, DecodeError, ErrorCode, ErrorOut, Hello, HistoryOut, Pong, ServerFrame,
    SyncFrame, UserOut, WireFormat,
};
use crate::shutdown::{self, Shutdown};
use crate::store::Store;
use crate::websocket::conn::{InFrame, Reader, Writer, WsError};
use crate::websocket::flush::{Next, Outgoing};
use crate::websocket::{frame, Outbound};

/// What a session needs from the rest of the server.
#[derive(Clone)]
pub struct SessionDeps {
    /// Reads for setup and requests (rooms, settings, history, sync, media).
    pub store: Store,
    /// Signs the media URLs in attachments and history (see `crate::views`).
    pub media_urls: UrlSigner,
    /// Where rooms are looked up and the session registers (the registry tells Presence).
    pub registry: Addr<RoomRegistry>,
    /// The server's settings (`[ws]` limits, `[rooms]`, `[media]`).
    pub settings: Arc<Settings>,
    /// Every session listens for the server shutting down (see `crate::shutdown`).
    pub shutdown: Shutdown,
}

/// See the module doc.
pub struct WsSession {
    id: SessionId,
    user: UserOut,
    token_hash: String,
    format: WireFormat,
    deps: SessionDeps,
    rooms: HashMap<RoomId, Addr<Room>>,
    last_heard: Instant,
    limit: RateLimit,
    /// Frames that arrived before `hello` went out.
    early: Option<Vec<Arc<Outbound>>>,
    /// Where frames go.
    out: Transport,
    /// Per room, the order of pending `send` answers.
    acks: AckOrders,
    /// The user's settings (typing and read-receipt choices apply here); kept current by the
    /// `settings` frames every device gets.
    settings: UserSettings,
    /// A turn of `ws.setup_concurrency`, given back once `hello` is out.
    setup_turn: Option<tokio::sync::OwnedSemaphorePermit>,
    /// `settings` came with the authentication: no lookup before `hello`.
    settings_known: bool,
    /// The server's shutdown notice; holds shutdown back until this session is gone.
    shutdown: shutdown::Listener,
    /// The server is shutting down: new frames are refused, and the session closes once what it
    /// received is answered.
    going_away: bool,
    /// The close frame to send once everything received is answered: set when the server shuts
    /// down or the client closed (a `read` or `send` it wrote just before closing still counts).
    leave_with: Option<(u16, String)>,
    /// Requests received and still being worked on (see [`WsSession::answer_later`]).
    unanswered: usize,
    /// A check whether the session may close is already queued.
    leave_check_queued: bool,
}

type Ctx = Context<WsSession>;

/// How long a closing session waits for its socket to take the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Where a session's frames go.
enum Transport {
    /// Not started yet.
    None,
    /// A WebSocket: frames are written straight to the socket, by the rules of [`Outgoing`].
    Socket(Outgoing),
    /// Another transport (see [`start_piped`]).
    Pipe(mpsc::Sender<PipeOut>),
}

impl WsSession {
    /// A session for `user`, who authenticated with the token hashing to `token_hash`, speaking
    /// `format`; it runs once started with [`start`] or [`start_piped`].
    pub fn new(user: UserOut, token_hash: String, format: WireFormat, deps: SessionDeps) -> Self {
        let limit = RateLimit::new(deps.settings.ws.rate_per_sec, deps.settings.ws.rate_burst);
        let shutdown = deps.shutdown.listen();
        Self {
            id: SessionId::generate(),
            user,
            token_hash,
            format,
            deps,
            rooms: HashMap::new(),
            last_heard: Instant::now(),
            limit,
            early: Some(Vec::new()),
            out: Transport::None,
            acks: AckOrders::default(),
            settings: UserSettings::default(),
            setup_turn: None,
            settings_known: false,
            shutdown,
            going_away: false,
            leave_with: None,
            unanswered: 0,
            leave_check_queued: false,
        }
    }

    /// The user's settings, read with the authentication.
    pub fn with_settings(mut self, settings: UserSettings) -> Self {
        self.settings = settings;
        self.settings_known = true;
        self
    }

    /// Holds `turn` until the session's setup is over.
    pub fn holding(mut self, turn: tokio::sync::OwnedSemaphorePermit) -> Self {
        self.setup_turn = Some(turn);
        self
    }

    fn write(&mut self, frame: &Outbound, ctx: &mut Ctx) {
        match &self.out {
            Transport::Socket(_) => {
                if let Some(bytes) = frame.ws_frame(self.format) {
                    self.push(bytes, ctx);
                }
            }
            Transport::Pipe(_) => {
                if let Some(t) = frame.json_payload() {
                    self.pipe(PipeOut::Text(t), ctx);
                }
            }
            Transport::None => {}
        }
    }

    /// Queues WebSocket bytes, written once the frames already in the mailbox are handled too
    /// (one write for all of them); a client whose unwritten frames pass `ws.outbox_capacity`
    /// is dropped as too slow.
    fn push(&mut self, bytes: Bytes, ctx: &mut Ctx) {
        let Transport::Socket(out) = &mut self.out else {
            return;
        };
        let next = out.push(bytes);
        self.follow(next, ctx);
    }

    /// Does what the socket's [`Outgoing`] asks for.
    fn follow(&mut self, next: Next, ctx: &mut Ctx) {
        match next {
            Next::Nothing => {}
            Next::FlushSoon => {
                // Spawned items run after the mailbox is drained, in the same poll.
                ctx.spawn(actix::fut::ready(()).map(|(), act: &mut Self, ctx| act.flush_now(ctx)));
            }
            Next::WaitWritable => self.flush_when_writable(ctx),
            Next::Stop => ctx.stop(),
            Next::TooSlow => self.too_slow(Backlog::Socket, ctx),
        }
    }

    /// Writes what is queued; waits for the socket if it does not take everything.
    fn flush_now(&mut self, ctx: &mut Ctx) {
        let Transport::Socket(out) = &mut self.out else {
            return;
        };
        let next = out.flush();
        self.follow(next, ctx);
    }

    /// Writes what the socket did not take once it is writable again.
    fn flush_when_writable(&mut self, ctx: &mut Ctx) {
        let Transport::Socket(out) = &self.out else {
            return;
        };
        let socket = out.socket();
        let wait = async move { socket.writable().await };
        ctx.spawn(wait.into_actor(self).map(|ready, act, ctx| {
            let Transport::Socket(out) = &mut act.out else {
                return;
            };
            let next = out.writable(ready);
            act.follow(next, ctx);
        }));
    }

    /// Hands a frame to another transport; a full pipe means its client does not read.
    fn pipe(&mut self, out: PipeOut, ctx: &mut Ctx) {
        let Transport::Pipe(tx) = &self.out else {
            return;
        };
        match tx.try_send(out) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.too_slow(Backlog::Pipe, ctx),
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }

    /// The client lets `backlog` fill: carries out [`slow::judge`]'s verdict.
    fn too_slow(&mut self, backlog: Backlog, ctx: &mut Ctx) {
        match slow::judge(backlog, &self.id, &self.user.id) {
            Verdict::CloseBehind(c) => self.close(Some((c.code, c.reason)), ctx),
            Verdict::Drop => ctx.stop(),
        }
    }

    /// Sends a close frame (none for `None`) and stops once the transport took it. Only the
    /// first close of a socket is written.
    fn close(&mut self, reason: Option<(u16, String)>, ctx: &mut Ctx) {
        match &mut self.out {
            Transport::Socket(out) if out.is_closing() => {}
            Transport::Socket(out) => {
                let bytes = match &reason {
                    Some((code, why)) => frame::close(*code, why),
                    None => frame::encode(frame::OP_CLOSE, &[]),
                };
                if let Some(next) = out.close(bytes) {
                    ctx.run_later(CLOSE_GRACE, |_, ctx| ctx.stop());
                    self.follow(next, ctx);
                }
            }
            Transport::Pipe(tx) => {
                // Full or gone: the engine ends the connection when the session stops anyway.
                let _ = tx.try_send(PipeOut::Close(reason));
                ctx.stop();
            }
            Transport::None => ctx.stop(),
        }
    }

    fn send_frame(&mut self, frame: ServerFrame, ctx: &mut Ctx) {
        self.write(&Outbound::new(frame), ctx);
        self.leave_if_answered(ctx);
    }

    /// Runs `work` for a request this session received and hands its outcome to `then`. While
    /// the server shuts down, the session stays until every such outcome is written.
    fn answer_later<T: 'static>(
        &mut self,
        work: impl std::future::Future<Output = T> + 'static,
        ctx: &mut Ctx,
        then: impl FnOnce(&mut Self, T, &mut Ctx) + 'static,
    ) {
        self.unanswered += 1;
        ctx.spawn(work.into_actor(self).map(move |res, act, ctx| {
            act.unanswered -= 1;
            then(act, res, ctx);
            act.leave_if_answered(ctx);
        }));
    }

    /// The server is shutting down: refuse new frames, answer what was received, then close
    /// with 1001 (at `notice.close_by` at the latest).
    fn go_away(&mut self, notice: shutdown::Notice, ctx: &mut Ctx) {
        self.going_away = true;
        self.leave_with = Some((close::GOING_AWAY, shutdown::CLOSE_REASON.to_owned()));
        tracing::debug!(session = %self.id, user = %self.user.id, pending = self.unanswered, "server shutting down: answering what is in flight");
        let left = notice
            .close_by
            .saturating_duration_since(tokio::time::Instant::now());
        ctx.run_later(left, |act, ctx| {
            tracing::warn!(session = %act.id, pending = act.unanswered, "closing before every request was answered");
            act.leave(ctx);
        });
        self.leave_if_answered(ctx);
    }

    /// While leaving (see `leave_with`): closes once nothing received is waiting for its answer.
    /// Checked after the current event, when a room lookup or other wait that blocks the session
    /// is over.
    fn leave_if_answered(&mut self, ctx: &mut Ctx) {
        if self.leave_with.is_none() || self.leave_check_queued {
            return;
        }
        self.leave_check_queued = true;
        ctx.spawn(actix::fut::ready(()).map(|(), act: &mut Self, ctx| {
            act.leave_check_queued = false;
            if act.acks.is_empty() && act.unanswered == 0 && !ctx.waiting() {
                act.leave(ctx);
            }
        }));
    }

    /// Sends the close frame `leave_with` holds (1001 "going away" when shutting down).
    fn leave(&mut self, ctx: &mut Ctx) {
        let reason = self
            .leave_with
            .clone()
            .unwrap_or((close::GOING_AWAY, shutdown::CLOSE_REASON.to_owned()));
        self.close(Some(reason), ctx);
    }

    /// The client closed: what it sent before its close is still carried out (and answered,
    /// while the socket takes writes), within `CLOSE_GRACE`; then the close is echoed.
    fn client_closed(&mut self, code: u16, ctx: &mut Ctx) {
        if self.leave_with.is_some() {
            return;
        }
        self.leave_with = Some((code, String::new()));
        ctx.run_later(CLOSE_GRACE, |act, ctx| act.leave(ctx));
        self.leave_if_answered(ctx);
    }

    fn send_error(
        &mut self,
        err: &ChatError,
        reference: Option<String>,
        client_id: Option<String>,
        ctx: &mut Ctx,
    ) {
        self.send_frame(
            error_frame(err.code(), err.to_string(), reference, client_id),
            ctx,
        );
    }

    fn heartbeat(&self, ctx: &mut Ctx) {
        let ws = &self.deps.settings.ws;
        let timeout = Duration::from_secs(ws.client_timeout_secs);
        ctx.run_interval(Duration::from_secs(ws.heartbeat_secs), move |act, ctx| {
            if act.last_heard.elapsed() > timeout {
                tracing::info!(session = %act.id, user = %act.user.id, "client timed out");
                return act.close(Some((close::GOING_AWAY, "timeout".into())), ctx);
            }
            match act.out {
                Transport::Socket(_) => act.push(frame::encode(frame::OP_PING, &[]), ctx),
                _ => act.pipe(PipeOut::Ping, ctx),
            }
        });
    }

    /// Runs `then` with the address of `room`'s actor, resolving it through the registry first if
    /// needed. Resolution blocks this session's input so frames keep their order.
    fn with_room<F>(&mut self, room: RoomId, ctx: &mut Ctx, then: F)
    where
        F: FnOnce(&mut Self, Result<Addr<Room>, ChatError>, &mut Ctx) + 'static,
    {
        if let Some(addr) = self.rooms.get(&room).filter(|a| a.connected()) {
            let addr = addr.clone();
            then(self, Ok(addr), ctx);
            return;
        }
        self.rooms.remove(&room);
        let ask = self.deps.registry.send(OpenRoom {
            room: room.clone(),
            home: Arbiter::current(),
        });
        ctx.wait(ask.into_actor(self).map(move |res, act, ctx| {
            let res = res.map_err(ChatError::from).and_then(|r| r);
            if let Ok(addr) = &res {
                act.rooms.insert(room, addr.clone());
            }
            then(act, res, ctx);
        }));
    }

    fn on_data(&mut self, data: &[u8], format: WireFormat, ctx: &mut Ctx) {
        self.last_heard = Instant::now();
        if data.len() > self.deps.settings.ws.max_frame_bytes {
            let msg = format!(
                "frame is larger than {} bytes",
                self.deps.settings.ws.max_frame_bytes
            );
            self.send_error(&ChatError::TooLarge(msg), None, None, ctx);
            return;
        }
        let decoded = decode(data, format);
        let refusal = if self.going_away {
            Some(ChatError::Unavailable(
                "server is shutting down, reconnect".into(),
            ))
        } else if !self.limit.take() {
            metrics::inc(&metrics::RATE_LIMITED);
            Some(ChatError::RateLimited)
        } else {
            None
        };
        if let Some(err) = refusal {
            let (reference, client_id) = match &decoded {
                Ok(d) => (d.reference.clone(), client_id_of(&d.frame)),
                Err((_, r)) => (r.clone(), None),
            };
            self.send_error(&err, reference, client_id, ctx);
            return;
        }
        match decoded {
            Ok(d) => self.dispatch(d.frame, d.reference, ctx),
            Err((e, reference)) => {
                let code = match e {
                    DecodeError::BadFrame(_) => ErrorCode::BadFrame,
                    DecodeError::UnknownType(_) => ErrorCode::UnknownType,
                    DecodeError::Invalid(_) => ErrorCode::Invalid,
                };
                self.send_frame(error_frame(code, e.to_string(), reference, None), ctx);
            }
        }
    }

    fn dispatch(&mut self, frame: ClientFrame, reference: Option<String>, ctx: &mut Ctx) {
        match frame {
            ClientFrame::Ping => self.send_frame(ServerFrame::Pong(Pong { reference }), ctx),
            ClientFrame::Send(f) => self.submit(Draft::new(f), reference, ctx),
            ClientFrame::Typing(_) if !self.settings.chat.show_typing => {}
            ClientFrame::Typing(f) => {
                let user = self.user.id.clone();
                self.with_room(f.room.clone(), ctx, move |act, addr, ctx| {
                    let msg = Typing {
                        user,
                        state: f.state,
                    };
                    act.ask_room(addr, msg, reference, ctx);
                });
            }
            ClientFrame::Read(f) => {
                let user = self.user.id.clone();
                let share = self.settings.chat.read_receipts;
                self.with_room(f.room.clone(), ctx, move |act, addr, ctx| {
                    act.ask_room(
                        addr,
                        MarkRead {
                            user,
                            seq: f.seq,
                            share,
                        },
                        reference,
                        ctx,
                    );
                });
            }
            ClientFrame::History(f) => self.history(f, reference, ctx),
            ClientFrame::Sync(f) => self.sync(f, reference, ctx),
            ClientFrame::Edit(f) => {
                let work = super::requests::edit(self.deps.clone(), self.user.id.clone(), f);
                self.answer_errors(work, reference, ctx);
            }
            ClientFrame::Delete(f) => {
                let work = super::requests::delete(self.deps.clone(), self.user.id.clone(), f);
                self.answer_errors(work, reference, ctx);
            }
            ClientFrame::Pin(f) => {
                let work = super::curation::pin(
                    self.deps.clone(),
                    self.user.id.clone(),
                    self.id.clone(),
                    f,
                    reference.clone(),
                );
                self.answer_with(work, reference, None, ServerFrame::Pinned, ctx);
            }
            ClientFrame::Star(f) => {
                let work = super::curation::star(
                    self.deps.clone(),
                    self.user.id.clone(),
                    self.id.clone(),
                    f,
                    reference.clone(),
                );
                self.answer_with(work, reference, None, ServerFrame::Starred, ctx);
            }
            ClientFrame::Forward(f) => {
                let client_id = Some(f.client_id.clone());
                let work = super::curation::forward(
                    self.deps.clone(),
                    self.user.id.clone(),
                    self.id.clone(),
                    f,
                    reference.clone(),
                );
                self.answer_with(work, reference, client_id, ServerFrame::Forwarded, ctx);
            }
            ClientFrame::React(f) => {
                let work = super::requests::react(
                    self.deps.clone(),
                    self.user.id.clone(),
                    self.id.clone(),
                    f,
                    reference.clone(),
                );
                self.answer_with(work, reference, None, ServerFrame::Reaction, ctx);
            }
            ClientFrame::SendMany(f) => {
                let client_id = f.client_id.clone();
                let work = super::requests::send_many(
                    self.deps.clone(),
                    self.user.id.clone(),
                    self.id.clone(),
                    f,
                    reference.clone(),
                );
                self.answer_later(work, ctx, move |act, res, ctx| match res {
                    Ok(acks) => act.send_frame(ServerFrame::AckMany(acks), ctx),
                    Err(e) => act.send_error(&e, reference, Some(client_id), ctx),
                });
            }
        }
    }

    /// Sends a message to its room and answers with the ack or an error. A room that stopped
    /// between lookup and delivery is looked up again once.
    /// Runs the draft's next check (each is a lookup that waits, so this session's sends keep
    /// their order), or, when none is left, hands it to its room.
    fn submit(&mut self, draft: Draft, reference: Option<String>, ctx: &mut Ctx) {
        match draft.next_check() {
            Some(Check::Reply) => self.check_reply(draft, reference, ctx),
            Some(Check::Attachments) => self.resolve_attachments(draft, reference, ctx),
            Some(Check::Mentions) => self.resolve_mentions(draft, reference, ctx),
            None => {
                let room = draft.frame.room.clone();
                let ticket = self.acks.ticket(&room);
                self.with_room(room, ctx, move |act, addr, ctx| {
                    act.post(addr, draft, reference, ticket, true, ctx)
                });
            }
        }
    }

    fn post(
        &mut self,
        addr: Result<Addr<Room>, ChatError>,
        draft: Draft,
        reference: Option<String>,
        ticket: u64,
        retry: bool,
        ctx: &mut Ctx,
    ) {
        let (room, client_id) = (draft.frame.room.clone(), draft.frame.client_id.clone());
        let addr = match addr {
            Ok(a) => a,
            Err(e) => {
                let frame = error_frame(e.code(), e.to_string(), reference, Some(client_id));
                return self.answer_send(&room, ticket, frame, ctx);
            }
        };
        let msg = Post {
            user: self.user.id.clone(),
            session: Some(self.id.clone()),
            draft: draft.clone(),
            reference: reference.clone(),
        };
        let ask = addr.send(msg);
        self.answer_later(ask, ctx, move |act, res, ctx| {
            let err = match res {
                Ok(Ok(ack)) => return act.answer_send(&room, ticket, ServerFrame::Ack(ack), ctx),
                Ok(Err(e)) => e,
                Err(MailboxError::Closed) if retry => {
                    act.rooms.remove(&room);
                    act.with_room(room, ctx, move |act, addr, ctx| {
                        act.post(addr, draft, reference, ticket, false, ctx)
                    });
                    return;
                }
                Err(e) => ChatError::from(e),
            };
            let frame = error_frame(err.code(), err.to_string(), reference, Some(client_id));
            act.answer_send(&room, ticket, frame, ctx);
        });
    }

    /// Writes the answer to the `send` holding `ticket` in `room`, after the answers to every
    /// earlier `send` to that room (see `AckOrders`).
    fn answer_send(&mut self, room: &RoomId, ticket: u64, frame: ServerFrame, ctx: &mut Ctx) {
        let due = self.acks.answer(room, ticket, frame);
        for f in due {
            self.send_frame(f, ctx);
        }
    }

    /// Runs `work` and answers with its result as a frame (made by `frame`), or its error.
    fn answer_with<T: 'static>(
        &mut self,
        work: impl std::future::Future<Output = Result<T, ChatError>> + 'static,
        reference: Option<String>,
        client_id: Option<String>,
        frame: fn(T) -> ServerFrame,
        ctx: &mut Ctx,
    ) {
        self.answer_later(work, ctx, move |act, res, ctx| match res {
            Ok(v) => act.send_frame(frame(v), ctx),
            Err(e) => act.send_error(&e, reference, client_id, ctx),
        });
    }

    /// Runs `work` and answers only if it fails.
    fn answer_errors(
        &mut self,
        work: impl std::future::Future<Output = Result<(), ChatError>> + 'static,
        reference: Option<String>,
        ctx: &mut Ctx,
    ) {
        self.answer_later(work, ctx, move |act, res, ctx| {
            if let Err(e) = res {
                act.send_error(&e, reference, None, ctx);
            }
        });
    }

    /// Sends a message that answers only with an error (typing, read).
    fn ask_room<M>(
        &mut self,
        addr: Result<Addr<Room>, ChatError>,
        msg: M,
        reference: Option<String>,
        ctx: &mut Ctx,
    ) where
        M: Message<Result = Result<(), ChatError>> + Send + 'static,
        Room: Handler<M>,
    {
        let addr = match addr {
            Ok(a) => a,
            Err(e) => return self.send_error(&e, reference, None, ctx),
        };
        self.answer_later(addr.send(msg), ctx, move |act, res, ctx| {
            let res = res.map_err(ChatError::from).and_then(|r| r);
            if let Err(e) = res {
                act.send_error(&e, reference, None, ctx);
            }
        });
    }

    fn history(
        &mut self,
        f: crate::protocol::HistoryFrame,
        reference: Option<String>,
        ctx: &mut Ctx,
    ) {
        let (store, urls) = (self.deps.store.clone(), self.deps.media_urls.clone());
        let work = super::requests::history(store, urls, self.user.id.clone(), f);
        self.answer_later(work, ctx, move |act, res, ctx| match res {
            Ok(h) => act.send_frame(ServerFrame::History(HistoryOut { reference, ..h }), ctx),
            Err(e) => act.send_error(&e, reference, None, ctx),
        });
    }

    /// Every message after each cursor, room by room in seq order, then `synced`. Rooms the user
    /// is not in get a `not_member` error each.
    fn sync(&mut self, f: SyncFrame, reference: Option<String>, ctx: &mut Ctx) {
        let max = self.deps.settings.rooms.sync_max_per_room;
        let (store, urls) = (self.deps.store.clone(), self.deps.media_urls.clone());
        let work = super::requests::sync(store, urls, self.user.id.clone(), f, max);
        self.answer_later(work, ctx, move |act, res, ctx| match res {
            Ok(synced) => {
                let (frames, delivered) = synced.into_frames(reference, &act.user.id);
                for f in frames {
                    act.send_frame(f, ctx);
                }
                // What sync hands over counts as delivered to this device.
                for (room, seq) in delivered {
                    let user = act.user.id.clone();
                    act.with_room(room, ctx, move |_, addr, _| {
                        if let Ok(addr) = addr {
                            addr.do_send(MarkDelivered { user, seq });
                        }
                    });
                }
            }
            Err(e) => act.send_error(&e, reference, None, ctx),
        });
    }

    fn violation(&mut self, err: &WsError, ctx: &mut Ctx) {
        match err.close_code() {
            Some(code) => {
                tracing::info!(session = %self.id, reason = %err, "closing on protocol violation");
                self.close(Some((code, err.to_string())), ctx);
            }
            None => {
                tracing::debug!(session = %self.id, error = %err, "connection failed");
                ctx.stop();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Media attachments.
// ---------------------------------------------------------------------------------------------

impl WsSession {
    /// Checks a `send`'s attachments (the sender's own, ready media; see
    /// `Store::resolve_attachments`), then dispatches it again with them resolved. Waits, like
    /// room lookups, so the sends of this session keep their order.
    fn resolve_attachments(&mut self, mut d: Draft, reference: Option<String>, ctx: &mut Ctx) {
        let store = self.deps.store.clone();
        let user = self.user.id.clone();
        let max = self.deps.settings.media.max_attachments;
        let (room, ids) = (d.frame.room.clone(), d.frame.attachments.clone());
        let urls = self.deps.media_urls.clone();
        let work = async move {
            let resolved = store.resolve_attachments(&user, &room, &ids, max).await?;
            Ok::<_, ChatError>(crate::views::media_list(&resolved, &urls))
        };
        ctx.wait(work.into_actor(self).map(move |res, act, ctx| match res {
            Ok(resolved) => {
                d.media = Some(resolved);
                act.submit(d, reference, ctx);
            }
            Err(e) => act.send_error(&e, reference, Some(d.frame.client_id), ctx),
        }));
    }
}

impl WsSession {
    /// Checks that a `send`'s `reply_to` names a message of the same room (stored or still
    /// buffered; a deleted one counts), else answers `not_found`; then dispatches it again. Waits,
    /// like the attachments, so the sends of this session keep their order.
    fn check_reply(&mut self, mut d: Draft, reference: Option<String>, ctx: &mut Ctx) {
        let Some(target) = d.frame.reply_to.clone() else {
            d.reply_checked = true;
            return self.submit(d, reference, ctx);
        };
        let store = self.deps.store.clone();
        let work = async move { store.quote(&target).await };
        ctx.wait(work.into_actor(self).map(move |res, act, ctx| match res {
            Ok(Some((room, quote))) if room == d.frame.room => {
                d.reply_checked = true;
                d.quote = Some(crate::views::quote(quote));
                act.submit(d, reference, ctx);
            }
            Ok(_) => {
                let e = ChatError::NotFound("reply_to: no such message in this room");
                act.send_error(&e, reference, Some(d.frame.client_id), ctx);
            }
            Err(e) => act.send_error(&ChatError::from(e), reference, Some(d.frame.client_id), ctx),
        }));
    }
}

impl WsSession {
    /// Looks up the people a `send`'s body names as `@username` (the room keeps its members
    /// among them), then dispatches it again. No lookup, and no wait, when it names nobody.
    fn resolve_mentions(&mut self, mut d: Draft, reference: Option<String>, ctx: &mut Ctx) {
        let store = self.deps.store.clone();
        let body = d.frame.body.clone();
        let work = async move { store.named_users(&body).await };
        ctx.wait(work.into_actor(self).map(move |res, act, ctx| match res {
            Ok(named) => {
                d.named = Some(named);
                act.submit(d, reference, ctx);
            }
            Err(e) => act.send_error(&ChatError::from(e), reference, Some(d.frame.client_id), ctx),
        }));
    }
}

fn client_id_of(frame: &ClientFrame) -> Option<String> {
    match frame {
        ClientFrame::Send(f) => Some(f.client_id.clone()),
        ClientFrame::SendMany(f) => Some(f.client_id.clone()),
        _ => None,
    }
}

fn error_frame(
    code: ErrorCode,
    message: String,
    reference: Option<String>,
    client_id: Option<String>,
) -> ServerFrame {
    ServerFrame::Error(ErrorOut {
        code,
        message,
        reference,
        client_id,
    })
}

impl Actor for WsSession {
    type Context = Ctx;

    fn started(&mut self, ctx: &mut Ctx) {
        metrics::CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.heartbeat(ctx);
        let notice = self.shutdown.notice().into_actor(self);
        ctx.spawn(notice.map(|notice, act, ctx| act.go_away(notice, ctx)));
        let (deliver, inlet) = outbox::outlet(self.deps.settings.ws.outbox_capacity);
        ctx.add_stream(inlet);
        let handle = SessionHandle {
            id: self.id.clone(),
            user: self.user.id.clone(),
            token_hash: self.token_hash.clone(),
            deliver,
            close: ctx.address().recipient(),
        };
        let deps = self.deps.clone();
        let user = self.user.id.clone();
        let known = self.settings_known.then(|| self.settings.clone());
        let setup = async move {
            // Answered once Presence counted the session (see `SessionOpened`).
            deps.registry.send(SessionOpened { handle }).await?;
            let settings = async {
                match known {
                    Some(s) => Ok(s),
                    None => deps.store.settings(&user).await,
                }
            };
            let (settings, rooms) = tokio::join!(
                settings,
                deps.store
                    .rooms_for_user(&user, deps.settings.rooms.unread_count_max)
            );
            Ok::<_, ChatError>((crate::views::room_summaries(rooms?), settings?))
        };
        // Wait: no client frame is handled before `hello` is out.
        ctx.wait(setup.into_actor(self).map(|res, act, ctx| {
            act.setup_turn = None;
            match res {
                Ok((rooms, settings)) => {
                    act.settings = settings;
                    let hello = Hello {
                        user: act.user.clone(),
                        session: act.id.clone(),
                        server_time: now_ms(),
                        rooms,
                    };
                    act.send_frame(ServerFrame::Hello(hello), ctx);
                    // The presence snapshot (see `presence::SessionUp`) and anything else that
                    // came first.
                    for f in act.early.take().unwrap_or_default() {
                        act.write(&f, ctx);
                    }
                }
                Err(e) => {
                    tracing::error!(session = %act.id, error = %e, "session setup failed");
                    act.close(Some((close::TRY_AGAIN, "try again".into())), ctx);
                }
            }
        }));
    }

    fn stopped(&mut self, _ctx: &mut Ctx) {
        metrics::CONNECTIONS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.deps.registry.do_send(SessionClosed {
            user: self.user.id.clone(),
            session: self.id.clone(),
        });
    }
}

/// Frames from rooms and the registry (see `outbox::outlet`), everything queued at once.
impl StreamHandler<Vec<Arc<Outbound>>> for WsSession {
    fn handle(&mut self, frames: Vec<Arc<Outbound>>, ctx: &mut Ctx) {
        for frame in frames {
            if let ServerFrame::Settings(s) = &frame.frame {
                self.settings = s.settings.clone();
            }
            match self.early.as_mut() {
                Some(early) => early.push(frame),
                None => self.write(&frame, ctx),
            }
        }
    }

    /// The inlet never ends while the session holds it.
    fn finished(&mut self, _ctx: &mut Ctx) {}
}

impl Handler<CloseSession> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, ctx: &mut Ctx) {
        self.close(Some((msg.code, msg.reason)), ctx);
    }
}

impl StreamHandler<Result<InFrame, WsError>> for WsSession {
    fn handle(&mut self, item: Result<InFrame, WsError>, ctx: &mut Ctx) {
        let msg = match item {
            Ok(m) => m,
            Err(e) => return self.violation(&e, ctx),
        };
        match msg {
            InFrame::Text(t) => self.on_data(&t, WireFormat::Json, ctx),
            InFrame::Binary(b) => self.on_data(&b, WireFormat::MsgPack, ctx),
            InFrame::Ping(p) => {
                self.last_heard = Instant::now();
                self.push(frame::encode(frame::OP_PONG, &p), ctx);
            }
            InFrame::Pong => self.last_heard = Instant::now(),
            InFrame::Close(reason) => {
                let code = reason.map_or(close::NORMAL, |(code, _)| code);
                self.client_closed(code, ctx);
            }
        }
    }

    /// The socket's read side ended (after the client's close frame, or the connection broke):
    /// a session that is leaving finishes what it received first; otherwise it stops.
    fn finished(&mut self, ctx: &mut Ctx) {
        if self.leave_with.is_none() {
            ctx.stop();
        }
    }
}

/// Starts a session on an upgraded WebSocket.
pub fn start(session: WsSession, reader: Reader, writer: Writer) -> Addr<WsSession> {
    let capacity = session.deps.settings.ws.outbox_capacity;
    run(
        session,
        Transport::Socket(Outgoing::new(writer, capacity)),
        reader,
    )
}

/// Starts `session` writing to `out` and reading `input`.
fn run(
    mut session: WsSession,
    out: Transport,
    input: impl futures_util::Stream<Item = Result<InFrame, WsError>> + 'static,
) -> Addr<WsSession> {
    session.out = out;
    WsSession::create(|ctx| {
        ctx.add_stream(input);
        session
    })
}

// ---------------------------------------------------------------------------------------------
// Sessions behind another transport (Socket.IO).
// ---------------------------------------------------------------------------------------------

/// What another transport hands a session: what a WebSocket client would send.
#[derive(Debug)]
pub enum PipeIn {
    /// A protocol v1 client frame as JSON.
    Text(String),
    /// An answer to the session's heartbeat ping.
    Pong,
}

/// What a session writes toward another transport.
#[derive(Debug)]
pub enum PipeOut {
    /// A protocol v1 server frame as JSON.
    Text(Bytes),
    /// A heartbeat ping; answer with [`PipeIn::Pong`].
    Ping,
    /// The session closed with this close code and reason (none: a plain end).
    Close(Option<(u16, String)>),
}

/// Starts `session` behind a transport other than `/ws`: the session actor, its limits, its
/// ordering and its heartbeat are exactly those of `/ws`. Dropping `input` ends the session; the
/// returned stream ends when the session does.
///
/// Flow control: the session's frames wait in a queue of `ws.outbox_capacity`; a transport that
/// stops taking them lets it fill, and the session is dropped as too slow (`slow::Backlog::Pipe`:
/// no close frame, the stream just ends), as on `/ws`.
pub fn start_piped(
    session: WsSession,
    input: impl futures_util::Stream<Item = PipeIn> + 'static,
) -> impl futures_util::Stream<Item = PipeOut> {
    use futures_util::StreamExt;

    let (tx, rx) = mpsc::channel(session.deps.settings.ws.outbox_capacity);
    let inbound = input.map(|item| {
        Ok(match item {
            PipeIn::Text(t) => InFrame::Text(Bytes::from(t)),
            PipeIn::Pong => InFrame::Pong,
        })
    });
    run(session, Transport::Pipe(tx), inbound);
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|out| (out, rx)) },
    )
}
