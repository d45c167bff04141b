//! Findings of the security review, checked from outside: where bearer tokens are accepted, what
//! the request log shows, response headers of the web pages, who may read `/metrics`.

use crate::restart::ServerProcess;
use chat_server::config::Secret;

use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::services::free_port;

#[actix_web::test]
async fn a_token_in_the_query_string_is_refused_outside_the_websocket_upgrade() {
    let app = spawn_app().await;
    let a = app.register("q").await;
    let me = |url: String| app.client.get(url).send();
    let r = me(format!("{}/api/me?token={}", app.http, a.token))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = me(format!("{}/api/rooms?token={}", app.http, a.token))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The header works, and so does `?token=` where browsers need it: the /ws upgrade.
    assert_eq!(a.get("/api/me").await.status(), 200);
    let ws = a.connect().await;
    assert_eq!(ws.hello["user"]["id"], a.id.as_str());
}

#[actix_web::test]
async fn the_request_log_does_not_show_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let env = [("RUST_LOG", "debug".to_owned())];
    let mut server = ServerProcess::start(dir.path(), &db, free_port(), &env).await;
    let client = reqwest::Client::new();
    let secret = "SeCrEtToKeN0123456789";
    for path in [
        format!("/api/me?token={secret}"),
        format!("/ws?token={secret}&format=msgpack"),
        format!("/media/x/content?exp=1&sig={secret}"),
    ] {
        let r = client
            .get(format!("{}{path}", server.http))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    // Log lines of a request are written while it is handled, before its answer.
    server.kill9();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains("token=[redacted]"),
        "the request targets should be logged (redacted) at debug: {log}"
    );
    assert!(!log.contains(secret), "a secret reached the log: {log}");
}

#[actix_web::test]
async fn the_web_pages_carry_a_csp_and_refuse_framing() {
    let app = spawn_app().await;
    for path in ["/", "/admin/", "/app/main.js"] {
        let r = app
            .client
            .get(format!("{}{path}", app.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
}

#[actix_web::test]
async fn metrics_answer_only_listed_addresses_or_the_metrics_token() {
    let app = spawn_app_with(|s| {
        s.server.metrics_addresses = vec!["127.0.0.2".into()];
        s.server.metrics_token = Secret::new("scrape-secret");
    })
    .await;
    let from = |addr: &str| {
        reqwest::Client::builder()
            .local_address(addr.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let url = format!("{}/metrics", app.http);
    let r = from("127.0.0.1").get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = from("127.0.0.1")
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = from("127.0.0.1")
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("chat_connections"));
    let r = from("127.0.0.2").get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
