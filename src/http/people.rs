//! People: my profile and account, public profiles and search, settings, contacts and address
//! book matching, blocking, broadcast lists.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use entities::user;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::auth::{normalize_username, peer_ip, AuthUser};
use super::AppState;
use crate::actors::outbox::{CloseSession, Deliver};
use crate::actors::registry::{CloseTokenSessions, DeliverToUsers, GetRoom};
use crate::actors::room::{Change, ChangeRoom, RemoveMember, SetBlocked};
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::protocol::close;
use crate::protocol::{ProfileOut, Role, ServerFrame, SettingsOut};
use crate::store::people::ProfileChange;
use crate::store::verify::ContactKind;
use crate::validate::{display_name, normalize_email, normalize_phone, text};

/// What anyone signed in sees of a user.
#[derive(Debug, Serialize)]
pub struct PublicProfile {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub about: Option<String>,
    /// Media id of the avatar, if any.
    pub avatar: Option<String>,
    pub deleted: bool,
}

/// What I see of myself.
#[derive(Debug, Serialize)]
pub struct MyProfile {
    #[serde(flatten)]
    pub public: PublicProfile,
    pub email: Option<String>,
    /// The e-mail address was verified (`POST /api/me/email/verify`, `.../confirm`).
    pub email_verified: bool,
    pub phone: Option<String>,
    /// The phone number was verified (`POST /api/me/phone/verify`, `.../confirm`).
    pub phone_verified: bool,
    /// May use the admin pages.
    pub is_admin: bool,
}

pub fn public_profile(u: &user::Model) -> PublicProfile {
    PublicProfile {
        id: UserId(u.id.clone()),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        about: u.about.clone(),
        avatar: u.avatar_media.clone(),
        deleted: u.deleted_at.is_some(),
    }
}

async fn my_profile(state: &AppState, u: &user::Model) -> Result<MyProfile, ChatError> {
    let verified = state.store.verified_of(&UserId(u.id.clone())).await?;
    let is_verified = |kind: ContactKind, v: &Option<String>| {
        v.as_ref()
            .is_some_and(|v| verified.contains(&(kind, v.clone())))
    };
    Ok(MyProfile {
        public: public_profile(u),
        email: u.email.clone(),
        email_verified: is_verified(ContactKind::Email, &u.email),
        phone: u.phone.clone(),
        phone_verified: is_verified(ContactKind::Phone, &u.phone),
        is_admin: u.is_admin,
    })
}

/// Distinguishes a missing field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/me` body; `null` clears an optional field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// A new username (same rules as at registration); 409 if taken.
    pub username: Option<String>,
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub about: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    /// Media id of an upload made with `purpose=avatar`; `null` removes the avatar.
    #[serde(default, deserialize_with = "nullable")]
    pub avatar: Option<Option<String>>,
}

/// `GET /api/me` → {user} with email, phone and whether each is verified.
pub async fn me(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let u = state
        .store
        .user_by_id(&auth.id())
        .await?
        .ok_or(ChatError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(json!({ "user": my_profile(&state, &u).await? })))
}

/// `PATCH /api/me` {username?, display_name?, about?, email?, phone?, avatar?} → {user}.
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, ChatError> {
    let p = body.into_inner();
    let region = &state.settings.people.default_region;
    let mut change = ProfileChange::default();
    if let Some(u) = p.username {
        let u = normalize_username(&u)?;
        if state
            .store
            .user_by_username(&u)
            .await?
            .is_some_and(|other| other.id != auth.user.id)
        {
            return Err(ChatError::Conflict("username is taken".into()));
        }
        change.username = Some(u);
    }
    if let Some(d) = p.display_name {
        change.display_name = Some(display_name(&d)?);
    }
    if let Some(a) = p.about {
        change.about = Some(
            a.map(|a| text("about", &a, 0, 500))
                .transpose()?
                .filter(|a| !a.is_empty()),
        );
    }
    if let Some(e) = p.email {
        change.email = Some(
            e.map(|e| {
                normalize_email(&e)
                    .ok_or_else(|| ChatError::invalid("email: not an e-mail address"))
            })
            .transpose()?,
        );
    }
    if let Some(ph) = p.phone {
        let norm = ph.map(|ph| {
            normalize_phone(&ph, region).ok_or_else(|| {
                ChatError::invalid("phone: not a valid phone number (use +country code)")
            })
        });
        change.phone = Some(norm.transpose()?);
    }
    if let Some(a) = p.avatar {
        if let Some(id) = &a {
            state.store.check_avatar(id, &auth.id()).await?;
        }
        change.avatar_media = Some(a);
    }
    let u = state.store.update_profile(&auth.id(), change).await?;
    announce_profile(&state, &auth.user, &u).await?;
    Ok(HttpResponse::Ok().json(json!({ "user": my_profile(&state, &u).await? })))
}

