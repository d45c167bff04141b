//! Reactions, @mentions and reply quotes (issue 18), as members see them: live, in history, after
//! a sync, through the Redis buffer and after the Syncer copied them to MariaDB, and the bad input
//! that must get a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chat_server::actors::syncer::SyncNow;
use serde_json::{json, Value};

use crate::support::app::{app_on, spawn_app, TestApp, TestUser, WsClient};
use crate::support::services::{shared_mariadb, RedisServer};
use crate::support::wait::eventually;

const QUIET: Duration = Duration::from_millis(400);

/// Sends `react` with a `ref` and returns the answer (the `reaction` frame or an `error`).
async fn react(c: &mut WsClient, room: &str, id: &Value, emoji: &str, on: bool, r: &str) -> Value {
    c.send(json!({"type": "react", "room": room, "id": id, "emoji": emoji, "on": on, "ref": r}))
        .await;
    let r = r.to_owned();
    c.expect_where_any(&["reaction", "error"], move |f| f["ref"] == r.as_str())
        .await
}

/// The one message of `room`'s history with this id.
async fn in_history(c: &mut WsClient, room: &str, id: &Value) -> Value {
    let r = uuid::Uuid::new_v4().simple().to_string();
    c.send(json!({"type": "history", "room": room, "ref": r}))
        .await;
    let h = c
        .expect_where("history", move |f| f["ref"] == r.as_str())
        .await;
    h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == *id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in history {h}"))
}

async fn group_of_three(app: &TestApp) -> ([TestUser; 3], String) {
    let users = app.register_many(["ann", "ben", "cy"]).await;
    let room = users[0].group("team", &[&users[1], &users[2]]).await;
    (users, room)
}

#[actix_web::test]
async fn a_reaction_reaches_every_member_shows_in_history_and_can_be_taken_back() {
    let app = spawn_app().await;
    let ([a, b, c], room) = group_of_three(&app).await;
    let (mut ca, mut cb, mut cc) = (a.connect().await, b.connect().await, c.connect().await);
    let msg = ca.send_msg(&room, "lunch?").await;
    cb.expect("message").await;
    cc.expect("message").await;

    let answer = react(&mut cb, &room, &msg["id"], "👍", true, "r1").await;
    assert_eq!(answer["type"], "reaction", "{answer}");
    assert_eq!(answer["user"], json!(b.id));
    for client in [&mut ca, &mut cc] {
        let ev = client.expect("reaction").await;
        assert_eq!(
            (ev["room"].clone(), ev["id"].clone(), ev["user"].clone()),
            (json!(room), msg["id"].clone(), json!(b.id))
        );
        assert_eq!(
            (ev["emoji"].as_str(), ev["on"].as_bool()),
            (Some("👍"), Some(true))
        );
    }
    // Idempotent: the same reaction again changes nothing.
    react(&mut cb, &room, &msg["id"], "👍", true, "r2").await;
    react(&mut cc, &room, &msg["id"], "👍", true, "r3").await;
    react(&mut ca, &room, &msg["id"], "❤️", true, "r4").await;
    let m = in_history(&mut ca, &room, &msg["id"]).await;
    assert_eq!(m["reactions"], json!({"👍": [b.id, c.id], "❤️": [a.id]}));

    // Taken back: everyone hears it, and the emoji with nobody left is dropped.
    let off = react(&mut ca, &room, &msg["id"], "❤️", false, "r5").await;
    assert_eq!(off["on"], false);
    let ev = cb.expect_where("reaction", |f| f["on"] == false).await;
    assert_eq!(ev["user"], json!(a.id));
    let m = in_history(&mut cc, &room, &msg["id"]).await;
    assert_eq!(m["reactions"], json!({"👍": [b.id, c.id]}));
    app.quiesce().await;
}

