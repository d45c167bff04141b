//! Invitations to groups (issue 19, finding 6). Adding someone whose `privacy.group_adds` does not
//! let the adder add them (`POST /api/rooms` or `POST /api/rooms/{id}/members`) invites them
//! instead: they get an `invitation` frame (and Socket.IO event) and see it in
//! `GET /api/invitations`, with the group's name and the inviter only (no members, presence or
//! messages), and accept (added as usual: `room_event` `member_added`) or decline. Blocks and
//! deleted accounts are refused as before; pending invitations are capped per group and per
//! inviter (`rooms.max_pending_invitations_per_group`, `..._per_inviter`: 409 beyond).
//!
//! The routes extract the request, call the invitations service (`services::invitations`) and
//! answer with its typed body (`chat_protocol::api::invitations`, `api::rooms`).

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::protocol::api::invitations::InvitationsBody;
use crate::protocol::api::rooms::RoomBody;
use crate::services::invitations::Invitations;

impl AppState {
    /// The invitations service over this state.
    pub fn invitations(&self) -> Invitations<'_> {
        Invitations {
            store: &self.store,
            registry: &self.registry,
            settings: &self.settings,
        }
    }
}

/// `GET /api/invitations` → {invitations: [{id, room, room_name, inviter: {id, username,
/// display_name}, created_at}]}: the caller's pending invitations, oldest first.
pub async fn list(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let invitations = state.invitations().list(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(InvitationsBody { invitations }))
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
    let room = state
        .invitations()
        .accept(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(RoomBody { room }))
}

/// `POST /api/invitations/{id}/decline` → 204; 404 if no such pending invitation of theirs.
pub async fn decline(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .invitations()
        .decline(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