/// When what others see of `after` differs from `before`, sends a `profile` frame to everyone
/// who shares a conversation with the user and to the user's own sessions (their other devices).
async fn announce_profile(
    state: &AppState,
    before: &user::Model,
    after: &user::Model,
) -> Result<(), ChatError> {
    let public = |u: &user::Model| {
        (
            u.username.clone(),
            u.display_name.clone(),
            u.about.clone(),
            u.avatar_media.clone(),
        )
    };
    if public(before) == public(after) {
        return Ok(());
    }
    let id = UserId(after.id.clone());
    let mut users = state.store.co_members(&id).await?;
    users.push(id.clone());
    let frame = ServerFrame::Profile(ProfileOut {
        user: id,
        username: after.username.clone(),
        display_name: after.display_name.clone(),
        about: after.about.clone(),
        avatar: after.avatar_media.clone(),
    });
    state.registry.do_send(DeliverToUsers {
        users,
        frame: Deliver::new(frame),
        except: None,
    });
    Ok(())
}

/// `GET /api/users/{id}` → {user} (public profile).
pub async fn profile(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let u = state
        .store
        .user_by_id(&UserId(path.into_inner()))
        .await?
        .ok_or(ChatError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(json!({ "user": public_profile(&u) })))
}

/// `GET /api/users/by-name/{username}` → {user} or 404.
pub async fn by_name(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let name = path.into_inner().trim().to_lowercase();
    let u = state
        .store
        .user_by_username(&name)
        .await?
        .ok_or(ChatError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(json!({ "user": public_profile(&u) })))
}

/// `GET /api/users?q=` query.
#[derive(Debug, Deserialize)]
pub struct Search {
    pub q: String,
}

/// `GET /api/users?q=PREFIX` → {users} whose username or display name starts with it.
pub async fn search(
    state: web::Data<AppState>,
    auth: AuthUser,
    q: web::Query<Search>,
) -> Result<HttpResponse, ChatError> {
    state
        .limits
        .user_action(crate::limits::UserAction::Search, &auth.id())?;
    let q = q.q.trim();
    if q.is_empty() || q.chars().count() > 64 {
        return Err(ChatError::invalid("q: 1 to 64 characters"));
    }
    let users: Vec<PublicProfile> = state
        .store
        .search_users(q, 20)
        .await?
        .iter()
        .map(public_profile)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

/// `GET /api/me/settings` → {settings}.
pub async fn settings(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(json!({ "settings": state.store.settings(&auth.id()).await? })))
}

/// `PATCH /api/me/settings` {partial settings} → {settings}; every device of the user gets a
/// `settings` frame.
pub async fn update_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let current = state.store.settings(&me).await?;
    let next = current
        .merged(&body)
        .map_err(|e| ChatError::invalid(e.to_string()))?;
    state.store.save_settings(&me, &next).await?;
    let frame = Deliver::new(ServerFrame::Settings(SettingsOut {
        settings: next.clone(),
    }));
    state.registry.do_send(DeliverToUsers {
        users: vec![me],
        frame,
        except: None,
    });
    Ok(HttpResponse::Ok().json(json!({ "settings": next })))
}

/// `POST /api/me/password` body.
#[derive(Debug, Deserialize)]
pub struct PasswordChange {
    /// Needed when the account has a password; an account made through a provider sign-in has
    /// none until its first one is set here.
    #[serde(default)]
    pub old_password: Option<String>,
    pub new_password: String,
}

