//! Resumable uploads (tus 1.0 at `/api/uploads/`) end to end over real HTTP: creation, offsets,
//! chunks, a connection dropped mid-body, concurrent `PATCH`es, limits, termination, expiry, a
//! `kill -9` of the server between two parts, and the media item a complete upload becomes (the
//! same as `POST /api/media` makes, announced in `media` frames, attachable to a message).

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use chat_server::config::Settings;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::media::{files_under, finished, get_json, media_settings, photo_png};
use crate::restart::{register, ServerProcess};
use crate::support::app::{spawn_app_with, TestApp, TestUser, WsClient};
use crate::support::services::free_port;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");
const OCTETS: (&str, &str) = ("Content-Type", "application/offset+octet-stream");

async fn tus_app(tweak: impl FnOnce(&mut Settings)) -> (TestApp, TestUser) {
    let app = spawn_app_with(|s| {
        media_settings(s);
        tweak(s);
    })
    .await;
    let alice = app.register("alice").await;
    (app, alice)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `POST /api/uploads/` with `Upload-Length` and the file name; returns the response.
async fn create_raw(user: &TestUser, length: &str, name: &str) -> reqwest::Response {
    user.client
        .post(format!("{}/api/uploads/", user.http))
        .bearer_auth(&user.token)
        .header(TUS.0, TUS.1)
        .header("Upload-Length", length)
        .header(
            "Upload-Metadata",
            format!(
                "filename {},filetype {}",
                b64(name),
                b64("application/octet-stream")
            ),
        )
        .send()
        .await
        .unwrap()
}

/// Creates an upload of `length` bytes; returns its path (`Location`).
async fn create(user: &TestUser, length: usize, name: &str) -> String {
    let r = create_raw(user, &length.to_string(), name).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert_eq!(header(&r, "tus-resumable").as_deref(), Some("1.0.0"));
    assert!(header(&r, "upload-expires").is_some());
    let location = header(&r, "location").unwrap();
    assert!(location.starts_with("/api/uploads/"), "{location}");
    location
}

async fn patch(user: &TestUser, location: &str, offset: usize, body: &[u8]) -> reqwest::Response {
    user.client
        .patch(format!("{}{location}", user.http))
        .bearer_auth(&user.token)
        .header(TUS.0, TUS.1)
        .header(OCTETS.0, OCTETS.1)
        .header("Upload-Offset", offset.to_string())
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// A `PATCH`, sent again while the answer is 423 (a request the server still sees as running
/// holds the upload), until a deadline.
async fn patch_retrying_423(
    user: &TestUser,
    location: &str,
    offset: usize,
    body: &[u8],
) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = patch(user, location, offset, body).await;
        if r.status() != 423 || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn head(user: &TestUser, location: &str) -> reqwest::Response {
    user.client
        .head(format!("{}{location}", user.http))
        .bearer_auth(&user.token)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .unwrap()
}

/// `Upload-Offset` of a `HEAD` (asserting 200).
async fn offset(user: &TestUser, location: &str) -> usize {
    let r = head(user, location).await;
    assert_eq!(r.status(), 200, "HEAD {location}");
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    header(&r, "upload-offset").unwrap().parse().unwrap()
}

/// Polls `HEAD` until the offset is `want` (a dropped request's bytes are written by the
/// server after the client is gone); panics at the deadline.
async fn await_offset(user: &TestUser, location: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = offset(user, location).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "offset stayed {got}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a `PATCH` on a raw socket announcing `total` body bytes and sending only `first`.
async fn raw_patch(
    port: u16,
    user: &TestUser,
    location: &str,
    offset: usize,
    total: usize,
    first: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
         Upload-Offset: {offset}\r\nContent-Length: {total}\r\n\r\n",
        user.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    s.flush().await.unwrap();
    s
}

/// The status code of the response on a raw socket.
async fn raw_status(s: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "connection closed");
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Polls `GET /api/media/{id}` until processing ended; returns it.
async fn await_processed(user: &TestUser, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = get_json(user, &format!("/api/media/{id}")).await;
        if info["status"] != "processing" {
            return info;
        }
        assert!(Instant::now() < deadline, "still processing: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn upload_rows(app: &TestApp) -> Vec<entities::upload::Model> {
    <entities::upload::Entity as sea_orm::EntityTrait>::find()
        .all(&app.state.store.db)
        .await
        .unwrap()
}

fn media_dir(app: &TestApp) -> std::path::PathBuf {
    app.dir.path().join("media")
}

fn folder_of(dir: &Path, location: &str) -> std::path::PathBuf {
    dir.join(location.trim_start_matches("/api/uploads/"))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn tus_options_advertise_version_extensions_and_max_size() {
    let (app, _) = tus_app(|s| s.media.max_upload_bytes = 123_456).await;
    let r = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/uploads/", app.http),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(
        header(&r, "tus-extension").as_deref(),
        Some("creation,termination,expiration")
    );
    assert_eq!(header(&r, "tus-max-size").as_deref(), Some("123456"));
    // Everything else needs a token, like every /api call.
    let r = app
        .client
        .post(format!("{}/api/uploads/", app.http))
        .header(TUS.0, TUS.1)
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[actix_web::test]
async fn tus_upload_in_chunks_becomes_media_like_post_and_reaches_the_other_member() {
    let (app, alice) = tus_app(|_| {}).await;
    let bob = app.register("bob").await;
    let mut wa = alice.connect().await;
    let mut wb = bob.connect().await;
    let png = photo_png(120, 90);
    let loc = create(&alice, png.len(), "holiday.png").await;
    assert_eq!(offset(&alice, &loc).await, 0);
    let r = head(&alice, &loc).await;
    assert_eq!(header(&r, "upload-length").unwrap(), png.len().to_string());
    let cuts = [0, png.len() / 3, 2 * png.len() / 3, png.len()];
    let mut media_id = None;
    for w in cuts.windows(2) {
        let r = patch(&alice, &loc, w[0], &png[w[0]..w[1]]).await;
        assert_eq!(r.status(), 204, "{:?}", r.text().await);
        assert_eq!(header(&r, "upload-offset").unwrap(), w[1].to_string());
        assert_eq!(header(&r, "tus-resumable").as_deref(), Some("1.0.0"));
        media_id = header(&r, "upload-media-id");
        assert_eq!(
            media_id.is_some(),
            w[1] == png.len(),
            "media id only at the end"
        );
    }
    let id = media_id.unwrap();
    // Processed and announced as for POST /api/media.
    let done = finished(&mut wa, &id).await;
    assert_eq!(done["status"], "ready", "{done}");
    let info = get_json(&alice, &format!("/api/media/{id}")).await;
    assert_eq!(info["kind"], "image");
    assert_eq!(
        (info["width"].as_i64(), info["height"].as_i64()),
        (Some(120), Some(90))
    );
    assert_eq!(info["name"], "holiday.png");
    // A HEAD after the end still names the media item.
    let r = head(&alice, &loc).await;
    assert_eq!(header(&r, "upload-offset").unwrap(), png.len().to_string());
    assert_eq!(header(&r, "upload-media-id").as_deref(), Some(id.as_str()));
    // An attachment like any other.
    let room = alice.dm(&bob).await;
    wa.send(json!({"type": "send", "room": room, "client_id": "t1", "body": "look", "attachments": [id]}))
        .await;
    let ack = wa
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "t1")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let live = wb.expect_where("message", |f| f["client_id"] == "t1").await;
    assert_eq!(live["attachments"][0]["id"], id.as_str());
    assert_eq!(live["attachments"][0]["kind"], "image");
    assert!(upload_rows(&app).await[0].completed_at.is_some());
}

#[actix_web::test]
async fn tus_resumes_after_a_dropped_connection() {
    let (app, alice) = tus_app(|_| {}).await;
    let mut ws: WsClient = alice.connect().await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let loc = create(&alice, data.len(), "notes.bin").await;
    // The client announces everything, sends 100 000 bytes, and its connection drops.
    let s = raw_patch(app.port, &alice, &loc, 0, data.len(), &data[..100_000]).await;
    drop(s);
    await_offset(&alice, &loc, 100_000).await;
    // It asks where to go on, and sends the rest (as tus clients do, again after a 423 while
    // the server has not yet noticed that the first request is gone).
    let r = patch_retrying_423(&alice, &loc, 100_000, &data[100_000..]).await;
    assert_eq!(r.status(), 204);
    let id = header(&r, "upload-media-id").unwrap();
    let done = finished(&mut ws, &id).await;
    assert_eq!(done["status"], "ready");
    let info = get_json(&alice, &format!("/api/media/{id}")).await;
    assert_eq!(info["size"], data.len());
    let r = app
        .client
        .get(format!("{}{}", app.http, info["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        data,
        "the bytes survive intact"
    );
}

#[actix_web::test]
async fn tus_offset_mismatch_is_409_and_changes_nothing() {
    let (_app, alice) = tus_app(|_| {}).await;
    let loc = create(&alice, 10, "a.txt").await;
    assert_eq!(patch(&alice, &loc, 0, b"hello").await.status(), 204);
    for wrong in [0, 3, 6, 10] {
        let r = patch(&alice, &loc, wrong, b"xx").await;
        assert_eq!(r.status(), 409, "offset {wrong}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "conflict");
    }
    assert_eq!(offset(&alice, &loc).await, 5);
    assert_eq!(patch(&alice, &loc, 5, b"world").await.status(), 204);
}

#[actix_web::test]
async fn tus_bad_headers_are_clear_errors_and_the_server_keeps_serving() {
    let (app, alice) = tus_app(|_| {}).await;
    let loc = create(&alice, 4, "a.txt").await;
    let url = format!("{}{loc}", app.http);
    // No Tus-Resumable: 412 naming the version spoken.
    let r = alice
        .client
        .patch(&url)
        .bearer_auth(&alice.token)
        .header(OCTETS.0, OCTETS.1)
        .header("Upload-Offset", "0")
        .body("abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(header(&r, "tus-version").as_deref(), Some("1.0.0"));
    // Wrong body type: 415.
    let r = alice
        .client
        .patch(&url)
        .bearer_auth(&alice.token)
        .header(TUS.0, TUS.1)
        .header("Content-Type", "text/plain")
        .header("Upload-Offset", "0")
        .body("abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Non-numeric or missing numbers: 400.
    for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
        let r = alice
            .client
            .patch(&url)
            .bearer_auth(&alice.token)
            .header(TUS.0, TUS.1)
            .header(OCTETS.0, OCTETS.1)
            .header("Upload-Offset", bad)
            .body("abcd")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "Upload-Offset {bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid");
    }
    for bad in ["ten", "-5", ""] {
        assert_eq!(
            create_raw(&alice, bad, "x").await.status(),
            400,
            "Upload-Length {bad:?}"
        );
    }
    let r = alice
        .client
        .post(format!("{}/api/uploads/", app.http))
        .bearer_auth(&alice.token)
        .header(TUS.0, TUS.1)
        .header("Upload-Length", "4")
        .header("Upload-Metadata", "filename not*base64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A purpose the server does not know: 400 naming the two it does, and no upload.
    for bad in ["banner", "Avatar", ""] {
        let r = alice
            .client
            .post(format!("{}/api/uploads/", app.http))
            .bearer_auth(&alice.token)
            .header(TUS.0, TUS.1)
            .header("Upload-Length", "4")
            .header("Upload-Metadata", format!("purpose {}", b64(bad)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "purpose {bad:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(
            body["error"]["message"],
            "Upload-Metadata purpose: attachment or avatar"
        );
    }
    // Nothing of that touched the upload, and it still works.
    assert_eq!(offset(&alice, &loc).await, 0);
    assert_eq!(patch(&alice, &loc, 0, b"abcd").await.status(), 204);
    assert_eq!(upload_rows(&app).await.len(), 1);
}

#[actix_web::test]
async fn tus_uploads_past_the_limit_get_413_and_leave_nothing_behind() {
    let (app, alice) = tus_app(|s| s.media.max_upload_bytes = 100_000).await;
    let dir = media_dir(&app);
    // Announced over the cap: refused at creation.
    let r = create_raw(&alice, "100001", "big.bin").await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    assert!(upload_rows(&app).await.is_empty());
    assert_eq!(files_under(&dir), Vec::<std::path::PathBuf>::new());
    // A PATCH going past Upload-Length: refused from Content-Length...
    let loc = create(&alice, 1000, "small.bin").await;
    assert_eq!(patch(&alice, &loc, 0, &[1u8; 400]).await.status(), 204);
    assert_eq!(patch(&alice, &loc, 400, &[2u8; 700]).await.status(), 413);
    // ...and while streaming a body of unknown length: none of its bytes stay.
    let mut s = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let mut req = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
         Upload-Offset: 400\r\nTransfer-Encoding: chunked\r\n\r\n",
        alice.token
    )
    .into_bytes();
    for _ in 0..2 {
        req.extend_from_slice(b"1f4\r\n");
        req.extend_from_slice(&[3u8; 500]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&req).await.unwrap();
    assert_eq!(raw_status(&mut s).await, 413);
    assert_eq!(offset(&alice, &loc).await, 400);
    // The quota counts unfinished uploads too.
    let (app, alice) = tus_app(|s| s.media.quota_bytes_per_user = 5000).await;
    create(&alice, 3000, "a.bin").await;
    let r = create_raw(&alice, "3000", "b.bin").await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("quota"));
    assert_eq!(upload_rows(&app).await.len(), 1);
}

#[actix_web::test]
async fn tus_concurrent_patches_to_one_upload_one_wins_the_other_gets_423() {
    let (app, alice) = tus_app(|_| {}).await;
    let data = vec![9u8; 200_000];
    let loc = create(&alice, data.len(), "c.bin").await;
    // A starts and stays in the middle of its body, holding the upload.
    let mut a = raw_patch(app.port, &alice, &loc, 0, data.len(), &data[..50_000]).await;
    await_offset(&alice, &loc, 50_000).await;
    // B, at the same offset: refused while A runs; nothing of it is written.
    let r = patch(&alice, &loc, 0, &data).await;
    assert_eq!(r.status(), 423, "{:?}", r.text().await);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    // A finishes and wins.
    a.write_all(&data[50_000..]).await.unwrap();
    assert_eq!(raw_status(&mut a).await, 204);
    assert_eq!(offset(&alice, &loc).await, data.len());
    // Now B's offset is stale: 409.
    assert_eq!(patch(&alice, &loc, 0, &data).await.status(), 409);
}

#[actix_web::test]
async fn tus_only_the_creator_can_touch_an_upload() {
    let (app, alice) = tus_app(|_| {}).await;
    let mallory = app.register("mallory").await;
    let loc = create(&alice, 10, "secret.txt").await;
    assert_eq!(patch(&alice, &loc, 0, b"12345").await.status(), 204);
    assert_eq!(head(&mallory, &loc).await.status(), 404);
    assert_eq!(patch(&mallory, &loc, 5, b"evil!").await.status(), 404);
    let r = mallory
        .client
        .delete(format!("{}{loc}", app.http))
        .bearer_auth(&mallory.token)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The same answer as for an id that never existed.
    assert_eq!(
        head(&mallory, "/api/uploads/0123456789abcdef")
            .await
            .status(),
        404
    );
    assert_eq!(
        head(&alice, "/api/uploads/..%2F..%2Fetc").await.status(),
        404
    );
    assert_eq!(offset(&alice, &loc).await, 5);
}

#[actix_web::test]
async fn tus_termination_removes_what_was_received() {
    let (app, alice) = tus_app(|_| {}).await;
    let loc = create(&alice, 10, "bye.txt").await;
    assert_eq!(patch(&alice, &loc, 0, b"12345").await.status(), 204);
    assert!(folder_of(&media_dir(&app), &loc).exists());
    let r = alice
        .client
        .delete(format!("{}{loc}", app.http))
        .bearer_auth(&alice.token)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(head(&alice, &loc).await.status(), 404);
    assert_eq!(patch(&alice, &loc, 5, b"67890").await.status(), 404);
    assert!(!folder_of(&media_dir(&app), &loc).exists());
    assert!(upload_rows(&app).await.is_empty());
}

#[actix_web::test]
async fn tus_abandoned_uploads_are_removed_after_the_expiry() {
    let (app, alice) = tus_app(|s| s.media.upload_expiry_secs = 1).await;
    let abandoned = create(&alice, 10, "gone.txt").await;
    assert_eq!(patch(&alice, &abandoned, 0, b"12345").await.status(), 204);
    let finished_loc = create(&alice, 3, "kept.txt").await;
    let r = patch(&alice, &finished_loc, 0, b"abc").await;
    let media_id = header(&r, "upload-media-id").unwrap();
    let folder = folder_of(&media_dir(&app), &abandoned);
    assert!(folder.exists());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !upload_rows(&app).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "uploads not swept: {:?}",
            upload_rows(&app).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!folder.exists(), "the received bytes are removed");
    assert_eq!(head(&alice, &abandoned).await.status(), 404);
    // A finished upload's media item stays.
    let info = await_processed(&alice, &media_id).await;
    assert_eq!(info["status"], "ready");
}

#[actix_web::test]
async fn tus_parts_survive_a_kill9_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let port = free_port();
    let mut server = ServerProcess::start(dir.path(), &db, port, &[]).await;
    let alice = register(&server.http, port, "alice").await;
    let png = photo_png(64, 48);
    let loc = create(&alice, png.len(), "before.png").await;
    let (third, half) = (png.len() / 3, png.len() / 2);
    assert_eq!(patch(&alice, &loc, 0, &png[..third]).await.status(), 204);
    // The server dies in the middle of the second request's body.
    let _cut = raw_patch(
        port,
        &alice,
        &loc,
        third,
        png.len() - third,
        &png[third..half],
    )
    .await;
    await_offset(&alice, &loc, half).await;
    server.kill9();

    let port = free_port();
    let server = ServerProcess::start(dir.path(), &db, port, &[]).await;
    let alice = TestUser {
        http: server.http.clone(),
        ..alice
    };
    assert_eq!(offset(&alice, &loc).await, half);
    let r = patch(&alice, &loc, half, &png[half..]).await;
    assert_eq!(r.status(), 204);
    let id = header(&r, "upload-media-id").unwrap();
    let info = await_processed(&alice, &id).await;
    assert_eq!(info["status"], "ready", "{info}");
    assert_eq!(
        (info["width"].as_i64(), info["height"].as_i64()),
        (Some(64), Some(48))
    );
}
