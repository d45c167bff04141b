//! The subcommands: over HTTP (accounts, rooms) and over the WebSocket (send, history, listen,
//! chat).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chat_protocol::{Ack, ClientFrame, ErrorOut, Hello, MessageOut, SendFrame, ServerFrame};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{interval_at, sleep_until, Instant, Interval, MissedTickBehavior};
use tracing::{debug, warn};
use uuid::Uuid;

use chat_protocol::api::auth::{Login, Register, SignedIn};
use chat_protocol::api::people::{PublicProfile, UserBody};
use chat_protocol::api::rooms::{
    CreateGroup, CreatedGroup, MemberOut, OpenDm, RoomBody, RoomsBody,
};

use crate::api::{checked, fetch, Api};
use crate::conn::{describe, error_concerns, Connection, REPLY_TIMEOUT};
use crate::output::{emit, event_line, format_line, message_line, one_line, Names};

/// How often long-running modes send a protocol `ping`.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(20);
/// Messages shown when `chat` starts.
pub(crate) const CHAT_BACKLOG: u32 = 20;
/// At most this many rooms are asked for their member names when listening to everything.
pub(crate) const MAX_ROOMS_TO_NAME: usize = 50;

// ---------------------------------------------------------------------------------------------
// Commands over HTTP
// ---------------------------------------------------------------------------------------------

pub(crate) async fn register(
    api: &Api,
    username: &str,
    display_name: Option<String>,
    password: Option<String>,
) -> Result<()> {
    let password = read_password(password)?;
    let body = Register {
        username: username.to_owned(),
        password,
        display_name,
    };
    let auth: SignedIn = fetch(
        api.public(Method::POST, &["api", "auth", "register"])?
            .json(&body),
    )
    .await
    .context("registering")?;
    emit(auth.token)
}

pub(crate) async fn login(api: &Api, username: &str, password: Option<String>) -> Result<()> {
    let password = read_password(password)?;
    let body = Login {
        username: username.to_owned(),
        password,
    };
    let auth: SignedIn = fetch(
        api.public(Method::POST, &["api", "auth", "login"])?
            .json(&body),
    )
    .await
    .context("logging in")?;
    emit(auth.token)
}

pub(crate) async fn logout(api: &Api) -> Result<()> {
    checked(api.authed(Method::POST, &["api", "auth", "logout"])?)
        .await
        .context("logging out")?;
    Ok(())
}

pub(crate) async fn list_rooms(api: &Api) -> Result<()> {
    let list: RoomsBody = fetch(api.authed(Method::GET, &["api", "rooms"])?).await?;
    for room in list.rooms {
        let name = room
            .name
            .as_deref()
            .map_or_else(|| "-".to_owned(), one_line);
        emit(format_args!(
            "{}\t{}\t{}\tlast_seq={}\tunread={}",
            room.id, room.kind, name, room.last_seq, room.unread
        ))?;
    }
    Ok(())
}

pub(crate) async fn open_dm(api: &Api, username: &str) -> Result<()> {
    let user = resolve_user(api, username).await?;
    let body = OpenDm { user: user.id };
    let created: RoomBody = fetch(api.authed(Method::POST, &["api", "dms"])?.json(&body))
        .await
        .with_context(|| format!("opening the dm with {username}"))?;
    emit(created.room.id)
}

pub(crate) async fn create_group(api: &Api, name: &str, usernames: &[String]) -> Result<()> {
    let mut members = Vec::with_capacity(usernames.len());
    for username in usernames {
        members.push(resolve_user(api, username).await?.id);
    }
    let body = CreateGroup {
        name: name.to_owned(),
        members,
    };
    let created: CreatedGroup = fetch(api.authed(Method::POST, &["api", "rooms"])?.json(&body))
        .await
        .context("creating the group")?;
    emit(created.room.id)
}

pub(crate) async fn resolve_user(api: &Api, username: &str) -> Result<PublicProfile> {
    let found: UserBody<PublicProfile> =
        fetch(api.authed(Method::GET, &["api", "users", "by-name", username])?)
            .await
            .with_context(|| format!("looking up user {username:?}"))?;
    Ok(found.user)
}

