//! The server in-process on a free port with a throwaway SQLite database (or a given database
//! URL), and small clients that speak protocol v1 the way an outside client would.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use chat_server::config::Settings;
use chat_server::http::AppState;
use chat_server::startup::Application;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A running server.
pub struct TestApp {
    pub http: String,
    pub port: u16,
    pub state: AppState,
    pub handle: actix_web::dev::ServerHandle,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

/// Settings for tests: port 0, a fresh SQLite file under `dir`.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.database.url = format!("sqlite://{}/chat.db?mode=rwc", dir.display());
    s.media.dir = dir.join("media").display().to_string();
    // Tests run many at once on two cores: media workers under SCHED_IDLE would get almost no CPU
    // there. `media_worker_threads_run_under_sched_idle_by_default` checks the default.
    s.media.worker_sched_idle = false;
    s.server.static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static").into();
    s
}

/// Starts the server with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server after `tweak` adjusted the settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    chat_server::telemetry::init("warn");
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    tweak(&mut settings);
    let app = Application::build(settings).await.unwrap();
    let port = app.port();
    let state = app.state();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        http: format!("http://127.0.0.1:{port}"),
        port,
        state,
        handle,
        dir,
        client: reqwest::Client::new(),
    }
}

/// A server on this Redis (a fresh key prefix) and database, the Syncer draining every
/// `interval_ms`, with client rate limits out of the way.
pub async fn app_on(
    redis: &super::services::RedisServer,
    db_url: &str,
    interval_ms: u64,
) -> TestApp {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let (redis_url, db_url) = (redis.url(), db_url.to_owned());
    spawn_app_with(move |s| {
        s.redis.url = redis_url;
        s.redis.prefix = prefix;
        s.redis.sync_interval_ms = interval_ms;
        s.database.url = db_url;
        s.ws.rate_per_sec = 100_000.0;
        s.ws.rate_burst = 100_000.0;
    })
    .await
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// The one-time admin bootstrap code this server wrote to its data directory at start.
    pub fn bootstrap_code(&self) -> String {
        let file = chat_server::bootstrap::code_file(&self.state.settings.media.dir);
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no bootstrap code at {}: {e}", file.display()))
            .trim()
            .to_owned()
    }

    /// Registers a fresh user and makes them the admin with the bootstrap code, as an operator
    /// would (once per server: the code works once).
    pub async fn register_admin(&self, name: &str) -> TestUser {
        let user = self.register(name).await;
        let r = user
            .post(
                "/api/admin/bootstrap",
                json!({"code": self.bootstrap_code()}),
            )
            .await;
        assert_eq!(r.status(), 200, "bootstrap refused");
        user
    }

    /// Registers a fresh user.
    pub async fn register(&self, name: &str) -> TestUser {
        let username = format!("{name}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let r = self
            .client
            .post(format!("{}/api/auth/register", self.http))
            .json(&json!({"username": username, "password": "correct horse battery", "display_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register failed");
        let body: Value = r.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            username,
            token: body["token"].as_str().unwrap().to_owned(),
            http: self.http.clone(),
            ws: self.ws_url(),
            client: self.client.clone(),
        }
    }
}

/// A registered user with a token.
#[derive(Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub token: String,
    pub http: String,
    pub ws: String,
    pub client: reqwest::Client,
}

impl TestUser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.http))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.http))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .put(format!("{}{path}", self.http))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}{path}", self.http))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// Opens (or gets) the dm with `other`; returns the room id.
    pub async fn dm(&self, other: &TestUser) -> String {
        let r = self.post("/api/dms", json!({"user": other.id})).await;
        assert!(r.status() == 200 || r.status() == 201, "dm: {}", r.status());
        let body: Value = r.json().await.unwrap();
        body["room"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group with `members`; returns the room id.
    pub async fn group(&self, name: &str, members: &[&TestUser]) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let r = self
            .post("/api/rooms", json!({"name": name, "members": ids}))
            .await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        body["room"]["id"].as_str().unwrap().to_owned()
    }

    /// Connects over WebSocket with JSON frames and reads `hello`.
    pub async fn connect(&self) -> WsClient {
        WsClient::connect(&format!("{}?token={}", self.ws, self.token), false).await
    }

    /// Connects asking for MessagePack frames and reads `hello`.
    pub async fn connect_msgpack(&self) -> WsClient {
        WsClient::connect(
            &format!("{}?token={}&format=msgpack", self.ws, self.token),
            true,
        )
        .await
    }
}

