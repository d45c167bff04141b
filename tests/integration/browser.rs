//! The web client and admin pages in a real browser: Playwright (`playwright-core`, from
//! tests/browser/package-lock.json) driving Debian's Chromium headless against the server on
//! loopback. Each test runs one script of tests/browser with the server's URL in `BASE_URL`;
//! screenshots go to target/test-artifacts/browser/. Missing Chromium or node_modules fail the
//! test with the command that installs them (`scripts/setup.sh test`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::app::{spawn_app, TestApp, TestUser};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Longest a script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

/// Runs `node tests/browser/{script}` against `app`; panics with node's output unless it passes.
async fn run_script(app: &TestApp, script: &str, env: &[(&str, String)]) {
    let dir = Path::new(ROOT).join("tests/browser");
    assert!(
        chromium().exists(),
        "{} not found: run `scripts/setup.sh test` (installs Debian's chromium)",
        chromium().display()
    );
    assert!(
        dir.join("node_modules/playwright-core/package.json").exists(),
        "tests/browser/node_modules is missing: run `scripts/setup.sh test` (npm ci in tests/browser)"
    );
    let artifacts = Path::new(ROOT).join("target/test-artifacts/browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .env("BASE_URL", &app.http)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Blocking wait off the runtime: the server's actors run on this test's thread.
    let run = actix_web::rt::task::spawn_blocking(move || cmd.output());
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run node (install nodejs: scripts/setup.sh test): {e}"));
    assert!(
        out.status.success(),
        "{script} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What a passing script reports (notes, counts) shows with `--success-output` or
    // `--nocapture`.
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

#[actix_web::test]
async fn browser_dm_typing_image_drop_and_theme() {
    let app = spawn_app().await;
    run_script(&app, "chat.mjs", &[]).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_history_scrolls_back_and_reconnect_syncs_the_gap() {
    let app = spawn_app().await;
    let [carol, dave]: [TestUser; 2] = app.register_many(["Carol", "Dave"]).await;
    let room = carol.dm(&dave).await;
    let mut ws = carol.connect().await;
    const COUNT: usize = 75;
    let mut last = serde_json::Value::Null;
    for i in 1..=COUNT {
        last = ws.send_msg(&room, &format!("history message {i}")).await;
    }
    ws.close().await;
    // Read already: with unread messages the conversation would open at the first of them
    // (loading every page down to it) instead of at the newest page.
    let mut wd = dave.connect().await;
    wd.send(serde_json::json!({"type": "read", "room": room, "seq": last["seq"]}))
        .await;
    until_unread(&dave, &room, 0).await;
    wd.close().await;
    run_script(
        &app,
        "history.mjs",
        &[
            ("USERNAME", dave.username.clone()),
            ("PEER", "Carol".into()),
            ("COUNT", COUNT.to_string()),
            ("PEER_TOKEN", carol.token.clone()),
            ("ROOM", room.clone()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_mentions_reactions_and_reply_quotes_in_a_group() {
    let app = spawn_app().await;
    let [erin, finn, gus]: [TestUser; 3] = app.register_many(["erin", "finn", "gus"]).await;
    let room = erin.group("plans", &[&finn, &gus]).await;
    let mut ws = erin.connect().await;
    ws.send_msg(&room, "where shall we eat?").await;
    ws.close().await;
    run_script(
        &app,
        "social.mjs",
        &[
            ("ERIN", erin.username.clone()),
            ("FINN", finn.username.clone()),
            ("PLANS", "plans".into()),
            ("FIRST", "where shall we eat?".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_tus_attachment_resumes_after_the_connection_drops_and_cancels() {
    let app = spawn_app().await;
    run_script(&app, "upload.mjs", &[]).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_pins_stars_and_forwarding() {
    let app = spawn_app().await;
    let [erin, finn]: [TestUser; 2] = app.register_many(["erin", "finn"]).await;
    let plans = erin.group("plans", &[&finn]).await;
    erin.group("side", &[&finn]).await;
    let mut ws = erin.connect().await;
    ws.send_msg(&plans, "meet at noon").await;
    ws.close().await;
    run_script(
        &app,
        "curation.mjs",
        &[
            ("ERIN", erin.username.clone()),
            ("FINN", finn.username.clone()),
            ("PLANS", "plans".into()),
            ("SIDE", "side".into()),
            ("FIRST", "meet at noon".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_capture_voice_video_and_photo_with_fake_devices_reach_the_other_member() {
    let app = spawn_app().await;
    run_script(&app, "capture.mjs", &[]).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_new_chat_icon_favicon_and_readable_links_in_every_theme() {
    let app = spawn_app().await;
    run_script(
        &app,
        "polish.mjs",
        &[("BOOTSTRAP_CODE", app.bootstrap_code())],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_read_ticks_survive_a_reload() {
    let app = spawn_app().await;
    let [carol, dave]: [TestUser; 2] = app.register_many(["Carol", "Dave"]).await;
    let room = carol.dm(&dave).await;
    let mut wc = carol.connect().await;
    let mut wd = dave.connect().await;
    wc.send_msg(&room, "one").await;
    let last = wc.send_msg(&room, "two").await;
    wd.send(serde_json::json!({"type": "read", "room": room, "seq": last["seq"]}))
        .await;
    wc.expect_where("receipt", |f| {
        f["kind"] == "read" && f["seq"] == last["seq"]
    })
    .await;
    wc.close().await;
    wd.close().await;
    run_script(
        &app,
        "ticks.mjs",
        &[
            ("USERNAME", carol.username.clone()),
            ("PEER", "Dave".into()),
            ("COUNT", "2".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_a_chat_with_photos_opens_and_stays_at_the_newest_message() {
    let app = spawn_app().await;
    let [erin, finn]: [TestUser; 2] = app.register_many(["Erin", "Finn"]).await;
    let room = erin.dm(&finn).await;
    let mut ws = erin.connect().await;
    for i in 0..3 {
        let media =
            crate::media::upload(&erin, "photo.png", &crate::media::photo_png(1200, 900)).await;
        assert_eq!(
            crate::media::finished(&mut ws, &media).await["status"],
            "ready"
        );
        let cid = format!("p{i}");
        ws.send(serde_json::json!({"type": "send", "room": room, "client_id": cid, "body": format!("photo {i}"), "attachments": [media]}))
            .await;
        ws.expect_where("ack", move |f| f["client_id"] == cid.as_str())
            .await;
    }
    let last = ws.send_msg(&room, "and that was the trip").await;
    ws.close().await;
    // Read already: a conversation with unread messages opens at the first of them instead.
    let mut wf = finn.connect().await;
    wf.send(serde_json::json!({"type": "read", "room": room, "seq": last["seq"]}))
        .await;
    until_unread(&finn, &room, 0).await;
    wf.close().await;
    run_script(
        &app,
        "photos.mjs",
        &[
            ("USERNAME", finn.username.clone()),
            ("PEER", "Erin".into()),
            ("LAST", "and that was the trip".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_profile_changes_arrive_live_and_avatars_are_shown() {
    let app = spawn_app().await;
    let [gina, hugo]: [TestUser; 2] = app.register_many(["Gina", "Hugo"]).await;
    let dm = gina.dm(&hugo).await;
    let group = gina.group("Book club", &[&hugo]).await;
    let mut ws = gina.connect().await;
    ws.send_msg(&dm, "hi Hugo").await;
    ws.send_msg(&group, "welcome to the club").await;
    let r = crate::media::upload_as(
        &gina,
        "?purpose=avatar",
        "me.png",
        "image/png",
        &crate::media::photo_png(300, 300),
    )
    .await;
    assert_eq!(r.status(), 202);
    let avatar = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        crate::media::finished(&mut ws, &avatar).await["status"],
        "ready"
    );
    run_script(
        &app,
        "profiles.mjs",
        &[
            ("USERNAME", hugo.username.clone()),
            ("PEER", "Gina".into()),
            ("GINA_TOKEN", gina.token.clone()),
            ("AVATAR", avatar),
            ("GROUP", "Book club".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_admin_live_count_ban_and_refusal() {
    let app = spawn_app().await;
    run_script(
        &app,
        "admin.mjs",
        &[("BOOTSTRAP_CODE", app.bootstrap_code())],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_admin_removes_a_message_and_a_conversation_and_members_see_it() {
    let app = spawn_app().await;
    let boss = app.register_admin("Boss").await;
    let [ann, bob]: [TestUser; 2] = app.register_many(["Ann", "Bob"]).await;
    let group = ann.group("Book club", &[&bob]).await;
    let mut ws = bob.connect().await;
    let spam = ws.send_msg(&group, "buy cheap watches here").await;
    ws.send_msg(&group, "see you on Thursday").await;
    ws.close().await;
    run_script(
        &app,
        "admin_remove.mjs",
        &[
            ("ADMIN", boss.username.clone()),
            ("ANN", ann.username.clone()),
            ("BOB", bob.username.clone()),
            ("GROUP", "Book club".into()),
            ("SPAM", "buy cheap watches here".into()),
            ("MESSAGE", spam["id"].as_str().unwrap().to_owned()),
            ("KEPT", "see you on Thursday".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_search_finds_a_message_and_opens_its_conversation_at_it() {
    let app = spawn_app().await;
    let [erin, frank]: [TestUser; 2] = app.register_many(["Erin", "Frank"]).await;
    let room = erin.dm(&frank).await;
    let mut ws = erin.connect().await;
    const TARGET: &str = "zebra crossing by the Café Müller";
    ws.send_msg(&room, "an early message").await;
    ws.send_msg(&room, TARGET).await;
    // More than a page of history after it, so opening the result must load older pages.
    for i in 1..=70 {
        ws.send_msg(&room, &format!("later message {i}")).await;
    }
    ws.close().await;
    // The index commits every 500 ms; the script types only once the search finds it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let found: serde_json::Value = frank.get("/api/search?q=cafe").await.json().await.unwrap();
        if found["results"].as_array().is_some_and(|r| r.len() == 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not indexed: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run_script(
        &app,
        "search.mjs",
        &[
            ("USERNAME", frank.username.clone()),
            ("PEER", "Erin".into()),
            ("TARGET", TARGET.into()),
            ("QUERY", "cafe mull*".into()),
            ("MARKED", "Café".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

/// Waits until `user`'s conversation list counts `unread` unread messages in `room`.
async fn until_unread(user: &TestUser, room: &str, unread: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rooms: serde_json::Value = user.get("/api/rooms").await.json().await.unwrap();
        let seen = rooms["rooms"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["id"] == room))
            .and_then(|r| r["unread"].as_u64());
        if seen == Some(unread) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "unread in {room} is {seen:?}, not {unread}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn browser_reading_day_separators_groups_unread_divider_and_history_edges() {
    let app = spawn_app().await;
    let [ann, ben, cat]: [TestUser; 3] = app.register_many(["Ann", "Ben", "Cat"]).await;
    // Two alike conversations: the desktop opens one and the phone the other, each unread.
    let rooms = [
        ann.group("Book club", &[&ben, &cat]).await,
        ann.group("Film club", &[&ben, &cat]).await,
    ];
    let mut wa = ann.connect().await;
    let mut wb = ben.connect().await;
    let mut wc = cat.connect().await;
    for room in &rooms {
        // The script moves "earlier:" three days and "yesterday:" one day back.
        for i in 1..=30 {
            wa.send_msg(room, &format!("earlier: {i}")).await;
        }
        wa.send_msg(room, "yesterday: a").await;
        wb.send_msg(room, "yesterday: b").await;
        let read = wa.send_msg(room, "yesterday: c").await;
        wc.send(serde_json::json!({"type": "read", "room": room, "seq": read["seq"]}))
            .await;
        until_unread(&cat, room, 0).await;
        // 25 unread, more than fit on either screen.
        for i in 1..=3 {
            wa.send_msg(room, &format!("today {i}")).await;
        }
        wb.send_msg(room, "today 4").await;
        for i in 5..=25 {
            wa.send_msg(room, &format!("today {i}")).await;
        }
        until_unread(&cat, room, 25).await;
    }
    wa.close().await;
    wb.close().await;
    wc.close().await;
    run_script(
        &app,
        "reading.mjs",
        &[
            ("USERNAME", cat.username.clone()),
            ("ROOMS", "Book club,Film club".into()),
            ("ANN", "Ann".into()),
            ("BEN", "Ben".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_picture_viewer_emoji_picker_and_in_page_questions() {
    let app = spawn_app().await;
    let [erin, finn]: [TestUser; 2] = app.register_many(["Erin", "Finn"]).await;
    let room = erin.dm(&finn).await;
    let mut ws = erin.connect().await;
    let media = crate::media::upload(&erin, "photo.png", &crate::media::photo_png(1200, 900)).await;
    assert_eq!(
        crate::media::finished(&mut ws, &media).await["status"],
        "ready"
    );
    ws.send(serde_json::json!({"type": "send", "room": room, "client_id": "p", "body": "the view", "attachments": [media]}))
        .await;
    ws.expect_where("ack", |f| f["client_id"] == "p").await;
    ws.close().await;
    run_script(
        &app,
        "dialogs.mjs",
        &[
            ("USERNAME", finn.username.clone()),
            ("PEER", "Erin".into()),
            ("CAPTION", "the view".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_video_viewer_file_messages_colour_emoji_and_the_phone_attach_menu() {
    let app = crate::support::app::spawn_app_with(crate::media::media_settings).await;
    let [erin, finn]: [TestUser; 2] = app.register_many(["Erin", "Finn"]).await;
    let room = erin.dm(&finn).await;
    let mut ws = erin.connect().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mkv");
    crate::media::raw_video(&clip, 2);
    let video = crate::media::upload(&erin, "clip.mkv", &std::fs::read(&clip).unwrap()).await;
    // A PDF-looking file, kept byte for byte: sent the way the web client sends a file without
    // a caption (its name as the text).
    let file_name = "Quarterly report (final).pdf";
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..150_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let file = crate::media::upload(&erin, file_name, &pdf).await;
    for id in [&video, &file] {
        assert_eq!(crate::media::finished(&mut ws, id).await["status"], "ready");
    }
    for (cid, body, media) in [
        ("v", "a clip from the trip", Some(&video)),
        ("f", file_name, Some(&file)),
        ("e", "Party time 🎉 tonight, ⚡ be quick", None),
    ] {
        let attachments: Vec<&String> = media.into_iter().collect();
        ws.send(serde_json::json!({"type": "send", "room": room, "client_id": cid, "body": body, "attachments": attachments}))
            .await;
        ws.expect_where("ack", move |f| f["client_id"] == cid).await;
    }
    ws.close().await;
    run_script(
        &app,
        "media.mjs",
        &[
            ("USERNAME", finn.username.clone()),
            ("PEER", "Erin".into()),
            ("VIDEO_CAPTION", "a clip from the trip".into()),
            ("FILE_NAME", file_name.into()),
            ("FILE_SIZE", pdf.len().to_string()),
            ("EMOJI_TEXT", "Party time".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_phone_sms_number_and_email_are_verified_in_the_settings() {
    // The script itself is the SMS and mail gateway, on this port.
    let port = crate::support::services::free_port();
    let app = crate::support::app::spawn_app_with(|s| {
        s.push.sms.url = format!("http://127.0.0.1:{port}/send");
        s.mail.gateway_url = format!("http://127.0.0.1:{port}/mail");
    })
    .await;
    let [ivy, other]: [TestUser; 2] = app.register_many(["Ivy", "Other"]).await;
    run_script(
        &app,
        "verify.mjs",
        &[
            ("USERNAME", ivy.username.clone()),
            ("OTHER_TOKEN", other.token.clone()),
            ("GATEWAY_PORT", port.to_string()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_oauth_return_is_taken_only_when_the_page_started_it_asks_before_switching_and_the_account_deletes_by_username(
) {
    use crate::support::oauth_provider::{Account, Kind, OAuthProvider};
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = crate::support::app::spawn_app_with(|s| fb.configure(s)).await;
    fb.register(&app.http);
    fb.sign_in_as(&Account::new("3001", "Olga Oauth", None));
    // Mallory's own, perfectly valid token: what a login-CSRF link would carry.
    let [mallory, vera]: [TestUser; 2] = app.register_many(["Mallory", "Vera"]).await;
    run_script(
        &app,
        "oauth.mjs",
        &[
            ("ATTACKER_TOKEN", mallory.token.clone()),
            ("VERA_USERNAME", vera.username.clone()),
            ("OLGA_NAME", "Olga Oauth".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_group_invitations_are_accepted_and_declined_in_the_page() {
    let app = spawn_app().await;
    let [ann, ben, cy]: [TestUser; 3] = app.register_many(["Ann", "Ben", "Cy"]).await;
    group_adds(&cy, "nobody").await;
    let club = ann.group("Club", &[&ben]).await;
    let other = ann.group("Other", &[&ben]).await;
    run_script(
        &app,
        "invitations.mjs",
        &[
            ("CY_USERNAME", cy.username.clone()),
            ("CY_ID", cy.id.clone()),
            ("ANN_TOKEN", ann.token.clone()),
            ("CLUB", club),
            ("OTHER", other),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_web_push_from_the_server_is_shown_by_the_service_worker_and_its_click_opens_the_chat(
) {
    use crate::support::push::WebPushService;
    // The server's real push path: Bob has no live session, so Ann's message goes out as an
    // encrypted Web Push to the local push service, which checks and decrypts it. What it
    // decrypted is then handed to Bob's service worker in Chromium, as a push service would.
    let mut service = WebPushService::start();
    let app = crate::support::app::spawn_app_with(|s| {
        s.push.allow_http_endpoints = true;
        s.push.coalesce_ms = 50;
    })
    .await;
    let r = app
        .client
        .get(format!("{}/api/push/vapid", app.http))
        .send()
        .await
        .unwrap();
    let key: serde_json::Value = r.json().await.unwrap();
    service.trust(key["public_key"].as_str().unwrap());
    let [ann, bob]: [TestUser; 2] = app.register_many(["Ann", "Bob"]).await;
    let room = ann.dm(&bob).await;
    let device = service.device("bob-browser");
    let r = bob
        .post("/api/push/subscriptions", device.subscription())
        .await;
    assert_eq!(r.status(), 201);
    let mut ws = ann.connect().await;
    ws.send_msg(&room, "see you at noon").await;
    let push = service.next().await;
    assert!((200..300).contains(&push.answered), "{push:?}");
    run_script(
        &app,
        "webpush.mjs",
        &[
            ("TOKEN", bob.token.clone()),
            ("ROOM", room.clone()),
            ("PEER", "Ann".into()),
            ("PAYLOAD", push.payload.to_string()),
        ],
    )
    .await;
    ws.close().await;
    app.quiesce().await;
}

/// Sets `user`'s `privacy.group_adds`.
async fn group_adds(user: &TestUser, who: &str) {
    let r = user
        .client
        .patch(format!("{}/api/me/settings", user.http))
        .bearer_auth(&user.token)
        .json(&serde_json::json!({"privacy": {"group_adds": who}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn browser_group_panel_renames_sets_roles_adds_removes_and_leaves() {
    let app = spawn_app().await;
    let [ann, ben, cy, dan, _eve, fay]: [TestUser; 6] = app
        .register_many(["Ann", "Ben", "Cy", "Dan", "Eve", "Fay"])
        .await;
    // Dan lets nobody add him (he is invited instead); Fay blocked Ann (Ann may not add her).
    group_adds(&dan, "nobody").await;
    let r = fay
        .post("/api/blocks", serde_json::json!({"user": ann.id}))
        .await;
    assert_eq!(r.status(), 204);
    ann.group("Club", &[&ben, &cy]).await;
    ann.group("Team", &[&ben, &cy]).await;
    run_script(
        &app,
        "groups.mjs",
        &[
            ("ANN", ann.username.clone()),
            ("BEN", ben.username.clone()),
            ("CY", cy.username.clone()),
            ("GROUPS", "Club,Team".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_profile_view_shows_anyone_and_messages_nicknames_and_blocks() {
    let app = spawn_app().await;
    let [gus, hal]: [TestUser; 2] = app.register_many(["Gus", "Hal"]).await;
    const ABOUT: &str = "Knots, boats and the sea";
    let group = gus.group("Crew", &[&hal]).await;
    let mut ws = hal.connect().await;
    ws.send_msg(&group, "ahoy").await;
    let r = crate::media::upload_as(
        &hal,
        "?purpose=avatar",
        "me.png",
        "image/png",
        &crate::media::photo_png(300, 300),
    )
    .await;
    assert_eq!(r.status(), 202);
    let avatar = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        crate::media::finished(&mut ws, &avatar).await["status"],
        "ready"
    );
    ws.close().await;
    let r = hal
        .client
        .patch(format!("{}/api/me", hal.http))
        .bearer_auth(&hal.token)
        .json(&serde_json::json!({"about": ABOUT, "avatar": avatar}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    run_script(
        &app,
        "profile_view.mjs",
        &[
            ("GUS", gus.username.clone()),
            ("HAL", hal.username.clone()),
            ("HAL_ABOUT", ABOUT.into()),
            ("GROUP", "Crew".into()),
        ],
    )
    .await;
    app.quiesce().await;
}

/// Gives `user` the profile phone or e-mail `value`, verified (as if the code had been typed in),
/// so the address-book match finds them.
async fn verified(app: &TestApp, user: &TestUser, field: &str, value: &str) {
    use chat_server::store::verify::ContactKind;
    let r = user
        .client
        .patch(format!("{}/api/me", user.http))
        .bearer_auth(&user.token)
        .json(&serde_json::json!({ field: value }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{field} {value}");
    let kind = if field == "phone" {
        ContactKind::Phone
    } else {
        ContactKind::Email
    };
    app.state
        .store
        .claim(&chat_server::ids::UserId(user.id.clone()), kind, value)
        .await
        .unwrap();
}

#[actix_web::test]
async fn browser_contacts_screen_imports_an_address_book_sets_nicknames_removes_and_chats() {
    let app = spawn_app().await;
    let mut env = Vec::new();
    for (tag, n) in [("DESKTOP", 1), ("PHONE", 2)] {
        let [ann, ben, cy]: [TestUser; 3] = app.register_many(["Ann", "Ben", "Cy"]).await;
        verified(&app, &ben, "phone", &format!("+1202555010{n}")).await;
        verified(&app, &cy, "email", &format!("cy{n}@example.org")).await;
        env.push((format!("{tag}_ANN"), ann.username.clone()));
        env.push((format!("{tag}_N"), n.to_string()));
    }
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    run_script(&app, "contacts.mjs", &env).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_contacts_privacy_unblocks_signs_out_sessions_changes_the_password_and_deletes_the_account(
) {
    // Ann signs in many times on purpose (three browsers, again after each sign-out) and checks
    // her password four times: more than one address may try at one account in a minute.
    let app = crate::support::app::spawn_app_with(|s| {
        s.limits.login_per_address_account = chat_server::config::Rate {
            burst: 100,
            period_ms: 1000,
        };
    })
    .await;
    let mut env = Vec::new();
    for tag in ["DESKTOP", "PHONE"] {
        let [ann, dan]: [TestUser; 2] = app.register_many(["Ann", "Dan"]).await;
        let r = ann
            .post("/api/blocks", serde_json::json!({"user": dan.id}))
            .await;
        assert_eq!(r.status(), 204);
        // Her only sessions are then the browsers' of the script.
        let r = ann.post("/api/auth/logout", serde_json::json!({})).await;
        assert_eq!(r.status(), 204);
        env.push((format!("{tag}_ANN"), ann.username.clone()));
    }
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    run_script(&app, "privacy.mjs", &env).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_contacts_mute_from_the_header_and_the_notification_sound() {
    let app = spawn_app().await;
    let mut env = Vec::new();
    for tag in ["DESKTOP", "PHONE"] {
        let [ann, ben]: [TestUser; 2] = app.register_many(["Ann", "Ben"]).await;
        ann.dm(&ben).await;
        ann.group("Club", &[&ben]).await;
        env.push((format!("{tag}_ANN"), ann.username.clone()));
        env.push((format!("{tag}_BEN"), ben.username.clone()));
    }
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    run_script(&app, "mute.mjs", &env).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_contacts_linked_accounts_show_only_when_a_provider_is_configured() {
    use crate::support::oauth_provider::{Kind, OAuthProvider};
    let fb = OAuthProvider::start(Kind::Facebook);
    let with = crate::support::app::spawn_app_with(|s| fb.configure(s)).await;
    fb.register(&with.http);
    let ivy = with.register("Ivy").await;
    run_script(
        &with,
        "linked.mjs",
        &[
            ("USERNAME", ivy.username.clone()),
            ("PROVIDER", "facebook".into()),
        ],
    )
    .await;
    with.quiesce().await;
    let without = spawn_app().await;
    let jo = without.register("Jo").await;
    run_script(
        &without,
        "linked.mjs",
        &[
            ("USERNAME", jo.username.clone()),
            ("PROVIDER", String::new()),
        ],
    )
    .await;
    without.quiesce().await;
}

/// Who and what the accessibility scripts find: Ann (the admin, who signs in) with a dm with Ben
/// (text, a reply, a reaction and a photo, all searchable) and the group "Book club" with Ben and
/// Cy (messages from both); Ben is her contact with a nickname, Dan is blocked. Returns the
/// server and the scripts' environment.
async fn accessible_world() -> (TestApp, Vec<(&'static str, String)>) {
    let app = spawn_app().await;
    let ann = app.register_admin("Ann").await;
    let [ben, cy, dan]: [TestUser; 3] = app.register_many(["Ben", "Cy", "Dan"]).await;
    let dm = ann.dm(&ben).await;
    let group = ann.group("Book club", &[&ben, &cy]).await;
    let r = ann
        .put(
            &format!("/api/contacts/{}", ben.id),
            serde_json::json!({"nickname": "Benny"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = ann
        .post("/api/blocks", serde_json::json!({"user": dan.id}))
        .await;
    assert_eq!(r.status(), 204);
    let mut wb = ben.connect().await;
    let first = wb.send_msg(&dm, "are you coming to the lighthouse?").await;
    wb.send(serde_json::json!({"type": "send", "room": dm, "client_id": "r", "body": "bring a coat", "reply_to": first["id"]}))
        .await;
    wb.expect_where("ack", |f| f["client_id"] == "r").await;
    let media =
        crate::media::upload(&ben, "lighthouse.png", &crate::media::photo_png(800, 600)).await;
    assert_eq!(
        crate::media::finished(&mut wb, &media).await["status"],
        "ready"
    );
    wb.send(serde_json::json!({"type": "send", "room": dm, "client_id": "p", "body": "the lighthouse", "attachments": [media]}))
        .await;
    wb.expect_where("ack", |f| f["client_id"] == "p").await;
    wb.send(serde_json::json!({"type": "react", "room": dm, "id": first["id"], "emoji": "👍", "on": true}))
        .await;
    wb.send_msg(&group, "chapter three by Friday").await;
    wb.close().await;
    let mut wc = cy.connect().await;
    wc.send_msg(&group, "I am only on chapter two").await;
    wc.close().await;
    // The index commits every 500 ms: searched for only once it finds it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let found: serde_json::Value = ann
            .get("/api/search?q=lighthouse")
            .await
            .json()
            .await
            .unwrap();
        if found["results"].as_array().is_some_and(|r| r.len() >= 2) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not indexed: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = vec![
        ("USERNAME", ann.username.clone()),
        ("PEER", "Benny".into()),
        ("GROUP", "Book club".into()),
        ("CAPTION", "the lighthouse".into()),
        ("QUERY", "lighthouse".into()),
        ("BLOCKED", "Dan".into()),
    ];
    (app, env)
}

/// Runs `script` on `viewport` (`desktop` or `phone`) against a fresh `accessible_world`.
async fn run_accessibility(script: &str, viewport: &str) {
    let (app, mut env) = accessible_world().await;
    env.push(("VIEWPORT", viewport.into()));
    run_script(&app, script, &env).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_axe_finds_nothing_serious_on_any_screen_in_any_theme_on_a_desktop() {
    run_accessibility("a11y.mjs", "desktop").await;
}

#[actix_web::test]
async fn browser_axe_finds_nothing_serious_on_any_screen_in_any_theme_on_a_phone() {
    run_accessibility("a11y.mjs", "phone").await;
}

#[actix_web::test]
async fn browser_keyboard_only_signs_in_chats_and_opens_and_closes_every_dialog_on_a_desktop() {
    run_accessibility("keyboard.mjs", "desktop").await;
}

#[actix_web::test]
async fn browser_keyboard_only_signs_in_chats_and_opens_and_closes_every_dialog_on_a_phone() {
    run_accessibility("keyboard.mjs", "phone").await;
}

/// Who and what the language script finds: Ann (the admin, who signs in) with a dm with Ben (a
/// message the script moves three days back, then a file of 5,000 bytes) and the groups "Book
/// club" and "Film club" with Ben and Cy, where each wrote once (the script never opens the
/// second: two unread in each language). Returns the server and the script's environment.
async fn multilingual_world() -> (TestApp, Vec<(&'static str, String)>) {
    let app = spawn_app().await;
    let ann = app.register_admin("Ann").await;
    let [ben, cy]: [TestUser; 2] = app.register_many(["Ben", "Cy"]).await;
    let dm = ann.dm(&ben).await;
    let group = ann.group("Book club", &[&ben, &cy]).await;
    let unread = ann.group("Film club", &[&ben, &cy]).await;
    let mut wb = ben.connect().await;
    wb.send_msg(&dm, "earlier: are you coming to the lighthouse?")
        .await;
    let file_name = "minutes.pdf";
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(5_000, b'x');
    let media = crate::media::upload(&ben, file_name, &pdf).await;
    assert_eq!(
        crate::media::finished(&mut wb, &media).await["status"],
        "ready"
    );
    wb.send(serde_json::json!({"type": "send", "room": dm, "client_id": "f", "body": file_name, "attachments": [media]}))
        .await;
    wb.expect_where("ack", |f| f["client_id"] == "f").await;
    wb.send_msg(&group, "chapter three by Friday").await;
    wb.send_msg(&unread, "the film starts at eight").await;
    wb.close().await;
    let mut wc = cy.connect().await;
    wc.send_msg(&group, "I am only on chapter two").await;
    wc.send_msg(&unread, "I will be late").await;
    wc.close().await;
    until_unread(&ann, &unread, 2).await;
    let env = vec![
        ("USERNAME", ann.username.clone()),
        ("PEER", "Ben".into()),
        ("GROUP", "Book club".into()),
        ("UNREAD", "Film club".into()),
        ("FILE_NAME", file_name.into()),
    ];
    (app, env)
}

/// Runs i18n.mjs on `viewport` (`desktop` or `phone`) against a fresh `multilingual_world`.
async fn run_languages(viewport: &str) {
    let (app, mut env) = multilingual_world().await;
    env.push(("VIEWPORT", viewport.into()));
    run_script(&app, "i18n.mjs", &env).await;
    app.quiesce().await;
}

#[actix_web::test]
async fn browser_i18n_catalogue_is_complete_and_german_and_english_browsers_get_their_language_on_a_desktop(
) {
    run_languages("desktop").await;
}

#[actix_web::test]
async fn browser_i18n_catalogue_is_complete_and_german_and_english_browsers_get_their_language_on_a_phone(
) {
    run_languages("phone").await;
}
