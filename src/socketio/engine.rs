//! One Engine.IO v4 connection, and the Socket.IO socket on it: a task that owns the packet
//! queue toward the client, the transport (long-polling, or a WebSocket after the upgrade), the
//! ping/pong heartbeat, and the chat session once the client sent CONNECT with a valid token.
//!
//! Flow control: the task takes frames from the session only while fewer than
//! `ws.outbox_capacity` packets wait for the client, so a client that does not read stalls its
//! session, which is then dropped as too slow by the same rule as on `/ws` (`actors::slow`; see
//! `session::start_piped`).

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use super::bridge::{Bridge, Inbound};
use super::packet::{out, socket_out, EnginePacket, Kind, SocketPacket, RECORD_SEPARATOR};
use crate::actors::session::{self, PipeIn, PipeOut, SessionDeps, WsSession};
use crate::actors::slow::{self, Backlog};
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::close;
use crate::protocol::WireFormat;
use crate::services::auth::{account_for_token, Authenticated};
use crate::shutdown;
use crate::transport::{plausible_token, session_room_for, user_out};

/// Commands the HTTP handlers send to a connection's task.
#[derive(Debug)]
pub enum Cmd {
    /// Packets from a long-polling POST.
    Packets(Vec<EnginePacket>),
    /// A long-polling GET waits for packets.
    Poll(oneshot::Sender<PollAnswer>),
    /// A WebSocket opened for this connection (the upgrade's probe), and its writer.
    WsOpen { ws: u64, tx: mpsc::Sender<WsOut> },
    /// A packet read from WebSocket `ws`.
    WsPacket { ws: u64, packet: EnginePacket },
    /// WebSocket `ws` is gone.
    WsClosed { ws: u64 },
    /// The client broke the protocol or a limit: close the connection.
    Abort(&'static str),
}

/// The answer to a long-polling GET.
#[derive(Debug)]
pub enum PollAnswer {
    /// Packets separated by U+001E.
    Packets(String),
    /// The poll is refused (HTTP 400) with this message.
    Refused(&'static str),
}

/// What the connection writes to a WebSocket.
#[derive(Debug)]
pub enum WsOut {
    Text(String),
    Pong(Bytes),
    Close(u16, String),
}

/// Live connections by Engine.IO session id, shared by every HTTP worker.
#[derive(Clone, Default)]
pub struct Engines(Arc<Mutex<HashMap<String, mpsc::Sender<Cmd>>>>);

impl Engines {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<Cmd>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The command channel of connection `sid`.
    pub fn get(&self, sid: &str) -> Option<mpsc::Sender<Cmd>> {
        self.map().get(sid).cloned()
    }

    fn insert(&self, sid: String, tx: mpsc::Sender<Cmd>) {
        self.map().insert(sid, tx);
    }

