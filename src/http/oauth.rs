//! Sign-in with Facebook and Twitter/X (OAuth 2.0), and the linked accounts of the signed-in
//! user. The routes extract the request, call the OAuth service (`services::oauth`, which keeps
//! the states and links and talks to the providers) and answer: JSON with the typed bodies of
//! `chat_protocol::api::oauth`, or the browser flow's redirects and cookie, which are made here.
//!
//! `GET /api/auth/oauth/{provider}/start` sends the browser to the provider with a fresh `state`
//! (and PKCE challenge); the state's hash, the PKCE verifier and the hash of a random value held
//! in an HttpOnly, SameSite=Lax cookie are stored, so the callback is accepted once, before it
//! expires, and only in the browser that started it. The callback exchanges the code, reads the
//! account's id, name and picture, and signs into the linked account, links it to the account
//! that asked (`POST .../link`), or creates an account (one transaction with its link). Browsers
//! land on `/#oauth_token=…[&oauth_nonce=…]`, `/#oauth_linked=…` or `/#oauth_error=…`; a request
//! that accepts `application/json` gets JSON instead.
//!
//! Login CSRF: anyone can get a token of their own and send a victim to `/#oauth_token=THEIRS`.
//! The web page therefore makes a random value before a sign-in (`start?nonce=`), keeps it in
//! `sessionStorage`, and accepts a returned token only beside that same value; the value rides
//! in the provider's `state` (after a dot), whose stored hash vouches for it on the way back.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::auth::{user_agent, user_out, AuthUser};
use super::AppState;
use crate::error::ChatError;
use crate::protocol::api::auth::SignedIn;
use crate::protocol::api::oauth::{
    CallbackQuery, LinkUrlBody, LinkedBody, ProvidersBody, StartQuery,
};
use crate::services::oauth::{Begun, OAuthService, Outcome};

/// The cookie that binds a started sign-in to the browser.
const COOKIE: &str = "chat_oauth";
/// Where that cookie is sent: the start and callback routes only.
const COOKIE_PATH: &str = "/api/auth/oauth";

impl AppState {
    /// The OAuth service over this state.
    pub fn oauth_service(&self) -> OAuthService<'_> {
        OAuthService {
            store: &self.store,
            providers: &self.oauth,
        }
    }
}

/// `GET /api/auth/oauth/providers` → {providers: [{name, start_url}]}: the configured ones.
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ProvidersBody {
        providers: state.oauth_service().providers(),
    })
}

/// `GET /api/auth/oauth/{provider}/start[?nonce=]` → 302 to the provider's authorization page.
/// `nonce` is a random value the web page made and kept (16 to 64 base64url characters; 400
/// otherwise): it travels inside the OAuth `state` and comes back with the token as
/// `#oauth_token=…&oauth_nonce=…`, so the page accepts only sign-ins it started itself.
#[tracing::instrument(skip_all, fields(provider = %path.as_str()))]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let nonce = web::Query::<StartQuery>::from_query(req.query_string())
        .map(|q| q.into_inner().nonce)
        .unwrap_or_default();
    let base = public_base(&req, &state);
    match state
        .oauth_service()
        .start(&path, &base, browser(&req).as_deref(), nonce.as_deref())
        .await
    {
        Ok(begun) => {
            let (url, cookie) = redirect_and_cookie(&state, &base, begun);
            no_store(HttpResponse::Found())
                .insert_header((header::LOCATION, url))
                .cookie(cookie)
                .finish()
        }
        Err(e) => fail(&req, e),
    }
}

/// `POST /api/auth/oauth/{provider}/link` → {url}: where to send the browser to link an account
/// of that provider to the caller's; 409 if the caller has one linked already.
#[tracing::instrument(skip_all, fields(provider = %path.as_str(), user = %auth.user.id))]
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    let base = public_base(&req, &state);
    let begun = state
        .oauth_service()
        .link(&auth.id(), &path, &base, browser(&req).as_deref())
        .await?;
    let (url, cookie) = redirect_and_cookie(&state, &base, begun);
    Ok(no_store(HttpResponse::Ok())
        .cookie(cookie)
        .json(LinkUrlBody { url }))
}