/// `POST /api/me/password` {old_password?, new_password} → 204; every other session of the user
/// is revoked (its sockets close with 4001), the caller's stays.
pub async fn change_password(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ChatError> {
    let body = body.into_inner();
    if !auth.user.password_hash.is_empty() {
        // A password check like a login's, throttled the same way (a stolen token must not
        // become a way to guess the password).
        state
            .limits
            .login_attempt(peer_ip(&req), &auth.user.username)?;
        let old = body.old_password.as_deref().unwrap_or_default();
        if !state
            .passwords
            .verify(old, &auth.user.password_hash)
            .await?
        {
            return Err(ChatError::Forbidden("old_password: wrong password".into()));
        }
    }
    let min = state.settings.auth.min_password_len;
    let n = body.new_password.chars().count();
    if n < min || n > 1024 {
        return Err(ChatError::invalid(format!(
            "new_password: {min} to 1024 characters"
        )));
    }
    let hash = state.passwords.hash(body.new_password).await?;
    state.store.set_password_hash(&auth.id(), &hash).await?;
    // Whoever knew the old password may hold a token: every other session ends.
    let hashes = state
        .store
        .revoke_tokens(&auth.id(), Some(&auth.token_hash))
        .await?;
    close_tokens(&state, hashes, "password changed");
    tracing::info!(user = %auth.user.id, "password changed; other sessions revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/me/sessions` → {sessions: [{id, created_at, expires_at, current}]}.
pub async fn sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let rows: Vec<Value> = state
        .store
        .sessions_of(&auth.id())
        .await?
        .into_iter()
        .map(|(hash, row)| {
            let mut v = json!(row);
            v["current"] = json!(hash == auth.token_hash);
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "sessions": rows })))
}

/// Closes every socket opened with these tokens (code 4001).
pub(super) fn close_tokens(state: &AppState, hashes: Vec<String>, reason: &str) {
    for token_hash in hashes {
        state.registry.do_send(CloseTokenSessions {
            token_hash,
            close: CloseSession {
                code: close::LOGGED_OUT,
                reason: reason.into(),
            },
        });
    }
}

/// `DELETE /api/me/sessions/{id}` → 204: that session's token stops working, its sockets close.
pub async fn revoke_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let id = path.into_inner();
    let Some((hash, _)) = state
        .store
        .sessions_of(&auth.id())
        .await?
        .into_iter()
        .find(|(_, r)| r.id == id)
    else {
        return Err(ChatError::NotFound("session"));
    };
    state.store.delete_token(&hash).await?;
    close_tokens(&state, vec![hash], "session revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me/sessions` query.
#[derive(Debug, Deserialize)]
pub struct RevokeAll {
    #[serde(default)]
    pub include_current: bool,
}

/// `DELETE /api/me/sessions[?include_current=true]` → 204: every other session (or all) ends.
pub async fn revoke_all(
    state: web::Data<AppState>,
    auth: AuthUser,
    q: web::Query<RevokeAll>,
) -> Result<HttpResponse, ChatError> {
    let keep = (!q.include_current).then_some(auth.token_hash.as_str());
    let hashes = state.store.revoke_tokens(&auth.id(), keep).await?;
    close_tokens(&state, hashes, "session revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me` body: the password, to confirm.
#[derive(Debug, Deserialize)]
pub struct DeleteAccount {
    pub password: String,
}

/// `DELETE /api/me` {password} → 204: sessions closed, profile and push data removed, groups
/// left, messages kept as from a deleted user.
pub async fn delete_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    body: web::Json<DeleteAccount>,
) -> Result<HttpResponse, ChatError> {
    state
        .limits
        .login_attempt(peer_ip(&req), &auth.user.username)?;
    if !state
        .passwords
        .verify(&body.password, &auth.user.password_hash)
        .await?
    {
        return Err(ChatError::Forbidden("password: wrong password".into()));
    }
    let hashes = state.store.delete_account(&auth.id()).await?;
    close_tokens(&state, hashes, "account deleted");
    leave_groups(&state, &auth.id()).await;
    tracing::info!(user = %auth.user.id, "account deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// A deleted account leaves its groups through their Room actors (members get `room_event`
/// `member_removed`, as for any leave); a last owner first hands ownership to an admin, else to
/// the first other member by username. Its dms stay: they are the other person's history, and a deleted
/// account is never pushed to. Best effort: a group it could not leave is logged.
async fn leave_groups(state: &AppState, user: &UserId) {
    let rooms = match state.store.room_ids_of(user).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(user = %user, error = %e, "deleted account: its rooms could not be listed");
            return;
        }
    };
    for room in rooms {
        if let Err(e) = leave_group(state, user, &room).await {
            tracing::warn!(user = %user, room = %room, error = %e, "deleted account could not leave a group");
        }
    }
}

async fn leave_group(state: &AppState, user: &UserId, room: &RoomId) -> Result<(), ChatError> {
    let Some(view) = state.store.room_view(room).await? else {
        return Ok(());
    };
    if view.kind.is_dm() {
        return Ok(());
    }
    let owners = view
        .members
        .iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    let me_owner = view
        .members
        .iter()
        .any(|m| &m.id == user && m.role == Role::Owner);
    let addr = state
        .registry
        .send(GetRoom { room: room.clone() })
        .await??;
    if me_owner && owners == 1 {
        let others = || view.members.iter().filter(|m| &m.id != user);
        let heir = others()
            .find(|m| m.role == Role::Admin)
            .or_else(|| others().next());
        if let Some(heir) = heir {
            addr.send(ChangeRoom {
                by: user.clone(),
                change: Change::SetRole(heir.id.clone(), Role::Owner),
            })
            .await??;
        }
    }
    addr.send(RemoveMember {
        by: user.clone(),
        user: user.clone(),
    })
    .await?
}

/// `POST /api/contacts/match` body: an address book.
#[derive(Debug, Deserialize)]
pub struct AddressBook {
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
}

/// `POST /api/contacts/match` {phones, emails} → {matches: [{input, normalized, user}]}: which
/// entries are registered users who verified that number or address (an unverified one matches
/// nobody). Numbers are normalised to E.164 first.
pub async fn match_contacts(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<AddressBook>,
) -> Result<HttpResponse, ChatError> {
    state
        .limits
        .user_action(crate::limits::UserAction::ContactMatch, &auth.id())?;
    let book = body.into_inner();
    if book.phones.len() + book.emails.len() > 5000 {
        return Err(ChatError::TooLarge(
            "at most 5000 entries per request".into(),
        ));
    }
    let region = &state.settings.people.default_region;
    let phones: Vec<(String, Option<String>)> = book
        .phones
        .iter()
        .map(|p| (p.clone(), normalize_phone(p, region)))
        .collect();
    let emails: Vec<(String, Option<String>)> = book
        .emails
        .iter()
        .map(|e| (e.clone(), normalize_email(e)))
        .collect();
    let want_p: Vec<String> = phones
        .iter()
        .filter_map(|(_, n)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let want_e: Vec<String> = emails
        .iter()
        .filter_map(|(_, n)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let found = state.store.users_by_contacts(&want_p, &want_e).await?;
    let me = auth.id();
    let mut matches = Vec::new();
    for (input, norm) in phones.iter().chain(emails.iter()) {
        let Some(norm) = norm else { continue };
        if let Some((_, u)) = found.iter().find(|(v, u)| v == norm && u.id != me.0) {
            matches.push(json!({ "input": input, "normalized": norm, "user": public_profile(u) }));
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "matches": matches })))
}

/// `GET /api/contacts` → {contacts: [{user, nickname}]}.
pub async fn contacts(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let rows = state.store.contacts(&auth.id()).await?;
    let ids: Vec<UserId> = rows.iter().map(|r| r.user.clone()).collect();
    let users = state.store.users_by_ids(&ids).await?;
    let out: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            let u = users.iter().find(|u| u.id == r.user.0)?;
            Some(json!({ "user": public_profile(u), "nickname": r.nickname }))
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "contacts": out })))
}

