//! Rate limits under attack: login guessing (per address, per address and account, per account),
//! sign-up floods, per-user limits on writing endpoints, and the bounded password-hashing pool.
//! Clients on 127.0.0.2, 127.0.0.3... stand for other machines (all of 127/8 is loopback).

use std::net::IpAddr;

use chat_server::config::Rate;
use serde_json::{json, Value};

use crate::support::app::{spawn_app_with, TestApp, TestUser, TEST_PASSWORD};

/// A client whose requests come from `addr` (a loopback address).
fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, from: &reqwest::Client, user: &str, pw: &str) -> reqwest::Response {
    from.post(format!("{}/api/auth/login", app.http))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap()
}

async fn register(app: &TestApp, from: &reqwest::Client) -> reqwest::Response {
    let name = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    from.post(format!("{}/api/auth/register", app.http))
        .json(&json!({"username": name, "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap()
}

/// A 429 as DESIGN.md shapes it: `Retry-After` in whole seconds, error code `rate_limited`.
async fn assert_throttled(r: reqwest::Response) -> u64 {
    assert_eq!(r.status(), 429);
    let after: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1, "Retry-After {after}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    after
}

const GENEROUS: Rate = Rate {
    burst: 1000,
    period_ms: 1,
};

#[actix_web::test]
async fn guessing_from_one_address_gets_429_even_for_the_right_password() {
    let app = spawn_app_with(|s| {
        s.limits.login_per_address = GENEROUS;
        s.limits.login_per_account = GENEROUS;
        s.limits.login_per_address_account = Rate {
            burst: 3,
            period_ms: 60_000,
        };
    })
    .await;
    let victim = app.register("victim").await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..3 {
        let r = login(&app, &attacker, &victim.username, "wrong guess").await;
        assert_eq!(r.status(), 401);
    }
    let after =
        assert_throttled(login(&app, &attacker, &victim.username, "wrong guess").await).await;
    assert!(after <= 60, "Retry-After {after}");
    // Checked before the password: the right one does not get through either (and so a 429
    // tells the attacker nothing about the guess).
    assert_throttled(login(&app, &attacker, &victim.username, TEST_PASSWORD).await).await;
    // The owner, elsewhere, is not affected.
    app.login(&victim).await;
}

#[actix_web::test]
async fn one_address_trying_many_accounts_gets_429() {
    let app = spawn_app_with(|s| {
        s.limits.login_per_address = Rate {
            burst: 4,
            period_ms: 60_000,
        };
    })
    .await;
    let attacker = client_from("127.0.0.2");
    for i in 0..4 {
        let r = login(&app, &attacker, &format!("nobody{i}"), "password1").await;
        assert_eq!(r.status(), 401);
    }
    assert_throttled(login(&app, &attacker, "nobody9", "password1").await).await;
    // Another address still logs in.
    let user = app.register("owner").await;
    app.login(&user).await;
}

#[actix_web::test]
async fn distributed_guessing_does_not_lock_the_owner_out() {
    let app = spawn_app_with(|s| {
        s.limits.login_per_account = Rate {
            burst: 2,
            period_ms: 1_000,
        };
    })
    .await;
    // Registered from 127.0.0.1: that address is known for the account.
    let owner = app.register("owner").await;
    for addr in ["127.0.0.2", "127.0.0.3"] {
        let r = login(&app, &client_from(addr), &owner.username, "guess").await;
        assert_eq!(r.status(), 401);
    }
    // A third machine is refused: the account's limit for new addresses is spent...
    assert_throttled(login(&app, &client_from("127.0.0.4"), &owner.username, "guess").await).await;
    // ...but the owner, from the address they signed up from, signs in.
    let r = login(&app, &app.client, &owner.username, TEST_PASSWORD).await;
    assert_eq!(r.status(), 200);
    // The owner on a new address waits for the limit to refill, then gets in.
    let phone = client_from("127.0.0.5");
    let after = assert_throttled(login(&app, &phone, &owner.username, TEST_PASSWORD).await).await;
    assert!(after <= 2, "Retry-After {after}");
    tokio::time::sleep(std::time::Duration::from_secs(after)).await;
    let r = login(&app, &phone, &owner.username, TEST_PASSWORD).await;
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn registrations_per_address_are_limited() {
    let app = spawn_app_with(|s| {
        s.limits.register_per_address = Rate {
            burst: 2,
            period_ms: 60_000,
        };
        s.limits.exempt_addresses = vec!["127.0.0.3".into()];
    })
    .await;
    let flood = client_from("127.0.0.2");
    for _ in 0..2 {
        assert_eq!(register(&app, &flood).await.status(), 201);
    }
    assert_throttled(register(&app, &flood).await).await;
    // Others still sign up, and an exempt address (a load generator) is not limited.
    assert_eq!(
        register(&app, &client_from("127.0.0.4")).await.status(),
        201
    );
    let exempt = client_from("127.0.0.3");
    for _ in 0..4 {
        assert_eq!(register(&app, &exempt).await.status(), 201);
    }
}

async fn upload(user: &TestUser) -> reqwest::Response {
    let boundary = "----limits";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    );
    user.client
        .post(format!("{}/api/media", user.http))
        .bearer_auth(&user.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn writing_endpoints_are_limited_per_user() {
    let one = Rate {
        burst: 1,
        period_ms: 60_000,
    };
    let app = spawn_app_with(|s| {
        s.limits.uploads_per_user = one;
        s.limits.push_subscriptions_per_user = one;
        s.limits.search_per_user = one;
        s.limits.contact_match_per_user = one;
    })
    .await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let book = json!({"phones": ["+14155550100"], "emails": ["x@example.com"]});
    let fcm = |n: u32| json!({"kind": "fcm", "token": format!("token-{n}")});
    for user in [&ann, &bob] {
        assert_eq!(upload(user).await.status(), 202);
        assert_throttled(upload(user).await).await;
        assert_eq!(
            user.post("/api/push/subscriptions", fcm(1)).await.status(),
            201
        );
        assert_throttled(user.post("/api/push/subscriptions", fcm(2)).await).await;
        assert_eq!(user.get("/api/users?q=an").await.status(), 200);
        assert_throttled(user.get("/api/users?q=bo").await).await;
        assert_eq!(
            user.post("/api/contacts/match", book.clone())
                .await
                .status(),
            200
        );
        assert_throttled(user.post("/api/contacts/match", book.clone()).await).await;
    }
}

#[actix_web::test]
async fn a_full_hashing_queue_sheds_logins_with_503_and_recovers() {
    let app = spawn_app_with(|s| {
        s.auth.hash_threads = 1;
        s.auth.hash_queue = 1;
        s.limits.login_per_address = GENEROUS;
        s.limits.login_per_address_account = GENEROUS;
        s.limits.login_per_account = GENEROUS;
    })
    .await;
    let user = app.register("busy").await;
    let answers = futures_util::future::join_all(
        (0..32).map(|_| login(&app, &app.client, &user.username, "wrong password")),
    )
    .await;
    let mut shed = 0;
    for r in answers {
        match r.status().as_u16() {
            401 => {}
            503 => {
                shed += 1;
                assert_eq!(r.headers()["retry-after"], "1");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        shed > 0,
        "32 logins at once on one thread and a queue of one: none shed"
    );
    // Nothing is stuck: the next login is served.
    app.login(&user).await;
}

#[test]
fn the_shipped_config_documents_the_default_limits_and_env_overrides_them() {
    use chat_server::config::{LimitSettings, Settings};
    let shipped = Settings::load(Some(std::path::Path::new("config.toml"))).unwrap();
    assert_eq!(shipped.limits, LimitSettings::default());
    assert_eq!(shipped.auth.hash_queue, 64);
    // What scripts/bench.sh sets for its load generator on loopback.
    std::env::set_var("CHAT__LIMITS__EXEMPT_ADDRESSES", "127.0.0.1,::1");
    std::env::set_var("CHAT__LIMITS__LOGIN_PER_ACCOUNT__BURST", "50");
    let s = Settings::load(Some(std::path::Path::new("config.toml"))).unwrap();
    assert_eq!(s.limits.exempt_addresses, ["127.0.0.1", "::1"]);
    assert_eq!(
        s.limits.login_per_account,
        Rate {
            burst: 50,
            period_ms: 60_000
        }
    );
}

#[actix_web::test]
async fn password_checks_with_a_stolen_token_are_throttled_like_logins() {
    let app = spawn_app_with(|s| {
        s.limits.login_per_address_account = Rate {
            burst: 2,
            period_ms: 60_000,
        };
    })
    .await;
    let owner = app.register("owner").await;
    let guess = json!({"old_password": "guess guess", "new_password": "mine now, thanks"});
    for _ in 0..2 {
        assert_eq!(
            owner.post("/api/me/password", guess.clone()).await.status(),
            403
        );
    }
    assert_throttled(owner.post("/api/me/password", guess).await).await;
    let r = owner
        .client
        .delete(format!("{}/api/me", owner.http))
        .bearer_auth(&owner.token)
        .json(&json!({"password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_throttled(r).await;
}

#[actix_web::test]
async fn a_user_cannot_hold_more_websocket_sessions_than_the_limit() {
    let app = spawn_app_with(|s| s.ws.max_sessions_per_user = 2).await;
    let (ann, ben) = (app.register("ann").await, app.register("ben").await);
    let url = |u: &TestUser| format!("{}?token={}", u.ws, u.token);
    let first = ann.connect().await;
    let _second = ann.connect().await;
    match crate::support::app::WsClient::try_connect(url(&ann), false).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 429);
            assert!(r.headers().contains_key("retry-after"), "{r:?}");
        }
        Ok(_) => panic!("a third session was let in"),
        Err(e) => panic!("connect failed: {e}"),
    }
    // Someone else is not affected, and a closed session frees its place.
    ben.connect().await;
    first.close().await;
    // The server forgets the closed session just after the close handshake: retry until then.
    let mut freed = false;
    for _ in 0..100 {
        if crate::support::app::WsClient::try_connect(url(&ann), false)
            .await
            .is_ok()
        {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(freed, "the closed session's place was never freed");
    app.quiesce().await;
}