/// A WebSocket client that keeps frames it was not looking for, like the contract harness.
pub struct WsClient {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub msgpack: bool,
    pub backlog: VecDeque<Value>,
    pub hello: Value,
}

/// How long to wait for a frame that must come.
pub const WAIT: Duration = Duration::from_secs(10);

impl WsClient {
    pub async fn connect(url: &str, msgpack: bool) -> WsClient {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut c = WsClient {
            ws,
            msgpack,
            backlog: VecDeque::new(),
            hello: Value::Null,
        };
        c.hello = c.expect("hello").await;
        c
    }

    /// Sends a frame in this client's format.
    pub async fn send(&mut self, frame: Value) {
        let msg = if self.msgpack {
            Message::Binary(rmp_serde::to_vec_named(&frame).unwrap())
        } else {
            Message::Text(frame.to_string())
        };
        self.ws.send(msg).await.unwrap();
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.to_owned())).await.unwrap();
    }

    /// The next frame (decoded), or `None` on timeout or close.
    pub async fn recv(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => return Some(serde_json::from_str(&t).unwrap()),
                Message::Binary(b) => {
                    assert!(self.msgpack, "binary frame on a JSON session");
                    return Some(rmp_serde::from_slice(&b).unwrap());
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next frame of type `kind` matching `pred`; frames passed over are kept.
    pub async fn expect_where(&mut self, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self
            .backlog
            .iter()
            .position(|f| f["type"] == kind && pred(f))
        {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(f) = self.recv(left).await else {
                let seen: Vec<_> = self.backlog.iter().map(|f| f["type"].clone()).collect();
                panic!("no {kind} frame within {WAIT:?}; saw {seen:?}");
            };
            if f["type"] == kind && pred(&f) {
                return f;
            }
            self.backlog.push_back(f);
        }
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        self.expect_where(kind, |_| true).await
    }

    /// Asserts no frame of `kind` matching `pred` arrives within `within`.
    pub async fn expect_none(
        &mut self,
        kind: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        if let Some(f) = self.backlog.iter().find(|f| f["type"] == kind && pred(f)) {
            panic!("unexpected {kind}: {f}");
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.recv(left).await {
                Some(f) if f["type"] == kind && pred(&f) => panic!("unexpected {kind}: {f}"),
                Some(f) => self.backlog.push_back(f),
                None => return,
            }
        }
    }

    /// Sends a message and waits for its ack.
    pub async fn send_msg(&mut self, room: &str, body: &str) -> Value {
        let cid = uuid::Uuid::new_v4().simple().to_string();
        self.send_with_id(room, body, &cid).await
    }

    /// Sends with a chosen client id and waits for the ack (panics on an error frame for it).
    pub async fn send_with_id(&mut self, room: &str, body: &str, cid: &str) -> Value {
        self.send(json!({"type": "send", "room": room, "client_id": cid, "body": body}))
            .await;
        let cid2 = cid.to_owned();
        let f = self
            .expect_where_any(&["ack", "error"], move |f| f["client_id"] == cid2.as_str())
            .await;
        assert_eq!(f["type"], "ack", "send failed: {f}");
        f
    }

    /// The next frame of any of `kinds` matching `pred`.
    pub async fn expect_where_any(
        &mut self,
        kinds: &[&str],
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(i) = self
            .backlog
            .iter()
            .position(|f| kinds.iter().any(|k| f["type"] == *k) && pred(f))
        {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = self
                .recv(left)
                .await
                .unwrap_or_else(|| panic!("no {kinds:?} frame within {WAIT:?}"));
            if kinds.iter().any(|k| f["type"] == *k) && pred(&f) {
                return f;
            }
            self.backlog.push_back(f);
        }
    }

    /// Waits until the server closes the connection; returns the close code.
    /// Sends a close frame (code 1000) without waiting for the server's; see [`WsClient::closed`].
    pub async fn start_close(&mut self) {
        self.ws
            .send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code:
                        tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
                    reason: "".into(),
                },
            )))
            .await
            .unwrap();
    }

    pub async fn closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("connection not closed within {WAIT:?}"),
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the end-to-end chat and protocol tests.
// ---------------------------------------------------------------------------------------------

