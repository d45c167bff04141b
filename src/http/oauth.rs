//! Sign-in with Facebook and Twitter/X (OAuth 2.0), and the linked accounts of the signed-in
//! user.
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
use entities::{oauth_link, oauth_state, user};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{hash_token, issue_token, user_out, AuthUser};
use super::AppState;
use crate::error::ChatError;
use crate::ids::{now_ms, random_urlsafe, UserId};
use crate::oauth::{OAuthError, Profile, Provider};
use crate::store::oauth::{Created, LinkInfo, Unlinked};
use crate::store::StoreError;

/// The cookie that binds a started sign-in to the browser.
const COOKIE: &str = "chat_oauth";
/// Where that cookie is sent: the start and callback routes only.
const COOKIE_PATH: &str = "/api/auth/oauth";

/// A linked account, as its owner sees it.
#[derive(Debug, Serialize)]
pub struct LinkOut {
    pub provider: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub linked_at: i64,
}

fn link_out(l: &oauth_link::Model) -> LinkOut {
    LinkOut {
        provider: l.provider.clone(),
        name: l.name.clone(),
        username: l.username.clone(),
        avatar_url: l.avatar_url.clone(),
        linked_at: l.linked_at,
    }
}

/// `GET /api/auth/oauth/providers` → {providers: [{name, start_url}]}: the configured ones.
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<_> = state
        .oauth
        .list()
        .iter()
        .map(|p| json!({"name": p.kind.name(), "start_url": format!("/api/auth/oauth/{}/start", p.kind.name())}))
        .collect();
    HttpResponse::Ok().json(json!({ "providers": list }))
}

/// `?nonce=` of the start route.
#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    pub nonce: Option<String>,
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
    if let Some(n) = nonce.as_deref() {
        if !crate::oauth::flow::valid_page_value(n) {
            return fail(
                &req,
                ChatError::invalid("nonce must be 16 to 64 base64url characters"),
            );
        }
    }
    match begin(&req, &state, &path, None, nonce.as_deref()).await {
        Ok((url, cookie)) => no_store(HttpResponse::Found())
            .insert_header((header::LOCATION, url))
            .cookie(cookie)
            .finish(),
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
    let provider = configured(&state, &path)?;
    let name = provider.kind.name();
    if state
        .store
        .oauth_links_of(&auth.id())
        .await?
        .iter()
        .any(|l| l.provider == name)
    {
        return Err(ChatError::Conflict(format!(
            "a {name} account is linked already; unlink it first"
        )));
    }
    let (url, cookie) = begin(&req, &state, &path, Some(auth.id()), None).await?;
    Ok(no_store(HttpResponse::Ok())
        .cookie(cookie)
        .json(json!({ "url": url })))
}

/// Starts a sign-in (or a link for `link_user`): stores the state and returns the provider's
/// URL and the browser cookie.
async fn begin(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    link_user: Option<UserId>,
    page: Option<&str>,
) -> Result<(String, Cookie<'static>), ChatError> {
    let provider = configured(state, name)?;
    let base = public_base(req, state);
    let redirect_uri = format!("{base}/api/auth/oauth/{}/callback", provider.kind.name());
    let started = provider.start(&redirect_uri, page)?;
    // One value per browser, kept across sign-ins, so two tabs can sign in at once.
    let browser = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| random_urlsafe(32));
    let now = now_ms();
    state
        .store
        .insert_oauth_state(oauth_state::Model {
            state_hash: hash_token(&started.state),
            provider: provider.kind.name().to_owned(),
            browser_hash: hash_token(&browser),
            pkce_verifier: started.pkce_verifier,
            redirect_uri,
            link_user_id: link_user.map(|u| u.0),
            created_at: now,
            expires_at: now.saturating_add(state.oauth.state_ttl_ms),
        })
        .await?;
    let cookie = Cookie::build(COOKIE, browser)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(base.starts_with("https://"))
        .max_age(time::Duration::milliseconds(state.oauth.state_ttl_ms))
        .finish();
    Ok((started.authorize_url, cookie))
}

