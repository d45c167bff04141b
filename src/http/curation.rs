//! Pins and stars over HTTP: the lists, and the room's pin policy. Pinning and starring
//! themselves are the `pin` and `star` frames (see `crate::actors::curation`).

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::AuthUser;
use super::rooms::require_member;
use super::AppState;
use crate::error::ChatError;
use crate::ids::RoomId;
use crate::protocol::MessageOut;
use crate::store::pins::PinPolicy;

/// The wire form of these messages of `room`, keyed by id (deleted ones left out).
async fn messages_of(
    state: &AppState,
    room: &RoomId,
    ids: &[&str],
) -> Result<HashMap<String, MessageOut>, ChatError> {
    let rows = state.store.messages_by_ids(room, ids).await?;
    Ok(state
        .store
        .messages_out(rows)
        .await?
        .into_iter()
        .filter(|m| !m.deleted)
        .map(|m| (m.id.0.clone(), m))
        .collect())
}

/// `GET /api/rooms/{id}/pins` → {policy, messages: [message + `pinned_by`, `pinned_at`]}, newest
/// pin first; members only.
pub async fn pins(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    require_member(&state, &room, &auth.id()).await?;
    let pins = state.store.pins(&room).await?;
    let ids: Vec<&str> = pins.iter().map(|p| p.message_id.as_str()).collect();
    let mut found = messages_of(&state, &room, &ids).await?;
    let messages: Vec<Value> = pins
        .iter()
        .filter_map(|p| {
            let mut v = serde_json::to_value(found.remove(&p.message_id)?).ok()?;
            v["pinned_by"] = json!(p.pinned_by);
            v["pinned_at"] = json!(p.at);
            Some(v)
        })
        .collect();
    let policy = state.store.pin_policy(&room).await?;
    Ok(HttpResponse::Ok().json(json!({ "policy": policy, "messages": messages })))
}

/// `PUT /api/rooms/{id}/pin-policy` body.
#[derive(Debug, Deserialize)]
pub struct PolicyBody {
    pub policy: String,
}

/// `PUT /api/rooms/{id}/pin-policy` {policy: `members` | `admins`} → {policy}; owners and admins
/// of groups only.
pub async fn set_pin_policy(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<PolicyBody>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    let policy = PinPolicy::parse(&body.policy)
        .ok_or_else(|| ChatError::invalid("policy: members or admins"))?;
    crate::services::rooms::require_group_manager(&state.store, &room, &auth.id(), "set who pins")
        .await?;
    state.store.set_pin_policy(&room, policy).await?;
    Ok(HttpResponse::Ok().json(json!({ "policy": policy })))
}

/// `GET /api/stars?before=&limit=` query.
#[derive(Debug, Deserialize)]
pub struct StarsPage {
    pub before: Option<i64>,
    pub limit: Option<u64>,
}

/// `GET /api/stars?before=&limit=` → {messages: [message + `starred_at`], next?}: the caller's
/// starred messages, newest star first, from rooms they are still in (deleted ones left out);
/// `next` is the `before` of the next page.
pub async fn stars(
    state: web::Data<AppState>,
    auth: AuthUser,
    page: web::Query<StarsPage>,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let limit = page.limit.unwrap_or(50).clamp(1, 100);
    let stars = state.store.stars(&me, page.before, limit).await?;
    let mine: std::collections::HashSet<RoomId> =
        state.store.room_ids_of(&me).await?.into_iter().collect();
    let mut by_room: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &stars {
        by_room
            .entry(s.room_id.as_str())
            .or_default()
            .push(s.message_id.as_str());
    }
    let mut found: HashMap<String, MessageOut> = HashMap::new();
    for (room, ids) in by_room {
        let room = RoomId(room.to_owned());
        if mine.contains(&room) {
            found.extend(messages_of(&state, &room, &ids).await?);
        }
    }
    let messages: Vec<Value> = stars
        .iter()
        .filter_map(|s| {
            let mut v = serde_json::to_value(found.remove(&s.message_id)?).ok()?;
            v["starred_at"] = json!(s.at);
            Some(v)
        })
        .collect();
    let next = (stars.len() as u64 == limit)
        .then(|| stars.last().map(|s| s.at))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "messages": messages, "next": next })))
}