/// The password [`TestApp::register`] gives every user.
pub const TEST_PASSWORD: &str = "correct horse battery";

#[allow(clippy::unwrap_used)]
impl TestApp {
    /// Logs `user` in again: the same account with a fresh token, like a second device.
    pub async fn login(&self, user: &TestUser) -> TestUser {
        let r = self
            .client
            .post(format!("{}/api/auth/login", self.http))
            .json(&json!({"username": user.username, "password": TEST_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login failed");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["user"]["id"], json!(user.id));
        TestUser {
            token: body["token"].as_str().unwrap().to_owned(),
            ..user.clone()
        }
    }

    /// Registers several fresh users at once (password hashing runs in parallel).
    pub async fn register_many<const N: usize>(&self, names: [&str; N]) -> [TestUser; N] {
        let users = futures_util::future::join_all(names.iter().map(|n| self.register(n))).await;
        users.try_into().unwrap_or_else(|_| unreachable!())
    }

    /// The value of an unlabelled metric at `/metrics`, or `None` if it is not there.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let r = self
            .client
            .get(format!("{}/metrics", self.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map(|v| v.trim().parse().unwrap())
    }
}

#[allow(clippy::unwrap_used)]
impl WsClient {
    /// Opens a WebSocket with a prepared request (extra headers) and reads `hello`; the upgrade
    /// error (for example `Error::Http` with the refusal's status) is returned as is.
    pub async fn try_connect<R>(
        req: R,
        msgpack: bool,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error>
    where
        R: tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin,
    {
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        let mut c = WsClient {
            ws,
            msgpack,
            backlog: VecDeque::new(),
            hello: Value::Null,
        };
        c.hello = c.expect("hello").await;
        Ok(c)
    }

    /// Sends raw bytes as a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::Binary(bytes)).await.unwrap();
    }

    /// The next text or binary frame exactly as it came off the socket (control frames skipped),
    /// bypassing the backlog; `None` on timeout or close.
    pub async fn recv_raw(&mut self, within: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?
            {
                m @ (Message::Text(_) | Message::Binary(_)) => return Some(m),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next `error` frame with this `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let code = code.to_owned();
        self.expect_where("error", move |f| f["code"] == code.as_str())
            .await
    }

    /// Sends `ping` with `reference` and waits for the `pong` that echoes it.
    pub async fn ping(&mut self, reference: &str) {
        self.send(json!({"type": "ping", "ref": reference})).await;
        let r = reference.to_owned();
        self.expect_where("pong", move |f| f["ref"] == r.as_str())
            .await;
    }

    /// Every `message` up to the next `synced`, and that `synced` frame.
    pub async fn until_synced(&mut self) -> (Vec<Value>, Value) {
        let mut msgs = Vec::new();
        loop {
            let f = self
                .expect_where_any(&["message", "synced"], |_| true)
                .await;
            if f["type"] == "synced" {
                return (msgs, f);
            }
            msgs.push(f);
        }
    }
}

impl TestApp {
    /// Waits until no database connection is checked out (seen idle on three polls in a row,
    /// 10 ms apart; at most 5 s). Call it as a test's last step. Why: when the test returns, its
    /// runtime is torn down with whatever server work is still running, and a sqlx connection
    /// dropped mid-query returns itself to the pool by spawning a task, which panics without a
    /// runtime ("this functionality requires a Tokio context"); two such panics abort the test
    /// process. There is no event for "the server is idle", hence the poll.
    pub async fn quiesce(&self) {
        let db = &self.state.store.db;
        let busy = || match sea_orm::ConnectionTrait::get_database_backend(db) {
            sea_orm::DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                (pool.size() as usize).saturating_sub(pool.num_idle())
            }
            sea_orm::DbBackend::MySql => {
                let pool = db.get_mysql_connection_pool();
                (pool.size() as usize).saturating_sub(pool.num_idle())
            }
            _ => 0,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut quiet = 0;
        while quiet < 3 && tokio::time::Instant::now() < deadline {
            quiet = if busy() == 0 { quiet + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
