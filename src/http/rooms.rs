//! Conversations: create groups, open dms, list, read history, change membership. Membership
//! changes go through the room's actor so live sessions and the persisted state agree.

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::AuthUser;
use super::AppState;
use crate::actors::registry::{GetRoom, RoomCreated};
use crate::actors::room::{AddMember, Change, ChangeRoom, RemoveMember};
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::protocol::Role;

/// `POST /api/rooms` body.
#[derive(Debug, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `POST /api/dms` body.
#[derive(Debug, Deserialize)]
pub struct OpenDm {
    pub user: UserId,
}

/// `POST /api/rooms/{id}/members` body.
#[derive(Debug, Deserialize)]
pub struct NewMember {
    pub user: UserId,
}

/// `GET /api/rooms/{id}/messages` query.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub before: Option<i64>,
    pub limit: Option<u64>,
}

async fn view(state: &AppState, room: &RoomId) -> Result<serde_json::Value, ChatError> {
    let view = state
        .store
        .room_view(room)
        .await?
        .ok_or(ChatError::NotFound("room"))?;
    Ok(json!({ "room": view }))
}

/// See `services::rooms::require_member`.
pub(super) async fn require_member(
    state: &AppState,
    room: &RoomId,
    user: &UserId,
) -> Result<(), ChatError> {
    crate::services::rooms::require_member(&state.store, room, user).await
}

/// `GET /api/rooms` → {rooms: [{id, kind, name, last_seq, unread}]}.
pub async fn list(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let rooms = state
        .store
        .rooms_for_user(&auth.id(), state.settings.rooms.unread_count_max)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms })))
}

/// `POST /api/rooms` {name, members} → 201 {room}; the caller is the owner.
pub async fn create_group(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<CreateGroup>,
) -> Result<HttpResponse, ChatError> {
    let body = body.into_inner();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ChatError::invalid("name: 1 to 100 characters"));
    }
    let me = auth.id();
    let members: BTreeSet<UserId> = body.members.into_iter().filter(|m| *m != me).collect();
    if members.len() + 1 > state.settings.rooms.max_members {
        return Err(ChatError::invalid(format!(
            "members: at most {}",
            state.settings.rooms.max_members
        )));
    }
    let members: Vec<UserId> = members.into_iter().collect();
    let found = state.store.users_by_ids(&members).await?;
    if found.len() != members.len() {
        return Err(ChatError::invalid("members: unknown user id"));
    }
    let to_invite = checked_adds(&state, &me, &members).await?;
    let members: Vec<UserId> = members
        .into_iter()
        .filter(|m| !to_invite.contains(m))
        .collect();
    let room = state.store.create_group(&me, name, &members).await?;
    let mut everyone = members;
    everyone.push(me.clone());
    state.registry.do_send(RoomCreated {
        room: room.clone(),
        members: everyone,
    });
    let mut invited = Vec::new();
    let mut not_invited = Vec::new();
    for user in to_invite {
        match super::invitations::invite(&state, &room, &me, &user).await {
            Ok(_) => invited.push(user),
            Err(ChatError::Conflict(_)) => not_invited.push(user),
            Err(e) => return Err(e),
        }
    }
    let mut body = view(&state, &room).await?;
    body["invited"] = json!(invited);
    if !not_invited.is_empty() {
        body["not_invited"] = json!(not_invited);
    }
    Ok(HttpResponse::Created().json(body))
}

/// `POST /api/dms` {user} → {room}: 201 the first time, 200 with the same room afterwards.
pub async fn open_dm(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<OpenDm>,
) -> Result<HttpResponse, ChatError> {
    let other = body.into_inner().user;
    let me = auth.id();
    let (room, created) =
        crate::actors::requests::open_dm(&state.store, &state.registry, &me, &other).await?;
    let body = view(&state, &room).await?;
    if created {
        Ok(HttpResponse::Created().json(body))
    } else {
        Ok(HttpResponse::Ok().json(body))
    }
}

/// `GET /api/rooms/{id}` → {room} with members.
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    require_member(&state, &room, &auth.id()).await?;
    Ok(HttpResponse::Ok().json(view(&state, &room).await?))
}

/// `GET /api/rooms/{id}/messages?before=&limit=` → {messages, has_more}, oldest first.
pub async fn messages(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    require_member(&state, &room, &auth.id()).await?;
    let limit = page.limit.unwrap_or(50).clamp(1, 100);
    let (rows, has_more) = state.store.history(&room, page.before, limit).await?;
    let messages = state.store.messages_out(rows).await?;
    Ok(HttpResponse::Ok().json(json!({ "messages": messages, "has_more": has_more })))
}

