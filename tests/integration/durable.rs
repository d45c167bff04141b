//! The production write path against real services: Persister → Redis Stream (AOF, fsync always)
//! → Syncer → MariaDB, with faults: a frozen database, a Redis restart, a crash between the SQL
//! commit and the stream ack, and kill -9 of the server mid-load.

use std::collections::HashMap;
use std::time::Duration;

use chat_server::actors::syncer::SyncNow;
use serde_json::{json, Value};

use crate::restart::{all_messages, register, ServerProcess};
use crate::support::app::{app_on, spawn_app_with, TestUser};
use crate::support::services::{free_port, shared_mariadb, MariaDb, RedisServer};
use crate::support::wait::eventually;

/// A fresh MariaDB database (URL, name) on the shared server.
fn fresh_db(maria: &MariaDb) -> (String, String) {
    let url = maria.fresh_database().unwrap();
    let name = url.rsplit('/').next().unwrap().to_owned();
    (url, name)
}

fn count(maria: &MariaDb, db: &str, sql: &str) -> i64 {
    maria.sql(db, sql).unwrap().trim().parse().unwrap()
}

/// Whether the default-prefix write stream is empty (every entry synced and acked).
fn stream_empty(redis: &RedisServer) -> bool {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "XLEN", "chat:writes"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

async fn redis_cmd(url: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut c).await.unwrap()
}

#[actix_web::test]
async fn acked_messages_are_readable_before_sync_and_reach_mariadb_once() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    // A timer that never fires during the test: the test drives the Syncer itself.
    let app = app_on(&redis, &url, 3_600_000).await;
    let (a, b) = (app.register("ann").await, app.register("ben").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    for i in 0..30 {
        ca.send_msg(&room, &format!("buffered {i} 🚀")).await;
    }
    // Acked, not yet in MariaDB, yet history and sync show all of them (read your writes).
    assert_eq!(count(maria, &db, "SELECT COUNT(*) FROM messages"), 0);
    let msgs = all_messages(&b, &room).await;
    assert_eq!(msgs.len(), 30);
    assert_eq!(msgs[29]["body"], "buffered 29 🚀");
    let rooms: Value = b.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(
        (
            rooms["rooms"][0]["last_seq"].clone(),
            rooms["rooms"][0]["unread"].clone()
        ),
        (json!(30), json!(30))
    );
    let mut cb = b.connect().await;
    cb.send(json!({"type": "sync", "cursors": {room.clone(): 25}}))
        .await;
    for want in 26..=30 {
        assert_eq!(cb.expect("message").await["seq"], want);
    }
    cb.expect("synced").await;
    // What sync handed over is marked delivered (a write of its own); the sender hears once it
    // is durable, and the Syncer below then finds it in the stream.
    ca.expect_where("receipt", |f| f["kind"] == "delivered" && f["seq"] == 30)
        .await;

    app.state.syncer.as_ref().unwrap().do_send(SyncNow);
    eventually(20, "30 rows in MariaDB", || {
        count(maria, &db, "SELECT COUNT(*) FROM messages") == 30
    })
    .await;
    assert_eq!(
        count(maria, &db, "SELECT COUNT(DISTINCT seq) FROM messages"),
        30
    );
    assert_eq!(
        count(
            maria,
            &db,
            &format!("SELECT last_seq FROM rooms WHERE id = '{room}'")
        ),
        30
    );
    // The stream was acked and trimmed, and the history reads the same from SQL alone.
    let prefix = &app.state.settings.redis.prefix;
    assert_eq!(
        redis_cmd(&redis.url(), &["XLEN", &format!("{prefix}:writes")]).await,
        redis::Value::Int(0)
    );
    assert_eq!(all_messages(&b, &room).await, msgs);
}