/// Best effort: asks `GET /api/rooms/{id}` for member lists so output can show usernames
/// instead of ids. Stops at the first failure (e.g. a server without that endpoint).
pub(crate) async fn learn_members(api: &Api, rooms: &[String], names: &mut Names) {
    for room in rooms {
        match room_members(api, room).await {
            Ok(members) => names.learn_all(&members),
            Err(err) => {
                debug!("no member list for room {room}: {err:#}");
                break;
            }
        }
    }
}

pub(crate) async fn room_members(api: &Api, room: &str) -> Result<Vec<MemberOut>> {
    let found: RoomBody = fetch(api.authed(Method::GET, &["api", "rooms", room])?).await?;
    Ok(found.room.members)
}

/// The password from `--password`/`CHAT_PASSWORD`, or else one line of stdin.
pub(crate) fn read_password(given: Option<String>) -> Result<String> {
    if let Some(password) = given {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (echoed): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password: use --password, CHAT_PASSWORD or one line on stdin");
    }
    Ok(password.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Commands over the WebSocket
// ---------------------------------------------------------------------------------------------

pub(crate) async fn send_one(api: &Api, room: &str, body: &str) -> Result<()> {
    if body.trim().is_empty() {
        bail!("refusing to send an empty message");
    }
    let mut conn = Connection::open(api).await?;
    let client_id = Uuid::new_v4().to_string();
    let frame = ClientFrame::Send(SendFrame::new(
        room.into(),
        client_id.clone(),
        body.to_owned(),
    ));
    let ack = conn
        .request(&frame, None, "the ack", |incoming| match &incoming.frame {
            Some(ServerFrame::Ack(ack)) if ack.client_id == client_id => Some(Ok(ack.clone())),
            Some(ServerFrame::Error(err)) if error_concerns(err, &client_id) => {
                Some(Err(anyhow!("message not sent: {}", describe(err))))
            }
            _ => None,
        })
        .await?;
    emit(format_args!("seq={} id={}", ack.seq, ack.id))?;
    conn.close().await;
    Ok(())
}

pub(crate) async fn history(
    api: &Api,
    room: &str,
    limit: Option<u32>,
    before: Option<i64>,
) -> Result<()> {
    let mut conn = Connection::open(api).await?;
    let mut names = Names::from_hello(&conn.hello);
    learn_members(api, &[room.to_owned()], &mut names).await;
    let page = conn.history(room, before, limit).await?;
    for message in &page.messages {
        emit(format_args!(
            "[{}] {}: {}",
            message.seq,
            names.label_id(message.from.as_str()),
            crate::output::message_text(message)
        ))?;
    }
    if page.has_more {
        if let Some(oldest) = page.messages.first() {
            eprintln!("(older messages exist: --before {})", oldest.seq);
        }
    }
    conn.close().await;
    Ok(())
}

pub(crate) async fn listen(api: &Api, rooms: Vec<String>, json: bool) -> Result<()> {
    let mut conn = Connection::open(api).await?;
    let mut names = Names::from_hello(&conn.hello);
    let filter = RoomFilter(rooms.iter().cloned().collect());
    if json {
        emit(&conn.hello_raw)?;
    } else {
        let to_name: Vec<String> = if rooms.is_empty() {
            conn.hello
                .rooms
                .iter()
                .take(MAX_ROOMS_TO_NAME)
                .map(|r| r.id.to_string())
                .collect()
        } else {
            rooms
        };
        learn_members(api, &to_name, &mut names).await;
    }

    let mut ping = ping_timer();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ping.tick() => conn.send(&ClientFrame::Ping, None).await?,
            incoming = conn.next() => {
                let incoming = incoming?.context("the server closed the connection")?;
                if !filter.allows(&incoming.raw) {
                    continue;
                }
                if let Some(ServerFrame::Error(err)) = &incoming.frame {
                    eprintln!("server error: {}", describe(err));
                }
                if json {
                    emit(&incoming.raw)?;
                } else if let Some(line) = incoming.frame.as_ref().and_then(|f| event_line(f, &names)) {
                    emit(line)?;
                }
            }
        }
    }
    conn.close().await;
    Ok(())
}