/// `PUT /api/contacts/{user}` body.
#[derive(Debug, Deserialize)]
pub struct ContactBody {
    #[serde(default)]
    pub nickname: Option<String>,
}

/// `PUT /api/contacts/{user}` {nickname?} → {contact}: adds the contact or changes my nickname.
pub async fn put_contact(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ChatError> {
    let other = UserId(path.into_inner());
    if other == auth.id() {
        return Err(ChatError::invalid("user: cannot add yourself"));
    }
    let u = state
        .store
        .user_by_id(&other)
        .await?
        .ok_or(ChatError::NotFound("user"))?;
    let nickname = body
        .into_inner()
        .nickname
        .map(|n| text("nickname", &n, 0, 100))
        .transpose()?
        .filter(|n| !n.is_empty());
    state
        .store
        .put_contact(&auth.id(), &other, nickname.clone())
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "contact": { "user": public_profile(&u), "nickname": nickname } })))
}

/// `DELETE /api/contacts/{user}` → 204, or 404 if not a contact.
pub async fn delete_contact(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    if state
        .store
        .delete_contact(&auth.id(), &UserId(path.into_inner()))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ChatError::NotFound("contact"))
    }
}

/// `GET /api/blocks` → {blocked: [users]}.
pub async fn blocks(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let ids = state.store.blocked_by(&auth.id()).await?;
    let users: Vec<PublicProfile> = state
        .store
        .users_by_ids(&ids)
        .await?
        .iter()
        .map(public_profile)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "blocked": users })))
}

/// `POST /api/blocks` body.
#[derive(Debug, Deserialize)]
pub struct BlockBody {
    pub user: UserId,
}