#[actix_web::test]
async fn frozen_mariadb_does_not_stop_acks_and_the_backlog_drains_after() {
    let redis = RedisServer::start().unwrap();
    let maria = MariaDb::start().unwrap();
    let (url, db) = fresh_db(&maria);
    let app = app_on(&redis, &url, 50).await;
    let (a, b) = (app.register("ann").await, app.register("ben").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    ca.send_msg(&room, "before the freeze").await;
    eventually(20, "first row synced", || {
        count(&maria, &db, "SELECT COUNT(*) FROM messages") == 1
    })
    .await;

    maria.pause().unwrap();
    for i in 0..200 {
        ca.send_msg(&room, &format!("during {i}")).await;
    }
    // Delivered live too.
    for _ in 0..201 {
        cb.expect("message").await;
    }
    let metrics = reqwest::get(format!("{}/metrics", app.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    maria.resume().unwrap();

    eventually(60, "backlog drained into MariaDB", || {
        count(&maria, &db, "SELECT COUNT(*) FROM messages") == 201
    })
    .await;
    assert_eq!(
        count(&maria, &db, "SELECT COUNT(DISTINCT id) FROM messages"),
        201
    );
    assert_eq!(count(&maria, &db, "SELECT MAX(seq) FROM messages"), 201);
    assert!(metrics.contains("chat_write_buffer_depth"), "{metrics}");
}

#[actix_web::test]
async fn redis_down_gives_unavailable_never_a_false_ack_and_recovers() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    let app = app_on(&redis, &url, 50).await;
    let (a, b) = (app.register("ann").await, app.register("ben").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    ca.send_msg(&room, "one").await;

    redis.kill();
    ca.send(json!({"type": "send", "room": room, "client_id": "during-outage", "body": "two"}))
        .await;
    let f = ca
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "during-outage")
        .await;
    assert_eq!(
        (f["type"].as_str(), f["code"].as_str()),
        (Some("error"), Some("unavailable")),
        "{f}"
    );

    redis.restart().unwrap();
    // The server reconnects by itself: the resend is acked, right after "one".
    let mut acked = None;
    for _ in 0..100 {
        ca.send(json!({"type": "send", "room": room, "client_id": "during-outage", "body": "two"}))
            .await;
        let f = ca
            .expect_where_any(&["ack", "error"], |f| f["client_id"] == "during-outage")
            .await;
        if f["type"] == "ack" {
            acked = Some(f);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ack = acked.expect("never acked after Redis came back");
    assert_eq!(ack["seq"], 2);
    eventually(30, "both rows in MariaDB", || {
        count(maria, &db, "SELECT COUNT(*) FROM messages") == 2
    })
    .await;
    let bodies = maria
        .sql(&db, "SELECT body FROM messages ORDER BY seq")
        .unwrap();
    assert_eq!(bodies.lines().collect::<Vec<_>>(), ["one", "two"]);
}

#[actix_web::test]
async fn server_refuses_a_redis_that_may_evict() {
    let redis = RedisServer::start().unwrap();
    redis_cmd(
        &redis.url(),
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = crate::support::app::test_settings(dir.path());
    s.redis.url = redis.url();
    let err = match chat_server::startup::Application::build(s).await {
        Ok(_) => panic!("started on an evicting Redis"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("noeviction"), "{err}");
}

/// Sends `n` messages without waiting and returns the acks received (client id → (id, seq)),
/// reading until the connection drops or `want` acks arrived.
async fn flood(
    ws: &mut crate::support::app::WsClient,
    room: &str,
    n: usize,
    want: usize,
) -> HashMap<String, (String, i64)> {
    for i in 0..n {
        ws.send(json!({"type": "send", "room": room, "client_id": format!("c{i}"), "body": format!("message {i}")})).await;
    }
    let mut acked = HashMap::new();
    while acked.len() < want {
        let Some(f) = ws.recv(Duration::from_secs(10)).await else {
            break;
        };
        if f["type"] == "ack" {
            acked.insert(
                f["client_id"].as_str().unwrap().to_owned(),
                (
                    f["id"].as_str().unwrap().to_owned(),
                    f["seq"].as_i64().unwrap(),
                ),
            );
        }
    }
    acked
}

fn assert_each_acked_once(
    maria: &MariaDb,
    db: &str,
    room: &str,
    acked: &HashMap<String, (String, i64)>,
) {
    let rows = maria
        .sql(
            db,
            &format!(
                "SELECT client_id, id, seq FROM messages WHERE room_id = '{room}' ORDER BY seq"
            ),
        )
        .unwrap();
    let mut stored: HashMap<String, (String, i64)> = HashMap::new();
    let mut seqs = Vec::new();
    for line in rows.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let seq: i64 = cols[2].parse().unwrap();
        assert!(
            stored
                .insert(cols[0].to_owned(), (cols[1].to_owned(), seq))
                .is_none(),
            "{} stored twice",
            cols[0]
        );
        seqs.push(seq);
    }
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "seqs must be gap-free"
    );
    for (cid, ack) in acked {
        assert_eq!(
            stored.get(cid),
            Some(ack),
            "acked {cid} missing or changed in MariaDB"
        );
    }
}

#[actix_web::test]
async fn crash_between_sql_commit_and_stream_ack_inserts_nothing_twice() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = vec![
        ("CHAT__REDIS__URL", redis.url()),
        ("CHAT__REDIS__SYNC_INTERVAL_MS", "1000".to_string()),
        ("CHAT__WS__RATE_PER_SEC", "100000".to_string()),
        ("CHAT__WS__RATE_BURST", "100000".to_string()),
    ];
    let mut crashing = base.clone();
    crashing.push(("CHAT__REDIS__DEBUG_CRASH_AFTER_COMMIT", "true".to_string()));
    let mut server = ServerProcess::start(dir.path(), &url, port, &crashing).await;
    let a = register(&server.http, port, "ann").await;
    let b = register(&server.http, port, "ben").await;
    let room = a.dm(&b).await;
    let mut ws = a.connect().await;
    let acked = flood(&mut ws, &room, 50, 50).await;
    assert_eq!(acked.len(), 50);

    // The next sync round commits to MariaDB and then the process aborts before the stream ack.
    let status = tokio::task::spawn_blocking(move || {
        let s = server.child.wait().unwrap();
        (server, s)
    });
    let (_dead, status) = tokio::time::timeout(Duration::from_secs(30), status)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !status.success(),
        "the failpoint should have aborted the server"
    );
    assert_eq!(
        count(maria, &db, "SELECT COUNT(*) FROM messages"),
        50,
        "the commit happened before the crash"
    );

    // Restarted without the failpoint, the node replays its own unacked entries: no duplicates.
    let _server = ServerProcess::start(dir.path(), &url, port, &base).await;
    eventually(30, "stream drained", || stream_empty(&redis)).await;
    assert_eq!(count(maria, &db, "SELECT COUNT(*) FROM messages"), 50);
    assert_each_acked_once(maria, &db, &room, &acked);
}

#[actix_web::test]
async fn kill9_under_load_with_redis_and_mariadb_keeps_every_acked_message_once() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = vec![
        ("CHAT__REDIS__URL", redis.url()),
        ("CHAT__WS__RATE_PER_SEC", "100000".to_string()),
        ("CHAT__WS__RATE_BURST", "100000".to_string()),
    ];
    let mut server = ServerProcess::start(dir.path(), &url, port, &env).await;
    let a = register(&server.http, port, "ann").await;
    let b = register(&server.http, port, "ben").await;
    let room = a.dm(&b).await;
    let mut ws = a.connect().await;
    let mut acked = flood(&mut ws, &room, 500, 150).await;
    server.kill9();
    while let Some(f) = ws.recv(Duration::from_millis(500)).await {
        if f["type"] == "ack" {
            acked.insert(
                f["client_id"].as_str().unwrap().to_owned(),
                (
                    f["id"].as_str().unwrap().to_owned(),
                    f["seq"].as_i64().unwrap(),
                ),
            );
        }
    }
    assert!(acked.len() >= 150);

    let _server = ServerProcess::start(dir.path(), &url, port, &env).await;
    eventually(60, "stream drained", || stream_empty(&redis)).await;
    assert_each_acked_once(maria, &db, &room, &acked);
    // What clients see after the restart agrees with MariaDB.
    let msgs = all_messages(&a, &room).await;
    assert_eq!(
        msgs.len() as i64,
        count(maria, &db, "SELECT COUNT(*) FROM messages")
    );
}

#[actix_web::test]
async fn an_entry_that_keeps_failing_goes_to_the_dead_letter_stream_and_the_rest_syncs() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let (redis_url, db_url, p) = (redis.url(), url.clone(), prefix.clone());
    let app = spawn_app_with(move |s| {
        s.redis.url = redis_url;
        s.redis.prefix = p;
        s.redis.sync_interval_ms = 3_600_000;
        s.redis.max_attempts = 2;
        s.database.url = db_url;
    })
    .await;
    let (a, b) = (app.register("ann").await, app.register("ben").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    ca.send_msg(&room, "doomed").await;
    // Something else took seq 1 in MariaDB: the buffered message can never be inserted.
    maria
        .sql(&db, &format!("INSERT INTO messages (id, room_id, seq, sender_id, client_id, body, created_at, deleted) VALUES ('intruder', '{room}', 1, 'x', 'x', 'x', 0, 0)"))
        .unwrap();
    let syncer = app.state.syncer.clone().unwrap();
    let dead = format!("{prefix}:dead");
    for _ in 0..200 {
        syncer.do_send(SyncNow);
        if redis_cmd(&redis.url(), &["XLEN", &dead]).await == redis::Value::Int(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        redis_cmd(&redis.url(), &["XLEN", &dead]).await,
        redis::Value::Int(1),
        "the failing entry was dead-lettered"
    );
    // It no longer blocks the rest: the next message syncs.
    ca.send_msg(&room, "fine").await;
    for _ in 0..200 {
        syncer.do_send(SyncNow);
        if count(
            maria,
            &db,
            "SELECT COUNT(*) FROM messages WHERE body = 'fine'",
        ) == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(
            maria,
            &db,
            "SELECT COUNT(*) FROM messages WHERE body = 'fine'"
        ),
        1
    );
    assert_eq!(
        redis_cmd(&redis.url(), &["XLEN", &format!("{prefix}:writes")]).await,
        redis::Value::Int(0)
    );
    let metrics = reqwest::get(format!("{}/metrics", app.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("chat_dead_letters 1"), "{metrics}");
    // An admin sees it, with the error, on the admin pages' list.
    let boss = app.register_admin("boss").await;
    let list: serde_json::Value = boss
        .get("/api/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["buffer"], true);
    let dead = list["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{list}");
    assert!(!dead[0]["entry"].as_str().unwrap().is_empty(), "{list}");
    assert!(!dead[0]["error"].as_str().unwrap().is_empty(), "{list}");
    assert!(dead[0]["at"].as_i64().unwrap() > 0, "{list}");
}

/// Two plain servers on one Redis prefix would count the same rooms' seqs: the second refuses to
/// start, and so does a cluster node; another prefix is fine, and the prefix is free again once
/// the first server stopped.
#[actix_web::test]
async fn a_second_server_on_the_same_redis_prefix_refuses_to_start() {
    let redis = RedisServer::start().unwrap();
    let (db_url, _) = fresh_db(shared_mariadb());
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let settings = |consumer: &str, cluster: bool, prefix: &str| {
        let mut s = crate::support::app::test_settings(dir.path());
        s.redis.url = redis.url();
        s.redis.prefix = prefix.to_owned();
        s.redis.consumer = consumer.to_owned();
        // Each server its own search index (two in one process cannot share one).
        s.search.dir = dir
            .path()
            .join(format!("search-{consumer}-{prefix}"))
            .display()
            .to_string();
        s.database.url = db_url.clone();
        s.cluster.enabled = cluster;
        s.cluster.node_id = consumer.to_owned();
        s
    };
    let first = chat_server::startup::Application::build(settings("one", false, &prefix))
        .await
        .expect("the first server starts");
    let handle = first.handle();
    let running = actix_web::rt::spawn(first.run_until_stopped());

    let refused = |r: Result<
        chat_server::startup::Application,
        chat_server::startup::StartupError,
    >| match r {
        Ok(_) => panic!("a second server started on the same prefix"),
        Err(e) => e.to_string(),
    };
    let second =
        refused(chat_server::startup::Application::build(settings("two", false, &prefix)).await);
    assert!(second.contains("another server (one)"), "{second}");
    let node =
        refused(chat_server::startup::Application::build(settings("node1", true, &prefix)).await);
    assert!(node.contains("another server (one)"), "{node}");
    let other = format!("{prefix}x");
    chat_server::startup::Application::build(settings("two", false, &other))
        .await
        .expect("another prefix is fine");

    handle.stop(true).await;
    running.await.unwrap().unwrap();
    chat_server::startup::Application::build(settings("two", false, &prefix))
        .await
        .expect("the prefix is free once the first server stopped");
}

#[actix_web::test]
async fn a_deleted_messages_earlier_versions_are_gone_before_the_delete_is_synced() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let (url, db) = fresh_db(maria);
    // The test drives the Syncer itself.
    let app = app_on(&redis, &url, 3_600_000).await;
    let (a, b) = (app.register("ann").await, app.register("ben").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let id = ca.send_msg(&room, "first draft").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ca.send(json!({"type": "edit", "id": id, "body": "second draft"}))
        .await;
    ca.expect_where("edited", |f| f["id"] == id.as_str()).await;
    app.state.syncer.as_ref().unwrap().do_send(SyncNow);
    eventually(20, "the edit in MariaDB", || {
        count(maria, &db, "SELECT COUNT(*) FROM message_edits") == 1
    })
    .await;
    let versions = |who: TestUser| {
        let path = format!("/api/messages/{id}/versions");
        async move {
            let v: Value = who.get(&path).await.json().await.unwrap();
            v["versions"].as_array().unwrap().len()
        }
    };
    assert_eq!(versions(b.clone()).await, 1);
    ca.send(json!({"type": "delete", "id": id})).await;
    ca.expect_where("deleted", |f| f["id"] == id.as_str()).await;
    // The delete is only in Redis, the old body still in MariaDB: not shown.
    assert_eq!(count(maria, &db, "SELECT COUNT(*) FROM message_edits"), 1);
    assert_eq!(versions(b).await, 0);
}
