//! Push notifications end to end: the server in-process, and stand-ins for the Web Push
//! service, FCM (with its OAuth token endpoint) and an SMS gateway on loopback that check what
//! the real ones check (`support::push`). Assertions are on what people observe: which device
//! got a push, what it said, and what the API shows afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chat_server::actors::registry::GetRoom;
use chat_server::actors::room::{Draft, Post};
use chat_server::config::{Secret, Settings};
use chat_server::ids::{RoomId, UserId};
use chat_server::protocol::SendFrame;
use chat_server::store::push::{NewSubscription, PushKind};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};

use crate::support::app::{spawn_app_with, TestApp, TestUser};
use crate::support::push::{
    unregistered, verify_phone, FcmService, Reply, SmsGateway, WebPushService,
};

/// Coalescing window in these tests (ms).
const WINDOW_MS: u64 = 150;
/// Long enough to be sure a push that was going to come would have: the window plus slack.
const NO_PUSH: Duration = Duration::from_millis(800);

/// Settings for fast push tests: loopback http endpoints, a short window, quick back-off.
fn fast(s: &mut Settings) {
    s.push.allow_http_endpoints = true;
    s.push.coalesce_ms = WINDOW_MS;
    s.push.retry_base_ms = 20;
    s.push.retry_max_ms = 5_000;
    s.push.max_attempts = 4;
    s.push.request_timeout_ms = 5_000;
}

