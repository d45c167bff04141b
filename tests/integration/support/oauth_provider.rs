//! A stand-in OAuth 2.0 provider on loopback, playing Facebook (authorization code, client
//! credentials in the form) or Twitter/X (authorization code with PKCE S256, client credentials
//! in HTTP Basic), checking what the real one checks:
//! - authorize: the client id, `response_type=code`, the redirect URI against the registered one,
//!   a state, the scopes, and (Twitter) an S256 code challenge; then, as if the person approved
//!   (or denied), redirects back with `code` and `state` (or `error`);
//! - token: the client's credentials, the grant type, that the code exists and was never used
//!   before, that it was issued to this client for this exact redirect URI, and (Twitter) that
//!   the code verifier hashes to the challenge;
//! - user info (`/me?fields=id,name,picture` or `/2/users/me`): the bearer access token.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chat_server::config::{OAuthProviderSettings, Secret, Settings};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Which real provider the stand-in plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Facebook,
    Twitter,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Facebook => "facebook",
            Kind::Twitter => "twitter",
        }
    }
}

/// A person's account at the provider.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// The handle (Twitter/X only).
    pub username: Option<String>,
    pub picture: String,
}

impl Account {
    pub fn new(id: &str, name: &str, username: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            username: username.map(str::to_owned),
            picture: format!("https://pics.example/{id}.jpg"),
        }
    }
}

/// A code handed out at the authorize endpoint.
#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    account: Account,
    used: bool,
}

#[derive(Default)]
struct Inner {
    /// Who is signed in at the provider in "the browser" and approves the app.
    account: Option<Account>,
    /// Answer the next authorization with `error=access_denied`.
    deny_next: bool,
    /// The redirect URI registered for the app (set once the chat server's port is known).
    redirect_uri: Option<String>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, Account>,
    /// Requests the stand-in refused, and why.
    refusals: Vec<String>,
}

#[derive(Clone)]
struct State {
    kind: Kind,
    client_id: String,
    client_secret: String,
    inner: Arc<Mutex<Inner>>,
}

/// The stand-in provider.
pub struct OAuthProvider {
    pub base: String,
    pub kind: Kind,
    pub client_id: String,
    pub client_secret: String,
    state: State,
}

