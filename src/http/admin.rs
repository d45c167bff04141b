//! `/api/admin/...`: live statistics, accounts (search, ban, unban, revoke sessions),
//! conversations and their messages (removed for everyone), for admins only (403 `forbidden` for
//! everyone else, 401 without a token). Each route extracts the request, calls the admin service
//! (`services::admin`) and answers with its typed body (`chat_protocol::api::admin`).
//!
//! Admins are those named with `chat-server admin grant USERNAME`, and the one account that
//! redeemed the bootstrap code (`POST /api/admin/bootstrap`, see `crate::bootstrap`). Admins
//! cannot ban other admins or revoke their sessions (the role is taken first, with the CLI or
//! `PUT /api/admin/users/{id}/admin`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use super::auth::{peer_ip, AuthUser};
use super::AppState;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::protocol::api::admin::{
    AdminSearch, BootstrapRequest, DeadLettersBody, IsAdminBody, MembersBody, RemovedBody,
    RevokedBody, RoleRequest, RoomsBody, UsersBody,
};
use crate::services::admin::Admin;

impl AppState {
    /// The admin service over this state.
    pub fn admin(&self) -> Admin<'_> {
        Admin {
            store: &self.store,
            registry: &self.registry,
            settings: &self.settings,
            limits: &self.limits,
        }
    }
}

/// An authenticated caller who is an admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequest for AdminUser {
    type Error = ChatError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ChatError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let auth = auth.await?;
            if !auth.user.is_admin {
                return Err(ChatError::Forbidden("admins only".into()));
            }
            Ok(AdminUser(auth))
        })
    }
}

/// `GET /api/admin/stats` → the live numbers the dashboard charts.
pub async fn stats(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(state.admin().stats().await?))
}

/// `GET /api/admin/users?q=` → {users: [{id, username, display_name, created_at, last_seen,
/// is_admin, banned_at}]}.
pub async fn users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<AdminSearch>,
) -> Result<HttpResponse, ChatError> {
    let users = state.admin().users(&q.q).await?;
    Ok(HttpResponse::Ok().json(UsersBody { users }))
}

/// `POST /api/admin/bootstrap` {code} → {is_admin: true}: while no account is an admin, the
/// one-time code the server printed at start (and wrote to `admin_bootstrap_code` in its data
/// directory) makes the signed-in caller an admin, once; 403 `forbidden` for a wrong or used
/// code or once an admin exists; 429 beyond `limits.admin_bootstrap` (per address and account).
pub async fn bootstrap(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<BootstrapRequest>,
) -> Result<HttpResponse, ChatError> {
    state
        .admin()
        .bootstrap(&auth.user, peer_ip(&req), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(IsAdminBody { is_admin: true }))
}

/// `POST /api/admin/users/{id}/ban` → 204: every token revoked, every socket closed (4001), and
/// login refused (403) until unbanned. Admins cannot ban themselves.
pub async fn ban(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .admin()
        .ban(&admin.0.id(), &UserId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/admin/users/{id}/ban` → 204: the account may log in again.
pub async fn unban(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .admin()
        .unban(&admin.0.id(), &UserId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/admin/users/{id}/revoke-sessions` → {revoked: n}: every token stops working and
/// its sockets close (4001); the account may log in again.
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let revoked = state
        .admin()
        .revoke_sessions(&admin.0.id(), &UserId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(RevokedBody { revoked }))
}

/// `PUT /api/admin/users/{id}/admin` {admin} → {is_admin}: gives or takes the admin role of
/// another account (never one's own: an admin cannot lock the server out of its last admin by
/// mistake); a banned account is not made an admin.
pub async fn set_role(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
    body: web::Json<RoleRequest>,
) -> Result<HttpResponse, ChatError> {
    let is_admin = state
        .admin()
        .set_role(&admin.0.id(), &UserId(path.into_inner()), body.admin)
        .await?;
    Ok(HttpResponse::Ok().json(IsAdminBody { is_admin }))
}

/// `GET /api/admin/dead-letters` → {buffer: bool, dead_letters: [{id, entry, error, at}]}:
/// write-buffer entries the Syncer gave up on (newest first, at most 100), with the error; `buffer`
/// is false without Redis (writes then go straight to SQL and nothing is dead-lettered).
pub async fn dead_letters(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<HttpResponse, ChatError> {
    let (buffer, dead_letters) = state.admin().dead_letters().await?;
    Ok(HttpResponse::Ok().json(DeadLettersBody {
        buffer,
        dead_letters,
    }))
}

/// `GET /api/admin/rooms?q=` → {rooms: [{id, kind, name, created_at, messages, members}]},
/// largest first.
pub async fn rooms(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<AdminSearch>,
) -> Result<HttpResponse, ChatError> {
    let rooms = state.admin().rooms(&q.q).await?;
    Ok(HttpResponse::Ok().json(RoomsBody { rooms }))
}

/// `GET /api/admin/rooms/{id}/members` → {members: [{id, username, display_name, role}]}.
pub async fn room_members(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let members = state
        .admin()
        .room_members(&RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(MembersBody { members }))
}

/// `DELETE /api/admin/messages/{id}` → 204: the message is deleted for everyone through its
/// room, exactly as its author's `delete` (members get `deleted`; history, sync and search show
/// it deleted; its attachments are no longer served). 404 for an unknown id; deleting a deleted
/// message again changes nothing (204).
pub async fn delete_message(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .admin()
        .delete_message(&admin.0.id(), MessageId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/admin/rooms/{id}` → {removed: n}: the conversation is closed for everyone.
/// Every member is removed through the room, as a leave is (each member's clients get
/// `room_event` `member_removed` and drop it from their list; its history, attachments and
/// search results are then out of their reach), and a dm's pair key is released, so the two
/// people may start a new dm later. The messages stay stored (for the record) but nobody reads
/// them; the room leaves `GET /api/admin/rooms`. 404 for an unknown room.
pub async fn delete_room(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let removed = state
        .admin()
        .close_room(&admin.0.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(RemovedBody { removed }))
}
