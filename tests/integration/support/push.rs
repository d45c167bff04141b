//! Stand-ins for the push services, run in the test process on loopback, each checking what the
//! real service checks:
//! - [`WebPushService`]: verifies the VAPID token (ES256 signature against the server's public
//!   key, audience, expiry, subject), requires TTL and Urgency, and decrypts the aes128gcm payload
//!   (RFC 8291) with the subscription's private key;
//! - [`FcmService`]: an OAuth2 token endpoint that verifies the JWT-bearer assertion (RS256 with
//!   the service account's public key, claims, grant type), and the FCM v1 send endpoint that
//!   checks the bearer token and the message JSON;
//! - [`SmsGateway`]: a form POST endpoint checking basic auth and the form fields.
//!
//! Each records what it received on a channel; tests await it with a timeout. Replies can be
//! scripted (410, 429 with Retry-After, 503, UNREGISTERED) per device.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

/// How long to wait for a request that must come.
pub const WAIT: Duration = Duration::from_secs(10);

/// A scripted answer: status and headers (and a JSON body).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: Value::Null,
        }
    }

    pub fn retry_after(status: u16, secs: u64) -> Self {
        Self {
            status,
            headers: vec![("Retry-After".into(), secs.to_string())],
            body: Value::Null,
        }
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![],
            body,
        }
    }

    fn respond(&self) -> HttpResponse {
        let mut r =
            HttpResponse::build(actix_web::http::StatusCode::from_u16(self.status).unwrap());
        for (k, v) in &self.headers {
            r.insert_header((k.as_str(), v.as_str()));
        }
        if self.body.is_null() {
            r.finish()
        } else {
            r.json(&self.body)
        }
    }
}

/// Scripted replies per key (device, token); when a key's queue is empty, the default.
#[derive(Clone, Default)]
struct Script(Arc<Mutex<HashMap<String, VecDeque<Reply>>>>);

impl Script {
    fn push(&self, key: &str, replies: impl IntoIterator<Item = Reply>) {
        self.0
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .extend(replies);
    }

    fn next(&self, key: &str, default: Reply) -> Reply {
        self.0
            .lock()
            .unwrap()
            .get_mut(key)
            .and_then(|q| q.pop_front())
            .unwrap_or(default)
    }
}

/// Starts an actix-web server on a free loopback port; returns its base URL.
fn serve<F>(routes: F) -> String
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

/// Awaits the next event, failing the test after [`WAIT`].
async fn next_event<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
        .unwrap()
}

/// Asserts no event arrives within `within` (kept ≤ 1 s by the tests).
async fn no_event<T: std::fmt::Debug>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    within: Duration,
    what: &str,
) {
    if let Ok(Some(e)) = tokio::time::timeout(within, rx.recv()).await {
        panic!("unexpected {what}: {e:?}");
    }
}

