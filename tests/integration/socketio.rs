//! Socket.IO compatibility at `/socket.io/`, checked with the real `socket.io-client` from npm
//! (tests/socketio/driver.js, run by node) against a real server, beside `/ws` clients. Needs
//! `tests/socketio/node_modules` (`make test-deps` runs `npm ci` there).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use chat_server::protocol::close;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::app::{spawn_app, spawn_app_with, TestApp, TestUser, WsClient, WAIT};

/// One socket.io-client socket in a node process, driven line by line (see driver.js).
pub(crate) struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    backlog: VecDeque<Value>,
    next_ack: u64,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/socketio");
        assert!(
            dir.join("node_modules/socket.io-client").is_dir(),
            "{}/node_modules is missing: run `make test-deps` (or `npm ci` in that folder) first",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("driver.js")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed (scripts/setup.sh test installs it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("driver wrote {line:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Driver {
            child,
            stdin,
            lines,
            backlog: VecDeque::new(),
            next_ack: 0,
        }
    }

    fn cmd(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line matching `pred`; lines passed over are kept.
    pub(crate) async fn next_where(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(l)) => l,
                Ok(None) => panic!(
                    "the node driver exited while waiting for {what}; saw {:?}",
                    self.backlog
                ),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {:?}", self.backlog),
            };
            if pred(&line) {
                return line;
            }
            self.backlog.push_back(line);
        }
    }

    /// Connects to the server at `http` with `auth`; returns `$connect` or `$connect_error`.
    async fn connect(&mut self, http: &str, auth: Value, transports: Option<&[&str]>) -> Value {
        self.cmd(json!({"op": "connect", "url": http, "auth": auth, "transports": transports}));
        self.next_where("connect or connect_error", |l| {
            l["event"] == "$connect" || l["event"] == "$connect_error"
        })
        .await
    }

    /// Connects with `token` and returns the `hello` event's object.
    pub(crate) async fn connect_as(
        &mut self,
        http: &str,
        token: &str,
        transports: Option<&[&str]>,
    ) -> Value {
        let c = self
            .connect(http, json!({"token": token}), transports)
            .await;
        assert_eq!(c["event"], "$connect", "{c}");
        self.event("hello", |_| true).await
    }

    /// The object of the next server event `name` matching `pred`.
    pub(crate) async fn event(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let n = name.to_owned();
        self.next_where(&format!("event {name}"), move |l| {
            l["event"] == n.as_str() && pred(&l["data"])
        })
        .await["data"]
            .take()
    }

    fn emit(&mut self, name: &str, data: Value) {
        self.cmd(json!({"op": "emit", "name": name, "data": data}));
    }

    /// Emits with an acknowledgement callback and returns what the callback got.
    async fn emit_ack(&mut self, name: &str, data: Value) -> Value {
        self.emit_ack_raw(json!({"op": "emit", "name": name, "data": data}))
            .await
    }

    async fn emit_ack_raw(&mut self, mut cmd: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        cmd["ack"] = json!(id);
        self.cmd(cmd);
        let line = self
            .next_where(&format!("ack {id}"), move |l| l["ack"] == id)
            .await;
        assert!(
            line.get("timeout").is_none(),
            "acknowledgement timed out: {line}"
        );
        line["data"].clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn socketio_client_connects_by_polling_then_upgrades_and_by_websocket_only() {
    let app = spawn_app().await;
    let a = app.register("sio").await;
    let mut d = Driver::start();
    let connected = d.connect(&app.http, json!({"token": a.token}), None).await;
    assert_eq!(connected["event"], "$connect", "{connected}");
    let open = d.next_where("open", |l| l["event"] == "$open").await;
    assert_eq!(
        open["transport"], "polling",
        "socket.io-client starts with polling"
    );
    let hello = d.event("hello", |_| true).await;
    assert_eq!(hello["user"]["id"], json!(a.id));
    let up = d.next_where("upgrade", |l| l["event"] == "$upgrade").await;
    assert_eq!(up["transport"], "websocket");
    // After the upgrade the socket still answers.
    let pong = d.emit_ack("ping", json!({})).await;
    assert_eq!(pong["type"], "pong");

    let mut w = Driver::start();
    let connected = w
        .connect(&app.http, json!({"token": a.token}), Some(&["websocket"]))
        .await;
    assert_eq!(connected["transport"], "websocket");
    let hello = w.event("hello", |_| true).await;
    assert_eq!(hello["user"]["id"], json!(a.id));
    app.quiesce().await;
}

#[actix_web::test]
async fn socketio_connect_without_a_valid_token_gets_connect_error() {
    let app = spawn_app().await;
    let mut d = Driver::start();
    let refused = d
        .connect(&app.http, json!({"token": "not-a-token"}), None)
        .await;
    assert_eq!(refused["event"], "$connect_error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("unauthorized"),
        "{refused}"
    );

    let mut d = Driver::start();
    let refused = d.connect(&app.http, json!({}), Some(&["websocket"])).await;
    assert_eq!(refused["event"], "$connect_error");
    assert!(
        refused["message"].as_str().unwrap().contains("token"),
        "{refused}"
    );
    assert_eq!(
        app.metric("chat_connections").await,
        Some(0.0),
        "no session was started"
    );
}

#[actix_web::test]
async fn socketio_send_is_answered_through_the_acknowledgement() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["sender", "other", "third"]).await;
    let room = a.dm(&b).await;
    let not_mine = b.dm(&c).await;
    let mut d = Driver::start();
    d.connect_as(&app.http, &a.token, None).await;

    let ack = d
        .emit_ack(
            "send",
            json!({"room": room, "client_id": "c1", "body": "hello"}),
        )
        .await;
    assert_eq!(
        (
            ack["type"].as_str(),
            ack["seq"].as_i64(),
            ack["client_id"].as_str()
        ),
        (Some("ack"), Some(1), Some("c1")),
        "{ack}"
    );
    assert!(
        ack.get("ref").is_none(),
        "the correlation ref stays internal: {ack}"
    );
    // The same client_id again: the same ack, as on /ws.
    let again = d
        .emit_ack(
            "send",
            json!({"room": room, "client_id": "c1", "body": "hello"}),
        )
        .await;
    assert_eq!(again["id"], ack["id"]);
    // Acks come in the order of the sends.
    for i in 2..=5 {
        d.emit_ack_raw(json!({"op": "emit", "name": "send", "data": {"room": room, "client_id": format!("c{i}"), "body": "x"}})).await;
    }
    let history = d.emit_ack("history", json!({"room": room})).await;
    let seqs: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);

    let refused = d
        .emit_ack(
            "send",
            json!({"room": not_mine, "client_id": "c9", "body": "x"}),
        )
        .await;
    assert_eq!(refused["error"]["code"], "not_member", "{refused}");
    let invalid = d.emit_ack("send", json!({"room": room})).await;
    assert_eq!(invalid["error"]["code"], "invalid", "{invalid}");
    let unknown = d.emit_ack("shout", json!({})).await;
    assert_eq!(unknown["error"]["code"], "unknown_type", "{unknown}");
    let binary = d.emit_ack_raw(json!({"op": "emit", "name": "send", "binary": true, "data": {"room": room, "client_id": "b", "body": "x"}})).await;
    assert_eq!(binary["error"]["code"], "invalid", "{binary}");

    let r = a.get(&format!("/api/rooms/{room}/messages")).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["messages"].as_array().unwrap().len(),
        5,
        "only the five accepted sends are stored"
    );
    app.quiesce().await;
}