/// The provider's answer on the redirect URI.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What a callback achieved.
enum Outcome {
    SignedIn {
        token: String,
        user: user::Model,
        /// The page's value from the start, handed back beside the token.
        nonce: Option<String>,
    },
    Linked(oauth_link::Model),
}

/// `GET /api/auth/oauth/{provider}/callback?code=&state=` → 302 to `/#oauth_token=…` (signed in),
/// `/#oauth_linked=…` or `/#oauth_error=…`; JSON when the request accepts it.
#[tracing::instrument(skip_all, fields(provider = %path.as_str()))]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let query = web::Query::<Callback>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    match complete(&req, &state, &path, query).await {
        Ok(Outcome::SignedIn { token, user, .. }) if wants_json(&req) => {
            no_store(HttpResponse::Ok()).json(json!({"token": token, "user": user_out(&user)}))
        }
        Ok(Outcome::SignedIn { token, nonce, .. }) => {
            let mut to = format!("/#oauth_token={}", fragment_encode(&token));
            if let Some(n) = nonce {
                to.push_str(&format!("&oauth_nonce={}", fragment_encode(&n)));
            }
            found(to)
        }
        Ok(Outcome::Linked(link)) if wants_json(&req) => {
            no_store(HttpResponse::Ok()).json(json!({"linked": link_out(&link)}))
        }
        Ok(Outcome::Linked(link)) => found(format!(
            "/#oauth_linked={}",
            fragment_encode(&link.provider)
        )),
        Err(e) => {
            tracing::info!(error = %e, "oauth callback refused");
            fail(&req, e)
        }
    }
}

