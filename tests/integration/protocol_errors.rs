//! What a client sees when it does something wrong: not a member, no or a bad token, a foreign
//! Origin, malformed or oversized frames, too many frames. Each gets its answer and the session
//! (where there is one) keeps working.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chat_server::protocol::close;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::support::app::{spawn_app, spawn_app_with, TestApp, TestUser, WsClient, WAIT};

/// How long to watch for a frame that must not come.
const QUIET: Duration = Duration::from_millis(500);

#[actix_web::test]
async fn a_non_member_is_refused_and_hears_nothing() {
    let app = spawn_app().await;
    let [a, b, d] = app.register_many(["ann", "ben", "dan"]).await;
    let room = a.group("members only", &[&b]).await;
    let (mut ca, mut cb, mut cd) = (a.connect().await, b.connect().await, d.connect().await);

    cd.send(json!({"type": "send", "room": room, "client_id": "sneaky", "body": "let me in", "ref": "s"})).await;
    let e = cd.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["client_id"].clone(), e["ref"].clone()),
        (json!("not_member"), json!("sneaky"), json!("s"))
    );
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");

    cd.send(json!({"type": "history", "room": room, "ref": "h"}))
        .await;
    let e = cd.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("not_member"), json!("h"))
    );
    cd.expect_none("history", Duration::ZERO, |_| true).await;

    cd.send(json!({"type": "typing", "room": room, "state": "start", "ref": "t"}))
        .await;
    let e = cd.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("not_member"), json!("t"))
    );

    cd.send(json!({"type": "read", "room": room, "seq": 1, "ref": "r"}))
        .await;
    let e = cd.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("not_member"), json!("r"))
    );

    // Nothing the members do reaches the outsider, and nothing the outsider did reached them.
    ca.send(json!({"type": "typing", "room": room, "state": "start"}))
        .await;
    ca.send_msg(&room, "members only").await;
    let m = cb.expect("message").await;
    assert_eq!(
        (m["seq"].clone(), m["body"].clone()),
        (json!(1), json!("members only"))
    );
    cb.expect_where("typing", |t| t["user"] == a.id.as_str())
        .await;
    cd.expect_none("message", QUIET, |_| true).await;
    for kind in ["typing", "receipt", "room_event"] {
        cd.expect_none(kind, Duration::ZERO, |_| true).await;
    }
    cb.expect_none("typing", Duration::ZERO, |t| t["user"] == d.id.as_str())
        .await;
    cb.expect_none("receipt", Duration::ZERO, |r| r["user"] == d.id.as_str())
        .await;

    let r = d.get(&format!("/api/rooms/{room}/messages")).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_member"
    );
    assert_eq!(d.get(&format!("/api/rooms/{room}")).await.status(), 403);
    app.quiesce().await;
}

/// The HTTP status of a refused upgrade; panics if the upgrade succeeded.
async fn refused<R: IntoClientRequest + Unpin>(req: R) -> u16 {
    match WsClient::try_connect(req, false).await {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(c) => panic!("upgrade accepted: {}", c.hello),
    }
}

fn request(
    app: &TestApp,
    user: Option<&TestUser>,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = app.ws_url().into_client_request().unwrap();
    if let Some(u) = user {
        req.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {}", u.token)).unwrap(),
        );
    }
    if let Some(o) = origin {
        req.headers_mut()
            .insert("Origin", HeaderValue::from_str(o).unwrap());
    }
    req
}

