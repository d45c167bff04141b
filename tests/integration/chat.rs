//! Chat over real WebSockets, end to end: what users see when they talk, type, come and go,
//! page back through history, reconnect, resend, and manage rooms and accounts over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chat_server::protocol::close;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::app::{spawn_app, spawn_app_with, TEST_PASSWORD, WAIT};

/// How long to watch for a frame that must not come.
const QUIET: Duration = Duration::from_millis(500);

fn seqs(msgs: &[Value]) -> Vec<i64> {
    msgs.iter().map(|m| m["seq"].as_i64().unwrap()).collect()
}

/// Asserts `frame` has every field of `want` with that value (other fields may be there too).
#[track_caller]
fn assert_has(frame: &Value, want: Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&frame[k], v, "field {k:?} of {frame}");
    }
}

fn room_in_hello<'a>(hello: &'a Value, room: &str) -> &'a Value {
    hello["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap_or_else(|| panic!("room {room} not in hello: {hello}"))
}

#[actix_web::test]
async fn two_users_chat_in_a_dm() {
    let app = spawn_app().await;
    let (a, b) = (app.register("alice").await, app.register("bob").await);
    let room = a.dm(&b).await;
    assert_eq!(b.dm(&a).await, room, "the same pair gets the same dm");
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);
    let ack = ca.send_msg(&room, "hi bob 👋").await;
    assert_eq!(ack["seq"], 1);
    let m = cb.expect("message").await;
    assert_eq!(m["body"], "hi bob 👋");
    assert_eq!(m["from"], json!(a.id));
    assert_eq!(m["id"], ack["id"]);
    let back = cb.send_msg(&room, "hi alice").await;
    assert_eq!(back["seq"], 2);
    assert_eq!(ca.expect("message").await["body"], "hi alice");
    app.quiesce().await;
}

#[actix_web::test]
async fn a_reply_must_name_a_message_of_the_same_room() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cy"]).await;
    let (ab, ac) = (a.dm(&b).await, a.dm(&c).await);
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    let first = ca.send_msg(&ab, "first").await;
    let elsewhere = ca.send_msg(&ac, "in another dm").await;
    // A reply to a message of the room goes through and names it.
    ca.send(json!({"type": "send", "room": ab, "client_id": "r1", "body": "re", "reply_to": first["id"]}))
        .await;
    ca.expect_where("ack", |f| f["client_id"] == "r1").await;
    let m = cb.expect_where("message", |f| f["client_id"] == "r1").await;
    assert_eq!(m["reply_to"], first["id"]);
    // A message of another room, or no message at all: not_found, nothing is sent.
    for (cid, target) in [
        ("r2", elsewhere["id"].clone()),
        ("r3", json!("no-such-message")),
    ] {
        ca.send(
            json!({"type": "send", "room": ab, "client_id": cid, "body": "re", "reply_to": target}),
        )
        .await;
        let e = ca.expect_where("error", |f| f["client_id"] == cid).await;
        assert_eq!(e["code"], "not_found", "{e}");
    }
    ca.send_msg(&ab, "after").await;
    loop {
        let m = cb.expect("message").await;
        assert!(
            m["client_id"] != "r2" && m["client_id"] != "r3",
            "a refused reply was delivered: {m}"
        );
        if m["body"] == "after" {
            break;
        }
    }
}