/// `a` (socket.io-client, default transports) and `b` (`/ws`) in a dm, both connected.
struct DmAcross {
    app: TestApp,
    a: TestUser,
    b: TestUser,
    room: String,
    sio: Driver,
    ws: WsClient,
}

async fn dm_across_transports() -> DmAcross {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["sio", "ws"]).await;
    let room = a.dm(&b).await;
    let mut sio = Driver::start();
    sio.connect_as(&app.http, &a.token, None).await;
    let ws = b.connect().await;
    DmAcross {
        app,
        a,
        b,
        room,
        sio,
        ws,
    }
}

#[actix_web::test]
async fn socketio_and_ws_clients_chat_with_each_other() {
    let DmAcross {
        app,
        a,
        b,
        room,
        mut sio,
        mut ws,
    } = dm_across_transports().await;

    let ack = sio
        .emit_ack(
            "send",
            json!({"room": room, "client_id": "s1", "body": "from socket.io"}),
        )
        .await;
    let m = ws.expect_where("message", |f| f["client_id"] == "s1").await;
    assert_eq!(
        (m["body"].as_str(), m["from"].as_str(), &m["id"]),
        (Some("from socket.io"), Some(a.id.as_str()), &ack["id"])
    );

    ws.send_with_id(&room, "from ws", "w1").await;
    let m = sio.event("message", |m| m["client_id"] == "w1").await;
    assert_eq!(
        (m["body"].as_str(), m["from"].as_str(), m["seq"].as_i64()),
        (Some("from ws"), Some(b.id.as_str()), Some(2))
    );
    assert_eq!(m["type"], "message", "the event's object is the v1 frame");

    // Reactions both ways: the socket.io client's `react` is acknowledged with its `reaction`.
    let r = sio
        .emit_ack(
            "react",
            json!({"room": room, "id": m["id"], "emoji": "👍", "on": true}),
        )
        .await;
    assert_eq!(
        (r["type"].as_str(), r["on"].as_bool()),
        (Some("reaction"), Some(true))
    );
    let seen = ws.expect("reaction").await;
    assert_eq!(
        (seen["user"].as_str(), &seen["id"]),
        (Some(a.id.as_str()), &m["id"])
    );
    ws.send(json!({"type": "react", "room": room, "id": ack["id"], "emoji": "🎉", "on": true}))
        .await;
    let ev = sio.event("reaction", |r| r["emoji"] == "🎉").await;
    assert_eq!(ev["user"], json!(b.id));
    let bad = sio
        .emit_ack(
            "react",
            json!({"room": room, "id": m["id"], "emoji": "not one", "on": true}),
        )
        .await;
    assert_eq!(bad["error"]["code"], "invalid", "{bad}");

    // Pins, stars and forwards are acknowledged with their answer frames too.
    let pinned = sio
        .emit_ack("pin", json!({"room": room, "id": m["id"], "on": true}))
        .await;
    assert_eq!(pinned["type"], "pinned", "{pinned}");
    assert_eq!(ws.expect("pinned").await["user"], json!(a.id));
    let starred = sio
        .emit_ack("star", json!({"id": m["id"], "on": true}))
        .await;
    assert_eq!(
        (starred["type"].as_str(), starred["on"].as_bool()),
        (Some("starred"), Some(true))
    );
    let fwd = sio
        .emit_ack(
            "forward",
            json!({"id": m["id"], "to": [room], "client_id": "fw1"}),
        )
        .await;
    assert_eq!(fwd["results"][0]["seq"], 3, "{fwd}");
    let copy = ws
        .expect_where("message", |f| f["client_id"] == "fw1")
        .await;
    assert_eq!(copy["forwarded"], true);
    app.quiesce().await;
}

