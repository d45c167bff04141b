//! Invitations to groups (issue 19, finding 6) over the real HTTP API, WebSocket and Socket.IO:
//! adding someone whose `privacy.group_adds` does not allow the adder invites them; they see it
//! live and in `GET /api/invitations` (the group's name and the inviter, nothing of its content or
//! presence) and accept (joining as usual) or decline; blocks are refused as before; pending
//! invitations are capped per group and per inviter.

use std::time::Duration;

use serde_json::{json, Value};

use crate::socketio::Driver;
use crate::support::app::{spawn_app, spawn_app_with, TestUser};

async fn only_invited(u: &TestUser) {
    let r = u
        .client
        .patch(format!("{}/api/me/settings", u.http))
        .bearer_auth(&u.token)
        .json(&json!({"privacy": {"group_adds": "nobody"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn add(by: &TestUser, room: &str, user: &TestUser) -> (u16, Value) {
    let r = by
        .post(
            &format!("/api/rooms/{room}/members"),
            json!({"user": user.id}),
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn invitations(u: &TestUser) -> Vec<Value> {
    let r = u.get("/api/invitations").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["invitations"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn an_add_the_invitee_did_not_allow_becomes_an_invitation_they_see_live_and_accept() {
    let app = spawn_app().await;
    let [ann, ben, cy] = app.register_many(["ann", "ben", "cy"]).await;
    only_invited(&cy).await;
    let group = ann.group("Secret plans", &[&ben]).await;
    let mut cy_ws = cy.connect().await;
    let mut cy_sio = Driver::start();
    cy_sio
        .connect_as(&app.http, &cy.token, Some(&["websocket"]))
        .await;
    let mut ann_ws = ann.connect().await;
    ann_ws.send_msg(&group, "before she joins").await;

    let (status, body) = add(&ann, &group, &cy).await;
    assert_eq!(status, 202, "{body}");
    let id = body["invitation"]["id"].as_str().unwrap().to_owned();

    // Live, on both transports: the group's name and the inviter, nothing more.
    let f = cy_ws.expect("invitation").await;
    let inv = &f["invitation"];
    assert_eq!(inv["id"], id.as_str());
    assert_eq!(inv["room"], group.as_str());
    assert_eq!(inv["room_name"], "Secret plans");
    assert_eq!(inv["inviter"]["id"], ann.id.as_str());
    assert!(
        inv.get("members").is_none() && inv.get("last_seq").is_none(),
        "{f}"
    );
    let e = cy_sio.event("invitation", |_| true).await;
    assert_eq!(e["invitation"]["id"], id.as_str());
    let listed = invitations(&cy).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["room"], group.as_str());

    // Not a member yet: no room, no history, not in her list, no message or presence.
    assert_eq!(cy.get(&format!("/api/rooms/{group}")).await.status(), 403);
    assert_eq!(
        cy.get(&format!("/api/rooms/{group}/messages"))
            .await
            .status(),
        403
    );
    let rooms: Value = cy.get("/api/rooms").await.json().await.unwrap();
    assert!(!rooms.to_string().contains(&group), "{rooms}");
    assert!(
        invitations(&ann).await.is_empty(),
        "only the invitee sees it"
    );

    // Accepting joins her as usual.
    let r = cy
        .post(&format!("/api/invitations/{id}/accept"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let room: Value = r.json().await.unwrap();
    assert!(room["room"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == cy.id.as_str() && m["role"] == "member"));
    let added = |f: &Value| f["event"] == "member_added" && f["user"] == cy.id.as_str();
    ann_ws.expect_where("room_event", added).await;
    cy_ws.expect_where("room_event", added).await;
    // Nothing of the group reached her before she joined.
    cy_ws
        .expect_none("message", Duration::ZERO, |f| {
            f["body"] == "before she joins"
        })
        .await;
    cy_ws
        .expect_none("presence", Duration::ZERO, |f| f["user"] == ann.id.as_str())
        .await;
    assert_eq!(cy.get(&format!("/api/rooms/{group}")).await.status(), 200);
    assert!(invitations(&cy).await.is_empty());
    let again = cy
        .post(&format!("/api/invitations/{id}/accept"), json!({}))
        .await;
    assert_eq!(again.status(), 404, "an invitation is used once");
    cy_ws.close().await;
    ann_ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn invitations_are_declined_refused_across_blocks_only_from_managers_and_capped() {
    let app = spawn_app_with(|s| {
        s.rooms.max_pending_invitations_per_group = 2;
        s.rooms.max_pending_invitations_per_inviter = 3;
    })
    .await;
    let [ann, ben, cy, dee, eve, fay] = app
        .register_many(["ann", "ben", "cy", "dee", "eve", "fay"])
        .await;
    for u in [&cy, &dee, &eve, &fay] {
        only_invited(u).await;
    }
    let group = ann.group("Club", &[&ben]).await;

    // Declined: gone, and she is not a member.
    let (status, body) = add(&ann, &group, &cy).await;
    assert_eq!(status, 202);
    let id = body["invitation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ben.post(&format!("/api/invitations/{id}/accept"), json!({}))
            .await
            .status(),
        404,
        "someone else's invitation"
    );
    let r = cy
        .post(&format!("/api/invitations/{id}/decline"), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert!(invitations(&cy).await.is_empty());
    assert_eq!(cy.get(&format!("/api/rooms/{group}")).await.status(), 403);

    // A block is a refusal, not an invitation.
    assert_eq!(
        cy.post("/api/blocks", json!({"user": ann.id}))
            .await
            .status(),
        204
    );
    assert_eq!(add(&ann, &group, &cy).await.0, 403);
    assert!(invitations(&cy).await.is_empty());

    // A plain member may not invite (as they may not add).
    assert_eq!(add(&ben, &group, &dee).await.0, 403);
    assert!(invitations(&dee).await.is_empty());

    // Two pending per group, three per inviter.
    assert_eq!(add(&ann, &group, &dee).await.0, 202);
    assert_eq!(add(&ann, &group, &dee).await.0, 202, "the same one again");
    assert_eq!(invitations(&dee).await.len(), 1);
    assert_eq!(add(&ann, &group, &eve).await.0, 202);
    let (status, body) = add(&ann, &group, &fay).await;
    assert_eq!(status, 409, "{body}");
    assert!(invitations(&fay).await.is_empty());
    let other = ann.group("Other", &[&ben]).await;
    assert_eq!(add(&ann, &other, &fay).await.0, 202);
    let (status, body) = add(&ann, &other, &eve).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(invitations(&eve).await.len(), 1);
    app.quiesce().await;
}

/// DELETE /api/me as `u` (with the test password).
async fn delete_account(u: &TestUser) {
    let r = u
        .client
        .delete(format!("{}/api/me", u.http))
        .bearer_auth(&u.token)
        .json(&json!({"password": crate::support::app::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[actix_web::test]
async fn a_deleted_account_takes_its_pending_invitations_with_it_both_ways() {
    let app = spawn_app_with(|s| s.rooms.max_pending_invitations_per_inviter = 1).await;
    let [ann, ben, cy, dee] = app.register_many(["ann", "ben", "cy", "dee"]).await;
    for u in [&cy, &dee] {
        only_invited(u).await;
    }
    // Sent by an account that is then deleted: the invitee no longer sees it.
    let group = ann.group("Book club", &[&ben]).await;
    assert_eq!(add(&ann, &group, &cy).await.0, 202);
    assert_eq!(invitations(&cy).await.len(), 1);
    delete_account(&ann).await;
    assert!(invitations(&cy).await.is_empty());

    // Received by an account that is then deleted: its place under the inviter's cap is free.
    let other = ben.group("Chess", &[]).await;
    assert_eq!(add(&ben, &other, &dee).await.0, 202);
    let third = ben.group("Go", &[]).await;
    let refused = app.register("fay").await;
    only_invited(&refused).await;
    assert_eq!(
        add(&ben, &third, &refused).await.0,
        409,
        "the cap of one holds"
    );
    delete_account(&dee).await;
    assert_eq!(add(&ben, &third, &refused).await.0, 202);
    assert_eq!(invitations(&refused).await.len(), 1);
}
