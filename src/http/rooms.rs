//! Room routes: extract the request, call the rooms service (`services::rooms`), answer with its
//! typed body (`chat_protocol::api::rooms`). The rules live in the service; membership changes go
//! through the room's actor so live sessions and the persisted state agree.

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::protocol::api::rooms::{
    CreateGroup, InvitationBody, MessagesBody, NewMember, OpenDm, Page, RoleChange, RoomBody,
    RoomPatch, RoomsBody, VersionsBody,
};
use crate::services::rooms::{Added, Rooms};

impl AppState {
    /// The rooms service over this state.
    pub fn rooms(&self) -> Rooms<'_> {
        Rooms {
            store: &self.store,
            media_urls: &self.media_urls,
            registry: &self.registry,
            settings: &self.settings,
        }
    }
}

/// `GET /api/rooms` → {rooms: [{id, kind, name, last_seq, unread, unread_mentions}]}.
pub async fn list(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let rooms = state.rooms().list(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(RoomsBody { rooms }))
}

/// `POST /api/rooms` {name, members} → 201 {room, invited, not_invited?}; the caller is the
/// owner.
pub async fn create_group(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<CreateGroup>,
) -> Result<HttpResponse, ChatError> {
    let created = state
        .rooms()
        .create_group(&auth.id(), body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// `POST /api/dms` {user} → {room}: 201 the first time, 200 with the same room afterwards.
pub async fn open_dm(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<OpenDm>,
) -> Result<HttpResponse, ChatError> {
    let (room, created) = state
        .rooms()
        .open_dm(&auth.id(), &body.into_inner().user)
        .await?;
    let body = RoomBody { room };
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
    let room = state
        .rooms()
        .get(&auth.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(RoomBody { room }))
}

/// `GET /api/rooms/{id}/messages?before=&limit=` → {messages, has_more}, oldest first.
pub async fn messages(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ChatError> {
    let body: MessagesBody = state
        .rooms()
        .messages(&auth.id(), &RoomId(path.into_inner()), page.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/rooms/{id}/members` {user} → {room}; owners and admins of groups only. Someone
/// whose `privacy.group_adds` does not allow the caller is invited instead: 202 {invitation}.
pub async fn add_member(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<NewMember>,
) -> Result<HttpResponse, ChatError> {
    let added = state
        .rooms()
        .add_member(
            &auth.id(),
            &RoomId(path.into_inner()),
            body.into_inner().user,
        )
        .await?;
    Ok(match added {
        Added::Member(room) => HttpResponse::Ok().json(RoomBody { room }),
        Added::Invited(invitation) => HttpResponse::Accepted().json(InvitationBody { invitation }),
    })
}

/// `DELETE /api/rooms/{id}/members/{user}` → 204; owners and admins remove others (not an owner).
pub async fn remove_member(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ChatError> {
    let (room, user) = path.into_inner();
    state
        .rooms()
        .remove_member(&auth.id(), &RoomId(room), UserId(user))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/rooms/{id}/leave` → 204.
pub async fn leave(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .rooms()
        .leave(&auth.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /api/rooms/{id}` {name?, avatar?} → {room}; owners and admins of groups; members get
/// `room_event` `updated`.
pub async fn update(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<RoomPatch>,
) -> Result<HttpResponse, ChatError> {
    let room = state
        .rooms()
        .update(&auth.id(), &RoomId(path.into_inner()), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(RoomBody { room }))
}

/// `PUT /api/rooms/{id}/members/{user}` {role: owner|admin|member} → {room}; owners only.
pub async fn set_role(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ChatError> {
    let (room, user) = path.into_inner();
    let room = state
        .rooms()
        .set_role(&auth.id(), &RoomId(room), UserId(user), body.role)
        .await?;
    Ok(HttpResponse::Ok().json(RoomBody { room }))
}

/// `GET /api/messages/{id}/versions` → {versions: [{body, replaced_at}]}, oldest first; members
/// of the message's room only; none for a deleted message.
pub async fn versions(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let versions = state
        .rooms()
        .versions(&auth.id(), &MessageId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(VersionsBody { versions }))
}