fn b64url(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap_or_default()
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// Web Push

/// A browser's push subscription: its key pair and auth secret stay in the test.
pub struct Device {
    pub name: String,
    pub endpoint: String,
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Device {
    /// The JSON a browser would POST to `/api/push/subscriptions`.
    pub fn subscription(&self) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({
            "kind": "webpush",
            "endpoint": self.endpoint,
            "keys": {"p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()), "auth": URL_SAFE_NO_PAD.encode(self.auth)},
            "device": self.name,
        })
    }
}

/// A push the stand-in accepted or refused (after checking it): who it was for, what it said.
#[derive(Debug, Clone)]
pub struct WebPush {
    pub device: String,
    /// The decrypted payload.
    pub payload: Value,
    pub ttl: String,
    pub urgency: String,
    pub topic: Option<String>,
    /// The status the stand-in answered.
    pub answered: u16,
    pub at: Instant,
}

/// A device's private key and auth secret.
type DeviceKeys = (p256::SecretKey, [u8; 16]);

#[derive(Clone)]
struct WebPushState {
    keys: Arc<Mutex<HashMap<String, DeviceKeys>>>,
    vapid_key: Arc<Mutex<Option<Vec<u8>>>>,
    script: Script,
    tx: mpsc::UnboundedSender<Result<WebPush, String>>,
}

/// A Web Push service (the part a push server plays toward an application server).
pub struct WebPushService {
    pub base: String,
    state: WebPushState,
    rx: mpsc::UnboundedReceiver<Result<WebPush, String>>,
}

impl WebPushService {
    pub fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = WebPushState {
            keys: Default::default(),
            vapid_key: Default::default(),
            script: Script::default(),
            tx,
        };
        let data = web::Data::new(state.clone());
        let base = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/push/{device}", web::post().to(webpush_receive));
        });
        Self { base, state, rx }
    }

    /// The application server's VAPID public key (from `GET /api/push/vapid`), the only one
    /// accepted.
    pub fn trust(&self, public_key_b64: &str) {
        *self.state.vapid_key.lock().unwrap() = Some(b64url(public_key_b64));
    }

    /// A new subscription on this service.
    pub fn device(&self, name: &str) -> Device {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
        self.state
            .keys
            .lock()
            .unwrap()
            .insert(name.to_owned(), (secret.clone(), auth));
        Device {
            name: name.to_owned(),
            endpoint: format!("{}/push/{name}", self.base),
            secret,
            auth,
        }
    }

    /// Answers the next pushes to `device` with `replies` (then 201 again).
    pub fn script(&self, device: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.push(device, replies);
    }

    /// The next push, which must have passed every check.
    pub async fn next(&mut self) -> WebPush {
        match next_event(&mut self.rx, "web push").await {
            Ok(p) => p,
            Err(why) => panic!("the push service refused a push: {why}"),
        }
    }

    /// Asserts no push arrives within `within`.
    pub async fn none_within(&mut self, within: Duration) {
        no_event(&mut self.rx, within, "web push").await;
    }
}

async fn webpush_receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<WebPushState>,
) -> HttpResponse {
    let device = req
        .match_info()
        .get("device")
        .unwrap_or_default()
        .to_owned();
    match check_webpush(&req, &body, &state, &device) {
        Ok((payload, ttl, urgency, topic)) => {
            let reply = state.script.next(&device, Reply::status(201));
            let push = WebPush {
                device,
                payload,
                ttl,
                urgency,
                topic,
                answered: reply.status,
                at: Instant::now(),
            };
            let _ = state.tx.send(Ok(push));
            reply.respond()
        }
        Err((status, why)) => {
            let _ = state.tx.send(Err(why.clone()));
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(why)
        }
    }
}

type Checked = (Value, String, String, Option<String>);