/// A server and a Web Push service that trusts its VAPID key.
async fn webpush_app(tweak: impl FnOnce(&mut Settings)) -> (TestApp, WebPushService) {
    let service = WebPushService::start();
    let app = spawn_app_with(|s| {
        fast(s);
        tweak(s);
    })
    .await;
    let r = app
        .client
        .get(format!("{}/api/push/vapid", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let key: Value = r.json().await.unwrap();
    service.trust(key["public_key"].as_str().unwrap());
    (app, service)
}

/// An FCM stand-in, a server sending to it with its service account key, Alice and Bob and
/// their dm.
async fn fcm_dm() -> (FcmService, TestApp, TestUser, TestUser, String) {
    let fcm = FcmService::start();
    let (key_file, base) = (fcm.key_file.display().to_string(), fcm.base.clone());
    let app = spawn_app_with(|s| {
        fast(s);
        s.push.fcm.service_account_file = key_file;
        s.push.fcm.base_url = base;
    })
    .await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    (fcm, app, alice, bob, room)
}

/// A server and its Web Push service, Alice and Bob with their dm, and Bob's phone subscribed.
async fn dm_with_subscribed_bob(
    tweak: impl FnOnce(&mut Settings),
) -> (TestApp, WebPushService, TestUser, TestUser, String) {
    let (app, service) = webpush_app(tweak).await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    subscribe(&bob, service.device("bob-phone").subscription()).await;
    (app, service, alice, bob, room)
}

async fn patch_settings(user: &TestUser, body: Value) -> reqwest::Response {
    user.client
        .patch(format!("{}/api/push/settings", user.http))
        .bearer_auth(&user.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put(user: &TestUser, path: &str) -> reqwest::Response {
    user.client
        .put(format!("{}{path}", user.http))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

async fn subscribe(user: &TestUser, body: Value) -> Value {
    let r = user.post("/api/push/subscriptions", body).await;
    assert_eq!(
        r.status(),
        201,
        "subscribe: {}",
        r.text().await.unwrap_or_default()
    );
    r.json::<Value>().await.unwrap()["subscription"].clone()
}

async fn subscriptions(user: &TestUser) -> Vec<Value> {
    let r = user.get("/api/push/subscriptions").await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["subscriptions"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (bounded) until `user` has `n` subscriptions; pruning happens right after the answer
/// that caused it, so this settles within milliseconds.
async fn until_subscriptions(user: &TestUser, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if subscriptions(user).await.len() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} still has {} subscriptions",
            user.username,
            subscriptions(user).await.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metric(app: &TestApp, line_prefix: &str) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.http))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(line_prefix)
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {line_prefix} in /metrics"))
}

/// Posts as `user` through the room actor, as a client with no live session would be (the sender
/// is then "away" too, and must still get no push).
async fn post_without_session(app: &TestApp, room: &str, user: &TestUser, body: &str) {
    let addr = app
        .state
        .registry
        .send(GetRoom {
            room: RoomId(room.into()),
        })
        .await
        .unwrap()
        .unwrap();
    let frame = SendFrame::new(
        RoomId(room.into()),
        uuid::Uuid::new_v4().simple().to_string(),
        body.into(),
    );
    addr.send(Post {
        user: UserId(user.id.clone()),
        session: None,
        draft: Draft::new(frame),
        reference: None,
    })
    .await
    .unwrap()
    .unwrap();
}

#[actix_web::test]
async fn vapid_key_is_generated_once_kept_across_restarts_or_taken_from_config() {
    let data = tempfile::tempdir().unwrap();
    let media = data.path().join("media").display().to_string();
    let key_of = |app: &TestApp| {
        let url = format!("{}/api/push/vapid", app.http);
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["public_key"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = spawn_app_with(|s| s.media.dir = media.clone()).await;
    let k1 = key_of(&first).await;
    let raw = URL_SAFE_NO_PAD.decode(&k1).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
    let file = data.path().join("vapid_private_key");
    assert!(file.exists(), "the key is kept beside the media directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    first.handle.stop(true).await;
    let second = spawn_app_with(|s| s.media.dir = media.clone()).await;
    assert_eq!(key_of(&second).await, k1, "same key after a restart");

    // A key given in the configuration is used as it is.
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let configured = URL_SAFE_NO_PAD.encode(secret.to_bytes());
    let third = spawn_app_with(|s| s.push.vapid_private_key = Secret::new(configured)).await;
    let expected = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    assert_eq!(key_of(&third).await, expected);
}

#[actix_web::test]
async fn subscriptions_are_validated_listed_and_deleted_by_their_owner() {
    let service = WebPushService::start();
    let strict = spawn_app_with(|_| {}).await;
    let u = strict.register("ann").await;
    let device = service.device("ann-phone");
    // Plain http is refused unless push.allow_http_endpoints is set.
    let r = u
        .post("/api/push/subscriptions", device.subscription())
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid");
    let mut https_ip = device.subscription();
    https_ip["endpoint"] = json!("https://127.0.0.1/push/x");
    assert_eq!(
        u.post("/api/push/subscriptions", https_ip).await.status(),
        400,
        "an address is not a push service"
    );

    let (app, service) = webpush_app(|_| {}).await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let anon = app
        .client
        .post(format!("{}/api/push/subscriptions", app.http))
        .json(&device.subscription())
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let device = service.device("ann-laptop");
    let mut bad = device.subscription();
    bad["keys"]["auth"] = json!("c2hvcnQ");
    assert_eq!(ann.post("/api/push/subscriptions", bad).await.status(), 400);
    let mut bad = device.subscription();
    bad["keys"]["p256dh"] = json!("not-a-key");
    assert_eq!(ann.post("/api/push/subscriptions", bad).await.status(), 400);
    assert_eq!(
        ann.post(
            "/api/push/subscriptions",
            json!({"kind": "apns", "token": "x"})
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        ann.post(
            "/api/push/subscriptions",
            json!({"kind": "fcm", "token": "t", "platform": "palm"})
        )
        .await
        .status(),
        400
    );

    let web = subscribe(&ann, device.subscription()).await;
    assert_eq!(
        (web["kind"].as_str(), web["endpoint"].as_str()),
        (Some("webpush"), Some(device.endpoint.as_str()))
    );
    assert_eq!(web["device"], "ann-laptop");
    let again = subscribe(&ann, device.subscription()).await;
    assert_eq!(
        again["id"], web["id"],
        "the same endpoint is one subscription"
    );
    let fcm = subscribe(
        &ann,
        json!({"kind": "fcm", "token": "fcm-token-ann", "platform": "android"}),
    )
    .await;
    assert_eq!(
        (fcm["token"].as_str(), fcm["platform"].as_str()),
        (Some("fcm-token-ann"), Some("android"))
    );
    assert_eq!(subscriptions(&ann).await.len(), 2);
    assert!(subscriptions(&bob).await.is_empty());

    // The same browser signed in as Bob: the subscription moves to him.
    let moved = subscribe(&bob, device.subscription()).await;
    assert_eq!(moved["id"], web["id"]);
    assert_eq!(
        (
            subscriptions(&ann).await.len(),
            subscriptions(&bob).await.len()
        ),
        (1, 1)
    );
    let web = subscribe(&ann, device.subscription()).await;
    assert!(subscriptions(&bob).await.is_empty());

    // Bounded per user.
    for i in 0..50 {
        subscribe(
            &bob,
            json!({"kind": "fcm", "token": format!("bob-token-{i}")}),
        )
        .await;
    }
    assert_eq!(
        bob.post(
            "/api/push/subscriptions",
            json!({"kind": "fcm", "token": "one-too-many"})
        )
        .await
        .status(),
        409
    );
    subscribe(
        &bob,
        json!({"kind": "fcm", "token": "bob-token-7", "platform": "ios"}),
    )
    .await;

    let path = format!("/api/push/subscriptions/{}", web["id"].as_str().unwrap());
    assert_eq!(bob.delete(&path).await.status(), 404, "not bob's");
    assert_eq!(ann.delete(&path).await.status(), 204);
    assert_eq!(ann.delete(&path).await.status(), 404);
    let left = subscriptions(&ann).await;
    assert_eq!((left.len(), left[0]["kind"].as_str()), (1, Some("fcm")));
}

#[actix_web::test]
async fn an_away_member_gets_an_encrypted_vapid_signed_push() {
    let (app, mut service, alice, _bob, room) = dm_with_subscribed_bob(|_| {}).await;
    let mut a = alice.connect().await;
    let ack = a.send_msg(&room, "are you there, bob? 👋").await;
    let push = service.next().await;
    assert_eq!(push.device, "bob-phone");
    assert_eq!(push.answered, 201);
    let p = &push.payload;
    assert_eq!(p["type"], "message");
    assert_eq!(p["title"], "alice");
    assert_eq!(p["body"], "are you there, bob? 👋");
    assert_eq!(
        (p["room"].as_str(), p["count"].as_u64()),
        (Some(room.as_str()), Some(1))
    );
    assert_eq!(
        (p["message"].clone(), p["seq"].clone()),
        (ack["id"].clone(), ack["seq"].clone())
    );
    assert_eq!(
        (push.ttl.as_str(), push.urgency.as_str()),
        ("86400", "high")
    );
    assert_eq!(
        push.topic.as_deref(),
        Some(room.as_str()),
        "one topic per conversation"
    );
    service.none_within(NO_PUSH).await;
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"webpush\"}").await,
        1
    );
}

#[actix_web::test]
async fn a_burst_is_one_push_per_away_member_with_its_count_and_none_for_the_sender_or_online_members(
) {
    let (app, mut service) = webpush_app(|s| s.push.coalesce_ms = 500).await;
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = alice.group("trip", &[&bob, &carol]).await;
    for (user, name) in [
        (&alice, "alice-phone"),
        (&bob, "bob-phone"),
        (&carol, "carol-phone"),
    ] {
        subscribe(user, service.device(name).subscription()).await;
    }
    // Carol is online; Bob is away; Alice sends with no live session of her own (away, but the
    // sender).
    let mut c = carol.connect().await;
    for i in 1..=5 {
        post_without_session(&app, &room, &alice, &format!("message {i}")).await;
    }
    let push = service.next().await;
    assert_eq!(push.device, "bob-phone");
    assert_eq!(push.payload["count"], 5);
    assert_eq!(push.payload["title"], "trip (5 new messages)");
    assert_eq!(push.payload["body"], "alice: message 5");
    assert_eq!(push.payload["seq"], 5);
    service.none_within(NO_PUSH).await;
    // Carol saw them live.
    c.expect_where("message", |f| f["seq"] == 5).await;

    // Once Bob is online too, nobody gets a push.
    let mut b = bob.connect().await;
    post_without_session(&app, &room, &alice, "everyone here").await;
    b.expect_where("message", |f| f["body"] == "everyone here")
        .await;
    service.none_within(NO_PUSH).await;
}

#[actix_web::test]
async fn muted_conversations_and_push_off_get_nothing_and_preview_off_gets_a_generic_text() {
    let (app, mut service, alice, bob, room) = dm_with_subscribed_bob(|_| {}).await;
    let mut a = alice.connect().await;

    // Muted: nothing.
    assert_eq!(
        put(&bob, &format!("/api/push/mutes/{room}")).await.status(),
        204
    );
    let settings: Value = bob.get("/api/push/settings").await.json().await.unwrap();
    assert_eq!(settings["settings"]["muted"][0]["room"], room.as_str());
    a.send_msg(&room, "psst").await;
    service.none_within(NO_PUSH).await;
    // Only members mute.
    let carol = app.register("carol").await;
    assert_eq!(
        put(&carol, &format!("/api/push/mutes/{room}"))
            .await
            .status(),
        403
    );

    // Unmuted: pushes again (so the silence above was the mute).
    assert_eq!(
        bob.delete(&format!("/api/push/mutes/{room}"))
            .await
            .status(),
        204
    );
    a.send_msg(&room, "now?").await;
    assert_eq!(service.next().await.payload["body"], "now?");

    // Push off: nothing.
    assert_eq!(
        patch_settings(&bob, json!({"enabled": false}))
            .await
            .status(),
        200
    );
    a.send_msg(&room, "hello?").await;
    service.none_within(NO_PUSH).await;

    // Preview off: a push that says nothing about the sender or the text.
    let body: Value = patch_settings(&bob, json!({"enabled": true, "preview": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            body["settings"]["enabled"].as_bool(),
            body["settings"]["preview"].as_bool()
        ),
        (Some(true), Some(false))
    );
    a.send_msg(&room, "my secret plan").await;
    let push = service.next().await;
    assert_eq!(
        (
            push.payload["title"].as_str(),
            push.payload["body"].as_str()
        ),
        (Some("New message"), Some("You have a new message"))
    );
    let text = push.payload.to_string();
    assert!(
        !text.contains("secret") && !text.contains("alice"),
        "no preview: {text}"
    );
}

#[actix_web::test]
async fn a_message_read_on_another_device_before_the_window_closes_is_not_pushed() {
    let (app, mut service, alice, bob, room) =
        dm_with_subscribed_bob(|s| s.push.coalesce_ms = 1000).await;
    let mut a = alice.connect().await;
    let seq = a.send_msg(&room, "read me quickly").await["seq"]
        .as_i64()
        .unwrap();
    // Bob was away when it was sent, then reads it within the window.
    let mut b = bob.connect().await;
    b.send(json!({"type": "read", "room": room, "seq": seq}))
        .await;
    a.expect_where("receipt", |f| f["seq"] == seq).await;
    service.none_within(Duration::from_millis(1000)).await;
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"webpush\"}").await,
        0
    );
}

#[actix_web::test]
async fn a_subscription_the_service_reports_gone_is_deleted() {
    let (app, mut service) = webpush_app(|_| {}).await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    subscribe(&bob, service.device("old-browser").subscription()).await;
    subscribe(&bob, service.device("new-browser").subscription()).await;
    service.script("old-browser", [Reply::status(410)]);

    let mut a = alice.connect().await;
    a.send_msg(&room, "hi").await;
    let mut seen = [service.next().await, service.next().await];
    seen.sort_by(|x, y| x.device.cmp(&y.device));
    assert_eq!(
        (seen[0].device.as_str(), seen[0].answered),
        ("new-browser", 201)
    );
    assert_eq!(
        (seen[1].device.as_str(), seen[1].answered),
        ("old-browser", 410)
    );
    until_subscriptions(&bob, 1).await;
    assert_eq!(subscriptions(&bob).await[0]["device"], "new-browser");
    assert_eq!(
        metric(&app, "chat_push_pruned_total{channel=\"webpush\"}").await,
        1
    );

    // The next message reaches only the browser that is left, and 410 is not retried.
    a.send_msg(&room, "still there?").await;
    assert_eq!(service.next().await.device, "new-browser");
    service.none_within(NO_PUSH).await;
}

#[actix_web::test]
async fn a_429_is_retried_no_sooner_than_retry_after() {
    let (app, mut service, alice, _bob, room) = dm_with_subscribed_bob(|_| {}).await;
    service.script("bob-phone", [Reply::retry_after(429, 1)]);

    let mut a = alice.connect().await;
    a.send_msg(&room, "knock knock").await;
    let first = service.next().await;
    assert_eq!(first.answered, 429);
    let second = service.next().await;
    assert_eq!(second.answered, 201);
    assert_eq!(second.payload["body"], "knock knock");
    let waited = second.at - first.at;
    assert!(
        waited >= Duration::from_millis(1000),
        "retried after {waited:?}, before Retry-After"
    );
    service.none_within(NO_PUSH).await;
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"webpush\"}").await,
        1
    );
}

#[actix_web::test]
async fn server_errors_are_retried_with_back_off_a_bounded_number_of_times() {
    let (app, mut service, alice, bob, room) =
        dm_with_subscribed_bob(|s| s.push.max_attempts = 3).await;
    let mut a = alice.connect().await;

    // 503 twice, then accepted: three requests, delivered once.
    service.script("bob-phone", [Reply::status(503), Reply::status(503)]);
    a.send_msg(&room, "one").await;
    let answers: Vec<u16> = [
        service.next().await,
        service.next().await,
        service.next().await,
    ]
    .iter()
    .map(|p| p.answered)
    .collect();
    assert_eq!(answers, vec![503, 503, 201]);
    service.none_within(NO_PUSH).await;

    // Failing every time: exactly push.max_attempts requests, then given up and counted.
    service.script(
        "bob-phone",
        [Reply::status(500), Reply::status(500), Reply::status(500)],
    );
    a.send_msg(&room, "two").await;
    for _ in 0..3 {
        assert_eq!(service.next().await.answered, 500);
    }
    service.none_within(NO_PUSH).await;
    assert_eq!(
        metric(&app, "chat_push_failed_total{channel=\"webpush\"}").await,
        1
    );
    assert_eq!(
        subscriptions(&bob).await.len(),
        1,
        "a failing service is not a gone subscription"
    );
}

#[actix_web::test]
async fn fcm_gets_an_oauth_token_from_the_service_account_and_sends_v1_messages() {
    let (mut fcm, app, alice, bob, room) = fcm_dm().await;
    subscribe(
        &bob,
        json!({"kind": "fcm", "token": "bob-android-token", "platform": "android"}),
    )
    .await;

    let mut a = alice.connect().await;
    a.send_msg(&room, "hello from the web").await;
    let (token, message, answered, _, tokens) = fcm.next_send().await;
    assert_eq!(
        (token.as_str(), answered, tokens),
        ("bob-android-token", 200, 1)
    );
    let m = &message["message"];
    assert_eq!(
        m["notification"],
        json!({"title": "alice", "body": "hello from the web"})
    );
    assert_eq!(m["data"]["room"], room.as_str());
    assert_eq!(
        (m["data"]["count"].as_str(), m["data"]["seq"].as_str()),
        (Some("1"), Some("1"))
    );
    assert_eq!(m["android"]["collapse_key"], room.as_str());
    assert_eq!(m["android"]["ttl"], "86400s");

    // The access token is cached: the next push asks for none.
    a.send_msg(&room, "second").await;
    let (_, message, _, _, tokens) = fcm.next_send().await;
    assert_eq!(
        (message["message"]["notification"]["body"].as_str(), tokens),
        (Some("second"), 0)
    );
    fcm.none_within(NO_PUSH).await;
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"fcm\"}").await,
        2
    );
}

#[actix_web::test]
async fn fcm_unregistered_tokens_are_deleted_and_503_is_retried_after_back_off() {
    let (mut fcm, app, alice, bob, room) = fcm_dm().await;
    subscribe(
        &bob,
        json!({"kind": "fcm", "token": "uninstalled-app", "platform": "ios"}),
    )
    .await;
    subscribe(
        &bob,
        json!({"kind": "fcm", "token": "busy-device", "platform": "android"}),
    )
    .await;
    fcm.script("uninstalled-app", [unregistered()]);
    fcm.script("busy-device", [Reply::retry_after(503, 1)]);

    let mut a = alice.connect().await;
    a.send_msg(&room, "anyone?").await;
    let mut sends = Vec::new();
    while sends.len() < 3 {
        let (token, _, answered, at, _) = fcm.next_send().await;
        sends.push((token, answered, at));
    }
    let gone: Vec<_> = sends.iter().filter(|s| s.0 == "uninstalled-app").collect();
    let busy: Vec<_> = sends.iter().filter(|s| s.0 == "busy-device").collect();
    assert_eq!(
        gone.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![404],
        "UNREGISTERED is not retried"
    );
    assert_eq!(busy.iter().map(|s| s.1).collect::<Vec<_>>(), vec![503, 200]);
    assert!(
        busy[1].2 - busy[0].2 >= Duration::from_secs(1),
        "503 retried before its Retry-After"
    );
    until_subscriptions(&bob, 1).await;
    assert_eq!(subscriptions(&bob).await[0]["token"], "busy-device");
    assert_eq!(
        metric(&app, "chat_push_pruned_total{channel=\"fcm\"}").await,
        1
    );
}

#[actix_web::test]
async fn sms_invites_and_texts_one_to_one_messages_still_unread_for_those_who_opted_in() {
    let mut gateway = SmsGateway::start();
    let (url, user, password) = (
        gateway.url.clone(),
        gateway.user.clone(),
        gateway.password.clone(),
    );
    let app = spawn_app_with(|s| {
        fast(s);
        s.push.sms.url = url;
        s.push.sms.username = user;
        s.push.sms.password = Secret::new(password);
        s.push.sms.from = "ChatApp".into();
        s.push
            .sms
            .fields
            .insert("api_key".into(), Secret::new("k-123"));
        s.push.sms.fallback_after_secs = 1;
        s.push.sms.invites_per_day = 1;
        s.push.sms.invite_url = "https://chat.example.com/join".into();
    })
    .await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);

    // An invitation, in the gateway's form fields; the daily limit holds.
    assert_eq!(
        alice
            .post("/api/push/sms/invite", json!({"phone": "not a number"}))
            .await
            .status(),
        400
    );
    let r = alice
        .post("/api/push/sms/invite", json!({"phone": "+41 44 668 18 00"}))
        .await;
    assert_eq!(r.status(), 202);
    let sms = gateway.next().await;
    assert_eq!(sms.fields["to"], "+41446681800");
    assert_eq!(sms.fields["from"], "ChatApp");
    assert_eq!(sms.fields["api_key"], "k-123");
    assert_eq!(
        sms.fields["text"],
        "alice invites you to chat: https://chat.example.com/join"
    );
    assert_eq!(
        alice
            .post("/api/push/sms/invite", json!({"phone": "+4144668180"}))
            .await
            .status(),
        429
    );

    // Bob opts in to the fallback; a message he does not read is texted after the delay.
    assert_eq!(
        patch_settings(&bob, json!({"sms_fallback": true}))
            .await
            .status(),
        400,
        "no phone number yet"
    );
    let r = patch_settings(
        &bob,
        json!({"sms_phone": "0049 30 1234567", "sms_fallback": true}),
    )
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["settings"]["sms_phone"],
        "+49301234567"
    );
    // Only a verified number is texted (see `verification.rs`): Bob enters the code he got.
    verify_phone(&bob, &mut gateway, json!({"phone": "+49 30 1234567"})).await;
    let room = alice.dm(&bob).await;
    let mut a = alice.connect().await;
    let sent = Instant::now();
    a.send_msg(&room, "call me").await;
    let sms = gateway.next().await;
    assert!(
        sent.elapsed() >= Duration::from_secs(1),
        "texted before the delay"
    );
    assert_eq!(
        (sms.fields["to"].as_str(), sms.fields["text"].as_str()),
        ("+49301234567", "alice: call me")
    );

    // Read in time: no text.
    let seq = a.send_msg(&room, "never mind").await["seq"]
        .as_i64()
        .unwrap();
    let mut b = bob.connect().await;
    b.send(json!({"type": "read", "room": room, "seq": seq}))
        .await;
    a.expect_where("receipt", |f| f["seq"] == seq).await;
    gateway.none_within(Duration::from_millis(1000)).await;
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"sms\"}").await,
        3,
        "the invitation, the code and the unread message"
    );
}

