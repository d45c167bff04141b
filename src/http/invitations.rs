//! Invitations to groups (issue 19, finding 6). Adding someone whose `privacy.group_adds` does not
//! let the adder add them (`POST /api/rooms` or `POST /api/rooms/{id}/members`) invites them
//! instead: they get an `invitation` frame (and Socket.IO event) and see it in
//! `GET /api/invitations`, with the group's name and the inviter only (no members, presence or
//! messages), and accept (added as usual: `room_event` `member_added`) or decline. Blocks and
//! deleted accounts are refused as before; pending invitations are capped per group and per
//! inviter (`rooms.max_pending_invitations_per_group`, `..._per_inviter`: 409 beyond).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::auth::AuthUser;
use super::AppState;
use crate::actors::registry::GetRoom;
use crate::actors::room::AddMember;
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};

/// `GET /api/invitations` → {invitations: [{id, room, room_name, inviter: {id, username,
/// display_name}, created_at}]}: the caller's pending invitations, oldest first.
pub async fn list(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let invitations = state.store.invitations_for(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(json!({ "invitations": invitations })))
}

/// `POST /api/invitations/{id}/accept` → {room}: the caller joins the group as the inviter would
/// have added them (`room_event` `member_added` to the members); 404 if no such pending
/// invitation of theirs; 403 if the inviter may no longer add them (a block since, or no longer
/// an owner or admin). The invitation ends either way.
pub async fn accept(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let taken = state
        .store
        .take_invitation(&path.into_inner(), &me)
        .await?
        .ok_or(ChatError::NotFound("invitation"))?;
    let inviter = UserId(taken.inviter_id);
    let room = RoomId(taken.room_id);
    let adds = state
        .store
        .group_adds(&inviter, std::slice::from_ref(&me))
        .await?;
    if !adds.refused.is_empty() {
        return Err(ChatError::Forbidden(
            "this invitation can no longer be accepted".into(),
        ));
    }
    let addr = state
        .registry
        .send(GetRoom { room: room.clone() })
        .await??;
    addr.send(AddMember {
        by: inviter,
        user: me.clone(),
    })
    .await??;
    tracing::info!(room = %room, user = %me, "invitation accepted");
    let view = crate::services::rooms::details(&state.store, &room).await?;
    Ok(HttpResponse::Ok().json(json!({ "room": view })))
}

/// `POST /api/invitations/{id}/decline` → 204; 404 if no such pending invitation of theirs.
pub async fn decline(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .store
        .take_invitation(&path.into_inner(), &auth.id())
        .await?
        .ok_or(ChatError::NotFound("invitation"))?;
    Ok(HttpResponse::NoContent().finish())
}