#[actix_web::test]
async fn the_upgrade_checks_token_and_origin() {
    let app =
        spawn_app_with(|s| s.server.allowed_origins = vec!["https://chat.example.com".into()])
            .await;
    let a = app.register("ann").await;

    assert_eq!(
        refused(format!("{}?token=not-a-token", app.ws_url())).await,
        401,
        "bad token"
    );
    assert_eq!(refused(app.ws_url()).await, 401, "no token");
    assert_eq!(
        refused(format!("{}?token=", app.ws_url())).await,
        401,
        "empty token"
    );
    let mut bad_header = request(&app, None, None);
    bad_header
        .headers_mut()
        .insert("Authorization", HeaderValue::from_static("Bearer nope"));
    assert_eq!(refused(bad_header).await, 401, "bad bearer token");

    assert_eq!(
        refused(request(&app, Some(&a), Some("http://evil.example"))).await,
        403,
        "foreign origin"
    );
    assert_eq!(
        refused(request(
            &app,
            Some(&a),
            Some("https://chat.example.com.evil.example")
        ))
        .await,
        403,
        "an allowed origin as a prefix"
    );
    let own = format!("http://127.0.0.1:{}", app.port);
    for origin in [None, Some(own.as_str()), Some("https://chat.example.com")] {
        let c = WsClient::try_connect(request(&app, Some(&a), origin), false)
            .await
            .unwrap_or_else(|e| panic!("origin {origin:?} refused: {e}"));
        assert_eq!(c.hello["user"]["id"], json!(a.id), "origin {origin:?}");
        assert!(
            c.hello["session"].is_string() && c.hello["server_time"].is_i64(),
            "{}",
            c.hello
        );
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn malformed_frames_get_errors_and_the_session_goes_on() {
    let app = spawn_app_with(|s| {
        s.ws.max_frame_bytes = 1024;
        s.rooms.max_body_chars = 100;
    })
    .await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);
    let mut delivered = Vec::new();

    ca.send_text("{not json").await;
    assert_eq!(ca.expect("error").await["code"], "bad_frame");
    ca.send_msg(&room, "after bad json").await;
    delivered.push("after bad json".to_owned());

    ca.send_text(r#"{"type":"teleport","ref":"u"}"#).await;
    let e = ca.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("unknown_type"), json!("u"))
    );

    ca.send(json!({"type": "send", "room": room, "ref": "m"}))
        .await;
    let e = ca.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("invalid"), json!("m"))
    );

    ca.send_text("[1,2]").await;
    assert_eq!(ca.expect("error").await["code"], "bad_frame");
    ca.send_text(r#"{"room":"x","ref":"nt"}"#).await;
    let e = ca.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("bad_frame"), json!("nt"))
    );

    // Over ws.max_frame_bytes: refused unread, and the session stays.
    let big = "x".repeat(2000);
    ca.send(json!({"type": "send", "room": room, "client_id": "big", "body": big}))
        .await;
    assert_eq!(ca.expect("error").await["code"], "too_large");
    ca.ping("alive").await;
    ca.send_msg(&room, "after a big frame").await;
    delivered.push("after a big frame".to_owned());

    // Over rooms.max_body_chars (counted in characters, not bytes).
    ca.send(json!({"type": "send", "room": room, "client_id": "long", "body": "y".repeat(101)}))
        .await;
    let e = ca.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["client_id"].clone()),
        (json!("too_large"), json!("long"))
    );
    let at_limit = "é".repeat(100);
    ca.send_msg(&room, &at_limit).await;
    delivered.push(at_limit);

    for (cid, body) in [("empty", ""), ("blank", "   ")] {
        ca.send(json!({"type": "send", "room": room, "client_id": cid, "body": body}))
            .await;
        let e = ca.expect("error").await;
        assert_eq!(
            (e["code"].clone(), e["client_id"].clone()),
            (json!("invalid"), json!(cid))
        );
    }

    // A binary frame is MessagePack whatever the session answers in.
    ca.send_binary(vec![0xc1, 0x00, 0x13, 0x37]).await;
    assert_eq!(ca.expect("error").await["code"], "bad_frame");
    ca.send_msg(&room, "still going").await;
    delivered.push("still going".to_owned());

    for body in &delivered {
        assert_eq!(cb.expect("message").await["body"], json!(body));
    }
    cb.expect_none("message", QUIET, |_| true).await;
    let seqs: Vec<i64> = {
        let page: Value = b
            .get(&format!("/api/rooms/{room}/messages"))
            .await
            .json()
            .await
            .unwrap();
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(seqs, [1, 2, 3, 4], "refused frames spent no seq");
    app.quiesce().await;
}

#[actix_web::test]
async fn malformed_msgpack_frames_get_errors() {
    let app = spawn_app().await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let mut cm = a.connect_msgpack().await;

    cm.send_binary(vec![0xc1, 0xff, 0x00]).await;
    assert_eq!(cm.expect("error").await["code"], "bad_frame");
    cm.send_binary(rmp_serde::to_vec_named(&json!([1, 2])).unwrap())
        .await;
    assert_eq!(cm.expect("error").await["code"], "bad_frame");
    cm.send(json!({"type": "nope", "ref": "n"})).await;
    let e = cm.expect("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("unknown_type"), json!("n"))
    );
    cm.send(json!({"type": "send", "room": room})).await;
    assert_eq!(cm.expect("error").await["code"], "invalid");
    assert_eq!(cm.send_msg(&room, "fine").await["seq"], 1);
    app.quiesce().await;
}