#[actix_web::test]
async fn the_senders_other_device_gets_the_message_and_the_sending_one_only_the_ack() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["alice", "bob"]).await;
    let room = a.dm(&b).await;
    let (mut phone, mut laptop, mut cb) = (a.connect().await, a.connect().await, b.connect().await);
    let ack = phone.send_with_id(&room, "from my phone", "cid-1").await;
    assert_eq!(ack["client_id"], "cid-1");
    assert_eq!(ack["room"], json!(room));
    assert_eq!(ack["seq"], 1);
    assert!(ack["id"].is_string() && ack["ts"].is_i64(), "ack: {ack}");
    for c in [&mut laptop, &mut cb] {
        let m = c.expect("message").await;
        assert_eq!(m["id"], ack["id"]);
        assert_eq!(m["seq"], 1);
        assert_eq!(m["body"], "from my phone");
        assert_eq!(m["from"], json!(a.id));
        assert_eq!(m["client_id"], "cid-1");
        assert_eq!(m["ts"], ack["ts"]);
    }
    phone.expect_none("message", QUIET, |_| true).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn a_group_of_three_receives_in_order() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    let room = a.group("trio", &[&b, &c]).await;
    let (mut ca, mut cb, mut cc) = (a.connect().await, b.connect().await, c.connect().await);
    // All 30 go out before any ack is read.
    for i in 0..30 {
        ca.send(json!({"type": "send", "room": room, "client_id": format!("c{i}"), "body": format!("m{i}")})).await;
    }
    let mut last = 0;
    for _ in 0..30 {
        let ack = ca.expect("ack").await;
        let seq = ack["seq"].as_i64().unwrap();
        assert!(seq > last, "acks out of order: {seq} after {last}");
        assert_eq!(
            ack["client_id"],
            json!(format!("c{}", seq - 1)),
            "seq follows sending order"
        );
        last = seq;
    }
    assert_eq!(last, 30);
    for client in [&mut cb, &mut cc] {
        for want in 1..=30 {
            let m = client.expect("message").await;
            assert_eq!(m["seq"], want, "messages out of order");
            assert_eq!(m["body"], json!(format!("m{}", want - 1)));
            assert_eq!(m["room"], json!(room));
        }
    }
    ca.expect_none("message", QUIET, |_| true).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn typing_reaches_other_members_only_and_expires() {
    let app = spawn_app_with(|s| s.rooms.typing_ttl_secs = 1).await;
    let [a, b, c, d] = app.register_many(["ann", "ben", "cat", "dan"]).await;
    let room = a.group("typists", &[&b, &c]).await;
    let (mut ca, mut cb, mut cc, mut cd) = (
        a.connect().await,
        b.connect().await,
        c.connect().await,
        d.connect().await,
    );

    ca.send(json!({"type": "typing", "room": room, "state": "start"}))
        .await;
    let started = Instant::now();
    for client in [&mut cb, &mut cc] {
        let t = client.expect("typing").await;
        assert_has(
            &t,
            json!({"type": "typing", "room": room, "user": a.id, "state": "start"}),
        );
    }
    // Nobody sent `stop`: it comes by itself after the ttl.
    let stop = cb.expect_where("typing", |t| t["state"] == "stop").await;
    assert_eq!(stop["user"], json!(a.id));
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "stop came before the ttl: {:?}",
        started.elapsed()
    );
    cc.expect_where("typing", |t| t["state"] == "stop").await;
    for client in [&mut ca, &mut cd] {
        client.ping("barrier").await;
        client.expect_none("typing", Duration::ZERO, |_| true).await;
    }

    // An explicit stop arrives at once, and cancels the expiry.
    // An expiry could come no sooner than the ttl (1 s) after `sent`.
    let sent = Instant::now();
    ca.send(json!({"type": "typing", "room": room, "state": "start"}))
        .await;
    ca.send(json!({"type": "typing", "room": room, "state": "stop"}))
        .await;
    cb.expect_where("typing", |t| t["state"] == "start").await;
    cb.expect_where("typing", |t| t["state"] == "stop").await;
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "the explicit stop was not sent at once"
    );
    cb.expect_none("typing", Duration::from_secs(1), |_| true)
        .await;
    for client in [&mut ca, &mut cd] {
        client.ping("barrier").await;
        client.expect_none("typing", Duration::ZERO, |_| true).await;
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn presence_follows_first_and_last_session() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    a.dm(&b).await;
    c.dm(&b).await; // c shares a room with b, not with a
    let mut cb = b.connect().await;
    let mut cc = c.connect().await;
    cc.expect_where("presence", |p| {
        p["user"] == b.id.as_str() && p["online"] == true
    })
    .await;

    let mut a1 = a.connect().await;
    let p = cb
        .expect_where("presence", |p| p["user"] == a.id.as_str())
        .await;
    assert_eq!(p["online"], true);
    // On connect, a learns who of its co-members is already online.
    let p = a1
        .expect_where("presence", |p| p["user"] == b.id.as_str())
        .await;
    assert_eq!(p["online"], true);
    a1.ping("barrier").await;
    a1.expect_none("presence", Duration::ZERO, |p| p["user"] == c.id.as_str())
        .await;

    // A second session is not news, and closing one of two is not offline.
    let a2 = a.connect().await;
    a1.close().await;
    cb.expect_none("presence", QUIET, |p| p["user"] == a.id.as_str())
        .await;
    let before = now_ms();
    a2.close().await;
    let p = cb
        .expect_where("presence", |p| p["user"] == a.id.as_str())
        .await;
    assert_eq!(p["online"], false);
    let seen = p["last_seen"]
        .as_i64()
        .unwrap_or_else(|| panic!("last_seen is not an integer: {p}"));
    assert!(
        seen >= before - 1000 && seen <= now_ms() + 1000,
        "last_seen {seen} is not now"
    );
    cc.ping("barrier").await;
    cc.expect_none("presence", Duration::ZERO, |p| p["user"] == a.id.as_str())
        .await;
    app.quiesce().await;
}

