//! `/api/admin/...`: live statistics, accounts (search, ban, unban, revoke sessions),
//! conversations and their messages (removed for everyone), for admins only (403 `forbidden` for everyone else, 401 without a token).
//!
//! Admins are those named with `chat-server admin grant USERNAME`, and the one account that
//! redeemed the bootstrap code (`POST /api/admin/bootstrap`, see `crate::bootstrap`). Admins
//! cannot ban other admins or revoke their sessions (the role is taken first, with the CLI or
//! `PUT /api/admin/users/{id}/admin`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::{hash_token, peer_ip, AuthUser};
use super::AppState;
use crate::actors::registry::GetRoom;
use crate::actors::room::{Change, ChangeRoom, Inspect};
use crate::error::ChatError;
use crate::ids::{now_ms, MessageId, RoomId, UserId};
use crate::metrics;
use crate::services::people::close_tokens;

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

/// How far back the messages-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Samples of the accepted-messages counter taken when stats were read: the rate is the change
/// over the window, so it needs no timer of its own.
static SAMPLES: Mutex<VecDeque<(Instant, u64)>> = Mutex::new(VecDeque::new());

/// Messages accepted per second over (up to) the last [`RATE_WINDOW`] of reads.
fn messages_per_second(total: u64) -> f64 {
    let now = Instant::now();
    let Ok(mut samples) = SAMPLES.lock() else {
        return 0.0;
    };
    samples.push_back((now, total));
    while samples.len() > 2
        && samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
    {
        samples.pop_front();
    }
    match samples.front() {
        Some((t, first)) if now.duration_since(*t) >= Duration::from_millis(200) => {
            total.saturating_sub(*first) as f64 / now.duration_since(*t).as_secs_f64()
        }
        _ => 0.0,
    }
}

