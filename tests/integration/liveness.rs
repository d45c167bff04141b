//! Connections that go quiet or stop reading: the heartbeat drops a silent peer (and its
//! co-members see it go offline), and a client that does not read its frames is dropped instead
//! of growing the server's memory, while everyone else carries on.

use serde_json::json;

use crate::support::app::spawn_app_with;

#[actix_web::test]
async fn a_silent_peer_is_dropped_by_the_heartbeat_and_goes_offline() {
    let app = spawn_app_with(|s| {
        s.ws.heartbeat_secs = 1;
        s.ws.client_timeout_secs = 2;
    })
    .await;
    let (a, b) = (app.register("alive").await, app.register("mute").await);
    a.dm(&b).await;
    let mut ca = a.connect().await;
    // B connects, then never reads again: it neither answers pings nor sends anything.
    let cb = b.connect().await;
    ca.expect_where("presence", |f| {
        f["user"] == b.id.as_str() && f["online"] == true
    })
    .await;
    // A keeps reading (and so answers pings); B is dropped after the timeout.
    let off = ca
        .expect_where("presence", |f| {
            f["user"] == b.id.as_str() && f["online"] == false
        })
        .await;
    assert!(off["last_seen"].is_i64());
    assert_eq!(
        app.metric("chat_connections").await,
        Some(1.0),
        "only A is still connected"
    );
    drop(cb);
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let app = spawn_app_with(|s| {
        s.ws.outbox_capacity = 256;
        s.ws.rate_per_sec = 100_000.0;
        s.ws.rate_burst = 100_000.0;
        s.rooms.max_body_chars = 20_000;
    })
    .await;
    let (a, b, c) = (
        app.register("talker").await,
        app.register("reader").await,
        app.register("stuck").await,
    );
    let room = a.group("g", &[&b, &c]).await;
    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    // C connects and then stops reading: its socket buffers fill up, then its bounded queue.
    // (Rounds of 50 stay below the queue bound, so B, which reads, is never at risk.)
    let _cc = c.connect().await;
    let body = "x".repeat(16_000);
    let mut sent = 0;
    while app
        .metric("chat_slow_consumers_dropped_total")
        .await
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(sent < 4000, "the stuck client was never dropped");
        for _ in 0..50 {
            ca.send(json!({"type": "send", "room": room, "client_id": format!("c{sent}"), "body": body})).await;
            sent += 1;
        }
        // B reads everything, so it stays current.
        for _ in 0..50 {
            cb.expect("message").await;
        }
    }
    // Everyone else still works: A's sends are acked and B gets the next message.
    let ack = ca.send_with_id(&room, "still here", "last").await;
    assert_eq!(ack["seq"].as_i64(), Some(sent as i64 + 1));
    let m = cb
        .expect_where("message", |f| f["client_id"] == "last")
        .await;
    assert_eq!(m["body"], "still here");
}