/// What a push service does with a request: authenticate (VAPID), check headers, and (what the
/// browser does later) decrypt.
fn check_webpush(
    req: &HttpRequest,
    body: &[u8],
    state: &WebPushState,
    device: &str,
) -> Result<Checked, (u16, String)> {
    let auth = header(req, "authorization").ok_or((401, "no Authorization".to_owned()))?;
    let rest = auth
        .strip_prefix("vapid ")
        .ok_or((401, format!("not a vapid Authorization: {auth}")))?;
    let mut jwt = None;
    let mut k = None;
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or((401, "bad vapid parameters".to_owned()))?;
        match name {
            "t" => jwt = Some(value.to_owned()),
            "k" => k = Some(b64url(value)),
            _ => {}
        }
    }
    let (jwt, k) = (
        jwt.ok_or((401, "no t=".to_owned()))?,
        k.ok_or((401, "no k=".to_owned()))?,
    );
    let trusted = state
        .vapid_key
        .lock()
        .unwrap()
        .clone()
        .ok_or((401, "no VAPID key trusted yet".to_owned()))?;
    if k != trusted {
        return Err((401, "k= is not the application server's key".into()));
    }
    let claims = verify_es256(&jwt, &trusted).map_err(|e| (401, e))?;
    let origin = format!("http://{}", req.connection_info().host());
    if claims["aud"] != origin.as_str() {
        return Err((401, format!("aud {} is not {origin}", claims["aud"])));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= now_secs() || exp > now_secs() + 24 * 3600 {
        return Err((401, format!("exp {exp} not within the next 24 hours")));
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    if !(sub.starts_with("mailto:") || sub.starts_with("https:")) {
        return Err((401, format!("sub {sub:?} is not a contact")));
    }
    let ttl = header(req, "ttl")
        .filter(|t| t.parse::<u32>().is_ok())
        .ok_or((400, "missing or bad TTL".to_owned()))?;
    let urgency = header(req, "urgency").ok_or((400, "no Urgency".to_owned()))?;
    if !["very-low", "low", "normal", "high"].contains(&urgency.as_str()) {
        return Err((400, format!("bad Urgency {urgency}")));
    }
    if header(req, "content-encoding").as_deref() != Some("aes128gcm") {
        return Err((400, "Content-Encoding is not aes128gcm".into()));
    }
    let (secret, auth_secret) = state
        .keys
        .lock()
        .unwrap()
        .get(device)
        .cloned()
        .ok_or((404, format!("no device {device}")))?;
    let plain = decrypt_aes128gcm(&secret, &auth_secret, body).map_err(|e| (400, e))?;
    let payload: Value =
        serde_json::from_slice(&plain).map_err(|e| (400, format!("payload is not JSON: {e}")))?;
    Ok((payload, ttl, urgency, header(req, "topic")))
}

/// Verifies a compact JWS signed with ES256 by `public_key` (SEC1 bytes); returns the claims.
fn verify_es256(jwt: &str, public_key: &[u8]) -> Result<Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("JWT must have three parts".into());
    };
    let header: Value = serde_json::from_slice(&b64url(h)).map_err(|_| "JWT header is not JSON")?;
    if header["alg"] != "ES256" {
        return Err(format!("alg {} is not ES256", header["alg"]));
    }
    let key =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| "bad public key")?;
    let sig = p256::ecdsa::Signature::from_slice(&b64url(s))
        .map_err(|_| "signature is not 64 bytes r||s")?;
    key.verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "VAPID signature does not verify")?;
    serde_json::from_slice(&b64url(c)).map_err(|_| "JWT claims are not JSON".into())
}

/// RFC 8291 (Message Encryption for Web Push) on top of RFC 8188 (aes128gcm), one record.
fn decrypt_aes128gcm(
    ua: &p256::SecretKey,
    auth: &[u8; 16],
    body: &[u8],
) -> Result<Vec<u8>, String> {
    if body.len() < 21 {
        return Err("body shorter than the aes128gcm header".into());
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let idlen = body[20] as usize;
    let as_public = body.get(21..21 + idlen).ok_or("truncated key id")?;
    let ciphertext = &body[21 + idlen..];
    if ciphertext.len() > rs {
        return Err("more than one record".into());
    }
    let as_key = p256::PublicKey::from_sec1_bytes(as_public)
        .map_err(|_| "keyid is not the sender's P-256 key")?;
    let shared = p256::ecdh::diffie_hellman(ua.to_nonzero_scalar(), as_key.as_affine());
    let ua_public = ua.public_key().to_encoded_point(false);
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public.as_bytes());
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;
    let mut plain = cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext)
        .map_err(|_| "AEAD decryption failed")?;
    while plain.last() == Some(&0) {
        plain.pop();
    }
    if plain.pop() != Some(2) {
        return Err("no last-record delimiter".into());
    }
    Ok(plain)
}

// ---------------------------------------------------------------------------------------------
// FCM

/// What the FCM stand-in saw.
#[derive(Debug, Clone)]
pub enum FcmEvent {
    /// The token endpoint issued an access token for a valid assertion.
    Token { access_token: String },
    /// A message was sent (and answered with `answered`).
    Send {
        token: String,
        message: Value,
        answered: u16,
        at: Instant,
    },
}

#[derive(Clone)]
struct FcmState {
    key: Arc<openssl::pkey::PKey<openssl::pkey::Public>>,
    project: String,
    client_email: String,
    key_id: String,
    token_uri: Arc<Mutex<String>>,
    issued: Arc<Mutex<Vec<String>>>,
    script: Script,
    tx: mpsc::UnboundedSender<Result<FcmEvent, String>>,
}

