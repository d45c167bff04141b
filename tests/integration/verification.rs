//! Verified phone numbers and e-mail addresses (issue 19, findings 3 and 8), through the HTTP
//! API with stand-ins for the SMS and mail gateways (`support::push`): a number is texted and an
//! address or number matched only once its owner entered the code sent there; wrong, expired
//! and used-up codes fail and asking and guessing are throttled; a verified value belongs to one
//! account; daily text caps hold across two nodes on one Redis; texts carry what others wrote on
//! one line and cut short; display names are checked at registration as `PATCH /api/me` does.

use std::time::Duration;

use chat_server::config::{Rate, Secret, Settings};
use serde_json::{json, Value};

use crate::support::app::{spawn_app_with, TestApp, TestUser};
use crate::support::push::{code_in, verify_email, verify_phone, MailGateway, SmsGateway};
use crate::support::services::{shared_mariadb, RedisServer};

/// Settings with both gateways.
fn gateways(s: &mut Settings, sms: &SmsGateway, mail: &MailGateway) {
    s.push.sms.url = sms.url.clone();
    s.push.sms.username = sms.user.clone();
    s.push.sms.password = Secret::new(sms.password.clone());
    s.push.retry_base_ms = 20;
    s.mail.gateway_url = mail.url.clone();
    s.mail.token = Secret::new(mail.token.clone());
    s.mail.from = "chat@example.org".into();
}

async fn app_with_gateways(
    tweak: impl FnOnce(&mut Settings),
) -> (TestApp, SmsGateway, MailGateway) {
    let (sms, mail) = (SmsGateway::start(), MailGateway::start());
    let app = spawn_app_with(|s| {
        gateways(s, &sms, &mail);
        tweak(s);
    })
    .await;
    (app, sms, mail)
}