    fn remove(&self, sid: &str) {
        self.map().remove(sid);
    }
}

/// Numbers WebSockets, so a refused second WebSocket closing does not end the first.
pub fn next_ws_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A random id (Engine.IO and Socket.IO session ids).
pub fn random_id() -> String {
    crate::ids::random_urlsafe(15)
}

/// The Socket.IO socket once CONNECT was accepted.
struct Socket {
    /// Client frames toward the session; dropping it ends the session.
    input: mpsc::Sender<PipeIn>,
    bridge: Bridge,
}

/// A refused CONNECT: the `connect_error` message (`code: explanation`), and for a refusal that
/// `/ws` answers with an HTTP error, that error's body as the packet's `data`.
struct Refused {
    message: &'static str,
    data: Option<Value>,
}

impl From<&'static str> for Refused {
    fn from(message: &'static str) -> Self {
        Self {
            message,
            data: None,
        }
    }
}

/// A binary packet waiting for its attachments. Their bytes are never kept (no protocol v1 frame
/// has binary fields, so every binary event is refused): only how many have come.
struct Partial {
    packet: SocketPacket,
    attachments: usize,
}

type SessionOutput = Pin<Box<dyn Stream<Item = PipeOut>>>;

/// One Engine.IO connection (see the module doc).
pub struct Connection {
    sid: String,
    /// What the chat session started on CONNECT needs.
    deps: SessionDeps,
    engines: Engines,
    /// Encoded packets waiting for the transport.
    queue: VecDeque<String>,
    /// Most packets queued before the session is no longer read.
    capacity: usize,
    /// A long-polling GET waiting for packets.
    poll: Option<oneshot::Sender<PollAnswer>>,
    /// The WebSocket transport, once upgraded (or from the start).
    ws: Option<(u64, mpsc::Sender<WsOut>)>,
    /// A WebSocket probing for the upgrade.
    probe: Option<(u64, mpsc::Sender<WsOut>)>,
    socket: Option<Socket>,
    partial: Option<Partial>,
    /// When the client must have answered the last ping.
    pong_due: Option<Instant>,
    /// CONNECTs refused so far (each costs a token lookup); see [`MAX_FAILED_CONNECTS`].
    failed_connects: u32,
    /// The server's shutdown notice; holds shutdown back until this connection is closed.
    shutdown: shutdown::Listener,
}

/// Why a connection ends when the server shuts down: closed with 1001 (on a WebSocket) or the
/// Engine.IO close packet (polling), and no Socket.IO DISCONNECT, so socket.io-client reconnects
/// (to this server once it is back, or another node) and syncs.
const GOING_AWAY: &str = "server going away";

/// CONNECTs refused on one connection before it is closed: a client that cannot log in after a
/// few tries is not retrying with a fresh token, it is probing (each try is a database lookup).
const MAX_FAILED_CONNECTS: u32 = 3;

/// Answers to the client's own packets that may wait beyond `ws.outbox_capacity`.
const ANSWER_SLACK: usize = 64;

impl Connection {
    /// Registers a new connection and starts its task on the current worker. With `ws`, the
    /// connection starts on that WebSocket (no polling). Returns the Engine.IO session id and the
    /// handshake packet.
    pub fn start(
        deps: SessionDeps,
        engines: Engines,
        ws: Option<(u64, mpsc::Sender<WsOut>)>,
    ) -> (String, mpsc::Sender<Cmd>, String) {
        let sid = random_id();
        let cfg = &deps.settings.socketio;
        // Only long-polling can be upgraded.
        let upgrades: &[&str] = if ws.is_some() { &[] } else { &["websocket"] };
        let open = out::open(
            &sid,
            upgrades,
            cfg.ping_interval_ms,
            cfg.ping_timeout_ms,
            cfg.max_payload,
        );
        let (tx, rx) = mpsc::channel(64);
        let shutdown = deps.shutdown.listen();
        let mut conn = Connection {
            sid: sid.clone(),
            capacity: deps.settings.ws.outbox_capacity.max(1),
            deps,
            engines: engines.clone(),
            queue: VecDeque::new(),
            poll: None,
            ws: None,
            probe: None,
            socket: None,
            partial: None,
            pong_due: None,
            failed_connects: 0,
            shutdown,
        };
        if ws.is_some() {
            conn.ws = ws;
            conn.queue.push_back(open.clone());
        }
        engines.insert(sid.clone(), tx.clone());
        tracing::debug!(sid = %sid, "engine.io connection opened");
        actix_web::rt::spawn(conn.run(rx));
        (sid, tx, open)
    }

    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let cfg = self.deps.settings.socketio.clone();
        let interval = Duration::from_millis(cfg.ping_interval_ms.max(1));
        let timeout = Duration::from_millis(cfg.ping_timeout_ms.max(1));
        let mut next_ping = Instant::now() + interval;
        let mut output: Option<SessionOutput> = None;
        // After the shutdown notice, a socket's session answers what it received and closes (see
        // `on_output`); then the connection closes as soon as its close can reach the client,
        // at `close_by` at the latest.
        let notice = self.shutdown.notice();
        tokio::pin!(notice);
        let mut leave_by: Option<Instant> = None;
        let why = loop {
            self.flush();
            let leaving = leave_by.is_some() && self.socket.is_none() && output.is_none();
            if leaving && self.close_can_go_out() {
                break GOING_AWAY;
            }
            let room = self.queue.len() < self.capacity;
            let ws_backlog = self.ws.is_some() && (!self.queue.is_empty() || leaving);
            let pong_due = self.pong_due;
            tokio::select! {
                cmd = cmds.recv() => {
                    let Some(cmd) = cmd else { break "server stopping" };
                    if let Err(why) = self.on_cmd(cmd, &mut output).await {
                        break why;
                    }
                }
                item = next_output(&mut output), if room => {
                    if let Err(why) = self.on_output(item, &mut output) {
                        break why;
                    }
                }
                open = ws_room(&self.ws), if ws_backlog => {
                    if !open {
                        break "websocket closed";
                    }
                }
                () = sleep_until(next_ping) => {
                    self.queue.push_back(out::PING.into());
                    next_ping = Instant::now() + interval;
                    self.pong_due.get_or_insert(Instant::now() + timeout);
                }
                () = sleep_until(pong_due.unwrap_or(next_ping)), if pong_due.is_some() => break "ping timeout",
                n = &mut notice, if leave_by.is_none() => leave_by = Some(n.close_by),
                () = sleep_until(leave_by.unwrap_or(next_ping)), if leave_by.is_some() => break GOING_AWAY,
            }
        };
        // A poll already sent gets what is queued (a last `connect_error`, say) and the close.
        cmds.close();
        while let Ok(cmd) = cmds.try_recv() {
            if let (Cmd::Poll(tx), None) = (cmd, &self.poll) {
                self.poll = Some(tx);
            }
        }
        self.close(why);
    }