#[actix_web::test]
async fn without_an_sms_gateway_invites_are_unavailable() {
    let app = spawn_app_with(fast).await;
    let alice = app.register("alice").await;
    let r = alice
        .post("/api/push/sms/invite", json!({"phone": "+41446681800"}))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unavailable"
    );
}

#[test]
fn the_shipped_config_toml_loads_with_its_push_section() {
    let s = Settings::load(Some(std::path::Path::new("config.toml"))).unwrap();
    assert!(!s.push.allow_http_endpoints);
    assert_eq!(
        (s.push.coalesce_ms, s.push.urgency.as_str()),
        (2000, "high")
    );
    assert!(s.push.fcm.service_account_file.is_empty() && s.push.sms.url.is_empty());
    assert_eq!(
        format!("{:?}", Secret::new("hunter2")),
        "***",
        "secrets never print"
    );
}

#[actix_web::test]
async fn the_users_settings_document_mutes_silences_and_hides_previews_too() {
    let (_app, mut service, alice, bob, room) = dm_with_subscribed_bob(|_| {}).await;
    let mut a = alice.connect().await;
    let settings = |body: Value| {
        let bob = bob.clone();
        async move {
            bob.client
                .patch(format!("{}/api/me/settings", bob.http))
                .bearer_auth(&bob.token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };

    // Muted in the settings document: nothing; unmuted (`false`): pushes again.
    assert_eq!(
        settings(json!({"notifications": {"muted": {room.clone(): null}}}))
            .await
            .status(),
        200
    );
    a.send_msg(&room, "quiet").await;
    service.none_within(NO_PUSH).await;
    assert_eq!(
        settings(json!({"notifications": {"muted": {room.clone(): false}}}))
            .await
            .status(),
        200
    );
    a.send_msg(&room, "loud").await;
    assert_eq!(service.next().await.payload["body"], "loud");

    // Preview off there: the generic text.
    assert_eq!(
        settings(json!({"notifications": {"preview": false}}))
            .await
            .status(),
        200
    );
    a.send_msg(&room, "my secret").await;
    assert_eq!(
        service.next().await.payload["body"],
        "You have a new message"
    );

    // Push off there: nothing.
    assert_eq!(
        settings(json!({"notifications": {"push": false}}))
            .await
            .status(),
        200
    );
    a.send_msg(&room, "anyone?").await;
    service.none_within(NO_PUSH).await;
}

#[actix_web::test]
async fn a_deleted_account_loses_its_devices_and_sms_number_and_is_never_pushed_to() {
    let (app, mut service) = webpush_app(|s| s.push.coalesce_ms = 300).await;
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = alice.group("trip", &[&bob, &carol]).await;
    let bob_phone = service.device("bob-phone").subscription();
    subscribe(&bob, bob_phone.clone()).await;
    subscribe(&carol, service.device("carol-phone").subscription()).await;
    let r = patch_settings(
        &bob,
        json!({"sms_phone": "+14155550100", "sms_fallback": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = bob
        .client
        .delete(format!("{}/api/me", bob.http))
        .bearer_auth(&bob.token)
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let bob_id = UserId(bob.id.clone());
    let store = &app.state.store;
    assert!(store.subscriptions_of(&bob_id).await.unwrap().is_empty());
    assert_eq!(store.push_settings(&bob_id).await.unwrap().sms_phone, None);
    // Even a subscription left behind (saved in a race with the deletion) is not pushed to.
    store
        .save_subscription(
            &bob_id,
            NewSubscription {
                kind: PushKind::WebPush,
                endpoint: bob_phone["endpoint"].as_str().unwrap().to_owned(),
                p256dh: bob_phone["keys"]["p256dh"].as_str().map(str::to_owned),
                auth: bob_phone["keys"]["auth"].as_str().map(str::to_owned),
                platform: None,
                device: None,
            },
        )
        .await
        .unwrap();
    post_without_session(&app, &room, &alice, "still there?").await;
    let push = service.next().await;
    assert_eq!(push.device, "carol-phone");
    service.none_within(NO_PUSH).await;
}

/// This machine's name: it resolves to loopback or a private address on every usual setup
/// (`/etc/hosts`), which is what a hostile endpoint would point at.
fn own_host_name() -> String {
    let name = std::fs::read_to_string("/etc/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let ips: Vec<std::net::IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0))
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert!(
        !ips.is_empty() && ips.iter().all(|ip| !chat_server::push::is_public(*ip)),
        "{name} should resolve to private addresses here: {ips:?}"
    );
    name
}

#[actix_web::test]
async fn a_webpush_endpoint_whose_name_resolves_inside_the_network_is_never_connected_to() {
    // Where the endpoint points: a listener on every local address that no one should reach.
    let inside = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    inside.set_nonblocking(true).unwrap();
    let port = inside.local_addr().unwrap().port();
    let service = WebPushService::start();
    let app = spawn_app_with(|s| {
        s.push.allow_http_endpoints = false;
        s.push.coalesce_ms = 100;
        s.push.max_attempts = 1;
        s.push.request_timeout_ms = 2_000;
    })
    .await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    let mut sub = service.device("bob-phone").subscription();
    // A name, so it passes the checks made when subscribing; it resolves inside.
    sub["endpoint"] = json!(format!("https://{}:{port}/push/bob", own_host_name()));
    subscribe(&bob, sub).await;
    post_without_session(&app, &room, &alice, "psst").await;
    let failed = "chat_push_failed_total{channel=\"webpush\"}";
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&app, failed).await == 0 {
        assert!(Instant::now() < deadline, "the push was not given up on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        metric(&app, "chat_push_sent_total{channel=\"webpush\"}").await,
        0
    );
    match inside.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the server connected to an address inside the network: {other:?}"),
    }
}

#[actix_web::test]
async fn a_mention_pushes_in_a_muted_conversation_unless_mention_pushes_are_off() {
    let (_app, mut service, alice, bob, room) = dm_with_subscribed_bob(|_| {}).await;
    let mut a = alice.connect().await;
    assert_eq!(
        put(&bob, &format!("/api/push/mutes/{room}")).await.status(),
        204
    );
    a.send_msg(&room, "muted, so no push").await;
    service.none_within(NO_PUSH).await;
    let mention = format!("@{} look at this", bob.username);
    a.send_msg(&room, &mention).await;
    assert_eq!(service.next().await.payload["body"], mention.as_str());

    // Mention pushes off (settings document): the mute holds for mentions too.
    let r = bob
        .client
        .patch(format!("{}/api/me/settings", bob.http))
        .bearer_auth(&bob.token)
        .json(&json!({"notifications": {"mentions": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    a.send_msg(&room, &format!("@{} again", bob.username)).await;
    service.none_within(NO_PUSH).await;
}