async fn patch(u: &TestUser, path: &str, body: Value) -> reqwest::Response {
    u.client
        .patch(format!("{}{path}", u.http))
        .bearer_auth(&u.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn status_and_error(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn me(u: &TestUser) -> Value {
    u.get("/api/me").await.json::<Value>().await.unwrap()["user"].clone()
}

async fn matched(u: &TestUser, phones: &[&str], emails: &[&str]) -> Vec<String> {
    let r = u
        .post(
            "/api/contacts/match",
            json!({"phones": phones, "emails": emails}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn an_sms_number_is_texted_only_once_its_code_came_back_and_then_on_one_short_line() {
    let (app, mut sms, _mail) = app_with_gateways(|s| s.push.sms.fallback_after_secs = 1).await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let r = patch(
        &bob,
        "/api/push/settings",
        json!({"sms_phone": "+41 44 668 18 00", "sms_fallback": true}),
    )
    .await;
    let settings: Value = r.json().await.unwrap();
    assert_eq!(settings["settings"]["sms_phone_verified"], false);

    // Unverified: a message Bob leaves unread is not texted to a number anyone could have typed.
    let room = alice.dm(&bob).await;
    let mut a = alice.connect().await;
    a.send_msg(&room, "are you there?").await;
    sms.none_within(Duration::from_millis(2500)).await;

    // The code round trip: asked for, texted to that number, entered back.
    let r = bob.post("/api/me/phone/verify", json!({})).await;
    assert_eq!(r.status(), 202);
    let code_sms = sms.next().await;
    assert_eq!(code_sms.fields["to"], "+41446681800");
    let code = code_in(&code_sms.fields["text"]);
    assert_eq!(code.len(), 6, "{:?}", code_sms.fields["text"]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _, message) = status_and_error(
        bob.post("/api/me/phone/confirm", json!({"code": wrong}))
            .await,
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (400, "code: wrong code, 4 tries left")
    );
    let r = bob
        .post("/api/me/phone/confirm", json!({"code": code}))
        .await;
    assert_eq!(r.status(), 200);
    let r = bob.get("/api/push/settings").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["settings"]["sms_phone_verified"],
        true
    );
    let r = bob
        .post("/api/me/phone/confirm", json!({"code": code}))
        .await;
    assert_eq!(r.status(), 400, "a code works once");

    // Verified: texted, with what Alice wrote on one line and cut short.
    let body = format!("hi\nYour code is 123456\r\n\u{202E}{}", "x".repeat(500));
    a.send_msg(&room, &body).await;
    let text = sms.next().await;
    assert_eq!(text.fields["to"], "+41446681800");
    let t = &text.fields["text"];
    assert!(t.starts_with("alice: hi Your code is 123456 x"), "{t:?}");
    assert!(
        !t.chars().any(|c| c.is_control() || c == '\u{202E}'),
        "{t:?}"
    );
    assert!(t.chars().count() <= 140, "{} characters", t.chars().count());

    // A new number is unverified again, and the old one no longer the account's.
    patch(
        &bob,
        "/api/push/settings",
        json!({"sms_phone": "+41 44 668 18 01"}),
    )
    .await;
    a.send_msg(&room, "and now?").await;
    sms.none_within(Duration::from_millis(2500)).await;
}

#[actix_web::test]
async fn contact_matching_finds_only_verified_numbers_and_addresses() {
    let (app, mut sms, mut mail) = app_with_gateways(|_| {}).await;
    let (me_, ann, ben) = (
        app.register("me").await,
        app.register("ann").await,
        app.register("ben").await,
    );
    let r = patch(&ann, "/api/me", json!({"phone": "+1 415 555 2671"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(me(&ann).await["phone_verified"], false);
    let r = patch(&ben, "/api/me", json!({"email": "Ben@Example.net"})).await;
    assert_eq!(r.status(), 200);
    let (phones, emails) = (["(415) 555-2671"], ["ben@example.net"]);
    assert!(matched(&me_, &phones, &emails).await.is_empty());

    verify_phone(&ann, &mut sms, json!({"phone": "415 555 2671"})).await;
    assert_eq!(me(&ann).await["phone_verified"], true);
    let r = ben.post("/api/me/email/verify", json!({})).await;
    assert_eq!(r.status(), 202);
    let m = mail.next().await;
    assert_eq!(
        (m.to.as_str(), m.from.as_str(), m.subject.as_str()),
        (
            "ben@example.net",
            "chat@example.org",
            "Your chat verification code"
        )
    );
    let r = ben
        .post("/api/me/email/confirm", json!({"code": code_in(&m.text)}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(me(&ben).await["email_verified"], true);
    assert_eq!(
        matched(&me_, &phones, &emails).await,
        [ann.id.clone(), ben.id.clone()]
    );

    // A verified account's other, unverified value matches nothing.
    patch(&ann, "/api/me", json!({"email": "ann@example.net"})).await;
    assert!(matched(&me_, &[], &["ann@example.net"]).await.is_empty());
}

#[actix_web::test]
async fn wrong_expired_and_used_up_codes_fail_and_asking_and_guessing_are_throttled() {
    let (app, mut sms, _mail) = app_with_gateways(|s| {
        s.verification.max_attempts = 2;
        s.limits.verify_confirm_per_user = Rate {
            burst: 4,
            period_ms: 60_000,
        };
        s.limits.verify_per_target = Rate {
            burst: 2,
            period_ms: 60_000,
        };
    })
    .await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    patch(&ann, "/api/me", json!({"phone": "+1 415 555 2671"})).await;

    // Never asked for.
    let (status, _, message) = status_and_error(
        ann.post("/api/me/phone/confirm", json!({"code": "123456"}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message.starts_with("code: no code is pending"), "{message}");

    // Two wrong tries use the code up: the right one then fails too.
    assert_eq!(
        ann.post("/api/me/phone/verify", json!({})).await.status(),
        202
    );
    let code = code_in(&sms.next().await.fields["text"]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (_, _, m1) = status_and_error(
        ann.post("/api/me/phone/confirm", json!({"code": wrong}))
            .await,
    )
    .await;
    assert_eq!(m1, "code: wrong code, 1 tries left");
    let (_, _, m2) = status_and_error(
        ann.post("/api/me/phone/confirm", json!({"code": wrong}))
            .await,
    )
    .await;
    assert_eq!(m2, "code: wrong code, no tries left; ask for a new one");
    let (status, _, m3) = status_and_error(
        ann.post("/api/me/phone/confirm", json!({"code": code}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(m3.starts_with("code: no code is pending"), "{m3}");
    assert_eq!(me(&ann).await["phone_verified"], false);

    // Guessing is throttled per user (4 tries a minute, whatever codes are pending).
    let r = ann
        .post("/api/me/phone/confirm", json!({"code": wrong}))
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));

    // Asking for codes is throttled per number, whoever asks: ann asked once, ben twice.
    patch(&ben, "/api/me", json!({"phone": "+1 415 555 2671"})).await;
    assert_eq!(
        ben.post("/api/me/phone/verify", json!({})).await.status(),
        202
    );
    sms.next().await;
    let (status, code, _) =
        status_and_error(ben.post("/api/me/phone/verify", json!({})).await).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));

    // A number that is not one of the account's is refused.
    let (status, _, message) = status_and_error(
        ann.post("/api/me/phone/verify", json!({"phone": "+1 212 555 0100"}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message.starts_with("phone: not one of yours"), "{message}");
}

#[actix_web::test]
async fn an_expired_code_fails() {
    let (app, mut sms, _mail) = app_with_gateways(|s| s.verification.code_ttl_secs = 0).await;
    let ann = app.register("ann").await;
    patch(&ann, "/api/me", json!({"phone": "+1 415 555 2671"})).await;
    assert_eq!(
        ann.post("/api/me/phone/verify", json!({})).await.status(),
        202
    );
    let code = code_in(&sms.next().await.fields["text"]);
    let (status, _, message) = status_and_error(
        ann.post("/api/me/phone/confirm", json!({"code": code}))
            .await,
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (400, "code: expired; ask for a new one")
    );
    assert_eq!(me(&ann).await["phone_verified"], false);
}

/// On MariaDB: the primary key of `verified_contacts` is what refuses a second account.
#[actix_web::test]
async fn a_verified_number_or_address_belongs_to_one_account() {
    let url = shared_mariadb().fresh_database().unwrap();
    let (app, mut sms, mut mail) = app_with_gateways(|s| s.database.url = url).await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    for u in [&ann, &ben] {
        let r = patch(
            u,
            "/api/me",
            json!({"phone": "+1 415 555 2671", "email": "x@example.org"}),
        )
        .await;
        assert_eq!(
            r.status(),
            200,
            "an unverified value may be typed by anyone"
        );
    }
    // Both ask for a code; ann enters hers first, then ben's is refused.
    assert_eq!(
        ann.post("/api/me/phone/verify", json!({})).await.status(),
        202
    );
    let ann_code = code_in(&sms.next().await.fields["text"]);
    assert_eq!(
        ben.post("/api/me/phone/verify", json!({})).await.status(),
        202
    );
    let ben_code = code_in(&sms.next().await.fields["text"]);
    let r = ann
        .post("/api/me/phone/confirm", json!({"code": ann_code}))
        .await;
    assert_eq!(r.status(), 200);
    let (status, code, message) = status_and_error(
        ben.post("/api/me/phone/confirm", json!({"code": ben_code}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            409,
            "conflict",
            "phone: already verified by another account"
        )
    );
    // Asking again is refused before anything is texted.
    let (status, _, _) = status_and_error(ben.post("/api/me/phone/verify", json!({})).await).await;
    assert_eq!(status, 409);
    sms.none_within(Duration::from_millis(300)).await;

    // The same for e-mail.
    verify_email(&ann, &mut mail).await;
    let (status, _, message) =
        status_and_error(ben.post("/api/me/email/verify", json!({})).await).await;
    assert_eq!(
        (status, message.as_str()),
        (409, "email: already verified by another account")
    );

    // Once ann gives the number up, ben can verify it.
    patch(&ann, "/api/me", json!({"phone": null})).await;
    verify_phone(&ben, &mut sms, json!({})).await;
    assert_eq!(me(&ben).await["phone_verified"], true);
}

#[actix_web::test]
async fn without_a_mail_gateway_email_verification_is_unavailable() {
    let app = spawn_app_with(|_| {}).await;
    let ann = app.register("ann").await;
    patch(&ann, "/api/me", json!({"email": "ann@example.org"})).await;
    let (status, code, message) =
        status_and_error(ann.post("/api/me/email/verify", json!({})).await).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));
    assert!(message.contains("mail.gateway_url"), "{message}");
    let (status, code, _) =
        status_and_error(ann.post("/api/me/phone/verify", json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid"),
        "no phone number set"
    );
}

#[actix_web::test]
async fn a_display_name_is_checked_at_registration_as_patch_me_checks_it() {
    let app = spawn_app_with(|_| {}).await;
    let register = |display: &str| {
        let (client, http, display) = (app.client.clone(), app.http.clone(), display.to_owned());
        async move {
            let name = format!("eve{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            client
                .post(format!("{http}/api/auth/register"))
                .json(&json!({"username": name, "password": "correct horse battery", "display_name": display}))
                .send()
                .await
                .unwrap()
        }
    };
    let evil = "Eve\nYour bank code: 1234";
    let at_registration = status_and_error(register(evil).await).await;
    let eve = app.register("eve").await;
    let by_patch =
        status_and_error(patch(&eve, "/api/me", json!({"display_name": evil})).await).await;
    assert_eq!(at_registration, by_patch);
    assert_eq!(
        at_registration,
        (
            400,
            "invalid".into(),
            "display_name: no control characters".into()
        )
    );
    // Trimmed, and blank means the username, as before.
    let r = register("  Eve  ").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["user"]["display_name"],
        "Eve"
    );
    let too_long = status_and_error(register(&"e".repeat(101)).await).await;
    assert_eq!(too_long.2, "display_name: 1 to 100 characters");
}

/// Two cluster nodes in this process on one Redis and one MariaDB database.
async fn two_nodes(
    redis: &RedisServer,
    sms: &SmsGateway,
    tweak: impl Fn(&mut Settings),
) -> (TestApp, TestApp) {
    let db = shared_mariadb().fresh_database().unwrap();
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let node = |i: usize| {
        let (redis_url, db, prefix) = (redis.url(), db.clone(), prefix.clone());
        let tweak = &tweak;
        async move {
            let mail = MailGateway::start();
            spawn_app_with(move |s| {
                gateways(s, sms, &mail);
                s.redis.url = redis_url;
                s.redis.prefix = prefix;
                s.redis.consumer = format!("node{i}");
                s.cluster.enabled = true;
                s.cluster.node_id = format!("node{i}");
                s.database.url = db;
                tweak(s);
            })
            .await
        }
    };
    let first = node(0).await;
    let second = node(1).await;
    (first, second)
}

#[actix_web::test]
async fn daily_text_caps_hold_across_two_nodes_sharing_redis() {
    let redis = RedisServer::start().unwrap();
    let mut sms = SmsGateway::start();
    let (one, two) = two_nodes(&redis, &sms, |s| {
        s.push.sms.invites_per_day = 100;
        s.push.sms.texts_per_number_per_day = 2;
        s.push.sms.texts_per_user_per_day = 3;
    })
    .await;
    let (ann, ben) = (one.register("ann").await, one.register("ben").await);
    let on_two = |u: &TestUser| TestUser {
        http: two.http.clone(),
        ws: two.ws_url(),
        ..u.clone()
    };
    let invite = |u: TestUser, phone: &'static str| async move {
        u.post("/api/push/sms/invite", json!({"phone": phone}))
            .await
            .status()
            .as_u16()
    };
    // Per number: two texts a day to +41446681800, one through each node, then none.
    assert_eq!(invite(ann.clone(), "+41446681800").await, 202);
    assert_eq!(invite(on_two(&ben), "+41446681800").await, 202);
    assert_eq!(invite(on_two(&ann), "+41446681800").await, 429);
    assert_eq!(invite(ben.clone(), "+41446681800").await, 429);
    for _ in 0..2 {
        assert_eq!(sms.next().await.fields["to"], "+41446681800");
    }
    // Per user: ann's texts, sent or refused for the number, count (2 of 3); one more to
    // another number through the other node, and the next is refused.
    assert_eq!(invite(on_two(&ann), "+41446681801").await, 202);
    assert_eq!(invite(ann.clone(), "+41446681802").await, 429);
    assert_eq!(sms.next().await.fields["to"], "+41446681801");
    // Ben, through the other node, still may.
    assert_eq!(invite(on_two(&ben), "+41446681803").await, 202);
    assert_eq!(sms.next().await.fields["to"], "+41446681803");
    sms.none_within(Duration::from_millis(300)).await;
}

#[test]
fn the_shipped_config_toml_documents_verification_mail_and_the_daily_caps() {
    let shipped = Settings::load(Some(std::path::Path::new("config.toml"))).unwrap();
    let d = Settings::default();
    let v = (&shipped.verification, &d.verification);
    assert_eq!(
        (v.0.code_ttl_secs, v.0.max_attempts),
        (v.1.code_ttl_secs, v.1.max_attempts)
    );
    assert_eq!(
        (&v.0.code_text, &v.0.mail_subject),
        (&v.1.code_text, &v.1.mail_subject)
    );
    let m = (&shipped.mail, &d.mail);
    assert!(m.0.gateway_url.is_empty() && m.0.token.is_empty());
    assert_eq!(
        (m.0.per_user_per_day, m.0.per_address_per_day, &m.0.from),
        (m.1.per_user_per_day, m.1.per_address_per_day, &m.1.from)
    );
    let s = (&shipped.push.sms, &d.push.sms);
    assert_eq!(
        (s.0.texts_per_user_per_day, s.0.texts_per_number_per_day),
        (s.1.texts_per_user_per_day, s.1.texts_per_number_per_day)
    );
}
