//! Firebase Cloud Messaging, HTTP v1 API. A service account key signs a JWT (RS256) that the
//! key's `token_uri` exchanges for an OAuth2 access token (grant type JWT bearer, RFC 7523); the
//! token is cached until shortly before it expires. Messages go to
//! `{base_url}/v1/projects/{project_id}/messages:send`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{outcome_of_error, outcome_of_status, retry_after, Notification, Outcome, PushError};
use crate::settings::Secret;
use chat_protocol::ids::now_ms;

/// The scope FCM sends need.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// A cached token is renewed this long before it expires.
const EARLY: Duration = Duration::from_secs(60);

/// The fields of a service account JSON key that are used. `Debug` hides the private key.
#[derive(Clone, Debug, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: Secret,
    #[serde(default)]
    pub private_key_id: Option<String>,
    pub token_uri: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Secret,
    expires_in: u64,
}

struct CachedToken {
    token: Secret,
    until: Instant,
}

/// An FCM sender for one Firebase project.
pub struct FcmClient {
    http: reqwest::Client,
    account: ServiceAccount,
    key: EncodingKey,
    send_url: String,
    ttl: String,
    token: Mutex<Option<CachedToken>>,
}

impl FcmClient {
    /// Reads the service account key file.
    pub fn from_file(
        path: &Path,
        base_url: &str,
        ttl_secs: u32,
        http: reqwest::Client,
    ) -> Result<Self, PushError> {
        let text = std::fs::read_to_string(path).map_err(|source| PushError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            PushError::Key(format!(
                "{}: not a service account key: {e}",
                path.display()
            ))
        })?;
        Self::new(account, base_url, ttl_secs, http)
    }

    pub fn new(
        account: ServiceAccount,
        base_url: &str,
        ttl_secs: u32,
        http: reqwest::Client,
    ) -> Result<Self, PushError> {
        let key =
            EncodingKey::from_rsa_pem(account.private_key.expose().as_bytes()).map_err(|_| {
                PushError::Key("the service account's private_key is not an RSA key in PEM".into())
            })?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            base_url.trim_end_matches('/'),
            account.project_id
        );
        Ok(Self {
            http,
            account,
            key,
            send_url,
            ttl: format!("{ttl_secs}s"),
            token: Mutex::new(None),
        })
    }

    /// A valid access token, from the cache or the token endpoint. Callers wait for one refresh
    /// rather than each asking for a token.
    async fn access_token(&self) -> Result<Secret, Outcome> {
        let mut cached = self.token.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.until > Instant::now()) {
            return Ok(c.token.clone());
        }
        let now = now_ms() / 1000;
        let claims = Claims {
            iss: &self.account.client_email,
            scope: SCOPE,
            aud: &self.account.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.account.private_key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Outcome::Failed(format!("signing the OAuth assertion: {e}")))?;
        let resp = self
            .http
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", GRANT_TYPE),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| outcome_of_error(&e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let outcome = outcome_of_status(status, resp.headers(), &[]);
            let detail = resp.text().await.unwrap_or_default();
            tracing::warn!(%status, detail = %detail.chars().take(300).collect::<String>(), "FCM: the token endpoint refused the assertion");
            return Err(match outcome {
                Outcome::Retry { .. } => outcome,
                _ => Outcome::Failed(format!("OAuth token endpoint answered {status}")),
            });
        }
        let answer: TokenAnswer = resp
            .json()
            .await
            .map_err(|e| Outcome::Failed(format!("OAuth token answer: {e}")))?;
        let lifetime = Duration::from_secs(answer.expires_in).saturating_sub(EARLY);
        *cached = Some(CachedToken {
            token: answer.access_token.clone(),
            until: Instant::now() + lifetime,
        });
        Ok(answer.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// One attempt to send `n` to the device with registration `token`.
    pub async fn send(&self, token: &str, n: &Notification) -> Outcome {
        let access = match self.access_token().await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        let resp = match self
            .http
            .post(&self.send_url)
            .bearer_auth(access.expose())
            .json(&message(token, n, &self.ttl))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return outcome_of_error(&e),
        };
        let status = resp.status();
        if status.is_success() {
            return Outcome::Delivered;
        }
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if error_code(&body).as_deref() == Some("UNREGISTERED") {
            return Outcome::Gone;
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The token was revoked or expired early: fetch a new one on the next try.
            self.forget_token().await;
            return Outcome::Retry {
                after: retry_after(&headers),
                reason: "FCM refused the access token".into(),
            };
        }
        match outcome_of_status(status, &headers, &[404]) {
            Outcome::Failed(m) => Outcome::Failed(format!(
                "{m}: {}",
                body["error"]["message"].as_str().unwrap_or_default()
            )),
            other => other,
        }
    }
}

/// The `errorCode` of an FCM error answer (`error.details[].errorCode`).
fn error_code(body: &Value) -> Option<String> {
    body["error"]["details"]
        .as_array()?
        .iter()
        .find_map(|d| d["errorCode"].as_str().map(str::to_owned))
}

/// The v1 message: a notification for the system tray, and the same facts as string data for
/// the app; collapsing per conversation so a device shows the latest only.
fn message(token: &str, n: &Notification, ttl: &str) -> Value {
    let data: BTreeMap<&str, String> = BTreeMap::from([
        ("type", "message".to_owned()),
        ("room", n.room.to_string()),
        ("message", n.message.to_string()),
        ("seq", n.seq.to_string()),
        ("count", n.count.to_string()),
        ("ts", n.ts.to_string()),
    ]);
    json!({
        "message": {
            "token": token,
            "notification": {"title": n.title, "body": n.body},
            "data": data,
            "android": {"priority": "high", "collapse_key": n.room.as_str(), "ttl": ttl},
            "apns": {"headers": {"apns-collapse-id": n.room.as_str(), "apns-priority": "10"}},
        }
    })
}