/// The first and last session of a user are decided in one place, in order: sessions that open
/// (and then close) at once are announced online once and offline once.
#[actix_web::test]
async fn sessions_opening_and_closing_at_once_are_announced_once() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    a.dm(&b).await;
    c.dm(&b).await;
    let _cc = c.connect().await;
    let mut cb = b.connect().await;
    // Ben's snapshot (cat is online) is in: ann's sessions open after it, so it cannot say she
    // is online too.
    cb.expect_where("presence", |p| p["user"] == c.id.as_str())
        .await;
    let sessions = futures_util::future::join_all((0..4).map(|_| a.connect())).await;
    let p = cb
        .expect_where("presence", |p| p["user"] == a.id.as_str())
        .await;
    assert_eq!(p["online"], true);
    cb.expect_none("presence", QUIET, |p| p["user"] == a.id.as_str())
        .await;
    futures_util::future::join_all(sessions.into_iter().map(|s| s.close())).await;
    let p = cb
        .expect_where("presence", |p| p["user"] == a.id.as_str())
        .await;
    assert_eq!(p["online"], false);
    cb.expect_none("presence", QUIET, |p| p["user"] == a.id.as_str())
        .await;
    app.quiesce().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[actix_web::test]
async fn history_pages_backwards() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    for i in 1..=25 {
        ca.send(json!({"type": "send", "room": room, "client_id": format!("c{i}"), "body": format!("m{i}")})).await;
    }
    for _ in 0..25 {
        ca.expect("ack").await;
    }
    let mut cb = b.connect().await;
    let pages = [
        (
            json!({"type": "history", "room": room, "limit": 10, "ref": "p1"}),
            "",
            16..=25,
            true,
        ),
        (
            json!({"type": "history", "room": room, "before": 16, "limit": 10, "ref": "p2"}),
            "before=16&",
            6..=15,
            true,
        ),
        (
            json!({"type": "history", "room": room, "before": 6, "limit": 10, "ref": "p3"}),
            "before=6&",
            1..=5,
            false,
        ),
    ];
    for (frame, query, want, more) in pages {
        let reference = frame["ref"].clone();
        cb.send(frame).await;
        let h = cb.expect("history").await;
        assert_eq!(h["ref"], reference);
        assert_eq!(h["room"], json!(room));
        assert_eq!(h["has_more"], more);
        let msgs = h["messages"].as_array().unwrap();
        assert_eq!(seqs(msgs), want.clone().collect::<Vec<_>>(), "oldest first");
        for m in msgs {
            assert_eq!(m["body"], json!(format!("m{}", m["seq"])));
            assert_eq!(m["from"], json!(a.id));
        }
        let r = b
            .get(&format!("/api/rooms/{room}/messages?{query}limit=10"))
            .await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["has_more"], more);
        assert_eq!(
            page["messages"], h["messages"],
            "HTTP and WebSocket pages differ"
        );
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn reconnect_and_sync_returns_exactly_the_missed_messages() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    let dm = a.dm(&b).await;
    let group = a.group("pair", &[&b]).await;
    let foreign = a.dm(&c).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    for i in 1..=5 {
        ca.send_msg(&dm, &format!("m{i}")).await;
    }
    for want in 1..=5 {
        assert_eq!(cb.expect("message").await["seq"], want);
    }
    cb.send(json!({"type": "read", "room": dm, "seq": 5})).await;
    let r = ca.expect_where("receipt", |r| r["kind"] == "read").await;
    assert_has(
        &r,
        json!({"type": "receipt", "room": dm, "user": b.id, "seq": 5, "kind": "read"}),
    );
    cb.close().await;

    for i in 6..=12 {
        ca.send_msg(&dm, &format!("m{i}")).await;
    }
    for i in 1..=3 {
        ca.send_msg(&group, &format!("g{i}")).await;
    }
    ca.send_msg(&foreign, "not for ben").await;

    let mut cb = b.connect().await;
    let r = room_in_hello(&cb.hello, &dm);
    assert_eq!(
        (
            r["last_seq"].clone(),
            r["unread"].clone(),
            r["kind"].clone()
        ),
        (json!(12), json!(7), json!("dm"))
    );
    let r = room_in_hello(&cb.hello, &group);
    assert_eq!(
        (
            r["last_seq"].clone(),
            r["unread"].clone(),
            r["kind"].clone()
        ),
        (json!(3), json!(3), json!("group"))
    );
    assert!(cb.hello["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != foreign.as_str()));

    cb.send(json!({"type": "sync", "cursors": {dm.clone(): 5}, "ref": "s1"}))
        .await;
    let (msgs, synced) = cb.until_synced().await;
    assert_eq!(seqs(&msgs), (6..=12).collect::<Vec<_>>());
    assert!(msgs
        .iter()
        .all(|m| m["room"] == dm.as_str() && m["body"] == json!(format!("m{}", m["seq"]))));
    assert_eq!(synced["ref"], "s1");

    // Two rooms, and one that is not ben's: an error for that one, the rest still syncs.
    cb.send(json!({"type": "sync", "cursors": {dm.clone(): 10, group.clone(): 0, foreign.clone(): 0}, "ref": "s2"})).await;
    let (msgs, synced) = cb.until_synced().await;
    assert_eq!(synced["ref"], "s2");
    let err = cb.expect_error("not_member").await;
    assert_eq!(err["ref"], "s2");
    let in_dm: Vec<Value> = msgs
        .iter()
        .filter(|m| m["room"] == dm.as_str())
        .cloned()
        .collect();
    let in_group: Vec<Value> = msgs
        .iter()
        .filter(|m| m["room"] == group.as_str())
        .cloned()
        .collect();
    assert_eq!(seqs(&in_dm), vec![11, 12]);
    assert_eq!(seqs(&in_group), vec![1, 2, 3]);
    assert_eq!(msgs.len(), 5, "nothing from the foreign room: {msgs:?}");

    cb.send(json!({"type": "read", "room": dm, "seq": 12}))
        .await;
    let r = ca
        .expect_where("receipt", |r| r["kind"] == "read" && r["seq"] == 12)
        .await;
    assert_has(
        &r,
        json!({"type": "receipt", "room": dm, "user": b.id, "seq": 12, "kind": "read"}),
    );
    cb.close().await;
    let cb = b.connect().await;
    let r = room_in_hello(&cb.hello, &dm);
    assert_eq!(
        (r["last_seq"].clone(), r["unread"].clone()),
        (json!(12), json!(0))
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn sends_are_acked_while_someone_goes_offline() {
    // Going offline stores last_seen; that write must not make a send running beside it fail.
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let mut seq = 0;
    for round in 0..5 {
        b.connect().await.close().await;
        for i in 0..3 {
            seq += 1;
            let ack = ca
                .send_msg(&room, &format!("round {round} message {i}"))
                .await;
            assert_eq!(ack["seq"], seq);
        }
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn a_duplicate_client_id_yields_one_message() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);

    let first = ca.send_with_id(&room, "once", "same-1").await;
    let again = ca.send_with_id(&room, "once", "same-1").await;
    assert_eq!(
        (&again["id"], &again["seq"], &again["ts"]),
        (&first["id"], &first["seq"], &first["ts"])
    );

    // Back to back, the second before the first is acked.
    for r in ["x", "y"] {
        ca.send(
            json!({"type": "send", "room": room, "client_id": "same-2", "body": "twice", "ref": r}),
        )
        .await;
    }
    let acks = [
        ca.expect_where("ack", |f| f["ref"] == "x").await,
        ca.expect_where("ack", |f| f["ref"] == "y").await,
    ];
    assert_eq!(acks[0]["seq"], 2);
    assert_eq!(
        (&acks[1]["id"], &acks[1]["seq"]),
        (&acks[0]["id"], &acks[0]["seq"])
    );

    assert_eq!(cb.expect("message").await["client_id"], "same-1");
    assert_eq!(cb.expect("message").await["client_id"], "same-2");
    cb.expect_none("message", QUIET, |_| true).await;

    // No seq was spent on the duplicates.
    assert_eq!(ca.send_msg(&room, "next").await["seq"], 3);
    let r = b.get(&format!("/api/rooms/{room}/messages")).await;
    let page: Value = r.json().await.unwrap();
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["once", "twice", "next"]);
    app.quiesce().await;
}

/// A resend of a message older than the room's in-memory window (`rooms.dedupe_window`) is
/// answered from the store: the first ack again, one message for the recipient, no seq spent.
async fn a_resend_beyond_the_dedupe_window_is_one_message(app: crate::support::app::TestApp) {
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);
    let first = ca.send_with_id(&room, "one", "old-1").await;
    ca.send_with_id(&room, "two", "old-2").await;
    ca.send_with_id(&room, "three", "old-3").await;
    let again = ca.send_with_id(&room, "one", "old-1").await;
    assert_eq!(
        (&again["id"], &again["seq"], &again["ts"]),
        (&first["id"], &first["seq"], &first["ts"])
    );
    for cid in ["old-1", "old-2", "old-3"] {
        assert_eq!(cb.expect("message").await["client_id"], cid);
    }
    cb.expect_none("message", QUIET, |_| true).await;
    assert_eq!(ca.send_msg(&room, "four").await["seq"], 4);
    app.quiesce().await;
}

#[actix_web::test]
async fn a_resend_beyond_the_dedupe_window_is_one_message_embedded() {
    let app = spawn_app_with(|s| s.rooms.dedupe_window = 1).await;
    a_resend_beyond_the_dedupe_window_is_one_message(app).await;
}

#[actix_web::test]
async fn a_resend_beyond_the_dedupe_window_is_one_message_in_the_redis_buffer() {
    use crate::support::services::{shared_mariadb, RedisServer};
    let redis = RedisServer::start().unwrap();
    let db_url = shared_mariadb().fresh_database().unwrap();
    let redis_url = redis.url();
    // The Syncer waits a minute: the first copy is only in the Redis buffer when it is resent.
    let app = spawn_app_with(move |s| {
        s.redis.url = redis_url;
        s.redis.prefix = format!("t{}", uuid::Uuid::new_v4().simple());
        s.redis.sync_interval_ms = 60_000;
        s.database.url = db_url;
        s.rooms.dedupe_window = 1;
    })
    .await;
    a_resend_beyond_the_dedupe_window_is_one_message(app).await;
}

#[actix_web::test]
async fn json_and_msgpack_clients_talk_both_ways() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let mut cj = b.connect().await;
    let mut cm = a.connect_msgpack().await;
    assert_eq!(cm.hello["user"]["id"], json!(a.id));

    // Every frame the msgpack session gets is binary MessagePack.
    cm.send(json!({"type": "ping", "ref": "mp"})).await;
    loop {
        let raw = cm.recv_raw(WAIT).await.expect("no answer to ping");
        let Message::Binary(bytes) = raw else {
            panic!("text frame on a msgpack session: {raw:?}")
        };
        let f: Value = rmp_serde::from_slice(&bytes).unwrap();
        if f["type"] == "pong" {
            assert_eq!(f["ref"], "mp");
            break;
        }
    }

    let ack = cm.send_msg(&room, "binary hello ✓").await;
    assert_eq!(ack["seq"], 1);
    let m = cj.expect("message").await;
    assert_eq!(
        (m["body"].clone(), m["from"].clone(), m["id"].clone()),
        (json!("binary hello ✓"), json!(a.id), ack["id"].clone())
    );

    let back = cj.send_msg(&room, "text reply").await;
    let m = cm.expect("message").await;
    assert_eq!(
        (m["body"].clone(), m["seq"].clone(), m["id"].clone()),
        (json!("text reply"), json!(2), back["id"].clone())
    );
    assert!(m["ts"].is_u64() && m["attachments"].is_array(), "{m}");
    app.quiesce().await;
}