pub(crate) async fn chat(api: &Api, room: String) -> Result<()> {
    let mut conn = Connection::open(api).await?;
    let mut view = ChatView::new(room, &conn.hello);
    learn_members(api, &[view.room.clone()], &mut view.names).await;
    let page = conn.history(&view.room, None, Some(CHAT_BACKLOG)).await?;
    for message in &page.messages {
        view.show(message)?;
    }

    let mut input = spawn_stdin_reader()?;
    let mut input_open = true;
    // Once stdin ends, wait this long for the acks of what was already sent.
    let mut drain_deadline = Instant::now();
    let mut ping = ping_timer();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if !input_open && view.pending.is_empty() {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ping.tick() => conn.send(&ClientFrame::Ping, None).await?,
            line = input.recv(), if input_open => match line {
                None => {
                    input_open = false;
                    drain_deadline = Instant::now() + REPLY_TIMEOUT;
                }
                Some(Err(err)) => warn!("skipping an unreadable input line: {err}"),
                Some(Ok(line)) if line.trim().is_empty() => {}
                Some(Ok(line)) => {
                    let client_id = Uuid::new_v4().to_string();
                    let frame = ClientFrame::Send(SendFrame::new(
                        view.room.as_str().into(),
                        client_id.clone(),
                        line.clone(),
                    ));
                    conn.send(&frame, None).await?;
                    view.pending.insert(client_id, line);
                }
            },
            () = sleep_until(drain_deadline), if !input_open => {
                bail!("{} message(s) were not acknowledged by the server", view.pending.len());
            }
            incoming = conn.next() => {
                let incoming = incoming?.context("the server closed the connection")?;
                if let Some(frame) = &incoming.frame {
                    view.handle(frame)?;
                }
            }
        }
    }
    conn.close().await;
    Ok(())
}

/// What `chat` shows: one room's messages, each seq once, plus our own sends once acked.
pub(crate) struct ChatView {
    room: String,
    me: String,
    names: Names,
    shown: HashSet<i64>,
    /// Sent but not yet acked: `client_id` → body.
    pending: HashMap<String, String>,
}

impl ChatView {
    pub(crate) fn new(room: String, hello: &Hello) -> Self {
        Self {
            room,
            me: hello.user.id.to_string(),
            names: Names::from_hello(hello),
            shown: HashSet::new(),
            pending: HashMap::new(),
        }
    }

    pub(crate) fn handle(&mut self, frame: &ServerFrame) -> Result<()> {
        match frame {
            ServerFrame::Message(message) => self.show(message),
            ServerFrame::Ack(ack) => self.acked(ack),
            ServerFrame::Error(err) => {
                self.failed(err);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn show(&mut self, message: &MessageOut) -> Result<()> {
        if message.room.as_str() == self.room && self.shown.insert(message.seq) {
            emit(message_line(message, &self.names))?;
        }
        Ok(())
    }

    /// Our message is stored: show it, unless the server already delivered it to us.
    pub(crate) fn acked(&mut self, ack: &Ack) -> Result<()> {
        if let Some(body) = self.pending.remove(&ack.client_id) {
            if self.shown.insert(ack.seq) {
                let me = self.names.label_id(&self.me);
                emit(format_line(&self.room, ack.seq, &me, &one_line(&body)))?;
            }
        }
        Ok(())
    }

    pub(crate) fn failed(&mut self, err: &ErrorOut) {
        match err
            .client_id
            .as_ref()
            .and_then(|id| self.pending.remove(id))
        {
            Some(body) => eprintln!("not sent ({}): {body}", describe(err)),
            None => eprintln!("server error: {}", describe(err)),
        }
    }
}

/// Lines typed on stdin. A plain thread rather than `tokio::io::stdin`, so that a read still
/// blocked at exit (after Ctrl-C) does not hold up the runtime's shutdown.
pub(crate) fn spawn_stdin_reader() -> Result<mpsc::Receiver<std::io::Result<String>>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        })
        .context("starting the stdin reader")?;
    Ok(rx)
}

pub(crate) fn ping_timer() -> Interval {
    let mut timer = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    timer
}

/// `listen ROOM...`: frames that name a room must name one of these (if any are given).
pub(crate) struct RoomFilter(HashSet<String>);

impl RoomFilter {
    pub(crate) fn allows(&self, raw: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        match raw.get("room").and_then(Value::as_str) {
            Some(room) => self.0.contains(room),
            None => true,
        }
    }
}
