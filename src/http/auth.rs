//! Sign-up, sign-in and sign-out routes, and the `AuthUser` extractor. The routes extract the
//! request (the peer's address, the `User-Agent`), call the auth service (`services::auth`,
//! which owns the rules: password length, throttling, the constant-time check for unknown
//! names, issuing tokens) and answer with its typed body (`chat_protocol::api::auth`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use entities::user;

use super::AppState;
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::api::auth::{Login, Register};
use crate::protocol::settings::UserSettings;
use crate::services::auth::{Auth, Authenticated, Requester};

pub use crate::transport::{hash_token, user_out};

impl AppState {
    /// The auth service over this state.
    pub fn auth(&self) -> Auth<'_> {
        Auth {
            store: &self.store,
            registry: &self.registry,
            settings: &self.settings,
            passwords: &self.passwords,
            limits: &self.limits,
        }
    }
}

/// The client's address (the TCP peer; behind a reverse proxy, the proxy's).
pub(crate) fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// The request's `User-Agent` header, when it is text (the service trims and cuts it).
pub(crate) fn user_agent(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)?
        .to_str()
        .ok()
}

/// Where a sign-up or sign-in request comes from.
fn requester(req: &HttpRequest) -> Requester<'_> {
    Requester {
        peer: peer_ip(req),
        user_agent: user_agent(req),
    }
}

/// `POST /api/auth/register` → 201 {token, user}; 409 if the username is taken.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Register>,
) -> Result<HttpResponse, ChatError> {
    let signed_in = state
        .auth()
        .register(body.into_inner(), requester(&req))
        .await?;
    Ok(HttpResponse::Created().json(signed_in))
}

/// `POST /api/auth/login` → 200 {token, user}; 401 on a wrong username or password, 403 when
/// the account is banned, 429 with `Retry-After` when a login limit is spent (see
/// [`crate::limits`]; checked before the password, so a refused attempt reveals nothing).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Login>,
) -> Result<HttpResponse, ChatError> {
    let signed_in = state
        .auth()
        .login(body.into_inner(), requester(&req))
        .await?;
    Ok(HttpResponse::Ok().json(signed_in))
}

/// `POST /api/auth/logout` → 204; the token stops working and its open sockets are closed.
pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    state.auth().logout(&auth.token_hash).await?;
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

impl From<Authenticated> for AuthUser {
    fn from(a: Authenticated) -> Self {
        AuthUser {
            user: a.user,
            token_hash: a.token_hash,
        }
    }
}

/// The user a token belongs to (401 without a valid one).
pub(crate) async fn authenticate(
    state: &AppState,
    token: Option<String>,
) -> Result<AuthUser, ChatError> {
    Ok(state.auth().authenticate(token.as_deref()).await?.into())
}

/// [`authenticate`] for a WebSocket session: the user and their settings in one query.
pub(crate) async fn authenticate_session(
    state: &AppState,
    token: Option<String>,
) -> Result<(AuthUser, UserSettings), ChatError> {
    let (found, settings) = state.auth().authenticate_session(token.as_deref()).await?;
    Ok((found.into(), settings))
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
