//! `GET /api/presence`: the presence of everyone who shares a conversation with the caller, so
//! that a client can show who is online in a conversation created after it connected (the
//! `presence` frames only announce changes, and the ones after `hello`).

use std::collections::HashSet;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::auth::AuthUser;
use super::AppState;
use crate::actors::presence::OnlineContacts;
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::PresenceOut;

/// `GET /api/presence` → {presence: [{user, online, last_seen}]}; people who blocked the caller
/// are left out, as they are from `presence` frames.
pub async fn presence(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let online: HashSet<UserId> = state
        .presence
        .send(OnlineContacts { user: me.clone() })
        .await??
        .into_iter()
        .map(|p| p.user)
        .collect();
    let blockers = state.store.blockers_of(&me).await?;
    let ids: Vec<UserId> = state
        .store
        .co_members(&me)
        .await?
        .into_iter()
        .filter(|u| !blockers.contains(u))
        .collect();
    let out: Vec<PresenceOut> = state
        .store
        .users_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|u| u.deleted_at.is_none())
        .map(|u| {
            let user = UserId(u.id);
            let on = online.contains(&user);
            PresenceOut {
                user,
                online: on,
                last_seen: if on { None } else { u.last_seen },
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "presence": out })))
}