/// The browser's value from its cookie, if it sent one.
fn browser(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned())
}

/// The provider's URL, and the cookie that keeps the browser's value until the callback
/// (HttpOnly, SameSite=Lax, Secure on an https origin, as long as a started sign-in lives).
fn redirect_and_cookie(state: &AppState, base: &str, begun: Begun) -> (String, Cookie<'static>) {
    let cookie = Cookie::build(COOKIE, begun.browser)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(base.starts_with("https://"))
        .max_age(time::Duration::milliseconds(state.oauth.state_ttl_ms))
        .finish();
    (begun.authorize_url, cookie)
}

/// What the callback answers with: a signed-in outcome with its new session token, or a link.
enum Done {
    SignedIn {
        token: String,
        user: entities::user::Model,
        nonce: Option<String>,
    },
    Linked(crate::protocol::api::oauth::LinkOut),
}

/// Completes the callback through the service and, for a sign-in, issues the session token.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    query: CallbackQuery,
) -> Result<Done, ChatError> {
    match state
        .oauth_service()
        .complete(name, query, browser(req).as_deref())
        .await?
    {
        Outcome::SignedIn { user, nonce } => {
            let token = state.auth().issue_token(&user, user_agent(req)).await?;
            Ok(Done::SignedIn { token, user, nonce })
        }
        Outcome::Linked(link) => Ok(Done::Linked(link)),
    }
}

/// `GET /api/auth/oauth/{provider}/callback?code=&state=` → 302 to `/#oauth_token=…` (signed in),
/// `/#oauth_linked=…` or `/#oauth_error=…`; JSON when the request accepts it.
#[tracing::instrument(skip_all, fields(provider = %path.as_str()))]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let query = web::Query::<CallbackQuery>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    match finish(&req, &state, &path, query).await {
        Ok(Done::SignedIn { token, user, .. }) if wants_json(&req) => no_store(HttpResponse::Ok())
            .json(SignedIn {
                token,
                user: user_out(&user),
            }),
        Ok(Done::SignedIn { token, nonce, .. }) => {
            let mut to = format!("/#oauth_token={}", fragment_encode(&token));
            if let Some(n) = nonce {
                to.push_str(&format!("&oauth_nonce={}", fragment_encode(&n)));
            }
            found(to)
        }
        Ok(Done::Linked(linked)) if wants_json(&req) => {
            no_store(HttpResponse::Ok()).json(LinkedBody { linked })
        }
        Ok(Done::Linked(link)) => found(format!(
            "/#oauth_linked={}",
            fragment_encode(&link.provider)
        )),
        Err(e) => {
            tracing::info!(error = %e, "oauth callback refused");
            fail(&req, e)
        }
    }
}

/// `GET /api/auth/oauth/links` → {links: [{provider, name, username, avatar_url, linked_at}],
/// has_password}.
pub async fn links(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let body = state.oauth_service().links(&auth.user).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /api/auth/oauth/links/{provider}` → 204; 404 when not linked; 409 when it is the
/// account's last way to sign in.
#[tracing::instrument(skip_all, fields(provider = %path.as_str(), user = %auth.user.id))]
pub async fn unlink(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state.oauth_service().unlink(&auth.id(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `oauth.public_url`, or the origin the request came to.
fn public_base(req: &HttpRequest, state: &AppState) -> String {
    if !state.oauth.public_url.is_empty() {
        return state.oauth.public_url.clone();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The error as JSON for API callers, or a redirect to the web client with the message.
fn fail(req: &HttpRequest, e: ChatError) -> HttpResponse {
    if wants_json(req) {
        e.error_response()
    } else {
        found(format!("/#oauth_error={}", fragment_encode(&e.to_string())))
    }
}

fn found(location: String) -> HttpResponse {
    no_store(HttpResponse::Found())
        .insert_header((header::LOCATION, location))
        .finish()
}

fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// Percent-encodes everything but unreserved characters (so `decodeURIComponent` reads it).
fn fragment_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_percent_encoded() {
        assert_eq!(fragment_encode("a b+c/é"), "a%20b%2Bc%2F%C3%A9");
    }
}
