//! Administration through the real HTTP API and WebSocket: who is an admin (the one who redeemed
//! the bootstrap code, or one named with `chat-server admin grant`; never the first account by
//! being first), refusals for everyone else, live stats, bans
//! that close sockets at once and refuse login, session revocation, conversation listings.

use chat_server::protocol::close;
use serde_json::{json, Value};

use crate::support::app::{spawn_app, TestApp, TestUser, WsClient, TEST_PASSWORD};

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

async fn is_admin(u: &TestUser) -> bool {
    json_of(u.get("/api/me").await).await["user"]["is_admin"]
        .as_bool()
        .unwrap()
}

async fn login_status(app: &TestApp, u: &TestUser) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.http))
        .json(&json!({"username": u.username, "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn bootstrap(u: &TestUser, code: &str) -> (u16, Value) {
    let r = u
        .post("/api/admin/bootstrap", json!({ "code": code }))
        .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn nobody_is_admin_by_registering_first_and_the_bootstrap_code_makes_one_admin_once() {
    let app = spawn_app().await;
    let boss = app.register("boss").await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    for u in [&boss, &ann, &bob] {
        assert!(!is_admin(u).await, "registering first makes nobody admin");
    }
    assert_eq!(boss.get("/api/admin/stats").await.status(), 403);

    // The code is in the data directory, readable by the server's user only.
    let file = chat_server::bootstrap::code_file(&app.state.settings.media.dir);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let code = app.bootstrap_code();
    assert!(code.len() >= 24, "{code}");

    let (status, body) = bootstrap(&boss, "not-the-code").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(!is_admin(&boss).await);
    let r = app
        .client
        .post(format!("{}/api/admin/bootstrap", app.http))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signed-in users only");

    assert_eq!(bootstrap(&boss, &code).await.0, 200);
    assert!(is_admin(&boss).await);
    assert!(!file.exists(), "a used code's file is removed");
    assert_eq!(bootstrap(&ann, &code).await.0, 403, "the code works once");
    assert!(!is_admin(&ann).await);

    for path in [
        "/api/admin/stats",
        "/api/admin/users?q=",
        "/api/admin/rooms",
    ] {
        let r = ann.get(path).await;
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(json_of(r).await["error"]["code"], "forbidden");
        let r = app
            .client
            .get(format!("{}{path}", app.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        assert_eq!(boss.get(path).await.status(), 200, "{path} as admin");
    }
    let r = ann
        .post(&format!("/api/admin/users/{}/ban", bob.id), json!({}))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        login_status(&app, &bob).await.0,
        200,
        "a refused ban changes nothing"
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn racing_redemptions_of_the_code_make_exactly_one_admin() {
    // Six people on one address: the per-address limit out of the way.
    let app = crate::support::app::spawn_app_with(|s| {
        s.limits.exempt_addresses = vec!["127.0.0.1".into()]
    })
    .await;
    let users = app
        .register_many(["r1", "r2", "r3", "r4", "r5", "r6"])
        .await;
    let code = app.bootstrap_code();
    let answers = futures_util::future::join_all(users.iter().map(|u| bootstrap(u, &code))).await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 403));
    let mut admins = 0;
    for u in &users {
        admins += usize::from(is_admin(u).await);
    }
    assert_eq!(admins, 1);
    app.quiesce().await;
}

#[actix_web::test]
async fn guessing_the_bootstrap_code_is_throttled() {
    let app = spawn_app().await;
    let eve = app.register("eve").await;
    for i in 0..5 {
        assert_eq!(bootstrap(&eve, &format!("guess{i}")).await.0, 403);
    }
    let (status, body) = bootstrap(&eve, &app.bootstrap_code()).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        !is_admin(&eve).await,
        "not even the right code gets through"
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn a_restart_announces_the_same_code_and_a_new_server_on_the_same_database_another() {
    let app = spawn_app().await;
    let code = app.bootstrap_code();
    let file = chat_server::bootstrap::code_file(&app.state.settings.media.dir);
    // What a restart does: the file's code is still waiting, so it is announced again.
    let again = chat_server::bootstrap::prepare(&app.state.store, &file)
        .await
        .unwrap();
    assert_eq!(again.as_deref(), Some(code.as_str()));

    // A second server (another node: its own data directory) on the same database mints its
    // own code. Either works; the first redeemed voids the other.
    let url = app.state.settings.database.url.clone();
    let other = crate::support::app::spawn_app_with(move |s| s.database.url = url).await;
    let other_code = other.bootstrap_code();
    assert_ne!(code, other_code);
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let ann_on_other = other.login(&ann).await;
    assert_eq!(bootstrap(&ann_on_other, &code).await.0, 200);
    assert!(is_admin(&ann).await);
    assert_eq!(bootstrap(&bob, &other_code).await.0, 403);
    assert!(!is_admin(&bob).await);

    // With an admin, a restart mints nothing and removes a stale file.
    let other_file = chat_server::bootstrap::code_file(&other.state.settings.media.dir);
    assert!(other_file.exists());
    let none = chat_server::bootstrap::prepare(&other.state.store, &other_file)
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(!other_file.exists());
    other.quiesce().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn admins_cannot_ban_other_admins_or_revoke_their_sessions() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let ann = app.register("ann").await;
    app.state
        .store
        .set_admin(&chat_server::ids::UserId(ann.id.clone()), true)
        .await
        .unwrap();
    assert!(is_admin(&ann).await);
    let mut ws = ann.connect().await;
    let r = boss
        .post(&format!("/api/admin/users/{}/ban", ann.id), json!({}))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(json_of(r).await["error"]["code"], "forbidden");
    let r = boss
        .post(
            &format!("/api/admin/users/{}/revoke-sessions", ann.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        ann.get("/api/me").await.status(),
        200,
        "ann is still signed in"
    );
    ws.ping("still-open").await;
    assert_eq!(login_status(&app, &ann).await.0, 200);
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn an_admin_gives_and_takes_the_admin_role_of_others_but_not_their_own() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let (ann, eve) = (app.register("ann").await, app.register("eve").await);
    let role = |id: &str| format!("/api/admin/users/{id}/admin");
    let r = eve.put(&role(&eve.id), json!({"admin": true})).await;
    assert_eq!(r.status(), 403, "only admins give the role");
    assert_eq!(ann.get("/api/admin/stats").await.status(), 403);

    let r = boss.put(&role(&ann.id), json!({"admin": true})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["is_admin"], true);
    assert!(is_admin(&ann).await);
    assert_eq!(ann.get("/api/admin/stats").await.status(), 200);

    let r = boss.put(&role(&boss.id), json!({"admin": false})).await;
    assert_eq!(r.status(), 400, "nobody takes their own role");
    assert!(is_admin(&boss).await);

    let r = boss.put(&role(&ann.id), json!({"admin": false})).await;
    assert_eq!(r.status(), 200);
    assert!(!is_admin(&ann).await);
    assert_eq!(ann.get("/api/admin/stats").await.status(), 403);

    let r = boss
        .post(&format!("/api/admin/users/{}/ban", eve.id), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    let r = boss.put(&role(&eve.id), json!({"admin": true})).await;
    assert_eq!(r.status(), 400, "a banned account is not made an admin");
    let r = boss.put(&role("nobody"), json!({"admin": true})).await;
    assert_eq!(r.status(), 404);
    app.quiesce().await;
}

#[actix_web::test]
async fn stats_count_live_connections_and_list_users() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let ann = app.register("ann").await;
    let stats = json_of(boss.get("/api/admin/stats").await).await;
    for key in [
        "connections",
        "active_rooms",
        "messages_total",
        "messages_per_second",
        "write_buffer_depth",
        "sync_lag_ms",
        "media_queue",
        "users",
    ] {
        assert!(stats[key].is_number(), "{key} in {stats}");
    }
    assert!(stats["push"]["sent"].is_number() && stats["push"]["failed"].is_number());
    let before = stats["connections"].as_i64().unwrap();
    let ws1 = ann.connect().await;
    let ws2 = ann.connect().await;
    let after = json_of(boss.get("/api/admin/stats").await).await["connections"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 2);
    ws1.close().await;
    ws2.close().await;

    let found = json_of(
        boss.get(&format!("/api/admin/users?q={}", &ann.username[..5]))
            .await,
    )
    .await;
    let row = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ann.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["is_admin"], false);
    assert_eq!(row["banned_at"], Value::Null);
    app.quiesce().await;
}

#[actix_web::test]
async fn a_ban_closes_sockets_at_once_revokes_tokens_and_refuses_login_until_unbanned() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let eve = app.register("eve").await;
    let eve2 = app.login(&eve).await;
    let mut ws1 = eve.connect().await;
    let mut ws2 = eve2.connect().await;

    let r = boss
        .post(&format!("/api/admin/users/{}/ban", eve.id), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(ws1.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(ws2.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(
        eve.get("/api/me").await.status(),
        401,
        "the old token no longer works"
    );
    let refused = WsClient::try_connect(format!("{}?token={}", eve.ws, eve.token), false).await;
    assert!(refused.is_err(), "the old token cannot open a socket");
    let (status, body) = login_status(&app, &eve).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["message"], "banned");
    let listed = json_of(
        boss.get(&format!("/api/admin/users?q={}", eve.username))
            .await,
    )
    .await;
    assert!(listed["users"][0]["banned_at"].is_i64());

    let r = boss
        .post(&format!("/api/admin/users/{}/ban", boss.id), json!({}))
        .await;
    assert_eq!(r.status(), 400, "an admin cannot ban themselves");
    let r = boss.post("/api/admin/users/nobody/ban", json!({})).await;
    assert_eq!(r.status(), 404);

    assert_eq!(
        boss.delete(&format!("/api/admin/users/{}/ban", eve.id))
            .await
            .status(),
        204
    );
    assert_eq!(login_status(&app, &eve).await.0, 200);
    app.quiesce().await;
}

#[actix_web::test]
async fn revoking_sessions_closes_sockets_but_allows_a_new_login() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let eve = app.register("eve").await;
    let mut ws = eve.connect().await;
    let r = boss
        .post(
            &format!("/api/admin/users/{}/revoke-sessions", eve.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["revoked"], 1);
    assert_eq!(ws.closed().await, Some(close::LOGGED_OUT));
    assert_eq!(eve.get("/api/me").await.status(), 401);
    assert_eq!(login_status(&app, &eve).await.0, 200);
    app.quiesce().await;
}

#[actix_web::test]
async fn conversations_are_listed_with_members_and_size() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let group = ann.group("Planning", &[&bob]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    for i in 0..3 {
        ws.send_msg(&group, &format!("m{i}")).await;
    }
    ws.send_msg(&dm, "hi").await;
    let rooms = json_of(boss.get("/api/admin/rooms").await).await;
    let rooms = rooms["rooms"].as_array().unwrap();
    let g = rooms.iter().find(|r| r["id"] == group.as_str()).unwrap();
    assert_eq!(
        (
            g["name"].as_str(),
            g["kind"].as_str(),
            g["members"].as_i64(),
            g["messages"].as_i64()
        ),
        (Some("Planning"), Some("group"), Some(2), Some(3))
    );
    let d = rooms.iter().find(|r| r["id"] == dm.as_str()).unwrap();
    assert_eq!(
        (
            d["kind"].as_str(),
            d["members"].as_i64(),
            d["messages"].as_i64()
        ),
        (Some("dm"), Some(2), Some(1))
    );
    let only = json_of(boss.get("/api/admin/rooms?q=plan").await).await;
    assert_eq!(only["rooms"].as_array().unwrap().len(), 1);

    let members = json_of(boss.get(&format!("/api/admin/rooms/{group}/members")).await).await;
    let mut roles: Vec<(String, String)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            (ann.username.clone(), "owner".to_owned()),
            (bob.username.clone(), "member".to_owned())
        ]
    );
    assert_eq!(
        boss.get("/api/admin/rooms/nope/members").await.status(),
        404
    );
    ws.close().await;
    app.quiesce().await;
}

/// `chat-server admin ARGS...` against the same database the server uses (run off the runtime,
/// whose thread also runs the server's actors).
async fn admin_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let url = format!("sqlite://{}/chat.db?mode=rwc", app.dir.path().display());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .arg("admin")
            .args(&args)
            .env("CHAT__DATABASE__URL", url)
            .env("CHAT__LOG__FILTER", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_cli_grants_and_revokes_the_admin_role() {
    let app = spawn_app().await;
    let code = app.bootstrap_code();
    let ann = app.register("ann").await;
    assert_eq!(ann.get("/api/admin/stats").await.status(), 403);

    let out = admin_cli(&app, &["grant", &ann.username.to_uppercase()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_admin(&ann).await);
    assert_eq!(ann.get("/api/admin/stats").await.status(), 200);
    let bob = app.register("bob").await;
    assert_eq!(
        bootstrap(&bob, &code).await.0,
        403,
        "an admin made with the CLI voids the bootstrap code"
    );

    let out = admin_cli(&app, &["revoke", &ann.username]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ann.get("/api/admin/stats").await.status(), 403);

    let out = admin_cli(&app, &["grant", "no-such-user"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no user named"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn on_a_database_with_accounts_the_migration_makes_the_earliest_one_admin() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database, Statement};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let db = Database::connect(&url).await.unwrap();
    // The schema as it was before the admin migration, with two accounts in it.
    let before_admin = Migrator::migrations()
        .iter()
        .position(|m| m.name().ends_with("_admin"))
        .unwrap() as u32;
    Migrator::up(&db, Some(before_admin)).await.unwrap();
    for (id, name, at) in [("u-later", "later", 2000_i64), ("u-early", "early", 1000)] {
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, '', ?)",
            [id.into(), name.into(), name.into(), at.into()],
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    // The server applies the rest at start; the earliest account is the admin, and the first
    // registration afterwards is not.
    let app = crate::support::app::spawn_app_with(|s| s.database.url = url.clone()).await;
    let early = app
        .state
        .store
        .user_by_id(&chat_server::ids::UserId("u-early".into()))
        .await
        .unwrap()
        .unwrap();
    let later = app
        .state
        .store
        .user_by_id(&chat_server::ids::UserId("u-later".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(early.is_admin && !later.is_admin);
    let newcomer = app.register("newcomer").await;
    assert!(!is_admin(&newcomer).await);
    assert!(
        !chat_server::bootstrap::code_file(&app.state.settings.media.dir).exists(),
        "with an admin, no bootstrap code is minted"
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn an_admin_deletes_a_message_for_everyone_as_its_author_would() {
    let app = crate::support::app::spawn_app_with(crate::media::media_settings).await;
    let boss = app.register_admin("boss").await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let room = ann.dm(&bob).await;
    let mut wa = ann.connect().await;
    let mut wb = bob.connect().await;
    let media = crate::media::upload(&ann, "a.png", &crate::media::photo_png(40, 30)).await;
    crate::media::finished(&mut wa, &media).await;
    wa.send(json!({"type": "send", "room": room, "client_id": "c1", "body": "rude words", "attachments": [media]}))
        .await;
    let id = wa.expect_where("ack", |f| f["client_id"] == "c1").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wb.expect_where("message", |f| f["id"] == id.as_str()).await;
    assert_eq!(bob.get(&format!("/api/media/{media}")).await.status(), 200);
    let kept = wa.send_msg(&room, "kind words").await;

    // Only admins; unknown ids are 404.
    let path = format!("/api/admin/messages/{id}");
    assert_eq!(
        ann.delete(&path).await.status(),
        403,
        "the author is no admin"
    );
    assert_eq!(bob.delete(&path).await.status(), 403);
    assert_eq!(boss.delete("/api/admin/messages/nope").await.status(), 404);

    // The admin is no member, yet both members see it deleted at once.
    assert_eq!(boss.delete(&path).await.status(), 204);
    for ws in [&mut wa, &mut wb] {
        let f = ws.expect_where("deleted", |f| f["id"] == id.as_str()).await;
        assert_eq!(f["room"], room.as_str());
    }
    // History shows it deleted, the other message untouched; the picture is no longer served.
    let history: Value = json_of(bob.get(&format!("/api/rooms/{room}/messages")).await).await;
    let messages = history["messages"].as_array().unwrap();
    let gone = messages.iter().find(|m| m["id"] == id.as_str()).unwrap();
    assert_eq!(
        (gone["deleted"].as_bool(), gone["body"].as_str()),
        (Some(true), Some(""))
    );
    let other = messages.iter().find(|m| m["id"] == kept["id"]).unwrap();
    assert_eq!(other["body"], "kind words");
    assert_eq!(bob.get(&format!("/api/media/{media}")).await.status(), 404);
    // A client that syncs afterwards gets it deleted too.
    let mut late = bob.connect().await;
    late.send(json!({"type": "sync", "cursors": {room.as_str(): 0}}))
        .await;
    let (missed, _) = late.until_synced().await;
    let synced = missed.iter().find(|m| m["id"] == id.as_str()).unwrap();
    assert_eq!(synced["deleted"].as_bool(), Some(true), "{synced}");
    // Again: nothing more to do.
    assert_eq!(boss.delete(&path).await.status(), 204);
    for ws in [wa, wb, late] {
        ws.close().await;
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn an_admin_closes_a_room_and_its_members_lose_it() {
    let app = spawn_app().await;
    let boss = app.register_admin("boss").await;
    let [ann, bob, cat] = app.register_many(["ann", "bob", "cat"]).await;
    let group = ann.group("Noisy", &[&bob, &cat]).await;
    let dm = ann.dm(&bob).await;
    let mut wa = ann.connect().await;
    let mut wb = bob.connect().await;
    wa.send_msg(&group, "hello all").await;
    wb.expect_where("message", |f| f["room"] == group.as_str())
        .await;

    let path = format!("/api/admin/rooms/{group}");
    assert_eq!(ann.delete(&path).await.status(), 403, "not even its owner");
    assert_eq!(boss.delete("/api/admin/rooms/nope").await.status(), 404);

    let r = boss.delete(&path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["removed"], 3);
    // Live members are told they are out, as after being removed.
    for (ws, who) in [(&mut wa, &ann), (&mut wb, &bob)] {
        let id = who.id.clone();
        ws.expect_where("room_event", |f| {
            f["room"] == group.as_str()
                && f["event"] == "member_removed"
                && f["user"] == id.as_str()
        })
        .await;
    }
    // It is gone from everyone's list; history and sending are refused.
    for who in [&ann, &bob, &cat] {
        let ws = who.connect().await;
        let rooms = ws.hello["rooms"].as_array().unwrap();
        assert!(
            rooms.iter().all(|r| r["id"] != group.as_str()),
            "{}",
            ws.hello
        );
        ws.close().await;
        assert_eq!(
            who.get(&format!("/api/rooms/{group}/messages"))
                .await
                .status(),
            403
        );
    }
    wa.send(json!({"type": "send", "room": group, "client_id": "late", "body": "anyone?"}))
        .await;
    wa.expect_error("not_member").await;
    let listed = json_of(boss.get("/api/admin/rooms").await).await;
    assert!(listed["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != group.as_str()));

    // A dm closed by an admin: the two may start a new one later, which works.
    assert_eq!(
        boss.delete(&format!("/api/admin/rooms/{dm}"))
            .await
            .status(),
        200
    );
    wb.expect_where("room_event", |f| {
        f["room"] == dm.as_str() && f["event"] == "member_removed"
    })
    .await;
    let fresh = ann.dm(&bob).await;
    assert_ne!(fresh, dm);
    wa.send_msg(&fresh, "starting over").await;
    wb.expect_where("message", |f| f["room"] == fresh.as_str())
        .await;
    wa.close().await;
    wb.close().await;
    app.quiesce().await;
}