#[actix_web::test]
async fn logout_closes_that_tokens_sockets_only() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let a2 = app.login(&a).await;
    assert_ne!(a2.token, a.token);
    let (mut c1, mut c2, mut cb) = (a.connect().await, a2.connect().await, b.connect().await);

    let r = a.post("/api/auth/logout", json!({})).await;
    assert_eq!(r.status(), 204);
    assert_eq!(c1.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(a.get("/api/me").await.status(), 401);
    match tokio_tungstenite::connect_async(format!("{}?token={}", a.ws, a.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("a logged-out token opened /ws: {:?}", other.map(|_| ())),
    }

    // The other device is unaffected.
    assert_eq!(a2.get("/api/me").await.status(), 200);
    c2.ping("still here").await;
    cb.send_msg(&room, "are you there?").await;
    assert_eq!(c2.expect("message").await["body"], "are you there?");
    app.quiesce().await;
}

#[actix_web::test]
async fn creating_rooms_validates_and_tells_members() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    let (mut cb, mut cc) = (b.connect().await, c.connect().await);

    let r = a
        .post(
            "/api/rooms",
            json!({"name": "ghosts", "members": [b.id, "no-such-user"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid");
    assert_eq!(
        a.post("/api/dms", json!({"user": "no-such-user"}))
            .await
            .status(),
        404
    );

    let room = a.group("friends", &[&b]).await;
    // The first room event ben sees is this one: nothing came for the refused group.
    let e = cb.expect("room_event").await;
    assert_eq!(
        (e["room"].clone(), e["event"].clone()),
        (json!(room), json!("created"))
    );
    let dm = a.dm(&c).await;
    let e = cc.expect("room_event").await;
    assert_eq!(
        (e["room"].clone(), e["event"].clone()),
        (json!(dm), json!("created"))
    );
    cc.expect_none("room_event", QUIET, |e| e["room"] == room.as_str())
        .await;
    cb.ping("barrier").await;
    cb.expect_none("room_event", Duration::ZERO, |e| e["room"] == dm.as_str())
        .await;

    // The new rooms work at once for the live sessions.
    let mut ca = a.connect().await;
    ca.send_msg(&room, "welcome").await;
    assert_eq!(cb.expect("message").await["body"], "welcome");
    app.quiesce().await;
}

#[actix_web::test]
async fn owner_adds_a_member_who_then_receives() {
    let app = spawn_app().await;
    let [a, b, c, d] = app.register_many(["ann", "ben", "cat", "dan"]).await;
    let room = a.group("club", &[&b]).await;
    let (mut ca, mut cb, mut cc) = (a.connect().await, b.connect().await, c.connect().await);
    ca.send_msg(&room, "before cat").await;

    // A plain member may not add anyone.
    let r = b
        .post(&format!("/api/rooms/{room}/members"), json!({"user": d.id}))
        .await;
    assert_eq!(r.status(), 403);

    let r = a
        .post(&format!("/api/rooms/{room}/members"), json!({"user": c.id}))
        .await;
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    let members: Vec<&str> = view["room"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        members.contains(&c.id.as_str()) && !members.contains(&d.id.as_str()),
        "{view}"
    );
    for client in [&mut cc, &mut cb] {
        let e = client.expect("room_event").await;
        assert_has(
            &e,
            json!({"type": "room_event", "room": room, "event": "member_added", "user": c.id}),
        );
    }

    ca.send_msg(&room, "hi cat").await;
    let m = cc.expect("message").await;
    assert_eq!(
        (m["body"].clone(), m["seq"].clone()),
        (json!("hi cat"), json!(2))
    );
    cc.send_msg(&room, "hi all").await;
    assert_eq!(ca.expect("message").await["body"], "hi all");
    assert_eq!(
        c.get(&format!("/api/rooms/{room}/messages")).await.status(),
        200
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn owner_removes_a_member_who_then_hears_nothing() {
    let app = spawn_app().await;
    let [a, b, c] = app.register_many(["ann", "ben", "cat"]).await;
    let room = a.group("club", &[&b, &c]).await;
    let (mut ca, mut cb, mut cc) = (a.connect().await, b.connect().await, c.connect().await);
    ca.send_msg(&room, "all here").await;
    cb.expect("message").await;
    cc.expect("message").await;

    // A plain member may not remove others.
    assert_eq!(
        b.delete(&format!("/api/rooms/{room}/members/{}", c.id))
            .await
            .status(),
        403
    );
    assert_eq!(
        a.delete(&format!("/api/rooms/{room}/members/{}", c.id))
            .await
            .status(),
        204
    );
    for client in [&mut cc, &mut cb] {
        let e = client.expect("room_event").await;
        assert_has(
            &e,
            json!({"type": "room_event", "room": room, "event": "member_removed", "user": c.id}),
        );
    }

    ca.send_msg(&room, "cat is gone").await;
    assert_eq!(cb.expect("message").await["body"], "cat is gone");
    cc.expect_none("message", QUIET, |_| true).await;
    cc.send(json!({"type": "send", "room": room, "client_id": "late", "body": "wait", "ref": "r"}))
        .await;
    let err = cc.expect_error("not_member").await;
    assert_eq!(
        (err["client_id"].clone(), err["ref"].clone()),
        (json!("late"), json!("r"))
    );
    assert_eq!(
        c.get(&format!("/api/rooms/{room}/messages")).await.status(),
        403
    );
    cb.ping("barrier").await;
    cb.expect_none("message", Duration::ZERO, |m| m["client_id"] == "late")
        .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn a_member_leaves() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.group("club", &[&b]).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);

    assert_eq!(
        b.post(&format!("/api/rooms/{room}/leave"), json!({}))
            .await
            .status(),
        204
    );
    let e = ca.expect("room_event").await;
    assert_has(
        &e,
        json!({"type": "room_event", "room": room, "event": "member_removed", "user": b.id}),
    );
    cb.expect_where("room_event", |e| e["event"] == "member_removed")
        .await;

    let listed: Value = b.get("/api/rooms").await.json().await.unwrap();
    assert!(
        listed["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != room.as_str()),
        "{listed}"
    );
    ca.send_msg(&room, "bye ben").await;
    cb.expect_none("message", QUIET, |_| true).await;
    cb.send(json!({"type": "send", "room": room, "client_id": "c", "body": "back?"}))
        .await;
    cb.expect_error("not_member").await;
    app.quiesce().await;
}

#[actix_web::test]
async fn the_room_list_shows_last_seq_and_unread() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let dm = a.dm(&b).await;
    let group = a.group("quiet", &[&b]).await;
    let mut ca = a.connect().await;
    for i in 0..3 {
        ca.send_msg(&dm, &format!("m{i}")).await;
    }
    let find = |list: &Value, id: &str| {
        list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };

    let r = b.get("/api/rooms").await;
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["rooms"].as_array().unwrap().len(), 2);
    let d = find(&list, &dm);
    assert_eq!(
        (
            d["kind"].clone(),
            d["last_seq"].clone(),
            d["unread"].clone()
        ),
        (json!("dm"), json!(3), json!(3))
    );
    let g = find(&list, &group);
    assert_eq!(
        (
            g["name"].clone(),
            g["last_seq"].clone(),
            g["unread"].clone()
        ),
        (json!("quiet"), json!(0), json!(0))
    );

    // Your own messages are not unread.
    let list: Value = a.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(find(&list, &dm)["unread"], 0);

    let mut cb = b.connect().await;
    cb.send(json!({"type": "read", "room": dm, "seq": 2})).await;
    ca.expect_where("receipt", |r| r["kind"] == "read" && r["seq"] == 2)
        .await;
    let list: Value = b.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(find(&list, &dm)["unread"], 1);
    app.quiesce().await;
}

#[actix_web::test]
async fn registration_and_login_are_validated() {
    let app = spawn_app().await;
    let post = |path: &'static str, body: Value| {
        let (client, http) = (app.client.clone(), app.http.clone());
        async move {
            client
                .post(format!("{http}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    for (body, why) in [
        (
            json!({"username": "no spaces!", "password": TEST_PASSWORD}),
            "bad username",
        ),
        (
            json!({"username": "x", "password": TEST_PASSWORD}),
            "too short a username",
        ),
        (
            json!({"username": "shortpass", "password": "1234567"}),
            "short password",
        ),
    ] {
        let r = post("/api/auth/register", body).await;
        assert_eq!(r.status(), 400, "{why}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid", "{why}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{why}: {e}"
        );
    }

    let r = post(
        "/api/auth/register",
        json!({"username": "Zoe_1", "password": TEST_PASSWORD, "display_name": "Zoë"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(
        (
            made["user"]["username"].clone(),
            made["user"]["display_name"].clone()
        ),
        (json!("zoe_1"), json!("Zoë"))
    );
    assert!(made["token"].as_str().is_some_and(|t| !t.is_empty()));
    let r = post(
        "/api/auth/register",
        json!({"username": "zoe_1", "password": TEST_PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "conflict"
    );

    assert_eq!(
        post(
            "/api/auth/login",
            json!({"username": "zoe_1", "password": "wrong password"})
        )
        .await
        .status(),
        401
    );
    let r = post(
        "/api/auth/login",
        json!({"username": "ZOE_1", "password": TEST_PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let logged: Value = r.json().await.unwrap();
    assert_eq!(logged["user"]["id"], made["user"]["id"]);

    let by_name = |name: &str| {
        let url = format!("{}/api/users/by-name/{name}", app.http);
        app.client
            .get(url)
            .bearer_auth(logged["token"].as_str().unwrap())
            .send()
    };
    let r = by_name("Zoe_1").await.unwrap();
    assert_eq!(r.status(), 200);
    let found = r.json::<Value>().await.unwrap();
    for k in ["id", "username", "display_name"] {
        assert_eq!(found["user"][k], made["user"][k], "{found}");
    }
    assert_eq!(by_name("nobody-here").await.unwrap().status(), 404);
    let anon = app
        .client
        .get(format!("{}/api/users/by-name/zoe_1", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    app.quiesce().await;
}

#[actix_web::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let text = app
        .client
        .get(format!("{}/metrics", app.http))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("chat_connections"), "{text}");
    let before = app
        .metric("chat_messages_accepted_total")
        .await
        .expect("no chat_messages_accepted_total");
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    let open = app
        .metric("chat_connections")
        .await
        .expect("no chat_connections");
    assert!(open >= 1.0, "chat_connections {open} with a socket open");
    for i in 0..3 {
        ca.send_msg(&room, &format!("m{i}")).await;
    }
    let after = app.metric("chat_messages_accepted_total").await.unwrap();
    assert!(
        after >= before + 3.0,
        "chat_messages_accepted_total went from {before} to {after} after 3 sends"
    );
    app.quiesce().await;
}

/// A `read` is answered only once its mark is durable, and frames a client wrote just before its
/// close frame are still carried out: the read marks of eight conversations, sent and at once
/// followed by a close, all show in the listing fetched after the server echoed the close.
#[actix_web::test]
async fn reads_sent_right_before_a_close_count_at_once() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let mut rooms = Vec::new();
    for i in 0..8 {
        let other = app.register(&format!("writer{i}")).await;
        let room = other.dm(&reader).await;
        let mut ws = other.connect().await;
        ws.send_msg(&room, "unread").await;
        rooms.push(room);
    }
    let unread = |listed: &Value| -> i64 {
        listed["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["unread"].as_i64().unwrap())
            .sum()
    };
    let listed: Value = reader.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(unread(&listed), 8);

    let mut ws = reader.connect().await;
    for room in &rooms {
        ws.send(json!({"type": "read", "room": room, "seq": 1}))
            .await;
    }
    ws.start_close().await;
    assert_eq!(ws.closed().await, Some(close::NORMAL));
    let listed: Value = reader.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(unread(&listed), 0, "{listed}");
}