/// The close frame the server answers `code` with on `/ws`.
async fn close_answer(user: &TestUser, code: u16) -> Option<u16> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::Message;

    let mut c = user.connect().await;
    let close = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    c.ws.send(Message::Close(Some(close))).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, c.ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame after closing with {code}: {other:?}"),
        }
    }
}

#[actix_web::test]
async fn close_codes_no_client_may_send_are_answered_with_a_protocol_error() {
    let app = spawn_app().await;
    let a = app.register("ann").await;
    // 1005 and 1006 only ever stand for "no close frame"; 0 and 999 are not close codes.
    for code in [0, 999, 1004, 1005, 1006, 1015, 2000] {
        assert_eq!(
            close_answer(&a, code).await,
            Some(close::PROTOCOL_ERROR),
            "close code {code}"
        );
    }
    // A code a client may send is echoed.
    for code in [1000, 1001, 3000, 4999] {
        assert_eq!(
            close_answer(&a, code).await,
            Some(code),
            "close code {code}"
        );
    }
    app.quiesce().await;
}

#[actix_web::test]
async fn rate_limiting_refuses_the_excess_and_keeps_the_connection() {
    let app = spawn_app_with(|s| {
        s.ws.rate_per_sec = 5.0;
        s.ws.rate_burst = 5.0;
    })
    .await;
    let [a, b] = app.register_many(["ann", "ben"]).await;
    let room = a.dm(&b).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);

    let flood = Instant::now();
    for i in 0..30 {
        ca.send(json!({"type": "ping", "ref": format!("p{i}")}))
            .await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for i in 0..30 {
        let r = format!("p{i}");
        let f = ca
            .expect_where_any(&["pong", "error"], move |f| f["ref"] == r.as_str())
            .await;
        if f["type"] == "pong" {
            pongs += 1;
        } else {
            assert_eq!(f["code"], "rate_limited", "{f}");
            limited += 1;
        }
    }
    assert!(
        pongs >= 1 && limited >= 1,
        "{pongs} pongs, {limited} refused"
    );
    // At most the burst plus what refilled while the flood was being answered.
    let allowed = 5 + (flood.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    assert!(
        pongs <= allowed,
        "{pongs} of 30 pings answered; the bucket allows {allowed}"
    );

    // The bucket refills at 5 a second: poll with pings until one is answered.
    let start = Instant::now();
    for n in 0.. {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no pong within 5 s of being rate limited"
        );
        let r = format!("again{n}");
        ca.send(json!({"type": "ping", "ref": r})).await;
        let f = ca
            .expect_where_any(&["pong", "error"], move |f| f["ref"] == r.as_str())
            .await;
        if f["type"] == "pong" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A send, retried with the same client_id while limited, is acked once and delivered once.
    let start = Instant::now();
    let ack = loop {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no ack within 5 s"
        );
        ca.send(json!({"type": "send", "room": room, "client_id": "patient", "body": "finally"}))
            .await;
        let f = ca
            .expect_where_any(&["ack", "error"], |f| f["client_id"] == "patient")
            .await;
        if f["type"] == "ack" {
            break f;
        }
        assert_eq!(f["code"], "rate_limited", "{f}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ack["seq"], 1);
    let m = cb.expect("message").await;
    assert_eq!(
        (m["body"].clone(), m["id"].clone()),
        (json!("finally"), ack["id"].clone())
    );
    cb.expect_none("message", QUIET, |_| true).await;
    app.quiesce().await;
}

/// The upgrade service routes only `/ws` and `/socket.io/`; an upgrade to any other path is an
/// ordinary 404, and the connection is not upgraded.
#[actix_web::test]
async fn an_upgrade_to_an_unknown_path_is_refused_with_404() {
    let app = crate::support::app::spawn_app().await;
    let url = format!("ws://127.0.0.1:{}/elsewhere", app.port);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404);
        }
        Err(other) => panic!("expected a 404, got {other}"),
        Ok(_) => panic!("an unknown path was upgraded"),
    }
}