#[actix_web::test]
async fn socketio_typing_and_presence_cross_between_transports() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["sio", "ws"]).await;
    let room = a.dm(&b).await;
    let mut ws = b.connect().await;
    let mut sio = Driver::start();
    sio.connect_as(&app.http, &a.token, Some(&["websocket"]))
        .await;
    ws.expect_where("presence", |f| {
        f["user"] == a.id.as_str() && f["online"] == true
    })
    .await;
    sio.event("presence", |p| {
        p["user"] == b.id.as_str() && p["online"] == true
    })
    .await;

    sio.emit("typing", json!({"room": room, "state": "start"}));
    let t = ws
        .expect_where("typing", |f| f["user"] == a.id.as_str())
        .await;
    assert_eq!(
        (t["room"].as_str(), t["state"].as_str()),
        (Some(room.as_str()), Some("start"))
    );
    ws.send(json!({"type": "typing", "room": room, "state": "start"}))
        .await;
    let t = sio.event("typing", |t| t["user"] == b.id.as_str()).await;
    assert_eq!(t["state"], "start");

    ws.close().await;
    let off = sio
        .event("presence", |p| {
            p["user"] == b.id.as_str() && p["online"] == false
        })
        .await;
    assert!(off["last_seen"].is_i64());
    // And the other way: the socket.io client leaving is seen on /ws.
    let mut ws = b.connect().await;
    drop(sio);
    ws.expect_where("presence", |f| {
        f["user"] == a.id.as_str() && f["online"] == false
    })
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn socketio_client_that_drops_and_reconnects_syncs_exactly_what_it_missed() {
    let DmAcross {
        app,
        a,
        room,
        mut sio,
        mut ws,
        ..
    } = dm_across_transports().await;
    ws.send_with_id(&room, "seen", "m1").await;
    let seen = sio.event("message", |m| m["client_id"] == "m1").await;
    let last_seq = seen["seq"].as_i64().unwrap();

    sio.cmd(json!({"op": "drop"}));
    let gone = sio
        .next_where("disconnect", |l| l["event"] == "$disconnect")
        .await;
    let reason = gone["reason"].as_str().unwrap();
    assert!(
        !reason.starts_with("io "),
        "a dropped connection, not a disconnect: {reason}"
    );
    // The server sees the socket go before B writes: A is offline for B.
    ws.expect_where("presence", |f| {
        f["user"] == a.id.as_str() && f["online"] == false
    })
    .await;
    for i in 2..=4 {
        ws.send_with_id(&room, &format!("missed {i}"), &format!("m{i}"))
            .await;
    }

    sio.cmd(json!({"op": "reconnect"}));
    sio.next_where("reconnect", |l| l["event"] == "$connect")
        .await;
    sio.event("hello", |_| true).await;
    let synced = sio
        .emit_ack("sync", json!({"cursors": {room.clone(): last_seq}}))
        .await;
    assert_eq!(synced["type"], "synced");
    // Everything the driver saw after reconnecting: exactly the missed messages, in order.
    let missed: Vec<(i64, String)> = sio
        .backlog
        .iter()
        .filter(|l| l["event"] == "message")
        .map(|l| {
            (
                l["data"]["seq"].as_i64().unwrap(),
                l["data"]["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        missed,
        [
            (2, "missed 2".to_owned()),
            (3, "missed 3".to_owned()),
            (4, "missed 4".to_owned())
        ]
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn socketio_socket_of_a_token_that_logs_out_is_disconnected_by_the_server() {
    let app = spawn_app().await;
    let a = app.register("leaver").await;
    let mut d = Driver::start();
    d.connect_as(&app.http, &a.token, None).await;
    assert_eq!(a.post("/api/auth/logout", json!({})).await.status(), 204);
    let gone = d
        .next_where("disconnect", |l| l["event"] == "$disconnect")
        .await;
    // A server-side disconnect: socket.io-client does not reconnect with a dead token.
    assert_eq!(gone["reason"], "io server disconnect");
}

#[actix_web::test]
async fn a_socketio_connect_counts_as_its_sessions_last_use() {
    let app = spawn_app().await;
    let a = app.register("sio-user").await;
    let flushed = app.state.store.flush_token_uses().await.unwrap();
    assert_eq!(flushed, 0, "nothing used since sign-up was noted");
    let connected_at = chat_server::ids::now_ms();
    let mut d = Driver::start();
    d.connect_as(&app.http, &a.token, None).await;
    // Noted in memory at the connect; this is the timer's write.
    assert_eq!(app.state.store.flush_token_uses().await.unwrap(), 1);
    let list: Value = a.get("/api/me/sessions").await.json().await.unwrap();
    let last = list["sessions"][0]["last_used_at"].as_i64().unwrap_or(0);
    assert!(last >= connected_at, "{list}");
}

/// A bare Engine.IO long-polling client, to see the wire itself.
struct Polling {
    base: String,
    sid: String,
    client: reqwest::Client,
}

impl Polling {
    async fn open(app: &TestApp) -> (Polling, Value) {
        let base = format!("{}/socket.io/?EIO=4&transport=polling", app.http);
        let body = app
            .client
            .get(&base)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open: Value =
            serde_json::from_str(body.strip_prefix('0').expect("an open packet")).unwrap();
        let sid = open["sid"].as_str().unwrap().to_owned();
        (
            Polling {
                base,
                sid,
                client: app.client.clone(),
            },
            open,
        )
    }

    async fn get(&self) -> reqwest::Response {
        self.client
            .get(format!("{}&sid={}", self.base, self.sid))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(format!("{}&sid={}", self.base, self.sid))
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

#[actix_web::test]
async fn engine_io_advertises_its_settings_enforces_max_payload_and_drops_a_client_that_misses_pongs(
) {
    let app = spawn_app_with(|s| {
        s.socketio.ping_interval_ms = 300;
        s.socketio.ping_timeout_ms = 200;
        s.socketio.max_payload = 1000;
    })
    .await;
    let (p, open) = Polling::open(&app).await;
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(
        (
            open["pingInterval"].as_u64(),
            open["pingTimeout"].as_u64(),
            open["maxPayload"].as_u64()
        ),
        (Some(300), Some(200), Some(1000))
    );
    // The heartbeat: a ping comes within the interval; unanswered, the connection is closed.
    assert_eq!(p.get().await.text().await.unwrap(), "2");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a client that never answers pings is never dropped"
        );
        let r = p.get().await;
        let (status, body) = (r.status(), r.text().await.unwrap());
        if status == 400 {
            assert!(body.contains("Session ID unknown"), "{body}");
            break;
        }
        if body.split('\u{1e}').any(|packet| packet == "1") {
            break;
        }
    }

    // A body beyond maxPayload is refused and ends the connection.
    let (p, _) = Polling::open(&app).await;
    assert_eq!(
        p.post("3").await.status(),
        200,
        "an answer to a ping is accepted"
    );
    assert_eq!(p.post(format!("4{}", "x".repeat(1200))).await.status(), 413);
    assert_eq!(p.get().await.status(), 400, "the connection is gone");
    // An unknown protocol version or session is refused with the Engine.IO error codes.
    let r = app
        .client
        .get(format!("{}/socket.io/?EIO=3&transport=polling", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 5);
}

#[actix_web::test]
async fn engine_io_over_websocket_offers_no_upgrade_and_enforces_max_payload() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app_with(|s| s.socketio.max_payload = 1000).await;
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        app.port
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let Some(Ok(Message::Text(open))) = ws.next().await else {
        panic!("no open packet")
    };
    let open: Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).unwrap();
    assert_eq!(
        open["upgrades"],
        json!([]),
        "a websocket connection has nothing to upgrade to"
    );
    assert_eq!(open["maxPayload"], 1000);
    ws.send(Message::Text(format!("4{}", "x".repeat(1200))))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                assert_eq!(u16::from(frame.code), close::TOO_BIG, "{frame:?}");
                break;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close 1009, got {other:?}"),
        }
    }
}

#[actix_web::test]
async fn a_socketio_client_that_sends_without_reading_the_answers_is_dropped_as_slow() {
    let app = spawn_app_with(|s| s.ws.outbox_capacity = 16).await;
    let (p, _) = Polling::open(&app).await;
    let before = app
        .metric("chat_slow_consumers_dropped_total")
        .await
        .unwrap_or(0.0);
    // Pings, each answered with a pong that the client never polls for: past
    // ws.outbox_capacity + 64 answers waiting, the connection ends and counts as a slow consumer.
    let pings = vec!["2"; 200].join("\u{1e}");
    let _ = p.post(pings).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while app
        .metric("chat_slow_consumers_dropped_total")
        .await
        .unwrap_or(0.0)
        < before + 1.0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection that does not read its pongs was not counted as slow"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(p.get().await.status(), 400, "the connection is gone");
}

#[actix_web::test]
async fn a_socketio_client_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let app = spawn_app_with(|s| {
        s.ws.outbox_capacity = 64;
        s.ws.rate_per_sec = 100_000.0;
        s.ws.rate_burst = 100_000.0;
    })
    .await;
    let [a, c] = app.register_many(["talker", "stuck"]).await;
    let room = a.dm(&c).await;
    let mut ca = a.connect().await;
    // C connects over long-polling, then never polls again.
    let (p, _) = Polling::open(&app).await;
    assert_eq!(
        p.post(format!("40{}", json!({"token": c.token})))
            .await
            .status(),
        200
    );
    let connected = p.get().await.text().await.unwrap();
    assert!(connected.starts_with("40{\"sid\""), "{connected}");
    let mut sent = 0;
    while app
        .metric("chat_slow_consumers_dropped_total")
        .await
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(
            sent < 2000,
            "the socket.io client that does not read was never dropped"
        );
        for _ in 0..20 {
            ca.send(
                json!({"type": "send", "room": room, "client_id": format!("c{sent}"), "body": "x"}),
            )
            .await;
            sent += 1;
        }
        for _ in 0..20 {
            ca.expect("ack").await;
        }
    }
    let ack = ca.send_with_id(&room, "still here", "last").await;
    assert_eq!(ack["seq"].as_i64(), Some(sent as i64 + 1));
    app.quiesce().await;
}

