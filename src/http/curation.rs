//! Pins and stars over HTTP: the lists, and the room's pin policy. Each route extracts the
//! request, calls the curation service (`services::curation`) and answers with its typed body
//! (`chat_protocol::api::curation`). Pinning and starring themselves are the `pin` and `star`
//! frames (see `crate::actors::curation`).

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::ids::RoomId;
use crate::protocol::api::curation::{PinPolicyBody, PinPolicyRequest, StarsQuery};
use crate::services::curation::Curation;

impl AppState {
    /// The curation service over this state.
    pub fn curation(&self) -> Curation<'_> {
        Curation {
            store: &self.store,
            media_urls: &self.media_urls,
        }
    }
}

/// `GET /api/rooms/{id}/pins` → {policy, messages: [message + `pinned_by`, `pinned_at`]}, newest
/// pin first; members only.
pub async fn pins(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let body = state
        .curation()
        .pins(&auth.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `PUT /api/rooms/{id}/pin-policy` {policy: `members` | `admins`} → {policy}; owners and admins
/// of groups only.
pub async fn set_pin_policy(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<PinPolicyRequest>,
) -> Result<HttpResponse, ChatError> {
    let policy = state
        .curation()
        .set_pin_policy(&auth.id(), &RoomId(path.into_inner()), &body.policy)
        .await?;
    Ok(HttpResponse::Ok().json(PinPolicyBody { policy }))
}

/// `GET /api/stars?before=&limit=` → {messages: [message + `starred_at`], next}: the caller's
/// starred messages, newest star first, from rooms they are still in (deleted ones left out);
/// `next` is the `before` of the next page (`null` on the last).
pub async fn stars(
    state: web::Data<AppState>,
    auth: AuthUser,
    page: web::Query<StarsQuery>,
) -> Result<HttpResponse, ChatError> {
    let body = state
        .curation()
        .stars(&auth.id(), page.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