#[actix_web::test]
async fn bad_reactions_get_a_clear_error_and_change_nothing() {
    let app = spawn_app().await;
    let ([a, b, _c], room) = group_of_three(&app).await;
    let stranger = app.register("dave").await;
    let other = a.dm(&b).await;
    let mut ca = a.connect().await;
    let mut cs = stranger.connect().await;
    let msg = ca.send_msg(&room, "react to me").await;
    let elsewhere = ca.send_msg(&other, "in the dm").await;

    let long = "😂".repeat(300);
    for (i, emoji) in ["a", "👍👍", ":+1:", "", "<script>", long.as_str()]
        .iter()
        .enumerate()
    {
        let e = react(&mut ca, &room, &msg["id"], emoji, true, &format!("e{i}")).await;
        assert_eq!(e["type"], "error", "{emoji:?}: {e}");
        assert_eq!(e["code"], "invalid", "{emoji:?}: {e}");
    }
    let e = react(&mut ca, &room, &json!("no-such-message"), "👍", true, "n1").await;
    assert_eq!(e["code"], "not_found");
    // A message of another room, named with this room: not found here.
    let e = react(&mut ca, &room, &elsewhere["id"], "👍", true, "n2").await;
    assert_eq!(e["code"], "not_found");
    // Someone who is not a member, naming the room and the message.
    let e = react(&mut cs, &room, &msg["id"], "👍", true, "s1").await;
    assert_eq!(e["code"], "not_member", "{e}");
    // A deleted message takes no reactions.
    ca.send(json!({"type": "delete", "id": msg["id"]})).await;
    ca.expect("deleted").await;
    let e = react(&mut ca, &room, &msg["id"], "👍", true, "d1").await;
    assert_eq!(e["code"], "not_found");

    let m = in_history(&mut ca, &room, &msg["id"]).await;
    assert_eq!(m["reactions"], json!({}));
    cs.expect_none("reaction", QUIET, |_| true).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn mentions_name_members_only_and_count_as_unread_mentions() {
    let app = spawn_app().await;
    let ([a, b, c], room) = group_of_three(&app).await;
    let stranger = app.register("dave").await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    let body = format!(
        "@{} and @{}: see @{} (not here) and @nobody, mail {}@example.com",
        b.username, c.username, stranger.username, c.username
    );
    let ack = ca.send_msg(&room, &body).await;
    let live = cb.expect("message").await;
    assert_eq!(live["mentions"], json!([b.id, c.id]));
    assert_eq!(
        in_history(&mut cb, &room, &ack["id"]).await["mentions"],
        json!([b.id, c.id])
    );
    ca.send_msg(&room, "no one named here").await;
    ca.send_msg(&room, &format!("only @{}", c.username)).await;

    // Ben's hello: three unread, one of them mentions him.
    let cb2 = b.connect().await;
    let r = cb2.hello["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap()
        .clone();
    assert_eq!(
        (r["unread"].as_i64(), r["unread_mentions"].as_i64()),
        (Some(3), Some(1))
    );

    // An edit names people anew.
    ca.send(json!({"type": "edit", "id": ack["id"], "body": format!("just @{}", c.username)}))
        .await;
    let ed = cb.expect("edited").await;
    assert_eq!(ed["mentions"], json!([c.id]));
    assert_eq!(
        in_history(&mut cb, &room, &ack["id"]).await["mentions"],
        json!([c.id])
    );

    // A body full of names (as many as its 8,000 characters hold) costs one bounded lookup and
    // names nobody who is not a member.
    let many: String = (0..900).map(|i| format!("@us{i:04} ")).collect();
    let big = ca.send_msg(&room, &many).await;
    assert_eq!(
        in_history(&mut ca, &room, &big["id"]).await["mentions"],
        json!([])
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn a_reply_carries_a_quote_of_the_original_live_and_in_history() {
    let app = spawn_app().await;
    let ([a, b, _c], room) = group_of_three(&app).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    let long_line = "x".repeat(300);
    let first = ca
        .send_msg(
            &room,
            &format!("\n  where do we meet?\nsecond line {long_line}"),
        )
        .await;
    cb.expect("message").await;
    cb.send(json!({"type": "send", "room": room, "client_id": "re1", "body": "at noon", "reply_to": first["id"]}))
        .await;
    cb.expect_where("ack", |f| f["client_id"] == "re1").await;
    let live = ca
        .expect_where("message", |f| f["client_id"] == "re1")
        .await;
    assert_eq!(
        live["quote"],
        json!({"id": first["id"], "from": a.id, "text": "where do we meet?", "deleted": false})
    );
    let second = ca.send_msg(&room, &long_line).await;
    cb.send(json!({"type": "send", "room": room, "client_id": "re2", "body": "long", "reply_to": second["id"]}))
        .await;
    let ack2 = cb.expect_where("ack", |f| f["client_id"] == "re2").await;
    let q = &in_history(&mut ca, &room, &ack2["id"]).await["quote"];
    assert_eq!(
        q["text"].as_str().unwrap().chars().count(),
        101,
        "100 chars and an ellipsis"
    );

    // Once the original is deleted, the quote says so and shows nothing of it.
    ca.send(json!({"type": "delete", "id": first["id"]})).await;
    ca.expect("deleted").await;
    let reply = in_history(&mut cb, &room, &live["id"]).await;
    assert_eq!(reply["quote"]["deleted"], true);
    assert_eq!(reply["quote"]["text"], "");
    app.quiesce().await;
}

/// Redis + MariaDB: reactions and mentions read the same while buffered and once the Syncer
/// copied them, and a reaction taken back stays taken back in SQL.
#[actix_web::test]
async fn reactions_and_mentions_survive_the_buffer_and_the_syncer() {
    let redis = RedisServer::start().unwrap();
    let db_url = shared_mariadb().fresh_database().unwrap();
    // The Syncer waits to be told (SyncNow), so what is read first comes from the buffer.
    let app = app_on(&redis, &db_url, 3_600_000).await;
    let ([a, b, c], room) = group_of_three(&app).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    let msg = ca.send_msg(&room, &format!("hey @{}", b.username)).await;
    cb.send(json!({"type": "send", "room": room, "client_id": "q1", "body": "yes", "reply_to": msg["id"]}))
        .await;
    cb.expect_where("ack", |f| f["client_id"] == "q1").await;
    react(&mut cb, &room, &msg["id"], "🎉", true, "b1").await;
    react(&mut ca, &room, &msg["id"], "🎉", true, "a1").await;
    react(&mut ca, &room, &msg["id"], "🎉", false, "a2").await;
    let want = json!({"🎉": [b.id]});

    let check = |m: &Value| {
        assert_eq!(m["reactions"], want, "{m}");
        assert_eq!(m["mentions"], json!([b.id]), "{m}");
    };
    check(&in_history(&mut cb, &room, &msg["id"]).await);
    // A fresh device syncing from zero sees the same.
    let mut cc = c.connect().await;
    cc.send(json!({"type": "sync", "cursors": {room.clone(): 0}}))
        .await;
    let (msgs, _) = cc.until_synced().await;
    check(&msgs[0]);
    assert_eq!(msgs[1]["quote"]["text"], format!("hey @{}", b.username));

    app.state.syncer.as_ref().unwrap().do_send(SyncNow);
    let db = db_url.rsplit('/').next().unwrap().to_owned();
    let maria = shared_mariadb();
    eventually(30, "reactions copied to MariaDB", || {
        maria
            .sql(&db, "SELECT COUNT(*) FROM message_reactions")
            .map(|o| o.trim() == "2")
            .unwrap_or(false)
    })
    .await;
    let active = maria
        .sql(
            &db,
            "SELECT user_id, active FROM message_reactions ORDER BY active",
        )
        .unwrap();
    assert!(active.contains(&format!("{}\t0", a.id)), "{active}");
    assert!(active.contains(&format!("{}\t1", b.id)), "{active}");
    check(&in_history(&mut cb, &room, &msg["id"]).await);
    app.quiesce().await;
}