    async fn on_cmd(
        &mut self,
        cmd: Cmd,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), &'static str> {
        match cmd {
            Cmd::Packets(packets) => {
                for p in packets {
                    self.on_packet(p, output).await?;
                }
            }
            Cmd::Poll(tx) => {
                if self.ws.is_some() {
                    // A poll whose request went away needs no answer.
                    let _ = tx.send(PollAnswer::Refused(
                        "the connection was upgraded to websocket",
                    ));
                } else if self.poll.as_ref().is_some_and(|p| !p.is_closed()) {
                    // A poll whose request went away needs no answer.
                    let _ = tx.send(PollAnswer::Refused("overlapping polls"));
                    return Err("overlapping polls");
                } else {
                    self.poll = Some(tx);
                }
            }
            Cmd::WsOpen { ws, tx } => {
                if self.ws.is_some() || self.probe.is_some() {
                    // Full or gone: that socket is being dropped either way.
                    let _ = tx.try_send(WsOut::Close(close::POLICY, "already upgraded".into()));
                } else {
                    self.probe = Some((ws, tx));
                }
            }
            Cmd::WsPacket { ws, packet } => {
                let probing = self.probe.as_ref().is_some_and(|(id, _)| *id == ws);
                match packet {
                    EnginePacket::Ping(data) if probing && data == "probe" => {
                        if let Some((_, tx)) = &self.probe {
                            // A probe that cannot take its answer fails; the client keeps polling.
                            let _ = tx.try_send(WsOut::Text(out::PROBE_ANSWER.into()));
                        }
                        // Let a waiting poll return, so the client can pause polling.
                        if self.poll.is_some() {
                            self.queue.push_back(out::NOOP.into());
                        }
                    }
                    EnginePacket::Upgrade if probing => {
                        if let Some(poll) = self.poll.take() {
                            // A poll whose request went away needs no answer.
                            let _ = poll.send(PollAnswer::Packets(out::NOOP.into()));
                        }
                        self.ws = self.probe.take();
                        tracing::debug!(sid = %self.sid, "engine.io connection upgraded to websocket");
                    }
                    p if self.ws.as_ref().is_some_and(|(id, _)| *id == ws) => {
                        self.on_packet(p, output).await?
                    }
                    // A WebSocket refused (a second one) or still probing: it is being closed.
                    p => {
                        tracing::debug!(sid = %self.sid, ws, packet = ?p, "packet from a websocket that is not the transport")
                    }
                }
            }
            Cmd::WsClosed { ws } => {
                if self.ws.as_ref().is_some_and(|(id, _)| *id == ws) {
                    return Err("websocket closed");
                }
                if self.probe.as_ref().is_some_and(|(id, _)| *id == ws) {
                    self.probe = None;
                }
            }
            Cmd::Abort(why) => return Err(why),
        }
        Ok(())
    }

    async fn on_packet(
        &mut self,
        packet: EnginePacket,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), &'static str> {
        // Session output waits while the queue is full (see `run`), but answers to the client's
        // own packets (pongs, errors) are queued at once: a client that keeps sending them
        // without reading is closed rather than buffered for.
        let answered = matches!(packet, EnginePacket::Ping(_) | EnginePacket::Message(_));
        if answered && self.queue.len() >= self.capacity + ANSWER_SLACK {
            // Always `Drop`: the close could only wait behind the answers.
            let _ = slow::judge_connection(Backlog::Answers, &self.sid);
            return Err("too many packets waiting for the client");
        }
        match packet {
            EnginePacket::Close => return Err("closed by the client"),
            EnginePacket::Pong(_) => self.pong_due = None,
            EnginePacket::Ping(data) => self.queue.push_back(format!("3{data}")),
            EnginePacket::Message(text) => self.on_socket_packet(&text, output).await?,
            EnginePacket::Binary(_) => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err("binary data without a binary packet");
                };
                partial.attachments += 1;
                if partial.attachments == partial.packet.attachments {
                    if let Some(done) = self.partial.take() {
                        self.on_binary(done)?;
                    }
                }
            }
            EnginePacket::Upgrade | EnginePacket::Noop => {}
        }
        Ok(())
    }

    async fn on_socket_packet(
        &mut self,
        text: &str,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), &'static str> {
        let packet = SocketPacket::parse(text).map_err(|e| {
            tracing::debug!(sid = %self.sid, error = %e, "malformed socket.io packet");
            "malformed socket.io packet"
        })?;
        if self.partial.is_some() {
            return Err("a packet arrived before the attachments of a binary packet");
        }
        if packet.nsp != "/" {
            if packet.kind == Kind::Connect {
                self.queue.push_back(out::message(&format!(
                    "4{},{}",
                    packet.nsp,
                    serde_json::json!({"message": "Invalid namespace"})
                )));
            }
            return Ok(());
        }
        match packet.kind {
            Kind::Connect => self.connect(packet.data, output).await?,
            Kind::Disconnect => {
                // The session ends once its input does; its output is read to the end (so it
                // deregisters normally) and then dropped.
                self.socket = None;
            }
            Kind::Event => self.on_event(packet.data, packet.id)?,
            Kind::BinaryEvent | Kind::BinaryAck if packet.attachments > 0 => {
                self.partial = Some(Partial {
                    packet,
                    attachments: 0,
                });
            }
            Kind::BinaryEvent => self.on_event(packet.data, packet.id)?,
            // The server asks for no acknowledgements; a client never sends CONNECT_ERROR.
            Kind::Ack | Kind::BinaryAck | Kind::ConnectError => {}
        }
        Ok(())
    }

    /// A binary packet with all its attachments. No protocol v1 frame has binary fields, so an
    /// event carrying binary data is answered with `invalid`.
    fn on_binary(&mut self, done: Partial) -> Result<(), &'static str> {
        let mut data = done.packet.data.unwrap_or(Value::Null);
        let stand_ins = vec![Bytes::new(); done.attachments];
        let filled = SocketPacket::fill_placeholders(&mut data, &stand_ins, &|_| Value::Null);
        if done.packet.kind != Kind::BinaryEvent {
            return Ok(());
        }
        if filled.is_none() {
            return Err("a binary placeholder without its attachment");
        }
        let Some(socket) = self.socket.as_ref() else {
            return Ok(());
        };
        let msg = "binary attachments are not supported: upload files with POST /api/media and send their ids";
        if let Inbound::Answer(a) = socket.bridge.refuse(done.packet.id, "invalid", msg) {
            self.queue.push_back(a);
        }
        Ok(())
    }

    fn on_event(&mut self, data: Option<Value>, ack: Option<u64>) -> Result<(), &'static str> {
        // Events before CONNECT are ignored, as Socket.IO servers do.
        let Some(socket) = self.socket.as_mut() else {
            return Ok(());
        };
        match socket.bridge.inbound(data, ack) {
            Inbound::Frame(frame) => match socket.input.try_send(PipeIn::Text(frame)) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Err("too many frames waiting for the session")
                }
                // The session is ending; its output will say why.
                Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            },
            Inbound::Answer(a) => {
                self.queue.push_back(a);
                Ok(())
            }
        }
    }

    /// CONNECT: `auth` must be `{token}` with the same token as `/ws`. After
    /// [`MAX_FAILED_CONNECTS`] refusals the connection is closed (the last `connect_error` is
    /// flushed with the close).
    async fn connect(
        &mut self,
        auth: Option<Value>,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), &'static str> {
        if self.socket.is_some() {
            return Ok(()); // already connected
        }
        if output.is_some() {
            self.queue.push_back(socket_out::connect_error(
                "unavailable: the previous socket is still closing, try again",
            ));
            return Ok(());
        }
        if let Err(refused) = self.try_connect(auth, output).await {
            self.queue.push_back(match refused.data {
                Some(data) => socket_out::connect_error_with_data(refused.message, &data),
                None => socket_out::connect_error(refused.message),
            });
            self.failed_connects += 1;
            if self.failed_connects >= MAX_FAILED_CONNECTS {
                return Err("too many refused connects");
            }
        }
        Ok(())
    }

    /// Looks the token up, checks the per-user session cap (the `/ws` rule) and starts the
    /// session; what to answer with `connect_error` if refused.
    async fn try_connect(
        &mut self,
        auth: Option<Value>,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), Refused> {
        let token = plausible_token(
            auth.as_ref()
                .and_then(|a| a.get("token"))
                .and_then(Value::as_str),
        );
        if token.is_none() {
            return Err("unauthorized: connect with auth {token}".into());
        }
        let Authenticated { user, token_hash } =
            match account_for_token(&self.deps.store, token).await {
                Ok(found) => found,
                Err(ChatError::Unauthorized) => {
                    return Err("unauthorized: invalid or expired token".into())
                }
                Err(e) => {
                    tracing::error!(sid = %self.sid, error = %e, "token lookup failed");
                    return Err("unavailable: try again".into());
                }
            };
        // The same cap as `/ws`, counted over both kinds of sessions: 429 there, and here the
        // same error body as the `connect_error`'s data.
        if let Err(e) = session_room_for(&self.deps, &UserId(user.id.clone())).await {
            let message = match e {
                ChatError::Throttled { .. } => "rate_limited: too many sessions open for this user",
                _ => "unavailable: try again",
            };
            let mut body = serde_json::json!({
                "error": {"code": e.code(), "message": e.to_string()},
            });
            if let ChatError::Throttled { retry_after_secs } = e {
                body["retry_after_secs"] = Value::from(retry_after_secs);
            }
            return Err(Refused {
                message,
                data: Some(body),
            });
        }
        // "Last used" in the owner's list of sessions, as for `/ws`.
        self.deps.store.note_token_used(&token_hash);
        let session = WsSession::new(
            user_out(&user),
            token_hash,
            WireFormat::Json,
            self.deps.clone(),
        );
        let (input, mut rx) = mpsc::channel(self.capacity);
        let frames = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        *output = Some(Box::pin(session::start_piped(session, frames)));
        let socket_sid = random_id();
        self.socket = Some(Socket {
            input,
            bridge: Bridge::new(format!("sio:{socket_sid}:")),
        });
        self.queue.push_back(socket_out::connect(&socket_sid));
        tracing::debug!(sid = %self.sid, user = %user.id, "socket.io socket connected");
        Ok(())
    }

    fn on_output(
        &mut self,
        item: PipeOut,
        output: &mut Option<SessionOutput>,
    ) -> Result<(), &'static str> {
        match item {
            PipeOut::Text(json) => {
                let (Some(socket), Ok(json)) = (self.socket.as_mut(), std::str::from_utf8(&json))
                else {
                    return Ok(());
                };
                if let Some(packet) = socket.bridge.outbound(json) {
                    self.queue.push_back(packet);
                }
            }
            // The client's liveness is the Engine.IO heartbeat's job; the session's own ping is
            // answered here.
            PipeOut::Ping => {
                if let Some(socket) = &self.socket {
                    // A session too busy for a pong has heard from the client anyway.
                    let _ = socket.input.try_send(PipeIn::Pong);
                }
            }
            PipeOut::Close(reason) => {
                *output = None;
                if self.socket.take().is_none() {
                    return Ok(()); // the client disconnected the socket
                }
                let code = reason.as_ref().map(|(c, _)| *c);
                tracing::debug!(sid = %self.sid, ?reason, "session closed by the server");
                if code == Some(close::GOING_AWAY) && self.shutdown.heard() {
                    // The session answered what it had; `run` closes the connection.
                    return Ok(());
                }
                if code == Some(close::LOGGED_OUT) {
                    // A server-side disconnect: the client does not reconnect by itself.
                    self.queue.push_back(socket_out::disconnect());
                    return Ok(());
                }
                // Anything else (timed out, setup failed; a session dropped as too slow ends its
                // stream without a close, see `actors::slow`): close the connection, and the
                // client reconnects and syncs.
                return Err("session closed");
            }
        }
        Ok(())
    }

    /// Hands queued packets to the transport.
    fn flush(&mut self) {
        if let Some((_, ws)) = &self.ws {
            while let Some(p) = self.queue.pop_front() {
                match ws.try_send(WsOut::Text(p)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(WsOut::Text(p))) => {
                        self.queue.push_front(p);
                        break;
                    }
                    Err(_) => {
                        self.queue.clear();
                        break;
                    }
                }
            }
        } else if !self.queue.is_empty() && self.poll.as_ref().is_some_and(|p| !p.is_closed()) {
            if let Some(poll) = self.poll.take() {
                let body = self.take_queue();
                // The request may have gone; the packets are lost with the connection then.
                let _ = poll.send(PollAnswer::Packets(body));
            }
        }
    }

    /// Whether a close can be handed to the client now: on a WebSocket, with nothing queued
    /// before it and room in the socket's queue; when polling, in the answer to a waiting poll.
    fn close_can_go_out(&self) -> bool {
        match &self.ws {
            Some((_, tx)) => self.queue.is_empty() && tx.capacity() > 0,
            None => self.poll.as_ref().is_some_and(|p| !p.is_closed()),
        }
    }

    fn take_queue(&mut self) -> String {
        let mut body = String::new();
        for (i, p) in self.queue.drain(..).enumerate() {
            if i > 0 {
                body.push(RECORD_SEPARATOR);
            }
            body.push_str(&p);
        }
        body
    }

    /// Ends the connection: flushes what is queued with a close, forgets the session id, and
    /// drops the session (which deregisters everywhere as it stops).
    fn close(mut self, why: &'static str) {
        tracing::debug!(sid = %self.sid, why, "engine.io connection closed");
        self.engines.remove(&self.sid);
        let code = if why == GOING_AWAY {
            close::GOING_AWAY
        } else {
            close::NORMAL
        };
        // Best effort on the way out: a socket that cannot take these is closing anyway.
        if let Some((_, ws)) = self.ws.take() {
            for p in self.queue.drain(..) {
                // Full or gone: that socket is being dropped either way.
                let _ = ws.try_send(WsOut::Text(p));
            }
            // Full or gone: that socket is being dropped either way.
            let _ = ws.try_send(WsOut::Close(code, why.into()));
        } else if let Some(poll) = self.poll.take() {
            self.queue.push_back(out::CLOSE.into());
            let body = self.take_queue();
            // The request may have gone; nobody is left to read the last packets then.
            let _ = poll.send(PollAnswer::Packets(body));
        }
        if let Some((_, probe)) = self.probe.take() {
            // Full or gone: that socket is being dropped either way.
            let _ = probe.try_send(WsOut::Close(code, why.into()));
        }
    }
}

async fn next_output(output: &mut Option<SessionOutput>) -> PipeOut {
    match output {
        Some(o) => o.next().await.unwrap_or(PipeOut::Close(None)),
        None => std::future::pending().await,
    }
}

/// Waits until the WebSocket can take a packet; false if it is gone.
async fn ws_room(ws: &Option<(u64, mpsc::Sender<WsOut>)>) -> bool {
    match ws {
        Some((_, tx)) => tx.reserve().await.is_ok(),
        None => std::future::pending().await,
    }
}