/// 403 naming those of `users` whom `adder` may not add to a group at all (blocks either way,
/// deleted accounts); otherwise those whose `privacy.group_adds` asks to be invited instead (see
/// `Store::group_adds`).
async fn checked_adds(
    state: &AppState,
    adder: &UserId,
    users: &[UserId],
) -> Result<Vec<UserId>, ChatError> {
    let adds = state.store.group_adds(adder, users).await?;
    if adds.refused.is_empty() {
        return Ok(adds.invite);
    }
    let names: Vec<&str> = adds.refused.iter().map(|u| u.0.as_str()).collect();
    Err(ChatError::Forbidden(format!(
        "these people do not accept being added by you: {}",
        names.join(", ")
    )))
}

/// `POST /api/rooms/{id}/members` {user} → {room}; owners and admins of groups only. Someone
/// whose `privacy.group_adds` does not allow the caller is invited instead: 202 {invitation}.
pub async fn add_member(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<NewMember>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    let user = body.into_inner().user;
    if state.store.user_by_id(&user).await?.is_none() {
        return Err(ChatError::NotFound("user"));
    }
    let me = auth.id();
    if !checked_adds(&state, &me, std::slice::from_ref(&user))
        .await?
        .is_empty()
    {
        crate::services::rooms::require_group_manager(&state.store, &room, &me, "add members")
            .await?;
        if state.store.membership(&room, &user).await?.is_some() {
            return Err(ChatError::Conflict("already a member".into()));
        }
        let invitation = super::invitations::invite(&state, &room, &me, &user).await?;
        return Ok(HttpResponse::Accepted().json(json!({ "invitation": invitation })));
    }
    let addr = state
        .registry
        .send(GetRoom { room: room.clone() })
        .await??;
    addr.send(AddMember {
        by: auth.id(),
        user,
    })
    .await??;
    Ok(HttpResponse::Ok().json(view(&state, &room).await?))
}

/// `DELETE /api/rooms/{id}/members/{user}` → 204; owners and admins remove others (not an owner).
pub async fn remove_member(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ChatError> {
    let (room, user) = path.into_inner();
    let addr = state
        .registry
        .send(GetRoom { room: RoomId(room) })
        .await??;
    addr.send(RemoveMember {
        by: auth.id(),
        user: UserId(user),
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/rooms/{id}/leave` → 204.
pub async fn leave(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let addr = state
        .registry
        .send(GetRoom {
            room: RoomId(path.into_inner()),
        })
        .await??;
    addr.send(RemoveMember {
        by: auth.id(),
        user: auth.id(),
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /api/rooms/{id}` body; `avatar: null` removes the group avatar.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::api::nullable")]
    pub avatar: Option<Option<String>>,
}

/// `PATCH /api/rooms/{id}` {name?, avatar?} → {room}; owners and admins of groups; members get
/// `room_event` `updated`.
pub async fn update(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<RoomPatch>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    let p = body.into_inner();
    let name = p
        .name
        .map(|n| crate::validate::text("name", &n, 1, 100))
        .transpose()?;
    if let Some(Some(a)) = &p.avatar {
        state.store.check_avatar(a, &auth.id()).await?;
    }
    let addr = state
        .registry
        .send(GetRoom { room: room.clone() })
        .await??;
    addr.send(ChangeRoom {
        by: auth.id(),
        change: Change::Update {
            name,
            avatar: p.avatar,
        },
    })
    .await??;
    Ok(HttpResponse::Ok().json(view(&state, &room).await?))
}

/// `PUT /api/rooms/{id}/members/{user}` body.
#[derive(Debug, Deserialize)]
pub struct RoleBody {
    pub role: Role,
}

/// `PUT /api/rooms/{id}/members/{user}` {role: owner|admin|member} → {room}; owners only.
pub async fn set_role(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ChatError> {
    let (room, user) = path.into_inner();
    let room = RoomId(room);
    let addr = state
        .registry
        .send(GetRoom { room: room.clone() })
        .await??;
    addr.send(ChangeRoom {
        by: auth.id(),
        change: Change::SetRole(UserId(user), body.role),
    })
    .await??;
    Ok(HttpResponse::Ok().json(view(&state, &room).await?))
}

/// `GET /api/messages/{id}/versions` → {versions: [{body, replaced_at}]}, oldest first; members
/// of the message's room only; none for a deleted message.
pub async fn versions(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let id = crate::ids::MessageId(path.into_inner());
    let info = state
        .store
        .locate_message(&id)
        .await?
        .ok_or(ChatError::NotFound("message"))?;
    require_member(&state, &info.room, &auth.id()).await?;
    if info.deleted {
        // A deleted message's earlier bodies are gone with it, even before the Syncer has
        // copied the delete (which removes them from SQL).
        return Ok(HttpResponse::Ok().json(json!({ "versions": [] })));
    }
    let versions: Vec<_> = state
        .store
        .message_versions(&id)
        .await?
        .into_iter()
        .map(|(body, at)| json!({ "body": body, "replaced_at": at }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "versions": versions })))
}
