//! Graceful shutdown of the real binary on SIGTERM: every client hears 1001 "going away" (a
//! Socket.IO client a disconnect it reconnects from), what the server received before the signal
//! is answered, what was acked is in SQL afterwards (the Syncer drained Redis), and the process
//! exits with status 0 within `server.shutdown_timeout_ms`.

use std::collections::HashMap;
use std::time::Duration;

use chat_server::protocol::close;
use serde_json::{json, Value};

use crate::restart::{register, ServerProcess};
use crate::socketio::Driver;
use crate::support::app::WsClient;
use crate::support::services::{free_port, shared_mariadb, RedisServer};

/// The shutdown budget these tests give the server.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Ann's and Ben's sockets are closed with 1001 (going away).
async fn both_go_away(ca: &mut WsClient, cb: &mut WsClient) {
    assert_eq!(
        ca.closed().await,
        Some(close::GOING_AWAY),
        "ann's socket: going away"
    );
    assert_eq!(
        cb.closed().await,
        Some(close::GOING_AWAY),
        "ben's socket: going away"
    );
}

fn env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "CHAT__SERVER__SHUTDOWN_TIMEOUT_MS",
            SHUTDOWN_TIMEOUT.as_millis().to_string(),
        ),
        ("CHAT__WS__RATE_PER_SEC", "100000".to_string()),
        ("CHAT__WS__RATE_BURST", "100000".to_string()),
    ];
    env.extend_from_slice(extra);
    env
}

#[actix_web::test]
async fn sigterm_closes_every_websocket_with_1001_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let port = free_port();
    let server = ServerProcess::start(dir.path(), &db, port, &env(&[])).await;
    let a = register(&server.http, port, "ann").await;
    let b = register(&server.http, port, "ben").await;
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    ca.send_msg(&room, "see you after the restart").await;
    cb.expect("message").await;

    server.sigterm();
    both_go_away(&mut ca, &mut cb).await;
    let status = server.exited(SHUTDOWN_TIMEOUT).await;
    assert!(status.success(), "exit status {status}");
    // Their last sessions closed as the server went: Presence stored when they were last seen
    // before it stopped (the registry passes the drain on behind the closed sessions).
    let store = chat_server::store::Store::connect(&db, 1).await.unwrap();
    for user in [&a, &b] {
        let id = chat_server::ids::UserId::from(user.id.as_str());
        let row = store.user_by_id(&id).await.unwrap().unwrap();
        assert!(row.last_seen.is_some(), "{}'s last_seen", user.username);
    }
}