/// Google's OAuth2 token endpoint and the FCM HTTP v1 API.
pub struct FcmService {
    pub base: String,
    /// The service account JSON key file, as the Firebase console hands it out.
    pub key_file: std::path::PathBuf,
    state: FcmState,
    rx: mpsc::UnboundedReceiver<Result<FcmEvent, String>>,
    _dir: tempfile::TempDir,
}

impl FcmService {
    pub fn start() -> Self {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let private = openssl::pkey::PKey::from_rsa(rsa).unwrap();
        let public =
            openssl::pkey::PKey::public_key_from_pem(&private.public_key_to_pem().unwrap())
                .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = FcmState {
            key: Arc::new(public),
            project: "chat-test-project".into(),
            client_email: "push@chat-test-project.iam.gserviceaccount.com".into(),
            key_id: "key-1".into(),
            token_uri: Default::default(),
            issued: Default::default(),
            script: Script::default(),
            tx,
        };
        let data = web::Data::new(state.clone());
        let base = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/token", web::post().to(oauth_token))
                .route(
                    "/v1/projects/{project}/messages:send",
                    web::post().to(fcm_send),
                );
        });
        let token_uri = format!("{base}/token");
        *state.token_uri.lock().unwrap() = token_uri.clone();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("service-account.json");
        let pem = String::from_utf8(private.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let account = json!({
            "type": "service_account",
            "project_id": state.project,
            "private_key_id": state.key_id,
            "private_key": pem,
            "client_email": state.client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        });
        std::fs::write(&key_file, account.to_string()).unwrap();
        Self {
            base,
            key_file,
            state,
            rx,
            _dir: dir,
        }
    }

    /// Answers the next sends to `token` with `replies` (then 200 again).
    pub fn script(&self, token: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.push(token, replies);
    }

    pub async fn next(&mut self) -> FcmEvent {
        match next_event(&mut self.rx, "FCM request").await {
            Ok(e) => e,
            Err(why) => panic!("the FCM stand-in refused a request: {why}"),
        }
    }

    /// The next message sent (token requests before it are checked and skipped); also returns
    /// how many access tokens were issued on the way.
    pub async fn next_send(&mut self) -> (String, Value, u16, Instant, usize) {
        let mut tokens = 0;
        loop {
            match self.next().await {
                FcmEvent::Token { .. } => tokens += 1,
                FcmEvent::Send {
                    token,
                    message,
                    answered,
                    at,
                } => return (token, message, answered, at, tokens),
            }
        }
    }

    pub async fn none_within(&mut self, within: Duration) {
        no_event(&mut self.rx, within, "FCM request").await;
    }
}

async fn oauth_token(
    form: web::Form<HashMap<String, String>>,
    state: web::Data<FcmState>,
) -> HttpResponse {
    match check_assertion(&form, &state) {
        Ok(()) => {
            let access_token = format!("ya29.test-{}", uuid::Uuid::new_v4().simple());
            state.issued.lock().unwrap().push(access_token.clone());
            let _ = state.tx.send(Ok(FcmEvent::Token {
                access_token: access_token.clone(),
            }));
            HttpResponse::Ok().json(
                json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}),
            )
        }
        Err(why) => {
            let _ = state.tx.send(Err(why.clone()));
            HttpResponse::BadRequest()
                .json(json!({"error": "invalid_grant", "error_description": why}))
        }
    }
}

