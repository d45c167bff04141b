//! `GET /api/presence`: the presence of everyone who shares a conversation with the caller, so
//! that a client can show who is online in a conversation created after it connected (the
//! `presence` frames only announce changes, and the ones after `hello`). The route calls the
//! presence service (`services::presence`) and answers with its typed body
//! (`chat_protocol::api::presence`).

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::protocol::api::presence::PresenceBody;
use crate::services::presence::PresenceService;

impl AppState {
    /// The presence service over this state.
    pub fn presence_service(&self) -> PresenceService<'_> {
        PresenceService {
            store: &self.store,
            presence: &self.presence,
        }
    }
}

/// `GET /api/presence` → {presence: [{user, online, last_seen}]}; people who blocked the caller
/// are left out, as they are from `presence` frames.
pub async fn presence(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let presence = state.presence_service().of_contacts(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(PresenceBody { presence }))
}
