//! `chat-cli`: a command-line client for the chat server, for demos and scripting.
//!
//! It speaks the server's HTTP API (`/api/...`) and WebSocket protocol v1 (`/ws`, JSON text
//! frames). The program's output (tokens, room ids, messages, events) goes to stdout, one item
//! per line; diagnostics and server `error` frames go to stderr (more with `RUST_LOG=debug`).
//!
//! Global options: `--server URL` (env `CHAT_SERVER`, default `http://127.0.0.1:8080`; the
//! WebSocket URL is derived from it, http→ws and https→wss) and `--token TOKEN` (env
//! `CHAT_TOKEN`), which every command except `register` and `login` needs.
//!
//! ```text
//! chat-cli register alice --display-name Alice --password s3cret   # prints the token
//! export CHAT_TOKEN=$(chat-cli login alice --password s3cret)
//! echo s3cret | chat-cli login alice        # password from CHAT_PASSWORD or stdin also work
//! chat-cli rooms                            # ID<TAB>KIND<TAB>NAME<TAB>last_seq=N<TAB>unread=N
//! ROOM=$(chat-cli dm bob)                   # the one-to-one room with bob (created once)
//! TEAM=$(chat-cli group Team bob carol)     # a new group room
//! chat-cli send "$ROOM" hello there         # waits for the ack, prints seq=N id=ID
//! chat-cli history "$ROOM" --limit 50       # [seq] from: body, oldest first
//! chat-cli history "$ROOM" --before 51      # the page before seq 51
//! chat-cli listen                           # messages, typing, presence until Ctrl-C
//! chat-cli listen "$ROOM" "$TEAM" --json    # raw frames as JSON lines, only those rooms
//! chat-cli chat "$ROOM"                     # interactive: last 20 messages, then live;
//!                                           # each stdin line is sent, EOF or Ctrl-C quits
//! chat-cli logout
//! ```
//!
//! A message prints as `[ROOM SEQ] FROM: BODY`, where FROM is the sender's username when the
//! client knows it (from `hello` and room member lists) and the user id otherwise. Newlines and
//! control characters in bodies are escaped so every item stays on one line.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{interval_at, sleep_until, timeout, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, warn};
use uuid::Uuid;

/// How often long-running modes send a protocol `ping`.
const PING_EVERY: Duration = Duration::from_secs(20);
/// How long to wait for `hello`, an `ack` or a `history` answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout for each HTTP request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages shown when `chat` starts.
const CHAT_BACKLOG: u32 = 20;
/// At most this many rooms are asked for their member names when listening to everything.
const MAX_ROOMS_TO_NAME: usize = 50;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Parser)]
#[command(
    name = "chat-cli",
    version,
    about = "Command-line client for the chat server"
)]
struct Cli {
    /// Server base URL (http:// or https://); the WebSocket URL is derived from it.
    #[arg(
        long,
        global = true,
        env = "CHAT_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,