/// What Google's token endpoint checks of a JWT-bearer grant (RFC 7523).
fn check_assertion(form: &HashMap<String, String>, state: &FcmState) -> Result<(), String> {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Err(format!("grant_type {:?}", form.get("grant_type")));
    }
    let jwt = form.get("assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("assertion must have three parts".into());
    };
    let header: Value = serde_json::from_slice(&b64url(h)).map_err(|_| "header is not JSON")?;
    if header["alg"] != "RS256" || header["kid"] != state.key_id.as_str() {
        return Err(format!("header {header}"));
    }
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &state.key).unwrap();
    verifier.update(format!("{h}.{c}").as_bytes()).unwrap();
    if !verifier.verify(&b64url(s)).unwrap_or(false) {
        return Err("assertion signature does not verify with the service account key".into());
    }
    let claims: Value = serde_json::from_slice(&b64url(c)).map_err(|_| "claims are not JSON")?;
    let token_uri = state.token_uri.lock().unwrap().clone();
    if claims["iss"] != state.client_email.as_str() || claims["aud"] != token_uri.as_str() {
        return Err(format!("iss/aud wrong: {claims}"));
    }
    if claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
        return Err(format!("scope {}", claims["scope"]));
    }
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if (iat - now_secs()).abs() > 300 || exp <= iat || exp - iat > 3600 {
        return Err(format!("iat {iat} / exp {exp} not acceptable"));
    }
    Ok(())
}

async fn fcm_send(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<FcmState>,
) -> HttpResponse {
    match check_send(&req, &body, &state) {
        Ok(token) => {
            let reply = state.script.next(
                &token,
                Reply::json(
                    200,
                    json!({"name": format!("projects/{}/messages/1", state.project)}),
                ),
            );
            let _ = state.tx.send(Ok(FcmEvent::Send {
                token,
                message: body.into_inner(),
                answered: reply.status,
                at: Instant::now(),
            }));
            reply.respond()
        }
        Err((status, why)) => {
            let _ = state.tx.send(Err(why.clone()));
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
                json!({"error": {"code": status, "message": why, "status": "INVALID_ARGUMENT"}}),
            )
        }
    }
}

/// What the FCM v1 API checks: a valid bearer token for the project, and a well-formed message
/// (a token target, notification strings, data values all strings).
fn check_send(req: &HttpRequest, body: &Value, state: &FcmState) -> Result<String, (u16, String)> {
    if req.match_info().get("project") != Some(state.project.as_str()) {
        return Err((404, "unknown project".into()));
    }
    let bearer = header(req, "authorization")
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .ok_or((401, "no bearer token".to_owned()))?;
    if !state.issued.lock().unwrap().contains(&bearer) {
        return Err((401, "unknown access token".into()));
    }
    let m = &body["message"];
    let token = m["token"]
        .as_str()
        .ok_or((400, "message.token missing".to_owned()))?
        .to_owned();
    if !m["notification"]["title"].is_string() || !m["notification"]["body"].is_string() {
        return Err((
            400,
            "message.notification needs title and body strings".into(),
        ));
    }
    let data = m["data"]
        .as_object()
        .ok_or((400, "message.data missing".to_owned()))?;
    if !data.values().all(Value::is_string) {
        return Err((400, "message.data values must be strings".into()));
    }
    Ok(token)
}

/// FCM's answer for a token that is no longer registered.
pub fn unregistered() -> Reply {
    Reply::json(
        404,
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
    )
}

// ---------------------------------------------------------------------------------------------
// SMS

/// A text the gateway accepted.
#[derive(Debug, Clone)]
pub struct Sms {
    pub fields: HashMap<String, String>,
}

#[derive(Clone)]
struct SmsState {
    user: String,
    password: String,
    tx: mpsc::UnboundedSender<Result<Sms, String>>,
}

/// An SMS gateway with basic auth and a form POST.
pub struct SmsGateway {
    pub url: String,
    pub user: String,
    pub password: String,
    rx: mpsc::UnboundedReceiver<Result<Sms, String>>,
}

impl SmsGateway {
    pub fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = SmsState {
            user: "chat".into(),
            password: "gateway-secret".into(),
            tx,
        };
        let data = web::Data::new(state.clone());
        let base = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/send", web::post().to(sms_send));
        });
        Self {
            url: format!("{base}/send"),
            user: state.user,
            password: state.password,
            rx,
        }
    }

    pub async fn next(&mut self) -> Sms {
        match next_event(&mut self.rx, "SMS").await {
            Ok(s) => s,
            Err(why) => panic!("the SMS gateway refused a request: {why}"),
        }
    }

    pub async fn none_within(&mut self, within: Duration) {
        no_event(&mut self.rx, within, "SMS").await;
    }
}

