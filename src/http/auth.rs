//! Accounts and tokens: register, login, logout, and the `AuthUser` extractor.
//!
//! Passwords are hashed with Argon2id on their own bounded pool ([`crate::passwords`]); logins
//! and sign-ups are throttled per address and account ([`crate::limits`]). Tokens are 256 random bits, given to
//! the client once and stored only as their SHA-256 hash, with an expiry.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use entities::user;

use super::AppState;
use crate::error::ChatError;
use crate::ids::{now_ms, UserId};
use crate::protocol::api::auth::{Login, Register, SignedIn};
use crate::protocol::settings::UserSettings;

pub use crate::transport::{hash_token, user_out};

/// The hash a login for an unknown name is checked against, so that it takes as long as one for
/// a known name. Hashing a constant fails only with Argon2 parameters that make every password
/// check fail too; then "" (an unknown name is refused at once, as every login is).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::passwords::hash_now("not a password").unwrap_or_default())
}

/// The client's address (the TCP peer; behind a reverse proxy, the proxy's).
pub(crate) fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// A new token for `user`, remembering the `User-Agent` of `req` (what signed in) for the list
/// of sessions.
pub(crate) async fn issue_token(
    state: &AppState,
    user: &UserId,
    req: &HttpRequest,
) -> Result<String, ChatError> {
    let token = crate::ids::random_urlsafe(32);
    let expires = now_ms() + state.settings.auth.token_ttl_secs * 1000;
    state
        .store
        .insert_token(&hash_token(&token), user, expires, user_agent(req))
        .await?;
    Ok(token)
}

/// The request's `User-Agent`, cut to 256 characters (the column's size); none when absent,
/// blank or not text.
pub(crate) fn user_agent(req: &HttpRequest) -> Option<String> {
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)?
        .to_str()
        .ok()?
        .trim();
    (!ua.is_empty()).then(|| ua.chars().take(256).collect())
}

/// `POST /api/auth/register` → 201 {token, user}; 409 if the username is taken.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Register>,
) -> Result<HttpResponse, ChatError> {
    state.limits.register_attempt(peer_ip(&req))?;
    let body = body.into_inner();
    let username = crate::validate::username(&body.username)?;
    let min = state.settings.auth.min_password_len;
    let len = body.password.chars().count();
    if len < min || len > 1024 {
        return Err(ChatError::invalid(format!(
            "password: {min} to 1024 characters"
        )));
    }
    // Checked as `PATCH /api/me` checks it; none (or only blanks) means the username.
    let display_name = match body.display_name.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => crate::validate::display_name(d)?,
        _ => username.clone(),
    };
    if state.store.user_by_username(&username).await?.is_some() {
        return Err(ChatError::Conflict("username is taken".into()));
    }
    let hash = state.passwords.hash(body.password).await?;
    let user = state
        .store
        .create_user(&username, &display_name, &hash)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ChatError::Conflict("username is taken".into())
            }
            other => other.into(),
        })?;
    let token = issue_token(&state, &UserId(user.id.clone()), &req).await?;
    state.limits.signed_in(peer_ip(&req), &user.username);
    tracing::info!(user = %user.id, username = %user.username, "registered");
    Ok(HttpResponse::Created().json(SignedIn {
        token,
        user: user_out(&user),
    }))
}

/// `POST /api/auth/login` → 200 {token, user}; 401 on a wrong username or password, 403 when
/// the account is banned, 429 with `Retry-After` when a login limit is spent (see
/// [`crate::limits`]; checked before the password, so a refused attempt reveals nothing).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Login>,
) -> Result<HttpResponse, ChatError> {
    let body = body.into_inner();
    let username = body.username.trim().to_lowercase();
    state.limits.login_attempt(peer_ip(&req), &username)?;
    let user = state.store.user_by_username(&username).await?;
    // Verify against a dummy hash for unknown users so timing does not tell which exist.
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let ok = state.passwords.verify(&body.password, &stored).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(ChatError::Unauthorized);
    };
    if user.banned_at.is_some() {
        return Err(ChatError::Forbidden("banned".into()));
    }
    let token = issue_token(&state, &UserId(user.id.clone()), &req).await?;
    state.limits.signed_in(peer_ip(&req), &username);
    Ok(HttpResponse::Ok().json(SignedIn {
        token,
        user: user_out(&user),
    }))
}

/// `POST /api/auth/logout` → 204; the token stops working and its open sockets are closed.
pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    state.store.delete_token(&auth.token_hash).await?;
    crate::services::people::close_tokens(&state.registry, vec![auth.token_hash], "logged out");
    Ok(HttpResponse::NoContent().finish())
}

/// The authenticated caller of an HTTP route: `Authorization: Bearer TOKEN` only.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: user::Model,
    pub token_hash: String,
}

impl AuthUser {
    pub fn id(&self) -> UserId {
        UserId(self.user.id.clone())
    }
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub(crate) fn bearer_token(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    let h = headers
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    h.strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .map(|t| t.trim().to_owned())
}

/// The token of a WebSocket upgrade: `Authorization: Bearer TOKEN`, else `?token=TOKEN`.
pub(crate) fn token_from(
    headers: &actix_web::http::header::HeaderMap,
    query: &str,
) -> Option<String> {
    if let Some(t) = bearer_token(headers) {
        return Some(t);
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(query)
        .ok()
        .and_then(|q| q.get("token").cloned())
}

/// The user a token belongs to (401 without a valid one).
pub(crate) async fn authenticate(
    state: &AppState,
    token: Option<String>,
) -> Result<AuthUser, ChatError> {
    let token = token
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(ChatError::Unauthorized)?;
    let token_hash = hash_token(&token);
    let user = state
        .store
        .user_for_token(&token_hash)
        .await?
        .ok_or(ChatError::Unauthorized)?;
    Ok(AuthUser { user, token_hash })
}

/// [`authenticate`] for a WebSocket session: the user and their settings in one query.
pub(crate) async fn authenticate_session(
    state: &AppState,
    token: Option<String>,
) -> Result<(AuthUser, UserSettings), ChatError> {
    let token = token
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(ChatError::Unauthorized)?;
    let token_hash = hash_token(&token);
    let (user, settings) = state
        .store
        .session_for_token(&token_hash)
        .await?
        .ok_or(ChatError::Unauthorized)?;
    Ok((AuthUser { user, token_hash }, settings))
}

impl FromRequest for AuthUser {
    type Error = ChatError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ChatError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Only the header: a token in a URL ends up in logs, browser history and Referer
        // headers. `?token=` is for the WebSocket upgrade alone (browsers cannot set headers
        // there), see `crate::http::ws`.
        let token = bearer_token(req.headers());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or(ChatError::Internal)?;
            authenticate(&state, token).await
        })
    }
}
