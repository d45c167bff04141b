//! People routes: extract the request, call the people service (`services::people`), answer with
//! its typed body (`chat_protocol::api::people`). The rules live in the service.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::auth::{peer_ip, AuthUser};
use super::AppState;
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::api::people::{
    AccountDeletion, AddressBook, BlockRequest, BlockedBody, ContactBody, ContactPatch,
    ContactsBody, ListBody, ListPatch, ListsBody, MatchesBody, PasswordChange, ProfilePatch,
    RevokeAll, SessionsBody, SettingsBody, UserBody, UserSearch, UsersBody,
};
use crate::services::people::{Caller, People};

impl AppState {
    /// The people service over this state.
    pub fn people(&self) -> People<'_> {
        People {
            store: &self.store,
            registry: &self.registry,
            settings: &self.settings,
            passwords: &self.passwords,
            limits: &self.limits,
        }
    }
}

fn caller<'a>(auth: &'a AuthUser, req: Option<&HttpRequest>) -> Caller<'a> {
    Caller {
        user: &auth.user,
        token_hash: &auth.token_hash,
        peer: req.and_then(peer_ip),
    }
}

/// `GET /api/me` → {user} with email, phone and whether each is verified.
pub async fn me(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let user = state.people().me(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(UserBody { user }))
}

/// `PATCH /api/me` {username?, display_name?, about?, email?, phone?, avatar?} → {user}; `null`
/// clears an optional field.
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, ChatError> {
    let user = state
        .people()
        .update_profile(caller(&auth, None), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(UserBody { user }))
}

/// `GET /api/users/{id}` → {user} (public profile).
pub async fn profile(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let user = state.people().profile(&UserId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(UserBody { user }))
}

/// `GET /api/users/by-name/{username}` → {user} or 404.
pub async fn by_name(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let user = state.people().by_name(&path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserBody { user }))
}

/// `GET /api/users?q=PREFIX` → {users} whose username or display name starts with it.
pub async fn search(
    state: web::Data<AppState>,
    auth: AuthUser,
    q: web::Query<UserSearch>,
) -> Result<HttpResponse, ChatError> {
    let users = state.people().search(&auth.id(), &q.q).await?;
    Ok(HttpResponse::Ok().json(UsersBody { users }))
}

/// `GET /api/me/settings` → {settings}.
pub async fn settings(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let settings = state.people().settings(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(SettingsBody { settings }))
}

/// `PATCH /api/me/settings` {partial settings} → {settings}; every device of the user gets a
/// `settings` frame.
pub async fn update_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ChatError> {
    let settings = state.people().update_settings(&auth.id(), &body).await?;
    Ok(HttpResponse::Ok().json(SettingsBody { settings }))
}

/// `POST /api/me/password` {old_password?, new_password} → 204; every other session of the user
/// is revoked (its sockets close with 4001), the caller's stays.
pub async fn change_password(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .change_password(caller(&auth, Some(&req)), body.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/me/sessions` → {sessions: [{id, created_at, expires_at, user_agent, last_used_at,
/// current}]}.
pub async fn sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let sessions = state.people().sessions(caller(&auth, None)).await?;
    Ok(HttpResponse::Ok().json(SessionsBody { sessions }))
}

/// `DELETE /api/me/sessions/{id}` → 204: that session's token stops working, its sockets close.
pub async fn revoke_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .revoke_session(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me/sessions[?include_current=true]` → 204: every other session (or all) ends.
pub async fn revoke_all(
    state: web::Data<AppState>,
    auth: AuthUser,
    q: web::Query<RevokeAll>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .revoke_all(caller(&auth, None), q.include_current)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me` {password} (or {username} for an account made through a provider sign-in,
/// which has no password) → 204: sessions closed, profile and push data removed, groups left,
/// messages kept as from a deleted user; 403 if the confirmation is wrong.
pub async fn delete_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    body: web::Json<AccountDeletion>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .delete_account(caller(&auth, Some(&req)), body.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/contacts/match` {phones, emails} → {matches: [{input, normalized, user}]}: which
/// entries are registered users who verified that number or address (an unverified one matches
/// nobody). Numbers are normalised to E.164 first.
pub async fn match_contacts(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<AddressBook>,
) -> Result<HttpResponse, ChatError> {
    let matches = state
        .people()
        .match_contacts(&auth.id(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(MatchesBody { matches }))
}

/// `GET /api/contacts` → {contacts: [{user, nickname}]}.
pub async fn contacts(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let contacts = state.people().contacts(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(ContactsBody { contacts }))
}

/// `PUT /api/contacts/{user}` {nickname?} → {contact}: adds the contact or changes my nickname.
pub async fn put_contact(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<ContactPatch>,
) -> Result<HttpResponse, ChatError> {
    let contact = state
        .people()
        .put_contact(
            &auth.id(),
            &UserId(path.into_inner()),
            body.into_inner().nickname,
        )
        .await?;
    Ok(HttpResponse::Ok().json(ContactBody { contact }))
}

/// `DELETE /api/contacts/{user}` → 204, or 404 if not a contact.
pub async fn delete_contact(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .delete_contact(&auth.id(), &UserId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/blocks` → `{blocked: [users]}`.
pub async fn blocks(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let blocked = state.people().blocked(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(BlockedBody { blocked }))
}

/// `POST /api/blocks` {user} → 204: they cannot open a dm with me or send into ours, and do not
/// see my presence.
pub async fn block(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<BlockRequest>,
) -> Result<HttpResponse, ChatError> {
    state.people().block(&auth.id(), &body.user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/blocks/{user}` → 204.
pub async fn unblock(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .unblock(&auth.id(), &UserId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/lists` → {lists: [{id, name, members, created_at}]}.
pub async fn lists(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let lists = state.people().lists(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(ListsBody { lists }))
}

/// `POST /api/lists` {name, members} → 201 {list}.
pub async fn create_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<ListPatch>,
) -> Result<HttpResponse, ChatError> {
    let list = state
        .people()
        .create_list(&auth.id(), body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(ListBody { list }))
}

/// `GET /api/lists/{id}` → {list}.
pub async fn get_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let list = state.people().list(&auth.id(), &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ListBody { list }))
}

/// `PATCH /api/lists/{id}` {name?, members?} → {list}: rename and/or replace the members.
pub async fn update_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<ListPatch>,
) -> Result<HttpResponse, ChatError> {
    let list = state
        .people()
        .update_list(&auth.id(), &path.into_inner(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ListBody { list }))
}

/// `DELETE /api/lists/{id}` → 204.
pub async fn delete_list(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .people()
        .delete_list(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