async fn sms_send(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<SmsState>,
) -> HttpResponse {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", state.user, state.password))
    );
    if header(&req, "authorization").as_deref() != Some(expected.as_str()) {
        let _ = state.tx.send(Err("bad basic auth".into()));
        return HttpResponse::Unauthorized().finish();
    }
    let fields = form.into_inner();
    if !fields.get("to").is_some_and(|t| t.starts_with('+'))
        || fields.get("text").is_none_or(|t| t.is_empty())
    {
        let _ = state.tx.send(Err(format!("bad form {fields:?}")));
        return HttpResponse::BadRequest().finish();
    }
    let _ = state.tx.send(Ok(Sms { fields }));
    HttpResponse::Ok().json(json!({"status": "queued"}))
}

// ---------------------------------------------------------------------------------------------
// Mail

/// A mail the gateway accepted.
#[derive(Debug, Clone)]
pub struct MailSent {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Clone)]
struct MailState {
    token: String,
    tx: mpsc::UnboundedSender<Result<MailSent, String>>,
}

/// A mail gateway taking a JSON POST with a bearer token, as transactional mail APIs do.
pub struct MailGateway {
    pub url: String,
    pub token: String,
    rx: mpsc::UnboundedReceiver<Result<MailSent, String>>,
}

impl MailGateway {
    pub fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = MailState {
            token: "mail-secret".into(),
            tx,
        };
        let data = web::Data::new(state.clone());
        let base = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/mail", web::post().to(mail_send));
        });
        Self {
            url: format!("{base}/mail"),
            token: state.token,
            rx,
        }
    }

    pub async fn next(&mut self) -> MailSent {
        match next_event(&mut self.rx, "mail").await {
            Ok(m) => m,
            Err(why) => panic!("the mail gateway refused a request: {why}"),
        }
    }

    pub async fn none_within(&mut self, within: Duration) {
        no_event(&mut self.rx, within, "mail").await;
    }
}

async fn mail_send(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<MailState>,
) -> HttpResponse {
    if header(&req, "authorization").as_deref() != Some(format!("Bearer {}", state.token).as_str())
    {
        let _ = state.tx.send(Err("bad bearer token".into()));
        return HttpResponse::Unauthorized().finish();
    }
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let mail = MailSent {
        from: field("from"),
        to: field("to"),
        subject: field("subject"),
        text: field("text"),
    };
    if !mail.to.contains('@')
        || !mail.from.contains('@')
        || mail.subject.is_empty()
        || mail.text.is_empty()
    {
        let _ = state.tx.send(Err(format!("bad mail {body:?}")));
        return HttpResponse::BadRequest().finish();
    }
    let _ = state.tx.send(Ok(mail));
    HttpResponse::Accepted().json(json!({"id": "m-1"}))
}

// ---------------------------------------------------------------------------------------------
// Verification through the API, as a person does it: ask for a code, read it, enter it.

/// The code in a text or mail (its digits).
pub fn code_in(text: &str) -> String {
    text.rsplit(' ')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// Verifies `user`'s phone (`body`: `{}` or `{"phone": ...}`) with the code `sms` receives.
pub async fn verify_phone(user: &super::app::TestUser, sms: &mut SmsGateway, body: Value) {
    let r = user.post("/api/me/phone/verify", body).await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let text = sms.next().await.fields["text"].clone();
    let r = user
        .post("/api/me/phone/confirm", json!({"code": code_in(&text)}))
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

/// Verifies `user`'s e-mail address with the code `mail` receives.
pub async fn verify_email(user: &super::app::TestUser, mail: &mut MailGateway) {
    let r = user.post("/api/me/email/verify", json!({})).await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let text = mail.next().await.text;
    let r = user
        .post("/api/me/email/confirm", json!({"code": code_in(&text)}))
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}