async fn complete(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    q: Callback,
) -> Result<Outcome, ChatError> {
    let provider = configured(state, name)?;
    let given_state = q
        .state
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or(OAuthError::Missing("state"))?;
    // Taken out first: whatever happens next, this state cannot be used again.
    let pending = state
        .store
        .take_oauth_state(&hash_token(&given_state))
        .await?
        .ok_or(OAuthError::BadState)?;
    if pending.provider != provider.kind.name() {
        return Err(OAuthError::BadState.into());
    }
    let browser = req.cookie(COOKIE).map(|c| hash_token(c.value()));
    if browser.as_deref() != Some(pending.browser_hash.as_str()) {
        return Err(OAuthError::OtherBrowser.into());
    }
    if let Some(error) = q.error {
        let mut reason = printable(&error, 64);
        if let Some(d) = q
            .error_description
            .as_deref()
            .map(|d| printable(d, 200))
            .filter(|d| !d.is_empty())
        {
            reason = format!("{reason} ({d})");
        }
        return Err(OAuthError::Denied {
            provider: provider.kind.name(),
            reason,
        }
        .into());
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(OAuthError::Missing("code"))?;
    let profile = provider
        .finish(
            &state.oauth.http,
            &code,
            &pending.redirect_uri,
            pending.pkce_verifier,
        )
        .await?;
    let info = link_info(provider, &profile);
    match pending.link_user_id {
        Some(user) => link_to(state, &UserId(user), info)
            .await
            .map(Outcome::Linked),
        None => {
            let nonce = crate::oauth::flow::page_of_state(&given_state).map(str::to_owned);
            sign_in(state, provider, &profile, info, nonce, req).await
        }
    }
}

/// Links the provider account to `user`, unless it belongs to someone else.
async fn link_to(
    state: &AppState,
    user: &UserId,
    info: LinkInfo,
) -> Result<oauth_link::Model, ChatError> {
    let provider = info.provider.clone();
    let account = state
        .store
        .user_by_id(user)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(ChatError::Unauthorized)?;
    if let Some(existing) = state
        .store
        .oauth_link(&info.provider, &info.subject)
        .await?
    {
        if existing.user_id != account.id {
            return Err(ChatError::Conflict(format!(
                "this {provider} account is already linked to another account"
            )));
        }
        state.store.refresh_oauth_link(info).await?;
        return Ok(existing);
    }
    match state.store.insert_oauth_link(user, info).await {
        Ok(link) => {
            tracing::info!(user = %user, provider, "provider account linked");
            Ok(link)
        }
        Err(StoreError::Conflict(_)) => Err(ChatError::Conflict(format!(
            "this {provider} account is linked to another account, or yours has a {provider} account linked already"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Signs into the account linked to the provider account, creating one the first time.
async fn sign_in(
    state: &AppState,
    provider: &Provider,
    profile: &Profile,
    info: LinkInfo,
    nonce: Option<String>,
    req: &HttpRequest,
) -> Result<Outcome, ChatError> {
    let existing = state
        .store
        .oauth_link(&info.provider, &info.subject)
        .await?;
    let user = match existing {
        Some(link) => {
            state.store.refresh_oauth_link(info).await?;
            linked_user(state, &link).await?
        }
        None => {
            let candidates = username_candidates(provider, profile);
            let display = display_name(provider, profile);
            match state
                .store
                .create_user_with_link(&candidates, &display, info)
                .await?
            {
                Created::User(u) => {
                    tracing::info!(user = %u.id, username = %u.username, provider = provider.kind.name(), "registered through provider");
                    u
                }
                Created::AlreadyLinked(link) => linked_user(state, &link).await?,
                Created::NoUsername => {
                    return Err(ChatError::Conflict(
                        "no free username could be found; try again".into(),
                    ))
                }
            }
        }
    };
    if user.banned_at.is_some() {
        return Err(ChatError::Forbidden("banned".into()));
    }
    let token = issue_token(state, &UserId(user.id.clone()), req).await?;
    Ok(Outcome::SignedIn { token, user, nonce })
}

async fn linked_user(state: &AppState, link: &oauth_link::Model) -> Result<user::Model, ChatError> {
    // Deleting an account removes its links, so a link always names a live account.
    state
        .store
        .user_by_id(&UserId(link.user_id.clone()))
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(ChatError::Internal)
}

/// `GET /api/auth/oauth/links` → {links: [{provider, name, username, avatar_url, linked_at}],
/// has_password}.
pub async fn links(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ChatError> {
    let links: Vec<LinkOut> = state
        .store
        .oauth_links_of(&auth.id())
        .await?
        .iter()
        .map(link_out)
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"links": links, "has_password": !auth.user.password_hash.is_empty()})))
}

/// `DELETE /api/auth/oauth/links/{provider}` → 204; 404 when not linked; 409 when it is the
/// account's last way to sign in.
#[tracing::instrument(skip_all, fields(provider = %path.as_str(), user = %auth.user.id))]
pub async fn unlink(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    match state.store.unlink_oauth(&auth.id(), &path).await? {
        Unlinked::Done => {
            tracing::info!("provider account unlinked");
            Ok(HttpResponse::NoContent().finish())
        }
        Unlinked::NotLinked => Err(ChatError::NotFound("linked account")),
        Unlinked::LastWayToSignIn => Err(ChatError::Conflict(
            "this is the only way to sign in to your account: set a password (POST /api/me/password) or link another account first"
                .into(),
        )),
    }
}

fn configured<'a>(state: &'a AppState, name: &str) -> Result<&'a Provider, ChatError> {
    state.oauth.get(name).ok_or_else(|| {
        let shown: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(32)
            .collect();
        OAuthError::NotConfigured(if shown.is_empty() {
            "that provider".into()
        } else {
            shown
        })
        .into()
    })
}

fn link_info(provider: &Provider, p: &Profile) -> LinkInfo {
    let cut =
        |s: &Option<String>, n: usize| s.as_ref().map(|s| s.chars().take(n).collect::<String>());
    LinkInfo {
        provider: provider.kind.name().to_owned(),
        subject: p.subject.clone(),
        name: cut(&p.name, 200),
        username: cut(&p.username, 100),
        avatar_url: cut(&p.avatar_url, 2000),
    }
}

fn display_name(provider: &Provider, p: &Profile) -> String {
    let name = p
        .name
        .as_deref()
        .or(p.username.as_deref())
        .map(|n| printable(n, 100))
        .unwrap_or_default();
    if name.is_empty() {
        format!("{} user", provider.kind.name())
    } else {
        name
    }
}

/// Usernames to try for a new account, best first: the provider's handle or the name made to
/// fit (`Ann Lee` → `ann.lee`), then with random digits appended. The owner can change it later
/// (`PATCH /api/me` {username}).
fn username_candidates(provider: &Provider, p: &Profile) -> Vec<String> {
    let source = p
        .username
        .as_deref()
        .or(p.name.as_deref())
        .unwrap_or_default();
    let mut base = String::new();
    for c in source.trim().to_lowercase().chars() {
        let c = if c.is_whitespace() { '.' } else { c };
        if c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c) {
            if "_.-".contains(c) && (base.is_empty() || base.ends_with(['_', '.', '-'])) {
                continue;
            }
            base.push(c);
        }
    }
    let mut base: String = base
        .chars()
        .take(24)
        .collect::<String>()
        .trim_end_matches(['.', '-'])
        .to_owned();
    if base.chars().count() < 3 {
        base = format!("{}-user", provider.kind.name());
    }
    let mut out = vec![base.clone()];
    let mut rng = rand::thread_rng();
    for digits in [4u32, 4, 4, 6, 6, 8] {
        let n = rng.next_u64() % 10u64.pow(digits);
        out.push(format!("{base}{n:0width$}", width = digits as usize));
    }
    out.into_iter()
        .filter_map(|u| crate::validate::username(&u).ok())
        .collect()
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

/// At most `max` characters of `s`, without control characters.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::OAuthSettings;
    use crate::oauth::{ProviderKind, Providers};

    fn facebook() -> Provider {
        let mut s = OAuthSettings::default();
        s.facebook.client_id = "id".into();
        s.facebook.client_secret = crate::config::Secret::new("secret");
        Providers::from_settings(&s)
            .unwrap()
            .get(ProviderKind::Facebook.name())
            .unwrap()
            .clone()
    }

    fn profile(name: Option<&str>, username: Option<&str>) -> Profile {
        Profile {
            subject: "1".into(),
            name: name.map(Into::into),
            username: username.map(Into::into),
            avatar_url: None,
        }
    }

    #[test]
    fn usernames_come_from_the_handle_or_the_name() {
        let fb = facebook();
        let first = |p: Profile| username_candidates(&fb, &p)[0].clone();
        assert_eq!(first(profile(Some("Ann Lee"), None)), "ann.lee");
        assert_eq!(first(profile(Some("Ann Lee"), Some("AnnL_"))), "annl_");
        assert_eq!(first(profile(Some("  Jean -- Luc  "), None)), "jean.luc");
        assert_eq!(first(profile(Some("李小龙"), None)), "facebook-user");
        assert_eq!(first(profile(None, None)), "facebook-user");
        let long = first(profile(
            Some("A very very long name that goes on and on"),
            None,
        ));
        assert!(
            long.len() <= 24 && long.starts_with("a.very.very"),
            "{long}"
        );
        let all = username_candidates(&fb, &profile(Some("Ann Lee"), None));
        assert!(
            all.len() >= 5
                && all[1..]
                    .iter()
                    .all(|u| u.starts_with("ann.lee") && u.len() > 7)
        );
    }

    #[test]
    fn fragments_are_percent_encoded() {
        assert_eq!(fragment_encode("a b+c/é"), "a%20b%2Bc%2F%C3%A9");
    }
}