/// `POST /api/blocks` {user} → 204: they cannot open a dm with me or send into ours, and do not
/// see my presence.
pub async fn block(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<BlockBody>,
) -> Result<HttpResponse, ChatError> {
    let other = body.into_inner().user;
    if other == auth.id() {
        return Err(ChatError::invalid("user: cannot block yourself"));
    }
    state
        .store
        .user_by_id(&other)
        .await?
        .ok_or(ChatError::NotFound("user"))?;
    state.store.block(&auth.id(), &other).await?;
    tell_dm(&state, &auth.id(), &other, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tells the dm room of the two (if any) about a block change, so it refuses or accepts
/// messages from now on.
async fn tell_dm(
    state: &AppState,
    blocker: &UserId,
    blocked: &UserId,
    on: bool,
) -> Result<(), ChatError> {
    if let Some(room) = state.store.dm_between(blocker, blocked).await? {
        let addr = state.registry.send(GetRoom { room }).await??;
        addr.do_send(SetBlocked {
            blocker: blocker.clone(),
            blocked: blocked.clone(),
            on,
        });
    }
    Ok(())
}

/// `DELETE /api/blocks/{user}` → 204.
pub async fn unblock(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let other = UserId(path.into_inner());
    state.store.unblock(&auth.id(), &other).await?;
    tell_dm(&state, &auth.id(), &other, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/lists` and `PATCH /api/lists/{id}` body.
#[derive(Debug, Deserialize)]
pub struct ListBody {
    pub name: Option<String>,
    pub members: Option<Vec<UserId>>,
}

async fn check_list(
    state: &AppState,
    me: &UserId,
    body: ListBody,
) -> Result<(Option<String>, Option<Vec<UserId>>), ChatError> {
    let name = body.name.map(|n| text("name", &n, 1, 100)).transpose()?;
    let members = match body.members {
        None => None,
        Some(m) => {
            let set: BTreeSet<UserId> = m.into_iter().filter(|u| u != me).collect();
            if set.len() > state.settings.people.max_broadcast {
                return Err(ChatError::invalid(format!(
                    "members: at most {}",
                    state.settings.people.max_broadcast
                )));
            }
            let ids: Vec<UserId> = set.into_iter().collect();
            if state.store.users_by_ids(&ids).await?.len() != ids.len() {
                return Err(ChatError::invalid("members: unknown user id"));
            }
            Some(ids)
        }
    };
    Ok((name, members))
}

/// `GET /api/lists` → {lists: [{id, name, members, created_at}]}.
pub async fn lists(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    Ok(HttpResponse::Ok().json(json!({ "lists": state.store.lists(&auth.id()).await? })))
}

/// `POST /api/lists` {name, members} → 201 {list}.
pub async fn create_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<ListBody>,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let (name, members) = check_list(&state, &me, body.into_inner()).await?;
    let name = name.ok_or_else(|| ChatError::invalid("name: required"))?;
    let id = state
        .store
        .save_list(
            &me,
            None,
            Some(&name),
            Some(members.as_deref().unwrap_or_default()),
        )
        .await?;
    let list = state
        .store
        .list(&me, &id)
        .await?
        .ok_or(ChatError::Internal)?;
    Ok(HttpResponse::Created().json(json!({ "list": list })))
}

/// `GET /api/lists/{id}` → {list}.
pub async fn get_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let list = state
        .store
        .list(&auth.id(), &path.into_inner())
        .await?
        .ok_or(ChatError::NotFound("list"))?;
    Ok(HttpResponse::Ok().json(json!({ "list": list })))
}

/// `PATCH /api/lists/{id}` {name?, members?} → {list}: rename and/or replace the members.
pub async fn update_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<ListBody>,
) -> Result<HttpResponse, ChatError> {
    let me = auth.id();
    let id = path.into_inner();
    state
        .store
        .list(&me, &id)
        .await?
        .ok_or(ChatError::NotFound("list"))?;
    let (name, members) = check_list(&state, &me, body.into_inner()).await?;
    state
        .store
        .save_list(&me, Some(&id), name.as_deref(), members.as_deref())
        .await?;
    let list = state
        .store
        .list(&me, &id)
        .await?
        .ok_or(ChatError::Internal)?;
    Ok(HttpResponse::Ok().json(json!({ "list": list })))
}

/// `DELETE /api/lists/{id}` → 204.
pub async fn delete_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let id = path.into_inner();
    state
        .store
        .list(&auth.id(), &id)
        .await?
        .ok_or(ChatError::NotFound("list"))?;
    state.store.delete_list(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