#[actix_web::test]
async fn engine_io_handshakes_are_limited_per_address() {
    let app = spawn_app_with(|s| {
        s.limits.socketio_handshakes_per_address = chat_server::config::Rate {
            burst: 3,
            period_ms: 60_000,
        };
    })
    .await;
    for _ in 0..3 {
        Polling::open(&app).await;
    }
    let url = format!("{}/socket.io/?EIO=4&transport=polling", app.http);
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // A WebSocket handshake from there is refused before the upgrade.
    let ws = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        app.port
    );
    match tokio_tungstenite::connect_async(&ws).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("expected 429, got {other:?}"),
    }
    // Another address is not affected.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let body = elsewhere
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.starts_with('0'), "{body}");
}

#[actix_web::test]
async fn an_engine_io_client_that_pings_without_reading_is_closed_not_buffered_for() {
    let app = spawn_app_with(|s| s.ws.outbox_capacity = 16).await;
    let (p, _) = Polling::open(&app).await;
    // 10,000 pings in one body, never reading the pongs.
    let body = vec!["2"; 10_000].join("\u{1e}");
    assert_eq!(p.post(body).await.status(), 200);
    let r = p.get().await;
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap().len());
    assert!(r.text().await.unwrap().contains("Session ID unknown"));
}

#[actix_web::test]
async fn an_engine_io_connection_is_closed_after_three_refused_connects() {
    let app = spawn_app().await;
    let (p, _) = Polling::open(&app).await;
    for _ in 0..2 {
        assert_eq!(p.post(r#"40{"token":"not a token"}"#).await.status(), 200);
        let answer = p.get().await.text().await.unwrap();
        assert!(
            answer.starts_with("44") && answer.contains("unauthorized"),
            "{answer}"
        );
    }
    assert_eq!(p.post(r#"40{"token":"not a token"}"#).await.status(), 200);
    // A third refused connect ends the connection: the poll gets the close packet (after the
    // last connect_error), or finds the session gone.
    let r = p.get().await;
    let (status, body) = (r.status(), r.text().await.unwrap());
    assert!(
        status == 400 || body.split('\u{1e}').any(|packet| packet == "1"),
        "{status} {body}"
    );
    assert_eq!(p.get().await.status(), 400, "the connection is gone");
    // A good token on a fresh connection still connects.
    let user = app.register("sio").await;
    let (p, _) = Polling::open(&app).await;
    let connect = format!("40{}", json!({"token": user.token}));
    assert_eq!(p.post(connect).await.status(), 200);
    let answer = p.get().await.text().await.unwrap();
    assert!(answer.starts_with("40{"), "{answer}");
}

#[actix_web::test]
async fn socketio_sessions_count_toward_the_per_user_session_cap() {
    use chat_server::actors::registry::SessionCount;
    use chat_server::ids::UserId;

    let app = spawn_app_with(|s| s.ws.max_sessions_per_user = 2).await;
    let ann = app.register("ann").await;
    // One /ws session and one Socket.IO session (each has read its `hello`, so each is
    // registered) fill the cap.
    let ws = ann.connect().await;
    let mut sio = Driver::start();
    sio.connect_as(&app.http, &ann.token, None).await;

    let mut third = Driver::start();
    let refused = third
        .connect(&app.http, json!({"token": ann.token}), None)
        .await;
    assert_eq!(refused["event"], "$connect_error", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("rate_limited"),
        "{refused}"
    );
    assert_eq!(
        refused["data"]["error"]["code"], "rate_limited",
        "the body of /ws's 429: {refused}"
    );
    assert_eq!(refused["data"]["retry_after_secs"], 5, "{refused}");
    // And /ws counts the Socket.IO session too.
    let url = format!("{}?token={}", ann.ws, ann.token);
    match WsClient::try_connect(url, false).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        Ok(_) => panic!("a third session was let in over /ws"),
        Err(e) => panic!("connect failed: {e}"),
    }

    // A closed session frees its place. The registry forgets it just after the close handshake,
    // with nothing a client can observe: wait for the count the cap is checked against.
    ws.close().await;
    let user = UserId(ann.id.clone());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let open = app
            .state
            .registry
            .send(SessionCount { user: user.clone() })
            .await
            .unwrap();
        if open < 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed session was never forgotten"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut fourth = Driver::start();
    fourth
        .connect_as(&app.http, &ann.token, Some(&["websocket"]))
        .await;
    app.quiesce().await;
}
