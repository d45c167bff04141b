//! Pins, stars and forwarding (issue 18), as members see them: events, HTTP lists, who may do
//! what, and the bad input that must get a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};

use crate::media::{finished, upload};
use crate::support::app::{spawn_app, TestApp, TestUser, WsClient};

const QUIET: Duration = Duration::from_millis(400);

/// Sends `frame` with a `ref` and returns the answer (a frame of type `kind`, or an `error`).
async fn ask(c: &mut WsClient, mut frame: Value, kind: &str, r: &str) -> Value {
    frame["ref"] = json!(r);
    c.send(frame).await;
    let r = r.to_owned();
    c.expect_where_any(&[kind, "error"], move |f| f["ref"] == r.as_str())
        .await
}

async fn json_of(user: &TestUser, path: &str) -> (u16, Value) {
    let r = user.get(path).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn put_policy(user: &TestUser, room: &str, policy: &str) -> u16 {
    user.client
        .put(format!("{}/api/rooms/{room}/pin-policy", user.http))
        .bearer_auth(&user.token)
        .json(&json!({ "policy": policy }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn team(app: &TestApp) -> ([TestUser; 3], String) {
    let users = app.register_many(["ann", "ben", "cy"]).await;
    let room = users[0].group("team", &[&users[1], &users[2]]).await;
    (users, room)
}

#[actix_web::test]
async fn members_pin_and_unpin_and_owners_can_restrict_pinning_to_admins() {
    let app = spawn_app().await;
    let ([a, b, c], room) = team(&app).await;
    let stranger = app.register("dora").await;
    let other = a.dm(&b).await;
    let (mut ca, mut cb, mut cc) = (a.connect().await, b.connect().await, c.connect().await);
    let first = ca.send_msg(&room, "the plan").await;
    let second = ca.send_msg(&room, "the backup plan").await;
    let elsewhere = ca.send_msg(&other, "private").await;

    let pin = |id: &Value, on: bool| json!({"type": "pin", "room": room, "id": id, "on": on});
    let answer = ask(&mut cb, pin(&first["id"], true), "pinned", "p1").await;
    assert_eq!(
        (answer["type"].as_str(), answer["user"].as_str()),
        (Some("pinned"), Some(b.id.as_str()))
    );
    for client in [&mut ca, &mut cc] {
        let ev = client.expect("pinned").await;
        assert_eq!((&ev["id"], ev["on"].as_bool()), (&first["id"], Some(true)));
    }
    let (status, list) = json_of(&c, &format!("/api/rooms/{room}/pins")).await;
    assert_eq!(status, 200);
    assert_eq!(list["policy"], "members");
    assert_eq!(list["messages"][0]["id"], first["id"]);
    assert_eq!(list["messages"][0]["body"], "the plan");
    assert_eq!(list["messages"][0]["pinned_by"], json!(b.id));

    // Owners restrict pinning; members may not change that.
    assert_eq!(put_policy(&c, &room, "members").await, 403);
    assert_eq!(put_policy(&a, &room, "everyone").await, 400);
    assert_eq!(put_policy(&a, &room, "admins").await, 200);
    let refused = ask(&mut cb, pin(&second["id"], true), "pinned", "p2").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let ok = ask(&mut ca, pin(&second["id"], true), "pinned", "p3").await;
    assert_eq!(ok["type"], "pinned");
    let off = ask(&mut ca, pin(&first["id"], false), "pinned", "p4").await;
    assert_eq!(off["on"], false);
    cc.expect_where("pinned", |f| f["on"] == false).await;
    let (_, list) = json_of(&b, &format!("/api/rooms/{room}/pins")).await;
    let ids: Vec<&Value> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&second["id"]]);

    // Strangers, messages of other rooms, unknown messages.
    let mut cs = stranger.connect().await;
    let e = ask(&mut cs, pin(&second["id"], true), "pinned", "s1").await;
    assert_eq!(e["code"], "not_member");
    assert_eq!(
        json_of(&stranger, &format!("/api/rooms/{room}/pins"))
            .await
            .0,
        403
    );
    let e = ask(&mut ca, pin(&elsewhere["id"], true), "pinned", "o1").await;
    assert_eq!(e["code"], "not_found");
    let e = ask(&mut ca, pin(&json!("nope"), true), "pinned", "o2").await;
    assert_eq!(e["code"], "not_found");
    app.quiesce().await;
}

#[actix_web::test]
async fn stars_are_private_to_their_owner_and_listed() {
    let app = spawn_app().await;
    let ([a, b, _c], room) = team(&app).await;
    let stranger = app.register("dora").await;
    let (mut ca, mut ca2, mut cb) = (a.connect().await, a.connect().await, b.connect().await);
    let msg = ca.send_msg(&room, "remember this").await;
    let star = |on: bool| json!({"type": "star", "id": msg["id"], "on": on});
    let answer = ask(&mut ca, star(true), "starred", "s1").await;
    assert_eq!(
        (answer["room"].as_str(), answer["on"].as_bool()),
        (Some(room.as_str()), Some(true))
    );
    // Ann's other device hears of it; Ben does not.
    assert_eq!(ca2.expect("starred").await["id"], msg["id"]);
    cb.expect_none("starred", QUIET, |_| true).await;

    let (status, list) = json_of(&a, "/api/stars").await;
    assert_eq!(status, 200);
    assert_eq!(list["messages"][0]["id"], msg["id"]);
    assert_eq!(list["messages"][0]["room"], json!(room));
    assert!(list["messages"][0]["starred_at"].is_i64());
    assert_eq!(json_of(&b, "/api/stars").await.1["messages"], json!([]));

    let mut cs = stranger.connect().await;
    let e = ask(&mut cs, star(true), "starred", "x1").await;
    assert_eq!(e["code"], "not_member");
    ask(&mut ca, star(false), "starred", "s2").await;
    assert_eq!(json_of(&a, "/api/stars").await.1["messages"], json!([]));
    // Starring a deleted message: not found.
    ca.send(json!({"type": "delete", "id": msg["id"]})).await;
    ca.expect("deleted").await;
    let e = ask(&mut ca, star(true), "starred", "s3").await;
    assert_eq!(e["code"], "not_found");
    app.quiesce().await;
}

#[actix_web::test]
async fn a_forward_copies_body_and_attachments_only_from_rooms_the_sender_reads() {
    let app = spawn_app().await;
    let [a, b, c, d] = app.register_many(["ann", "ben", "cy", "dora"]).await;
    let source = a.group("source", &[&b]).await;
    let target = b.group("target", &[&c]).await;
    let not_mine = a.dm(&d).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    let mut cc = c.connect().await;
    let media = upload(&a, "notes.txt", b"meeting notes").await;
    assert_eq!(finished(&mut ca, &media).await["status"], "ready");
    ca.send(json!({"type": "send", "room": source, "client_id": "m1", "body": "the notes", "attachments": [media]}))
        .await;
    let original = ca.expect_where("ack", |f| f["client_id"] == "m1").await;
    cb.expect("message").await;
    // Cy cannot see Ann's file yet.
    assert_eq!(c.get(&format!("/api/media/{media}")).await.status(), 404);

    let forward = |to: Value, cid: &str| json!({"type": "forward", "id": original["id"], "to": to, "client_id": cid});
    let answer = ask(
        &mut cb,
        forward(json!([target, not_mine]), "f1"),
        "forwarded",
        "r1",
    )
    .await;
    assert_eq!(answer["type"], "forwarded", "{answer}");
    assert_eq!(answer["results"][0]["room"], json!(target));
    assert_eq!(answer["results"][0]["seq"], 1);
    assert_eq!(answer["results"][1]["error"]["code"], "not_member");
    let copy = cc.expect("message").await;
    assert_eq!(
        (
            copy["body"].as_str(),
            copy["forwarded"].as_bool(),
            copy["from"].as_str()
        ),
        (Some("the notes"), Some(true), Some(b.id.as_str()))
    );
    assert_eq!(copy["attachments"][0]["id"], json!(media));
    assert_eq!(c.get(&format!("/api/media/{media}")).await.status(), 200);
    // The same client_id again: the same message, not a second one.
    let again = ask(&mut cb, forward(json!([target]), "f1"), "forwarded", "r2").await;
    assert_eq!(again["results"][0]["id"], answer["results"][0]["id"]);
    cc.expect_none("message", QUIET, |_| true).await;

    // Only from rooms the sender reads; bounded and distinct targets; not deleted.
    let mut cd = d.connect().await;
    let e = ask(&mut cd, forward(json!([not_mine]), "f2"), "forwarded", "r3").await;
    assert_eq!(e["code"], "not_member", "{e}");
    let many: Vec<String> = (0..11).map(|i| format!("room{i}")).collect();
    for to in [json!([]), json!(many), json!([target, target])] {
        let e = ask(&mut cb, forward(to, "f3"), "forwarded", "r4").await;
        assert_eq!(e["code"], "invalid", "{e}");
    }
    ca.send(json!({"type": "delete", "id": original["id"]}))
        .await;
    ca.expect("deleted").await;
    let e = ask(&mut cb, forward(json!([target]), "f4"), "forwarded", "r5").await;
    assert_eq!(e["code"], "not_found");
    app.quiesce().await;
}