    /// Session token, as printed by `login` or `register`.
    #[arg(long, global = true, env = "CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account and print its session token.
    Register {
        username: String,
        /// Name shown to other people (defaults to the username on the server).
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Log in and print a session token.
    Login {
        username: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// End the session of --token.
    Logout,
    /// List your rooms: ID, KIND, NAME, last_seq=N, unread=N (tab-separated).
    Rooms,
    /// Open (or find) the one-to-one room with a user and print its id.
    Dm { username: String },
    /// Create a group room with the given members and print its id.
    Group {
        name: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Send one message, wait for the server's ack and print `seq=N id=ID`.
    Send {
        room: String,
        /// Message text; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Print a room's messages, oldest first, as `[seq] from: body`.
    History {
        room: String,
        /// How many messages (the server allows at most 100).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Only messages with a seq lower than this one.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Print incoming messages, typing and presence events until Ctrl-C.
    Listen {
        /// Only show these rooms (default: all of yours).
        rooms: Vec<String>,
        /// Print each raw server frame as one JSON line instead.
        #[arg(long)]
        json: bool,
    },
    /// Chat in one room: shows recent and live messages, sends each line typed on stdin.
    Chat { room: String },
}

#[derive(Debug, Args)]
struct PasswordArg {
    /// Password; without it (or CHAT_PASSWORD) one line is read from stdin.
    #[arg(long, env = "CHAT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`chat-cli listen | head`): nothing to report.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chat-cli: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let api = Api::new(&cli.server, cli.token)?;
    match cli.command {
        Command::Register {
            username,
            display_name,
            password,
        } => register(&api, &username, display_name, password.password).await,
        Command::Login { username, password } => login(&api, &username, password.password).await,
        Command::Logout => logout(&api).await,
        Command::Rooms => list_rooms(&api).await,
        Command::Dm { username } => open_dm(&api, &username).await,
        Command::Group { name, members } => create_group(&api, &name, &members).await,
        Command::Send { room, text } => send_one(&api, &room, &text.join(" ")).await,
        Command::History {
            room,
            limit,
            before,
        } => history(&api, &room, limit, before).await,
        Command::Listen { rooms, json } => listen(&api, rooms, json).await,
        Command::Chat { room } => chat(&api, room).await,
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Only fails if a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

// ---------------------------------------------------------------------------------------------
// Commands over HTTP
// ---------------------------------------------------------------------------------------------

async fn register(
    api: &Api,
    username: &str,
    display_name: Option<String>,
    password: Option<String>,
) -> Result<()> {
    let password = read_password(password)?;
    let mut body = json!({ "username": username, "password": password });
    if let Some(name) = display_name {
        body["display_name"] = Value::String(name);
    }
    let auth: AuthResponse = fetch(
        api.public(Method::POST, &["api", "auth", "register"])?
            .json(&body),
    )
    .await
    .context("registering")?;
    emit(auth.token)
}

async fn login(api: &Api, username: &str, password: Option<String>) -> Result<()> {
    let password = read_password(password)?;
    let body = json!({ "username": username, "password": password });
    let auth: AuthResponse = fetch(
        api.public(Method::POST, &["api", "auth", "login"])?
            .json(&body),
    )
    .await
    .context("logging in")?;
    emit(auth.token)
}

async fn logout(api: &Api) -> Result<()> {
    checked(api.authed(Method::POST, &["api", "auth", "logout"])?)
        .await
        .context("logging out")?;
    Ok(())
}

async fn list_rooms(api: &Api) -> Result<()> {
    let list: RoomList = fetch(api.authed(Method::GET, &["api", "rooms"])?).await?;
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

async fn open_dm(api: &Api, username: &str) -> Result<()> {
    let user = resolve_user(api, username).await?;
    let body = json!({ "user": user.id });
    let created: RoomEnvelope = fetch(api.authed(Method::POST, &["api", "dms"])?.json(&body))
        .await
        .with_context(|| format!("opening the dm with {username}"))?;
    emit(created.room.id)
}

async fn create_group(api: &Api, name: &str, usernames: &[String]) -> Result<()> {
    let mut members = Vec::with_capacity(usernames.len());
    for username in usernames {
        members.push(resolve_user(api, username).await?.id);
    }
    let body = json!({ "name": name, "members": members });
    let created: RoomEnvelope = fetch(api.authed(Method::POST, &["api", "rooms"])?.json(&body))
        .await
        .context("creating the group")?;
    emit(created.room.id)
}

async fn resolve_user(api: &Api, username: &str) -> Result<User> {
    let found: UserEnvelope =
        fetch(api.authed(Method::GET, &["api", "users", "by-name", username])?)
            .await
            .with_context(|| format!("looking up user {username:?}"))?;
    Ok(found.user)
}

/// Best effort: asks `GET /api/rooms/{id}` for member lists so output can show usernames
/// instead of ids. Stops at the first failure (e.g. a server without that endpoint).
async fn learn_members(api: &Api, rooms: &[String], names: &mut Names) {
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

async fn room_members(api: &Api, room: &str) -> Result<Vec<User>> {
    let found: RoomEnvelope = fetch(api.authed(Method::GET, &["api", "rooms", room])?).await?;
    Ok(found.room.members)
}

/// The password from `--password`/`CHAT_PASSWORD`, or else one line of stdin.
fn read_password(given: Option<String>) -> Result<String> {
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

async fn send_one(api: &Api, room: &str, body: &str) -> Result<()> {
    if body.trim().is_empty() {
        bail!("refusing to send an empty message");
    }
    let mut conn = Connection::open(api).await?;
    let client_id = Uuid::new_v4().to_string();
    let frame = ClientFrame::Send {
        room,
        client_id: &client_id,
        body,
    };
    let ack = conn
        .request(&frame, "the ack", |incoming| match &incoming.frame {
            ServerFrame::Ack(ack) if ack.client_id == client_id => Some(Ok(ack.clone())),
            ServerFrame::Error(err) if err.concerns(&client_id) => {
                Some(Err(anyhow!("message not sent: {err}")))
            }
            _ => None,
        })
        .await?;
    emit(format_args!("seq={} id={}", ack.seq, ack.id))?;
    conn.close().await;
    Ok(())
}

async fn history(api: &Api, room: &str, limit: Option<u32>, before: Option<i64>) -> Result<()> {
    let mut conn = Connection::open(api).await?;
    let mut names = Names::from_hello(&conn.hello);
    learn_members(api, &[room.to_owned()], &mut names).await;
    let page = conn.history(room, before, limit).await?;
    for message in &page.messages {
        emit(format_args!(
            "[{}] {}: {}",
            message.seq,
            names.label(&message.from),
            message.text()
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

async fn listen(api: &Api, rooms: Vec<String>, json: bool) -> Result<()> {
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
                .map(|r| r.id.clone())
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
            _ = ping.tick() => conn.send(&ClientFrame::Ping).await?,
            incoming = conn.next() => {
                let incoming = incoming?.context("the server closed the connection")?;
                if !filter.allows(&incoming.raw) {
                    continue;
                }
                if let ServerFrame::Error(err) = &incoming.frame {
                    eprintln!("server error: {err}");
                }
                if json {
                    emit(&incoming.raw)?;
                } else if let Some(line) = event_line(&incoming.frame, &names) {
                    emit(line)?;
                }
            }
        }
    }
    conn.close().await;
    Ok(())
}

async fn chat(api: &Api, room: String) -> Result<()> {
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
            _ = ping.tick() => conn.send(&ClientFrame::Ping).await?,
            line = input.recv(), if input_open => match line {
                None => {
                    input_open = false;
                    drain_deadline = Instant::now() + REPLY_TIMEOUT;
                }
                Some(Err(err)) => warn!("skipping an unreadable input line: {err}"),
                Some(Ok(line)) if line.trim().is_empty() => {}
                Some(Ok(line)) => {
                    let client_id = Uuid::new_v4().to_string();
                    let frame = ClientFrame::Send { room: &view.room, client_id: &client_id, body: &line };
                    conn.send(&frame).await?;
                    view.pending.insert(client_id, line);
                }
            },
            () = sleep_until(drain_deadline), if !input_open => {
                bail!("{} message(s) were not acknowledged by the server", view.pending.len());
            }
            incoming = conn.next() => {
                let incoming = incoming?.context("the server closed the connection")?;
                view.handle(&incoming.frame)?;
            }
        }
    }
    conn.close().await;
    Ok(())
}

/// What `chat` shows: one room's messages, each seq once, plus our own sends once acked.
struct ChatView {
    room: String,
    me: String,
    names: Names,
    shown: HashSet<i64>,
    /// Sent but not yet acked: `client_id` → body.
    pending: HashMap<String, String>,
}

impl ChatView {
    fn new(room: String, hello: &Hello) -> Self {
        Self {
            room,
            me: hello.user.id.clone(),
            names: Names::from_hello(hello),
            shown: HashSet::new(),
            pending: HashMap::new(),
        }
    }

    fn handle(&mut self, frame: &ServerFrame) -> Result<()> {
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

    fn show(&mut self, message: &ChatMessage) -> Result<()> {
        if message.room == self.room && self.shown.insert(message.seq) {
            emit(message_line(message, &self.names))?;
        }
        Ok(())
    }

    /// Our message is stored: show it, unless the server already delivered it to us.
    fn acked(&mut self, ack: &Ack) -> Result<()> {
        if let Some(body) = self.pending.remove(&ack.client_id) {
            if self.shown.insert(ack.seq) {
                let me = self.names.label_id(&self.me);
                emit(format_line(&self.room, ack.seq, &me, &one_line(&body)))?;
            }
        }
        Ok(())
    }

    fn failed(&mut self, err: &ErrorFrame) {
        match err
            .client_id
            .as_ref()
            .and_then(|id| self.pending.remove(id))
        {
            Some(body) => eprintln!("not sent ({err}): {body}"),
            None => eprintln!("server error: {err}"),
        }
    }
}

/// Lines typed on stdin. A plain thread rather than `tokio::io::stdin`, so that a read still
/// blocked at exit (after Ctrl-C) does not hold up the runtime's shutdown.
fn spawn_stdin_reader() -> Result<mpsc::Receiver<std::io::Result<String>>> {
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

fn ping_timer() -> Interval {
    let mut timer = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    timer
}

/// `listen ROOM...`: frames that name a room must name one of these (if any are given).
struct RoomFilter(HashSet<String>);

impl RoomFilter {
    fn allows(&self, raw: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        match raw.get("room").and_then(Value::as_str) {
            Some(room) => self.0.contains(room),
            None => true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// Writes one line of the program's output to stdout.
fn emit(line: impl fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn format_line(room: &str, seq: i64, from: &str, text: &str) -> String {
    format!("[{room} {seq}] {from}: {text}")
}

fn message_line(message: &ChatMessage, names: &Names) -> String {
    format_line(
        &message.room,
        message.seq,
        &names.label(&message.from),
        &message.text(),
    )
}

/// One line for the events `listen` shows; `None` for frames it does not print.
fn event_line(frame: &ServerFrame, names: &Names) -> Option<String> {
    let line = match frame {
        ServerFrame::Message(message) => message_line(message, names),
        ServerFrame::Typing { room, user, state } => {
            let what = if state == "start" {
                "is typing"
            } else {
                "stopped typing"
            };
            format!("[{room}] {} {what}", names.label(user))
        }
        ServerFrame::Presence { user, online } => {
            let what = if *online { "online" } else { "offline" };
            format!("* {} is {what}", names.label(user))
        }
        ServerFrame::RoomEvent { room, event } => format!("[{room}] room event: {event}"),
        ServerFrame::Edited { room, id, body } => {
            format!(
                "[{room}] message {id} edited: {}",
                one_line(body.as_deref().unwrap_or(""))
            )
        }
        ServerFrame::Deleted { room, id } => format!("[{room}] message {id} deleted"),
        _ => return None,
    };
    Some(line)
}

/// Keeps untrusted text on one line and free of terminal control sequences.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// User id → username, learned from `hello` and room member lists.
#[derive(Debug, Default)]
struct Names(HashMap<String, String>);

impl Names {
    fn from_hello(hello: &Hello) -> Self {
        let mut names = Self::default();
        names.learn(&hello.user);
        for room in &hello.rooms {
            names.learn_all(&room.members);
        }
        names
    }

    fn learn(&mut self, user: &User) {
        self.0.insert(user.id.clone(), user.username.clone());
    }

    fn learn_all(&mut self, users: &[User]) {
        for user in users {
            self.learn(user);
        }
    }

    fn label_id(&self, id: &str) -> String {
        one_line(self.0.get(id).map_or(id, String::as_str))
    }

    /// A user reference from a frame: an id string, or a user object.
    fn label(&self, who: &Value) -> String {
        match who {
            Value::String(id) => self.label_id(id),
            Value::Number(id) => self.label_id(&id.to_string()),
            Value::Object(user) => match (user.get("username"), user.get("id")) {
                (Some(Value::String(name)), _) => one_line(name),
                (_, Some(id)) => self.label(id),
                _ => who.to_string(),
            },
            other => other.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

struct Api {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl Api {
    fn new(server: &str, token: Option<String>) -> Result<Self> {
        let base =
            Url::parse(server).with_context(|| format!("invalid --server URL {server:?}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            bail!("--server must be an http:// or https:// URL, not {server:?}");
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base, token })
    }

    fn token(&self) -> Result<&str> {
        self.token
            .as_deref()
            .filter(|token| !token.is_empty())
            .context("no token: pass --token or set CHAT_TOKEN (see `chat-cli login`)")
    }

    /// A request that needs no session.
    fn public(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        Ok(self.http.request(method, with_path(&self.base, segments)?))
    }

    /// A request carrying `Authorization: Bearer TOKEN`.
    fn authed(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        Ok(self.public(method, segments)?.bearer_auth(self.token()?))
    }
}

/// `base` with `segments` appended to its path (each percent-encoded), query dropped.
fn with_path(base: &Url, segments: &[&str]) -> Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| anyhow!("{base} cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Sends `request` and fails with the server's `{error:{code,message}}` on a non-2xx status.
async fn checked(request: RequestBuilder) -> Result<reqwest::Response> {
    let response = request.send().await.context("HTTP request failed")?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    match describe_error_body(&body) {
        Some(detail) => bail!("HTTP {status}: {detail}"),
        None => bail!("HTTP {status}"),
    }
}

async fn fetch<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
    checked(request)
        .await?
        .json()
        .await
        .context("the server's answer is not the expected JSON")
}

/// `message (code)` from an `{error:{code,message}}` body, or the start of a plain-text body.
fn describe_error_body(body: &[u8]) -> Option<String> {
    if let Ok(parsed) = serde_json::from_slice::<ApiErrorBody>(body) {
        return Some(format!("{} ({})", parsed.error.message, parsed.error.code));
    }
    let text = one_line(String::from_utf8_lossy(body).trim());
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

#[derive(Debug, Deserialize)]
struct AuthResponse {
    token: String,
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    id: String,
    username: String,
}

#[derive(Debug, Deserialize)]
struct UserEnvelope {
    user: User,
}

#[derive(Debug, Deserialize)]
struct RoomList {
    rooms: Vec<RoomSummary>,
}

#[derive(Debug, Deserialize)]
struct RoomSummary {
    id: String,
    kind: String,
    name: Option<String>,
    #[serde(default)]
    last_seq: i64,
    #[serde(default)]
    unread: i64,
}

/// A room as far as this client cares: its id and, when the server includes them, members.
#[derive(Debug, Clone, Deserialize)]
struct RoomInfo {
    id: String,
    #[serde(default)]
    members: Vec<User>,
}

#[derive(Debug, Deserialize)]
struct RoomEnvelope {
    room: RoomInfo,
}

#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    code: String,
    message: String,
}

// ---------------------------------------------------------------------------------------------
// WebSocket protocol v1
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame<'a> {
    Send {
        room: &'a str,
        client_id: &'a str,
        body: &'a str,
    },
    History {
        room: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        #[serde(rename = "ref")]
        reference: &'a str,
    },
    Ping,
}

/// Server frames this client reads; anything else (`pong`, `synced`, `receipt`, ...) is `Other`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame {
    Hello(Hello),
    Message(ChatMessage),
    Ack(Ack),
    History(HistoryPage),
    Typing {
        room: String,
        user: Value,
        state: String,
    },
    Presence {
        user: Value,
        online: bool,
    },
    RoomEvent {
        room: String,
        event: String,
    },
    Edited {
        room: String,
        id: String,
        body: Option<String>,
    },
    Deleted {
        room: String,
        id: String,
    },
    Error(ErrorFrame),
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
struct Hello {
    user: User,
    #[serde(default)]
    rooms: Vec<RoomInfo>,
}

#[derive(Debug, Clone, Deserialize)]
struct ChatMessage {
    /// Absent inside `history` answers on some servers; filled in from the page's room.
    #[serde(default)]
    room: String,
    seq: i64,
    from: Value,
    body: Option<String>,
    attachments: Option<Vec<Value>>,
    edited_at: Option<Value>,
}

impl ChatMessage {
    /// The body on one line, with markers for edits and attachments.
    fn text(&self) -> String {
        let mut text = one_line(self.body.as_deref().unwrap_or(""));
        if self.edited_at.is_some() {
            text.push_str(" (edited)");
        }
        match self.attachments.as_ref().map_or(0, Vec::len) {
            0 => {}
            1 => text.push_str(" [1 attachment]"),
            n => text.push_str(&format!(" [{n} attachments]")),
        }
        text
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Ack {
    client_id: String,
    id: String,
    seq: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct HistoryPage {
    room: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct ErrorFrame {
    code: String,
    message: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    client_id: Option<String>,
}

impl ErrorFrame {
    /// Whether this error answers the frame sent with `id` as `ref` or `client_id`. An error that
    /// names no frame at all is taken to answer the one we are waiting for.
    fn concerns(&self, id: &str) -> bool {
        match (&self.reference, &self.client_id) {
            (None, None) => true,
            (reference, client_id) => {
                reference.as_deref() == Some(id) || client_id.as_deref() == Some(id)
            }
        }
    }
}

impl fmt::Display for ErrorFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A frame from the server: the raw JSON (for `--json` and filtering) and its typed reading.
struct Incoming {
    raw: Value,
    frame: ServerFrame,
}

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open, greeted WebSocket session.
struct Connection {
    sink: SplitSink<WsStream, Message>,
    stream: SplitStream<WsStream>,
    /// Frames that arrived while waiting for a particular answer; `next` hands them out first.
    backlog: VecDeque<Incoming>,
    hello: Hello,
    hello_raw: Value,
}

impl Connection {
    /// Connects with `Authorization: Bearer TOKEN` and waits for the server's `hello`.
    async fn open(api: &Api) -> Result<Self> {
        let url = with_path(&api.base, &["ws"])?;
        let mut url_ws = url.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url_ws
            .set_scheme(scheme)
            .map_err(|()| anyhow!("cannot derive a WebSocket URL from {url}"))?;

        let mut request = url_ws
            .as_str()
            .into_client_request()
            .context("building the WebSocket request")?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", api.token()?))
            .context("the token is not a valid header value")?;
        request.headers_mut().insert(AUTHORIZATION, bearer);

        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|err| connect_error(err, &url_ws))?;
        let (sink, mut stream) = socket.split();
        let mut backlog = VecDeque::new();
        let (hello, hello_raw) =
            wait_for(
                &mut stream,
                &mut backlog,
                "hello",
                |incoming| match &incoming.frame {
                    ServerFrame::Hello(hello) => Some(Ok((hello.clone(), incoming.raw.clone()))),
                    ServerFrame::Error(err) => {
                        Some(Err(anyhow!("server refused the session: {err}")))
                    }
                    _ => None,
                },
            )
            .await?;
        debug!(user = %hello.user.username, rooms = hello.rooms.len(), "connected");
        Ok(Self {
            sink,
            stream,
            backlog,
            hello,
            hello_raw,
        })
    }

    async fn send(&mut self, frame: &ClientFrame<'_>) -> Result<()> {
        let text = serde_json::to_string(frame).context("encoding a frame")?;
        self.sink
            .send(Message::Text(text))
            .await
            .context("sending to the server")
    }

    /// The next frame (backlog first); `None` once the server has closed the connection.
    /// Cancel-safe, so it can sit in a `select!`.
    async fn next(&mut self) -> Result<Option<Incoming>> {
        match self.backlog.pop_front() {
            Some(incoming) => Ok(Some(incoming)),
            None => read_frame(&mut self.stream).await,
        }
    }

    /// Sends `frame`, then waits for the answer `pick` accepts; other frames go to the backlog.
    async fn request<T>(
        &mut self,
        frame: &ClientFrame<'_>,
        what: &str,
        pick: impl FnMut(&Incoming) -> Option<Result<T>>,
    ) -> Result<T> {
        self.send(frame).await?;
        wait_for(&mut self.stream, &mut self.backlog, what, pick).await
    }

    async fn history(
        &mut self,
        room: &str,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<HistoryPage> {
        let reference = Uuid::new_v4().to_string();
        let frame = ClientFrame::History {
            room,
            before,
            limit,
            reference: &reference,
        };
        let mut page = self
            .request(&frame, "history", |incoming| match &incoming.frame {
                ServerFrame::History(page) if page.room == room => Some(Ok(page.clone())),
                ServerFrame::Error(err) if err.concerns(&reference) => {
                    Some(Err(anyhow!("history of {room}: {err}")))
                }
                _ => None,
            })
            .await?;
        for message in &mut page.messages {
            if message.room.is_empty() {
                message.room.clone_from(&page.room);
            }
        }
        Ok(page)
    }

    /// Starts the closing handshake; failures only matter for logging.
    async fn close(mut self) {
        if let Err(err) = self.sink.close().await {
            debug!("closing the WebSocket: {err}");
        }
    }
}

/// Reads frames until `pick` accepts one (or fails), within `REPLY_TIMEOUT`. Frames it passes
/// over are kept in `backlog`.
async fn wait_for<T>(
    stream: &mut SplitStream<WsStream>,
    backlog: &mut VecDeque<Incoming>,
    what: &str,
    mut pick: impl FnMut(&Incoming) -> Option<Result<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            let incoming = read_frame(stream)
                .await?
                .with_context(|| format!("the server closed the connection before {what}"))?;
            match pick(&incoming) {
                Some(answer) => return answer,
                None => backlog.push_back(incoming),
            }
        }
    };
    timeout(REPLY_TIMEOUT, wait).await.with_context(|| {
        format!(
            "no {what} from the server within {}s",
            REPLY_TIMEOUT.as_secs()
        )
    })?
}

/// The next JSON text frame; `None` when the connection ends. Cancel-safe.
async fn read_frame(stream: &mut SplitStream<WsStream>) -> Result<Option<Incoming>> {
    while let Some(message) = stream.next().await {
        match message.context("reading from the server")? {
            Message::Text(text) => {
                if let Some(incoming) = parse_frame(&text) {
                    return Ok(Some(incoming));
                }
            }
            Message::Close(frame) => {
                if let Some(frame) = frame.filter(|f| !f.reason.is_empty()) {
                    warn!(
                        "server closed the connection: {} ({})",
                        frame.reason, frame.code
                    );
                }
                return Ok(None);
            }
            Message::Binary(_) => warn!("ignoring a binary frame (this client speaks JSON)"),
            // Pings are answered by tungstenite itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    Ok(None)
}

fn parse_frame(text: &str) -> Option<Incoming> {
    let raw: Value = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            warn!("ignoring a frame that is not JSON: {err}");
            return None;
        }
    };
    let frame = serde_json::from_value(raw.clone()).unwrap_or_else(|err| {
        warn!("frame of unexpected shape ({err}): {raw}");
        ServerFrame::Other
    });
    Some(Incoming { raw, frame })
}

fn connect_error(err: tungstenite::Error, url: &Url) -> anyhow::Error {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let detail = response
                .body()
                .as_deref()
                .and_then(describe_error_body)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let hint = if status.as_u16() == 401 {
                " (log in again for a fresh token)"
            } else {
                ""
            };
            anyhow!("{url}: WebSocket refused with HTTP {status}{detail}{hint}")
        }
        // Not `.context()`: tungstenite errors repeat their source in their own message.
        other => anyhow!("connecting to {url}: {other}"),
    }
}
