//! People and messages (issue 6) through the real HTTP API and WebSocket: profiles, settings,
//! contacts, blocking, broadcast, edit/delete, receipts, group roles, account deletion.

use std::time::Duration;

use chat_server::protocol::close;
use serde_json::{json, Value};

use crate::support::app::{spawn_app, spawn_app_with, TestUser};
use crate::support::push::{verify_email, verify_phone, MailGateway, SmsGateway};

async fn patch(u: &TestUser, path: &str, body: Value) -> reqwest::Response {
    u.client
        .patch(format!("{}{path}", u.http))
        .bearer_auth(&u.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put(u: &TestUser, path: &str, body: Value) -> reqwest::Response {
    u.client
        .put(format!("{}{path}", u.http))
        .bearer_auth(&u.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

#[actix_web::test]
async fn profiles_are_edited_validated_and_found() {
    let app = spawn_app().await;
    let (a, b) = (app.register("ada").await, app.register("bob").await);
    let r = patch(&a, "/api/me", json!({"display_name": "Ada L.", "about": "maths", "phone": "(415) 555-2671", "email": "Ada@Example.org"})).await;
    assert_eq!(r.status(), 200);
    let me = json_of(r).await;
    assert_eq!(me["user"]["phone"], "+14155552671");
    assert_eq!(me["user"]["email"], "ada@example.org");
    // Others see the public profile, without email or phone.
    let seen = json_of(b.get(&format!("/api/users/{}", a.id)).await).await;
    assert_eq!(
        (
            seen["user"]["display_name"].as_str(),
            seen["user"]["about"].as_str()
        ),
        (Some("Ada L."), Some("maths"))
    );
    assert!(seen["user"].get("phone").is_none() && seen["user"].get("email").is_none());
    // Validation errors name the field.
    let r = patch(&a, "/api/me", json!({"phone": "not a number"})).await;
    assert_eq!(r.status(), 400);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("phone"));
    let r = patch(&a, "/api/me", json!({"email": "nope"})).await;
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("email"));
    // Search by name prefix.
    let found = json_of(b.get("/api/users?q=ada").await).await;
    assert!(found["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == a.id.as_str()));
}

#[actix_web::test]
async fn address_book_numbers_in_any_format_find_registered_users() {
    let (mut sms, mut mail) = (SmsGateway::start(), MailGateway::start());
    let (sms_url, sms_user, sms_password) =
        (sms.url.clone(), sms.user.clone(), sms.password.clone());
    let (mail_url, mail_token) = (mail.url.clone(), mail.token.clone());
    let app = spawn_app_with(move |s| {
        s.push.sms.url = sms_url;
        s.push.sms.username = sms_user;
        s.push.sms.password = chat_server::config::Secret::new(sms_password);
        s.mail.gateway_url = mail_url;
        s.mail.token = chat_server::config::Secret::new(mail_token);
    })
    .await;
    let (me, ann, ben) = (
        app.register("me").await,
        app.register("ann").await,
        app.register("ben").await,
    );
    assert_eq!(
        patch(&ann, "/api/me", json!({"phone": "+1 415 555 2671"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        patch(&ben, "/api/me", json!({"email": "ben@example.net"}))
            .await
            .status(),
        200
    );
    // Only verified numbers and addresses are matched (see `verification.rs`).
    verify_phone(&ann, &mut sms, json!({})).await;
    verify_email(&ben, &mut mail).await;
    let book = json!({
        "phones": ["(415) 555-2671", "001-415-555-2671", "+1 212 555 0100", "garbage"],
        "emails": ["BEN@example.net", "nobody@example.net"],
    });
    let res = json_of(me.post("/api/contacts/match", book).await).await;
    let matches = res["matches"].as_array().unwrap();
    let who: Vec<(&str, &str)> = matches
        .iter()
        .map(|m| {
            (
                m["input"].as_str().unwrap(),
                m["user"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("(415) 555-2671", ann.id.as_str()),
            ("001-415-555-2671", ann.id.as_str()),
            ("BEN@example.net", ben.id.as_str())
        ]
    );
    assert_eq!(matches[0]["normalized"], "+14155552671");

    // Contacts with my own nickname, editable.
    assert_eq!(
        put(
            &me,
            &format!("/api/contacts/{}", ann.id),
            json!({"nickname": "Annie"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        put(
            &me,
            &format!("/api/contacts/{}", ann.id),
            json!({"nickname": "Ann B."})
        )
        .await
        .status(),
        200
    );
    let list = json_of(me.get("/api/contacts").await).await;
    assert_eq!(list["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(list["contacts"][0]["nickname"], "Ann B.");
    assert_eq!(
        me.delete(&format!("/api/contacts/{}", ann.id))
            .await
            .status(),
        204
    );
    assert_eq!(
        json_of(me.get("/api/contacts").await).await["contacts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[actix_web::test]
async fn a_blocked_user_cannot_open_a_dm_send_or_see_presence() {
    let app = spawn_app().await;
    let (a, b, c) = (
        app.register("amy").await,
        app.register("bill").await,
        app.register("cy").await,
    );
    let room = a.dm(&b).await;
    let mut cb = b.connect().await;
    assert_eq!(
        a.post("/api/blocks", json!({"user": b.id})).await.status(),
        204
    );
    // Sending into the existing dm is refused, and nothing arrives.
    cb.send(json!({"type": "send", "room": room, "client_id": "x", "body": "hi?"}))
        .await;
    assert_eq!(
        cb.expect_where("error", |f| f["client_id"] == "x").await["code"],
        "forbidden"
    );
    // Opening a dm with the blocker is refused; with someone else it works.
    let r = c.post("/api/dms", json!({"user": a.id})).await;
    assert!(r.status() == 201 || r.status() == 200);
    assert_eq!(
        b.post("/api/dms", json!({"user": a.id})).await.status(),
        403
    );
    // The blocked one does not see the blocker come online.
    let mut ca = a.connect().await;
    cb.expect_none("presence", Duration::from_millis(700), |f| {
        f["user"] == a.id.as_str()
    })
    .await;
    // The blocker cannot write into the dm either until they unblock.
    ca.send(json!({"type": "send", "room": room, "client_id": "y", "body": "hello"}))
        .await;
    assert_eq!(
        ca.expect_where("error", |f| f["client_id"] == "y").await["code"],
        "forbidden"
    );
    assert_eq!(
        a.delete(&format!("/api/blocks/{}", b.id)).await.status(),
        204
    );
    cb.send_with_id(&room, "thanks", "z").await;
    assert_eq!(ca.expect("message").await["body"], "thanks");
}

#[actix_web::test]
async fn a_broadcast_to_three_people_lands_in_three_dms_with_their_own_receipts() {
    let app = spawn_app().await;
    let sender = app.register("sam").await;
    let rs = [
        app.register("r1").await,
        app.register("r2").await,
        app.register("r3").await,
    ];
    let mut conns = Vec::new();
    for r in &rs {
        conns.push(r.connect().await);
    }
    let mut cs = sender.connect().await;
    let to: Vec<&str> = rs.iter().map(|r| r.id.as_str()).collect();
    cs.send(json!({"type": "send_many", "client_id": "b1", "to": to, "body": "party at 8", "ref": "bm"})).await;
    let ack = cs.expect("ack_many").await;
    assert_eq!(ack["ref"], "bm");
    let results = ack["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let mut rooms = Vec::new();
    for (r, conn) in rs.iter().zip(conns.iter_mut()) {
        let res = results.iter().find(|x| x["to"] == r.id.as_str()).unwrap();
        assert_eq!(res["seq"], 1);
        let room = res["room"].as_str().unwrap().to_owned();
        assert_eq!(
            r.dm(&sender).await,
            room,
            "each recipient's own dm with the sender"
        );
        let m = conn.expect("message").await;
        assert_eq!(
            (m["room"].as_str(), m["body"].as_str()),
            (Some(room.as_str()), Some("party at 8"))
        );
        rooms.push(room);
    }
    rooms.sort();
    rooms.dedup();
    assert_eq!(rooms.len(), 3);
    // Each dm gets its own delivered receipt, and a read in one dm is receipted there only.
    for (r, room) in rs.iter().zip(
        results
            .iter()
            .map(|x| x["room"].as_str().unwrap().to_owned()),
    ) {
        let d = cs
            .expect_where("receipt", |f| {
                f["room"] == room.as_str() && f["kind"] == "delivered"
            })
            .await;
        assert_eq!(
            (d["user"].as_str(), d["seq"].as_i64()),
            (Some(r.id.as_str()), Some(1))
        );
    }
    let first = results[0]["room"].as_str().unwrap().to_owned();
    let idx = rs
        .iter()
        .position(|r| r.id == results[0]["to"].as_str().unwrap())
        .unwrap();
    conns[idx]
        .send(json!({"type": "read", "room": first, "seq": 1}))
        .await;
    let rd = cs.expect_where("receipt", |f| f["kind"] == "read").await;
    assert_eq!(rd["room"].as_str(), Some(first.as_str()));
    cs.expect_none("receipt", Duration::from_millis(500), |f| {
        f["kind"] == "read"
    })
    .await;

    // Saved lists: create, rename, change members, send to, delete.
    let list = json_of(
        sender
            .post(
                "/api/lists",
                json!({"name": "friends", "members": [rs[0].id, rs[1].id]}),
            )
            .await,
    )
    .await;
    let id = list["list"]["id"].as_str().unwrap().to_owned();
    let changed = json_of(
        patch(
            &sender,
            &format!("/api/lists/{id}"),
            json!({"name": "pals", "members": [rs[2].id]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            changed["list"]["name"].as_str(),
            changed["list"]["members"].as_array().unwrap().len()
        ),
        (Some("pals"), 1)
    );
    cs.send(json!({"type": "send_many", "client_id": "b2", "list": id, "body": "via list"}))
        .await;
    let ack = cs
        .expect_where("ack_many", |f| f["client_id"] == "b2")
        .await;
    assert_eq!(ack["results"].as_array().unwrap().len(), 1);
    assert_eq!(ack["results"][0]["to"], rs[2].id.as_str());
    assert_eq!(ack["results"][0]["seq"], 2);
    assert_eq!(
        sender.delete(&format!("/api/lists/{id}")).await.status(),
        204
    );
    assert_eq!(sender.get(&format!("/api/lists/{id}")).await.status(), 404);
}

#[actix_web::test]
async fn edits_are_live_and_in_history_with_the_old_version_kept_and_only_authors_edit() {
    let app = spawn_app().await;
    let (a, b) = (app.register("al").await, app.register("bo").await);
    let room = a.group("g", &[&b]).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);
    let ack = ca.send_msg(&room, "helo").await;
    let id = ack["id"].as_str().unwrap().to_owned();
    cb.expect("message").await;
    ca.send(json!({"type": "edit", "id": id, "body": "hello"}))
        .await;
    let e = cb.expect("edited").await;
    assert_eq!(
        (e["id"].as_str(), e["body"].as_str()),
        (Some(id.as_str()), Some("hello"))
    );
    assert!(e["edited_at"].as_i64().unwrap() >= ack["ts"].as_i64().unwrap());
    ca.expect("edited").await;
    // A non-author cannot edit.
    cb.send(json!({"type": "edit", "id": id, "body": "hijacked", "ref": "e2"}))
        .await;
    assert_eq!(
        cb.expect_where("error", |f| f["ref"] == "e2").await["code"],
        "forbidden"
    );
    // History shows the edit; the earlier version is kept.
    let page = json_of(b.get(&format!("/api/rooms/{room}/messages")).await).await;
    assert_eq!(page["messages"][0]["body"], "hello");
    assert!(page["messages"][0]["edited_at"].is_i64());
    let versions = json_of(b.get(&format!("/api/messages/{id}/versions")).await).await;
    assert_eq!(versions["versions"][0]["body"], "helo");
    // After sync too.
    let mut cb2 = b.connect().await;
    cb2.send(json!({"type": "sync", "cursors": {room.clone(): 0}}))
        .await;
    assert_eq!(cb2.expect("message").await["body"], "hello");

    // Deleting: members see it go, history keeps the seq without the text.
    ca.send(json!({"type": "delete", "id": id})).await;
    assert_eq!(cb.expect("deleted").await["id"], id.as_str());
    let page = json_of(b.get(&format!("/api/rooms/{room}/messages")).await).await;
    assert_eq!(
        (
            page["messages"][0]["deleted"].as_bool(),
            page["messages"][0]["body"].as_str()
        ),
        (Some(true), Some(""))
    );
    // A member cannot delete someone else's message; the owner can.
    let other = cb.send_msg(&room, "mine").await;
    ca.expect("message").await;
    let c = app.register("cat").await;
    assert_eq!(
        a.post(&format!("/api/rooms/{room}/members"), json!({"user": c.id}))
            .await
            .status(),
        200
    );
    let mut cc = c.connect().await;
    cc.send(json!({"type": "delete", "id": other["id"], "ref": "d1"}))
        .await;
    assert_eq!(
        cc.expect_where("error", |f| f["ref"] == "d1").await["code"],
        "forbidden"
    );
    ca.send(json!({"type": "delete", "id": other["id"]})).await;
    assert_eq!(cb.expect("deleted").await["id"], other["id"]);
}

#[actix_web::test]
async fn read_receipts_stop_when_the_setting_is_off_and_unread_counts_drop() {
    let app = spawn_app().await;
    let (a, b) = (app.register("ari").await, app.register("bea").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    for i in 0..3 {
        ca.send_msg(&room, &format!("m{i}")).await;
    }
    let rooms = json_of(b.get("/api/rooms").await).await;
    assert_eq!(rooms["rooms"][0]["unread"], 3);
    let mut cb = b.connect().await;
    assert_eq!(cb.hello["rooms"][0]["unread"], 3);
    cb.send(json!({"type": "read", "room": room, "seq": 2}))
        .await;
    assert_eq!(
        ca.expect_where("receipt", |f| f["kind"] == "read").await["seq"],
        2
    );
    // Unread drops after read (once the mark is durable, the reader's devices get the receipt
    // too), as the next hello and the room list show.
    cb.expect_where("receipt", |f| {
        f["kind"] == "read" && f["user"] == b.id.as_str()
    })
    .await;
    let probe = b.connect().await;
    assert_eq!(probe.hello["rooms"][0]["unread"], 1);
    let rooms = json_of(b.get("/api/rooms").await).await;
    assert_eq!(rooms["rooms"][0]["unread"], 1);

    // Turn read receipts off: the mark is still kept, others hear nothing.
    let r = patch(
        &b,
        "/api/me/settings",
        json!({"chat": {"read_receipts": false}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    cb.expect("settings").await;
    cb.send(json!({"type": "read", "room": room, "seq": 3}))
        .await;
    ca.expect_none("receipt", Duration::from_millis(700), |f| {
        f["kind"] == "read"
    })
    .await;
    cb.expect_where("receipt", |f| f["kind"] == "read" && f["seq"] == 3)
        .await;
    let rooms = json_of(b.get("/api/rooms").await).await;
    assert_eq!(rooms["rooms"][0]["unread"], 0);
}

#[actix_web::test]
async fn settings_reach_every_device_and_are_validated() {
    let app = spawn_app().await;
    let a = app.register("sal").await;
    let (mut d1, mut d2) = (a.connect().await, a.connect().await);
    let r = patch(&a, "/api/me/settings", json!({"chat": {"theme": "dark"}, "notifications": {"preview": false, "muted": {"room1": null}}})).await;
    assert_eq!(r.status(), 200);
    for d in [&mut d1, &mut d2] {
        let s = d.expect("settings").await;
        assert_eq!(s["settings"]["chat"]["theme"], "dark");
        assert_eq!(s["settings"]["notifications"]["preview"], false);
        assert!(s["settings"]["notifications"]["muted"]["room1"].is_null());
    }
    let got = json_of(a.get("/api/me/settings").await).await;
    assert_eq!(
        got["settings"]["chat"]["enter_to_send"], true,
        "untouched keys keep their values"
    );
    let bad = patch(&a, "/api/me/settings", json!({"chat": {"theme": "neon"}})).await;
    assert_eq!(bad.status(), 400);
    assert!(json_of(bad).await["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("chat.theme"));
    let bad = patch(
        &a,
        "/api/me/settings",
        json!({"notifications": {"quiet_hours": {"start": "25:00", "end": "07:00"}}}),
    )
    .await;
    assert!(json_of(bad).await["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("notifications.quiet_hours.start"));
}

#[actix_web::test]
async fn group_roles_rename_promote_and_leave_each_as_a_room_event() {
    let app = spawn_app().await;
    let (o, m, n) = (
        app.register("own").await,
        app.register("mem").await,
        app.register("new").await,
    );
    let room = o.group("team", &[&m]).await;
    let mut cm = m.connect().await;
    // A member cannot rename; the owner can, and members hear of it.
    assert_eq!(
        patch(&m, &format!("/api/rooms/{room}"), json!({"name": "mine"}))
            .await
            .status(),
        403
    );
    assert_eq!(
        patch(
            &o,
            &format!("/api/rooms/{room}"),
            json!({"name": "the team"})
        )
        .await
        .status(),
        200
    );
    let ev = cm.expect("room_event").await;
    assert_eq!(
        (ev["event"].as_str(), ev["name"].as_str()),
        (Some("updated"), Some("the team"))
    );
    // Promote to admin: now they can add people.
    assert_eq!(
        m.post(&format!("/api/rooms/{room}/members"), json!({"user": n.id}))
            .await
            .status(),
        403
    );
    assert_eq!(
        put(
            &o,
            &format!("/api/rooms/{room}/members/{}", m.id),
            json!({"role": "admin"})
        )
        .await
        .status(),
        200
    );
    let ev = cm
        .expect_where("room_event", |f| f["role"] == "admin")
        .await;
    assert_eq!(ev["user"], m.id.as_str());
    assert_eq!(
        m.post(&format!("/api/rooms/{room}/members"), json!({"user": n.id}))
            .await
            .status(),
        200
    );
    assert_eq!(
        cm.expect_where("room_event", |f| f["event"] == "member_added")
            .await["user"],
        n.id.as_str()
    );
    // Only owners change roles; the last owner cannot step down.
    assert_eq!(
        put(
            &m,
            &format!("/api/rooms/{room}/members/{}", n.id),
            json!({"role": "admin"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        put(
            &o,
            &format!("/api/rooms/{room}/members/{}", o.id),
            json!({"role": "member"})
        )
        .await
        .status(),
        403
    );
    // Leaving is a room event too.
    assert_eq!(
        n.post(&format!("/api/rooms/{room}/leave"), json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(
        cm.expect_where("room_event", |f| f["event"] == "member_removed")
            .await["user"],
        n.id.as_str()
    );
    let view = json_of(o.get(&format!("/api/rooms/{room}")).await).await;
    assert_eq!(view["room"]["name"], "the team");
    assert_eq!(view["room"]["members"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn account_deletion_closes_sessions_and_keeps_messages_from_a_deleted_user() {
    let app = spawn_app().await;
    let (a, b) = (app.register("gone").await, app.register("stay").await);
    let room = a.dm(&b).await;
    let mut ca = a.connect().await;
    ca.send_msg(&room, "bye").await;
    let r = a
        .client
        .delete(format!("{}/api/me", a.http))
        .bearer_auth(&a.token)
        .json(&json!({"password": "wrong one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = a
        .client
        .delete(format!("{}/api/me", a.http))
        .bearer_auth(&a.token)
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(ca.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(a.get("/api/me").await.status(), 401);
    let login = a
        .client
        .post(format!("{}/api/auth/login", a.http))
        .json(&json!({"username": a.username, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    // The message stays, from a deleted user.
    let page = json_of(b.get(&format!("/api/rooms/{room}/messages")).await).await;
    assert_eq!(page["messages"][0]["body"], "bye");
    let who = json_of(b.get(&format!("/api/users/{}", a.id)).await).await;
    assert_eq!(
        (
            who["user"]["deleted"].as_bool(),
            who["user"]["display_name"].as_str()
        ),
        (Some(true), Some("Deleted user"))
    );
}

#[actix_web::test]
async fn sessions_are_listed_and_revoked_one_or_all_and_passwords_change() {
    let app = spawn_app().await;
    let a = app.register("ses").await;
    let a2 = app.login(&a).await;
    let mut c2 = a2.connect().await;
    let list = json_of(a.get("/api/me/sessions").await).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        a.delete(&format!("/api/me/sessions/{other}"))
            .await
            .status(),
        204
    );
    assert_eq!(c2.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(a2.get("/api/me").await.status(), 401);
    // Password change needs the old one.
    let r = a
        .post(
            "/api/me/password",
            json!({"old_password": "nope nope", "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = a
        .post(
            "/api/me/password",
            json!({"old_password": "correct horse battery", "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let login = a
        .client
        .post(format!("{}/api/auth/login", a.http))
        .json(&json!({"username": a.username, "password": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    // Revoke all, including this one.
    assert_eq!(
        a.delete("/api/me/sessions?include_current=true")
            .await
            .status(),
        204
    );
    assert_eq!(a.get("/api/me").await.status(), 401);
}

#[actix_web::test]
async fn one_session_is_revoked_by_its_owner_only_and_sessions_name_their_device() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["own", "other"]).await;
    // A second session of `a`, signed in from a phone's browser.
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.http))
        .header(
            "User-Agent",
            "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile",
        )
        .json(&json!({"username": a.username, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let phone = TestUser {
        token: json_of(r).await["token"].as_str().unwrap().to_owned(),
        ..a.clone()
    };
    let connected_at = chat_server::ids::now_ms();
    let mut phone_ws = phone.connect().await;
    // Connects are noted in memory and written on a timer; this is the timer's write.
    assert!(app.state.store.flush_token_uses().await.unwrap() >= 1);
    let list = json_of(a.get("/api/me/sessions").await).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    let on_phone = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(
        on_phone["user_agent"],
        "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile"
    );
    assert!(on_phone["last_used_at"].as_i64().unwrap() >= connected_at);
    let phone_session = on_phone["id"].as_str().unwrap().to_owned();

    // Someone else cannot end it, nor learn that it exists: 404, and it still works.
    let r = b.delete(&format!("/api/me/sessions/{phone_session}")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(phone.get("/api/me").await.status(), 200);
    let r = a.delete("/api/me/sessions/0000000000000000").await;
    assert_eq!(r.status(), 404);

    // Its owner can: the token gets 401 and its open socket is closed (4001), as at a logout.
    let r = a.delete(&format!("/api/me/sessions/{phone_session}")).await;
    assert_eq!(r.status(), 204);
    assert_eq!(phone_ws.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(phone.get("/api/me").await.status(), 401);
    assert_eq!(a.get("/api/me").await.status(), 200);
    let r = a.delete(&format!("/api/me/sessions/{phone_session}")).await;
    assert_eq!(r.status(), 404, "a session already ended");
}

#[actix_web::test]
async fn a_password_change_signs_out_every_other_session() {
    let app = spawn_app().await;
    let a = app.register("pw").await;
    let stolen = app.login(&a).await;
    let mut stolen_ws = stolen.connect().await;
    let r = a
        .post(
            "/api/me/password",
            json!({"old_password": "correct horse battery", "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    // The other token stops working and its socket is closed...
    assert_eq!(stolen_ws.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(stolen.get("/api/me").await.status(), 401);
    // ...the session that changed the password keeps working.
    assert_eq!(a.get("/api/me").await.status(), 200);
    let list = json_of(a.get("/api/me/sessions").await).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_deleted_account_leaves_its_groups_and_hands_ownership_on() {
    let app = spawn_app().await;
    let [owner, admin, member] = app.register_many(["own", "adm", "mem"]).await;
    let room = owner.group("club", &[&admin, &member]).await;
    let solo = owner.group("alone", &[]).await;
    let dm = owner.dm(&member).await;
    let r = owner
        .client
        .put(format!(
            "{}/api/rooms/{room}/members/{}",
            owner.http, admin.id
        ))
        .bearer_auth(&owner.token)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut cm = member.connect().await;
    let r = owner
        .client
        .delete(format!("{}/api/me", owner.http))
        .bearer_auth(&owner.token)
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let left = cm
        .expect_where("room_event", |f| f["event"] == "member_removed")
        .await;
    assert_eq!(
        (left["room"].as_str(), left["user"].as_str()),
        (Some(room.as_str()), Some(owner.id.as_str()))
    );
    let view = json_of(member.get(&format!("/api/rooms/{room}")).await).await;
    let members = view["room"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{view}");
    let role_of = |id: &str| members.iter().find(|m| m["id"] == id).unwrap()["role"].clone();
    assert_eq!(role_of(&admin.id), "owner", "the admin inherits the group");
    assert_eq!(role_of(&member.id), "member");
    // A group with nobody else is simply left; the dm stays, with the deleted user in it.
    assert!(!app
        .state
        .store
        .room_ids_of(&chat_server::ids::UserId(owner.id.clone()))
        .await
        .unwrap()
        .iter()
        .any(|r| r.0 == room || r.0 == solo));
    let dm_view = json_of(member.get(&format!("/api/rooms/{dm}")).await).await;
    assert_eq!(dm_view["room"]["members"].as_array().unwrap().len(), 2);
}

/// Who may add whom to a group: not across a block (either way), and as each person's
/// `privacy.group_adds` setting says (the others are invited instead: see `invitations`).
#[actix_web::test]
async fn people_are_added_to_groups_only_with_their_consent() {
    let app = spawn_app().await;
    let [ann, ben, cy] = app.register_many(["ann", "ben", "cy"]).await;
    let create_full = |by: &TestUser, members: Vec<&TestUser>| {
        let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
        let by = by.clone();
        async move {
            let r = by
                .post("/api/rooms", json!({"name": "g", "members": ids}))
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let create = |by: &TestUser, members: Vec<&TestUser>| {
        let f = create_full(by, members);
        async move { f.await.0 }
    };
    // Whether Cy was made a member (true) or only invited (false) by a 201 creation.
    let cy_joined = |body: &Value| {
        let member = body["room"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == cy.id.as_str());
        let invited = body["invited"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == cy.id.as_str());
        assert_ne!(member, invited, "{body}");
        member
    };
    // A block works both ways, at creation and when adding later.
    assert_eq!(
        ann.post("/api/blocks", json!({"user": ben.id}))
            .await
            .status(),
        204
    );
    assert_eq!(create(&ben, vec![&ann]).await, 403);
    assert_eq!(create(&ann, vec![&ben]).await, 403);
    let r = ben
        .post("/api/rooms", json!({"name": "g", "members": [cy.id]}))
        .await;
    assert_eq!(r.status(), 201);
    let room: Value = r.json().await.unwrap();
    let room = room["room"]["id"].as_str().unwrap().to_owned();
    let add = ben
        .post(
            &format!("/api/rooms/{room}/members"),
            json!({"user": ann.id}),
        )
        .await;
    assert_eq!(add.status(), 403);

    // Cy accepts only her contacts, then nobody.
    let set = |policy: &str| {
        let (cy, policy) = (cy.clone(), policy.to_owned());
        async move {
            let r = cy
                .client
                .patch(format!("{}/api/me/settings", cy.http))
                .bearer_auth(&cy.token)
                .json(&json!({"privacy": {"group_adds": policy}}))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    assert_eq!(set("contacts").await, 200);
    let (status, body) = create_full(&ann, vec![&cy]).await;
    assert_eq!(status, 201);
    assert!(!cy_joined(&body), "not a contact of Cy's: only invited");
    let r = cy
        .client
        .put(format!("{}/api/contacts/{}", cy.http, ann.id))
        .bearer_auth(&cy.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (status, body) = create_full(&ann, vec![&cy]).await;
    assert_eq!(status, 201);
    assert!(cy_joined(&body), "a contact of Cy's adds her");
    assert_eq!(set("nobody").await, 200);
    let (status, body) = create_full(&ann, vec![&cy]).await;
    assert_eq!(status, 201);
    assert!(!cy_joined(&body), "nobody adds Cy: only invited");
    assert_eq!(set("somebody").await, 400);
}

/// A new display name or avatar reaches, live, everyone who shares a conversation with the user
/// and the user's other devices, and nobody else; the room details carry members' avatars.
#[actix_web::test]
async fn a_profile_change_reaches_those_who_share_a_conversation_live() {
    let app = spawn_app().await;
    let [alice, bob, carol] = app.register_many(["alice", "bob", "carol"]).await;
    let room = alice.dm(&bob).await;
    let mut bob_ws = bob.connect().await;
    let mut alice_phone = alice.connect().await;
    let mut carol_ws = carol.connect().await;

    let r = patch(
        &alice,
        "/api/me",
        json!({"display_name": "Alice Liddell", "about": "down the rabbit hole"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    for ws in [&mut bob_ws, &mut alice_phone] {
        let f = ws.expect("profile").await;
        assert_eq!(f["user"], alice.id.as_str());
        assert_eq!(f["display_name"], "Alice Liddell");
        assert_eq!(f["about"], "down the rabbit hole");
        assert_eq!(f["username"], alice.username.as_str());
        assert!(f["avatar"].is_null(), "{f}");
    }

    // Carol shares nothing with Alice. Her own change is delivered after Alice's by the same
    // registry, so once she has it, Alice's would have arrived before it.
    let r = patch(&carol, "/api/me", json!({"about": "elsewhere"})).await;
    assert_eq!(r.status(), 200);
    carol_ws
        .expect_where("profile", |f| f["user"] == carol.id.as_str())
        .await;
    carol_ws
        .expect_none("profile", Duration::ZERO, |f| {
            f["user"] == alice.id.as_str()
        })
        .await;

    // Saving the same profile again announces nothing: nothing comes before Alice's message.
    let r = patch(&alice, "/api/me", json!({"display_name": "Alice Liddell"})).await;
    assert_eq!(r.status(), 200);
    let mut alice_ws = alice.connect().await;
    alice_ws.send_msg(&room, "after").await;
    bob_ws
        .expect_where("message", |f| f["body"] == "after")
        .await;
    bob_ws
        .expect_none("profile", Duration::ZERO, |f| {
            f["user"] == alice.id.as_str()
        })
        .await;

    let details: Value = bob
        .get(&format!("/api/rooms/{room}"))
        .await
        .json()
        .await
        .unwrap();
    let members = details["room"]["members"].as_array().unwrap();
    let a = members
        .iter()
        .find(|m| m["id"] == alice.id.as_str())
        .unwrap();
    assert_eq!(a["display_name"], "Alice Liddell");
    assert!(a.as_object().unwrap().contains_key("avatar"), "{a}");
}
