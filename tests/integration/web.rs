//! What the web client relies on besides the documented API: the static files served at `/`
//! and `GET /api/presence`.

use chat_server::actors::presence::OnlineContacts;
use chat_server::error::ChatError;
use chat_server::ids::UserId;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::support::app::spawn_app;

#[actix_web::test]
async fn the_web_client_and_admin_pages_are_served() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.http)).send();
    let r = get("/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("/app/main.js"));
    let r = get("/app/main.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(get("/sw.js").await.unwrap().status(), 200);
    let r = get("/admin/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/admin/admin.js"));
    assert_eq!(get("/nothing-here.js").await.unwrap().status(), 404);
    // The API still answers in JSON under the static files.
    let r = get("/api/nothing").await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn presence_lists_who_shares_a_conversation_with_me() {
    let app = spawn_app().await;
    let [ann, bob, _stranger] = app.register_many(["ann", "bob", "cid"]).await;
    let bob_ws = bob.connect().await;
    // The dm is opened after both connected: only the presence call tells Ann that Bob is online.
    ann.dm(&bob).await;
    let body: Value = ann.get("/api/presence").await.json().await.unwrap();
    let list = body["presence"].as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "only people I share a conversation with: {body}"
    );
    assert_eq!(list[0]["user"], bob.id.as_str());
    assert_eq!(list[0]["online"], true);
    bob_ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn presence_shows_nobody_when_the_blocks_cannot_be_read() {
    let app = spawn_app().await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    ann.dm(&bob).await;
    let bob_ws = bob.connect().await;
    assert_eq!(
        bob.post("/api/blocks", json!({"user": ann.id}))
            .await
            .status(),
        204
    );
    // The block list cannot be read, the rest of the store can: Bob blocked Ann, so he must
    // not be shown to her as online.
    let db = &app.state.store.db;
    db.execute_unprepared("ALTER TABLE blocks RENAME TO blocks_hidden")
        .await
        .unwrap();
    let shown = app
        .state
        .presence
        .send(OnlineContacts {
            user: UserId(ann.id.clone()),
        })
        .await
        .unwrap();
    assert!(matches!(shown, Err(ChatError::Unavailable(_))), "{shown:?}");
    assert_eq!(ann.get("/api/presence").await.status(), 503);
    db.execute_unprepared("ALTER TABLE blocks_hidden RENAME TO blocks")
        .await
        .unwrap();
    let body: Value = ann.get("/api/presence").await.json().await.unwrap();
    assert_eq!(body["presence"], json!([]), "still blocked: {body}");
    bob_ws.close().await;
    app.quiesce().await;
}