/// `GET /api/admin/stats` → the live numbers the dashboard charts.
pub async fn stats(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<HttpResponse, ChatError> {
    let g = |a: &std::sync::atomic::AtomicI64| a.load(Ordering::Relaxed);
    let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let total = c(&metrics::MESSAGES_ACCEPTED);
    let channels = [
        ("webpush", &metrics::PUSH_WEBPUSH),
        ("fcm", &metrics::PUSH_FCM),
        ("sms", &metrics::PUSH_SMS),
    ];
    let per_channel: serde_json::Map<String, serde_json::Value> = channels
        .iter()
        .map(|(name, ch)| {
            (
                (*name).to_owned(),
                json!({"sent": c(&ch.sent), "failed": c(&ch.failed), "pruned": c(&ch.pruned)}),
            )
        })
        .collect();
    let sent: u64 = channels.iter().map(|(_, ch)| c(&ch.sent)).sum();
    let failed: u64 = channels.iter().map(|(_, ch)| c(&ch.failed)).sum();
    Ok(HttpResponse::Ok().json(json!({
        "server_time": now_ms(),
        "connections": g(&metrics::CONNECTIONS),
        "active_rooms": g(&metrics::ACTIVE_ROOMS),
        "messages_total": total,
        "messages_per_second": messages_per_second(total),
        "write_buffer_depth": g(&metrics::WRITE_BUFFER_DEPTH),
        "sync_lag_ms": g(&metrics::SYNC_LAG_MS),
        "dead_letters": g(&metrics::DEAD_LETTERS),
        "media_queue": g(&metrics::MEDIA_QUEUE),
        "push": {"sent": sent, "failed": failed, "channels": per_channel},
        "users": state.store.count_users().await?,
    })))
}

/// `?q=` of the admin lists.
#[derive(Debug, Deserialize)]
pub struct Search {
    #[serde(default)]
    pub q: String,
}

/// `GET /api/admin/users?q=` → {users: [{id, username, display_name, created_at, last_seen,
/// is_admin, banned_at}]}.
pub async fn users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<Search>,
) -> Result<HttpResponse, ChatError> {
    let users = state.store.admin_search_users(&q.q, 100).await?;
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

async fn target(state: &AppState, id: String) -> Result<entities::user::Model, ChatError> {
    state
        .store
        .user_by_id(&UserId(id))
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(ChatError::NotFound("user"))
}

/// The target of a ban or a session revocation: any account but an admin (an admin's role is
/// taken with `chat-server admin revoke` first).
async fn non_admin_target(state: &AppState, id: String) -> Result<UserId, ChatError> {
    let user = target(state, id).await?;
    if user.is_admin {
        return Err(ChatError::Forbidden(
            "admins cannot act on other admins; take the admin role first (admin page or `chat-server admin revoke`)"
                .into(),
        ));
    }
    Ok(UserId(user.id))
}

/// `POST /api/admin/bootstrap` body.
#[derive(Debug, Deserialize)]
pub struct BootstrapBody {
    pub code: String,
}

/// `POST /api/admin/bootstrap` {code} → {is_admin: true}: while no account is an admin, the
/// one-time code the server printed at start (and wrote to `admin_bootstrap_code` in its data
/// directory) makes the signed-in caller an admin, once; 403 `forbidden` for a wrong or used
/// code or once an admin exists; 429 beyond `limits.admin_bootstrap` (per address and account).
pub async fn bootstrap(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<BootstrapBody>,
) -> Result<HttpResponse, ChatError> {
    state.limits.admin_bootstrap(peer_ip(&req), &auth.id())?;
    let code = body.code.trim();
    let valid = !code.is_empty()
        && code.len() <= 128
        && state
            .store
            .redeem_bootstrap_code(&hash_token(code), &auth.id())
            .await?;
    if !valid {
        tracing::warn!(user = %auth.user.id, "admin bootstrap code refused");
        return Err(ChatError::Forbidden(
            "invalid or used bootstrap code".into(),
        ));
    }
    crate::bootstrap::remove(&crate::bootstrap::code_file(&state.settings.media.dir));
    tracing::warn!(user = %auth.user.id, username = %auth.user.username, "admin bootstrap code redeemed: this account is now the admin");
    Ok(HttpResponse::Ok().json(json!({ "is_admin": true })))
}

/// `POST /api/admin/users/{id}/ban` → 204: every token revoked, every socket closed (4001), and
/// login refused (403) until unbanned. Admins cannot ban themselves.
pub async fn ban(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let id = path.into_inner();
    if id == admin.0.user.id {
        return Err(ChatError::invalid("you cannot ban yourself"));
    }
    let user = non_admin_target(&state, id).await?;
    let hashes = state.store.set_banned(&user, true).await?;
    close_tokens(&state.registry, hashes, "banned");
    tracing::info!(user = %user, by = %admin.0.user.id, "banned");
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/admin/users/{id}/ban` → 204: the account may log in again.
pub async fn unban(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let user = UserId(target(&state, path.into_inner()).await?.id);
    state.store.set_banned(&user, false).await?;
    tracing::info!(user = %user, by = %admin.0.user.id, "unbanned");
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/admin/users/{id}/revoke-sessions` → {revoked: n}: every token stops working and
/// its sockets close (4001); the account may log in again.
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let user = non_admin_target(&state, path.into_inner()).await?;
    let hashes = state.store.revoke_tokens(&user, None).await?;
    let revoked = hashes.len();
    close_tokens(&state.registry, hashes, "session revoked by an admin");
    tracing::info!(user = %user, by = %admin.0.user.id, revoked, "sessions revoked");
    Ok(HttpResponse::Ok().json(json!({ "revoked": revoked })))
}

/// `PUT /api/admin/users/{id}/admin` body.
#[derive(Debug, Deserialize)]
pub struct RoleBody {
    pub admin: bool,
}

/// `PUT /api/admin/users/{id}/admin` {admin} → {is_admin}: gives or takes the admin role of
/// another account (never one's own: an admin cannot lock the server out of its last admin by
/// mistake); a banned account is not made an admin.
pub async fn set_role(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ChatError> {
    let id = path.into_inner();
    if id == admin.0.user.id {
        return Err(ChatError::invalid("you cannot change your own admin role"));
    }
    let user = target(&state, id).await?;
    if body.admin && user.banned_at.is_some() {
        return Err(ChatError::invalid(
            "unban the account before making it an admin",
        ));
    }
    let user = UserId(user.id);
    if !state.store.set_admin(&user, body.admin).await? {
        return Err(ChatError::NotFound("user"));
    }
    tracing::warn!(user = %user, by = %admin.0.user.id, admin = body.admin, "admin role changed");
    Ok(HttpResponse::Ok().json(json!({ "is_admin": body.admin })))
}

/// Dead letters listed at most.
const DEAD_LETTERS_SHOWN: usize = 100;

/// `GET /api/admin/dead-letters` → {buffer: bool, dead_letters: [{id, entry, error, at}]}:
/// write-buffer entries the Syncer gave up on (newest first, at most 100), with the error; `buffer`
/// is false without Redis (writes then go straight to SQL and nothing is dead-lettered).
pub async fn dead_letters(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<HttpResponse, ChatError> {
    let Some(buffer) = &state.store.buffer else {
        return Ok(HttpResponse::Ok().json(json!({ "buffer": false, "dead_letters": [] })));
    };
    let list = buffer
        .dead_letter_list(DEAD_LETTERS_SHOWN)
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok(HttpResponse::Ok().json(json!({ "buffer": true, "dead_letters": list })))
}

/// `GET /api/admin/rooms?q=` → {rooms: [{id, kind, name, created_at, messages, members}]},
/// largest first.
pub async fn rooms(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<Search>,
) -> Result<HttpResponse, ChatError> {
    let rooms = state.store.admin_rooms(&q.q, 200).await?;
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms })))
}

/// `GET /api/admin/rooms/{id}/members` → {members: [{id, username, display_name, role}]}.
pub async fn room_members(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let members = state
        .store
        .admin_room_members(&RoomId(path.into_inner()))
        .await?
        .ok_or(ChatError::NotFound("room"))?;
    Ok(HttpResponse::Ok().json(json!({ "members": members })))
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
    let id = MessageId(path.into_inner());
    let info = crate::actors::requests::delete_message(
        &state.store,
        &state.registry,
        admin.0.id(),
        id.clone(),
        true,
    )
    .await?;
    tracing::warn!(message = %id, room = %info.room, author = %info.author, by = %admin.0.user.id, "message deleted by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// Rounds of removals `delete_room` makes at most (members added meanwhile need another).
const CLOSE_ROUNDS: usize = 3;

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
    let id = RoomId(path.into_inner());
    if id.0.is_empty() || id.0.len() > 64 {
        return Err(ChatError::NotFound("room"));
    }
    let room = state.registry.send(GetRoom { room: id.clone() }).await??;
    let mut removed = 0;
    // Someone added while the members were being removed is removed in the next round.
    for _ in 0..CLOSE_ROUNDS {
        let members = room.send(Inspect).await?.members;
        if members.is_empty() {
            break;
        }
        for user in members.into_keys() {
            room.send(ChangeRoom {
                by: admin.0.id(),
                change: Change::Expel(user),
            })
            .await??;
            removed += 1;
        }
    }
    state.store.release_dm(&id).await?;
    tracing::warn!(room = %id, removed, by = %admin.0.user.id, "conversation closed by an admin");
    Ok(HttpResponse::Ok().json(json!({ "removed": removed })))
}