#[actix_web::test]
async fn sigterm_with_redis_answers_what_it_received_and_drains_the_buffer_into_sql() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let url = maria.fresh_database().unwrap();
    let db = url.rsplit('/').next().unwrap().to_owned();
    let count = |sql: &str| -> i64 { maria.sql(&db, sql).unwrap().trim().parse().unwrap() };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = [
        ("CHAT__REDIS__URL", redis.url()),
        // The Syncer's timer never fires during the test: only the shutdown drains the buffer.
        ("CHAT__REDIS__SYNC_INTERVAL_MS", "3600000".to_string()),
    ];
    let server = ServerProcess::start(dir.path(), &url, port, &env(&extra)).await;
    let a = register(&server.http, port, "ann").await;
    let b = register(&server.http, port, "ben").await;
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;

    // Acked before the signal, and so far only in Redis.
    let mut acked: HashMap<String, i64> = HashMap::new();
    for i in 0..30 {
        let cid = format!("before-{i}");
        let ack = ca.send_with_id(&room, &format!("acked {i}"), &cid).await;
        acked.insert(cid, ack["seq"].as_i64().unwrap());
    }
    assert_eq!(count("SELECT COUNT(*) FROM messages"), 0, "not synced yet");

    // Received but not acked when the signal comes: Redis is frozen, so their batch hangs.
    redis.pause().unwrap();
    let pending: Vec<String> = (0..20).map(|i| format!("pending-{i}")).collect();
    for cid in &pending {
        ca.send(json!({"type": "send", "room": room, "client_id": cid, "body": cid}))
            .await;
    }
    // Frames are handled in order: once this pong is here, the server holds every send above.
    ca.ping("all-sent").await;
    server.sigterm();

    // A frame that arrives after the notice is refused; that is how the client sees the
    // shutdown began (pings before it get their pong).
    for n in 0.. {
        let r = format!("probe-{n}");
        ca.send(json!({"type": "ping", "ref": r})).await;
        let f = ca
            .expect_where_any(&["pong", "error"], |f| f["ref"] == r.as_str())
            .await;
        if f["type"] == "error" {
            assert_eq!(f["code"], "unavailable", "{f}");
            break;
        }
    }
    // Meanwhile new requests and connections are turned away.
    let health = reqwest::get(format!("{}/healthz", server.http))
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let refused = WsClient::try_connect(format!("{}?token={}", a.ws, a.token), false).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        Err(e) => panic!("expected a 503 refusal, got {e}"),
        Ok(_) => panic!("a new session opened during shutdown"),
    }

    // Redis is back: every send received before the signal gets its answer, then the close.
    redis.resume().unwrap();
    let mut answered: HashMap<String, Value> = HashMap::new();
    for cid in &pending {
        let f = ca
            .expect_where_any(&["ack", "error"], |f| f["client_id"] == cid.as_str())
            .await;
        answered.insert(cid.clone(), f);
    }
    both_go_away(&mut ca, &mut cb).await;
    let status = server.exited(SHUTDOWN_TIMEOUT * 2).await;
    assert!(status.success(), "exit status {status}");

    // The answers were acks (Redis came back long before any timeout)...
    for (cid, f) in &answered {
        assert_eq!(f["type"], "ack", "{cid}: {f}");
        acked.insert(cid.clone(), f["seq"].as_i64().unwrap());
    }
    // ...and the Syncer copied every acked message into MariaDB before the process exited.
    let stored = maria
        .sql(&db, "SELECT client_id, seq FROM messages ORDER BY seq")
        .unwrap();
    let stored: HashMap<String, i64> = stored
        .lines()
        .map(|l| {
            let (cid, seq) = l.split_once('\t').unwrap();
            (cid.to_owned(), seq.parse().unwrap())
        })
        .collect();
    assert_eq!(
        stored, acked,
        "SQL holds exactly the acked messages, at their seqs"
    );
    assert_eq!(count("SELECT COUNT(*) FROM messages"), 50, "none twice");
}

#[actix_web::test]
async fn sigterm_disconnects_socketio_clients_so_they_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let port = free_port();
    let server = ServerProcess::start(dir.path(), &db, port, &env(&[])).await;
    let a = register(&server.http, port, "ann").await;
    let mut ws = Driver::start();
    ws.connect_as(&server.http, &a.token, Some(&["websocket"]))
        .await;
    let mut polling = Driver::start();
    polling
        .connect_as(&server.http, &a.token, Some(&["polling"]))
        .await;

    server.sigterm();
    let gone = ws
        .next_where("disconnect", |l| l["event"] == "$disconnect")
        .await;
    // Not "io server disconnect": the client reconnects by itself once a server is back.
    assert_eq!(gone["reason"], "transport close", "{gone}");
    assert_eq!(
        gone["code"],
        close::GOING_AWAY,
        "the WebSocket closed with going away: {gone}"
    );
    let gone = polling
        .next_where("disconnect", |l| l["event"] == "$disconnect")
        .await;
    assert_eq!(
        gone["reason"], "transport close",
        "the close packet came in a poll: {gone}"
    );
    let status = server.exited(SHUTDOWN_TIMEOUT).await;
    assert!(status.success(), "exit status {status}");
}
