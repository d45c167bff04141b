//! The connect cache in Redis (`crates/chat-store/src/cache.rs`): what a connect needs before
//! `hello` is answered from Redis, and every change to tokens, accounts, memberships and blocks
//! takes effect at the next connect all the same. Each test connects once first, so the answers
//! are cached before the change.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::app::{TestApp, TestUser, WsClient};
use crate::support::services::{shared_mariadb, RedisServer};

/// A server on Redis + a fresh MariaDB database.
async fn app_on(redis: &RedisServer) -> TestApp {
    let db_url = shared_mariadb().fresh_database().unwrap();
    crate::support::app::app_on(redis, &db_url, 100).await
}

/// The HTTP status `/ws` refuses `user`'s token with, or `None` when it lets them in.
async fn refusal(user: &TestUser) -> Option<u16> {
    let url = format!("{}?token={}", user.ws, user.token);
    match WsClient::try_connect(url, false).await {
        Ok(c) => {
            c.close().await;
            None
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Some(r.status().as_u16()),
        Err(e) => panic!("connect failed: {e}"),
    }
}

#[actix_web::test]
async fn a_logged_out_or_banned_token_is_refused_at_the_next_connect() {
    let redis = RedisServer::start().unwrap();
    let app = app_on(&redis).await;
    let admin = app.register_admin("root").await;
    let ann = app.register("ann").await;
    assert_eq!(refusal(&ann).await, None);
    assert_eq!(ann.post("/api/auth/logout", json!({})).await.status(), 204);
    assert_eq!(refusal(&ann).await, Some(401));

    let ann = app.login(&ann).await;
    assert_eq!(refusal(&ann).await, None);
    let banned = admin
        .post(&format!("/api/admin/users/{}/ban", ann.id), json!({}))
        .await;
    assert!(banned.status().is_success(), "ban: {}", banned.status());
    assert_eq!(refusal(&ann).await, Some(401));
}

#[actix_web::test]
async fn a_profile_change_reaches_the_next_hello() {
    let redis = RedisServer::start().unwrap();
    let app = app_on(&redis).await;
    let ann = app.register("ann").await;
    let c = ann.connect().await;
    assert_eq!(c.hello["user"]["display_name"], "ann");
    c.close().await;
    let r = ann
        .client
        .patch(format!("{}/api/me", ann.http))
        .bearer_auth(&ann.token)
        .json(&json!({"display_name": "Annie"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let c = ann.connect().await;
    assert_eq!(c.hello["user"]["display_name"], "Annie");
}

fn online(who: &TestUser) -> impl Fn(&Value) -> bool + '_ {
    move |f| f["user"] == who.id.as_str() && f["online"] == true
}

#[actix_web::test]
async fn presence_follows_a_new_dm_and_stops_at_a_block() {
    let redis = RedisServer::start().unwrap();
    let app = app_on(&redis).await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    // Ann's presence peers (nobody yet) are cached by her first connect.
    ann.connect().await.close().await;
    let mut cb = ben.connect().await;
    ann.dm(&ben).await;
    // A new dm partner is told when she comes online.
    let ca = ann.connect().await;
    cb.expect_where("presence", online(&ann)).await;
    ca.close().await;
    cb.expect_where("presence", |f| {
        f["user"] == ann.id.as_str() && f["online"] == false
    })
    .await;

    // Ann blocks Ben: he is no longer told of her presence.
    assert_eq!(
        ann.post("/api/blocks", json!({"user": ben.id}))
            .await
            .status(),
        204
    );
    let _ca = ann.connect().await;
    cb.expect_none("presence", Duration::from_millis(700), online(&ann))
        .await;
}

/// The `unread` of `room` in a `hello`.
fn unread_in(hello: &Value, room: &str) -> i64 {
    hello["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap_or_else(|| panic!("{room} not in {hello}"))["unread"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn unread_counts_follow_reads_not_yet_in_sql() {
    let redis = RedisServer::start().unwrap();
    let db_url = shared_mariadb().fresh_database().unwrap();
    // The Syncer never runs during the test: messages and read marks stay in Redis.
    let app = crate::support::app::app_on(&redis, &db_url, 3_600_000).await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    let room = ann.dm(&ben).await;
    let mut ca = ann.connect().await;
    let mut seqs = Vec::new();
    for i in 0..4 {
        seqs.push(
            ca.send_msg(&room, &format!("m{i}")).await["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut phone = ben.connect().await;
    assert_eq!(unread_in(&phone.hello, &room), 4);
    phone
        .send(json!({"type": "read", "room": room, "seq": seqs[1]}))
        .await;
    phone.expect_where("receipt", |f| f["kind"] == "read").await;
    // Her own messages do not count for her.
    ca.send_msg(&room, "mine").await;
    let laptop = ben.connect().await;
    assert_eq!(unread_in(&laptop.hello, &room), 3);
    let again = ann.connect().await;
    assert_eq!(unread_in(&again.hello, &room), 0);
}

#[actix_web::test]
async fn with_mariadb_frozen_a_returning_user_gets_hello_with_the_right_counts() {
    let redis = RedisServer::start().unwrap();
    let maria = crate::support::services::MariaDb::start().unwrap();
    let db_url = maria.fresh_database().unwrap();
    let app = crate::support::app::app_on(&redis, &db_url, 100).await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    let room = ann.dm(&ben).await;
    let mut ca = ann.connect().await;
    ca.send_msg(&room, "before").await;
    // Ben was here before: what his connect needs is in Redis.
    ben.connect().await.close().await;

    maria.pause().unwrap();
    ca.send_msg(&room, "during the freeze").await;
    let connected = tokio::time::timeout(Duration::from_secs(10), ben.connect()).await;
    let unread = connected.as_ref().ok().map(|c| unread_in(&c.hello, &room));
    // Then he catches up with sync and answers.
    let chatted = match connected {
        Ok(mut cb) => tokio::time::timeout(Duration::from_secs(10), async {
            ca.expect_where("presence", online(&ben)).await;
            cb.send(json!({"type": "sync", "cursors": {room.clone(): 1}}))
                .await;
            let (synced, _) = cb.until_synced().await;
            let bodies: Vec<&str> = synced.iter().map(|m| m["body"].as_str().unwrap()).collect();
            cb.send_msg(&room, "back").await;
            let got = ca.expect_where("message", |f| f["body"] == "back").await;
            (bodies.join(","), got["seq"].as_i64().unwrap())
        })
        .await
        .ok(),
        Err(_) => None,
    };
    maria.resume().unwrap();
    assert_eq!(unread, Some(2), "no hello while MariaDB was frozen");
    assert_eq!(
        chatted,
        Some(("during the freeze".to_owned(), 3)),
        "presence, sync or sending stalled while MariaDB was frozen"
    );
}