impl OAuthProvider {
    pub fn start(kind: Kind) -> Self {
        let client_id = format!(
            "{}-client-{}",
            kind.name(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let client_secret = uuid::Uuid::new_v4().simple().to_string();
        let state = State {
            kind,
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route(
                    if kind == Kind::Facebook {
                        "/me"
                    } else {
                        "/2/users/me"
                    },
                    web::get().to(userinfo),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self {
            base: format!("http://127.0.0.1:{port}"),
            kind,
            client_id,
            client_secret,
            state,
        }
    }

    /// The chat server's settings for this provider, pointing at the stand-in.
    pub fn settings(&self) -> OAuthProviderSettings {
        let userinfo = match self.kind {
            Kind::Facebook => format!("{}/me?fields=id,name,picture", self.base),
            Kind::Twitter => format!("{}/2/users/me?user.fields=profile_image_url", self.base),
        };
        OAuthProviderSettings {
            client_id: self.client_id.clone(),
            client_secret: Secret::new(self.client_secret.clone()),
            client_secret_file: String::new(),
            scopes: vec![],
            authorize_url: format!("{}/authorize", self.base),
            token_url: format!("{}/token", self.base),
            userinfo_url: userinfo,
        }
    }

    /// Puts this provider into `s`.
    pub fn configure(&self, s: &mut Settings) {
        match self.kind {
            Kind::Facebook => s.oauth.facebook = self.settings(),
            Kind::Twitter => s.oauth.twitter = self.settings(),
        }
    }

    /// Registers the app's redirect URI, as done in the provider's developer console.
    pub fn register(&self, app_http: &str) {
        self.state.inner.lock().unwrap().redirect_uri = Some(format!(
            "{app_http}/api/auth/oauth/{}/callback",
            self.kind.name()
        ));
    }

    /// The person signed in at the provider, who approves the next authorizations.
    pub fn sign_in_as(&self, account: &Account) {
        self.state.inner.lock().unwrap().account = Some(account.clone());
    }

    /// The next authorization is denied by the person.
    pub fn deny_next(&self) {
        self.state.inner.lock().unwrap().deny_next = true;
    }

    /// Why the stand-in refused requests so far.
    pub fn refusals(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().refusals.clone()
    }
}

fn refuse(state: &State, status: u16, body: Value) -> HttpResponse {
    state.inner.lock().unwrap().refusals.push(body.to_string());
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

fn oauth_error(state: &State, status: u16, error: &str, why: &str) -> HttpResponse {
    refuse(
        state,
        status,
        json!({"error": error, "error_description": why}),
    )
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn authorize(
    q: web::Query<HashMap<String, String>>,
    state: web::Data<State>,
) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    // Before the client and redirect URI are known good, errors are shown, never redirected.
    if get("client_id") != state.client_id {
        return refuse(&state, 400, json!({"page": "unknown client_id"}));
    }
    let registered = state.inner.lock().unwrap().redirect_uri.clone();
    if registered.as_deref() != Some(get("redirect_uri").as_str()) {
        return refuse(
            &state,
            400,
            json!({"page": format!("redirect_uri {} is not registered", get("redirect_uri"))}),
        );
    }
    let back = |params: &[(&str, &str)]| {
        let mut url = oauth2::url::Url::parse(&get("redirect_uri")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .finish()
    };
    let st = get("state");
    if get("response_type") != "code" || st.is_empty() {
        return back(&[("error", "invalid_request"), ("state", &st)]);
    }
    let scopes: Vec<String> = get("scope").split([' ', ',']).map(str::to_owned).collect();
    let needed: &[&str] = match state.kind {
        Kind::Facebook => &["public_profile"],
        Kind::Twitter => &["users.read", "tweet.read"],
    };
    if !needed.iter().all(|n| scopes.iter().any(|s| s == n)) {
        return back(&[("error", "invalid_scope"), ("state", &st)]);
    }
    let challenge = match state.kind {
        Kind::Twitter => {
            if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
                state
                    .inner
                    .lock()
                    .unwrap()
                    .refusals
                    .push("no S256 code challenge".into());
                return back(&[
                    ("error", "invalid_request"),
                    ("error_description", "PKCE S256 required"),
                    ("state", &st),
                ]);
            }
            Some(get("code_challenge"))
        }
        Kind::Facebook => None,
    };
    let mut inner = state.inner.lock().unwrap();
    if std::mem::take(&mut inner.deny_next) {
        drop(inner);
        return back(&[
            ("error", "access_denied"),
            ("error_description", "The user denied the request"),
            ("state", &st),
        ]);
    }
    let account = inner
        .account
        .clone()
        .expect("the test says who signs in at the provider");
    let code = random();
    inner.grants.insert(
        code.clone(),
        Grant {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            challenge,
            account,
            used: false,
        },
    );
    drop(inner);
    back(&[("code", &code), ("state", &st)])
}

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<State>,
) -> HttpResponse {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    // Client authentication the way each provider wants it.
    let (id, secret) = match state.kind {
        Kind::Facebook => (get("client_id"), get("client_secret")),
        Kind::Twitter => {
            let basic = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (id, secret) = basic.split_once(':').unwrap_or_default();
            (id.to_owned(), secret.to_owned())
        }
    };
    if id != state.client_id || secret != state.client_secret {
        return oauth_error(
            &state,
            401,
            "invalid_client",
            "client authentication failed",
        );
    }
    if get("grant_type") != "authorization_code" {
        return oauth_error(&state, 400, "unsupported_grant_type", "grant_type");
    }
    let mut inner = state.inner.lock().unwrap();
    let Some(grant) = inner.grants.get_mut(&get("code")) else {
        drop(inner);
        return oauth_error(&state, 400, "invalid_grant", "unknown code");
    };
    if grant.used {
        drop(inner);
        return oauth_error(&state, 400, "invalid_grant", "code already used");
    }
    grant.used = true;
    let grant = grant.clone();
    drop(inner);
    if grant.client_id != id {
        return oauth_error(
            &state,
            400,
            "invalid_grant",
            "code issued to another client",
        );
    }
    if grant.redirect_uri != get("redirect_uri") {
        return oauth_error(
            &state,
            400,
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        );
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = get("code_verifier");
        let hashed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if verifier.len() < 43 || &hashed != challenge {
            return oauth_error(
                &state,
                400,
                "invalid_grant",
                "code_verifier does not match the challenge",
            );
        }
    }
    let access_token = random();
    state
        .inner
        .lock()
        .unwrap()
        .tokens
        .insert(access_token.clone(), grant.account);
    HttpResponse::Ok()
        .json(json!({"access_token": access_token, "token_type": "bearer", "expires_in": 5183944}))
}

async fn userinfo(
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
    state: web::Data<State>,
) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let Some(account) = state.inner.lock().unwrap().tokens.get(&token).cloned() else {
        return refuse(
            &state,
            401,
            json!({"error": {"message": "Invalid OAuth access token", "code": 190}}),
        );
    };
    match state.kind {
        Kind::Facebook => {
            let fields = q.get("fields").cloned().unwrap_or_default();
            let fields: Vec<&str> = fields.split(',').collect();
            if !["id", "name", "picture"].iter().all(|f| fields.contains(f)) {
                return refuse(
                    &state,
                    400,
                    json!({"error": {"message": format!("fields {fields:?}"), "code": 100}}),
                );
            }
            HttpResponse::Ok().json(json!({
                "id": account.id, "name": account.name,
                "picture": {"data": {"height": 50, "is_silhouette": false, "url": account.picture, "width": 50}},
            }))
        }
        Kind::Twitter => {
            if q.get("user.fields").map(String::as_str) != Some("profile_image_url") {
                return refuse(&state, 400, json!({"errors": [{"message": "user.fields"}]}));
            }
            HttpResponse::Ok().json(json!({"data": {
                "id": account.id, "name": account.name, "username": account.username, "profile_image_url": account.picture,
            }}))
        }
    }
}
