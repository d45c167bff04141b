//! Clients of the services that reach people who are away: Web Push ([`webpush`], VAPID and
//! aes128gcm through the `web-push` crate), Firebase Cloud Messaging HTTP v1 ([`fcm`], OAuth2
//! JWT-bearer token from a service account key), an HTTP form SMS gateway ([`sms`]) and an HTTP
//! JSON mail gateway ([`mail`], for e-mail verification codes).
//!
//! Each client makes one attempt and says what came of it ([`Outcome`]); [`with_retries`] adds
//! the back-off. Deciding who is notified, and deleting subscriptions a service reports gone, is
//! the server's Notifier's (`actors::notifier`): nothing here touches the database.
//!
//! A layer of the workspace: it builds on `chat-protocol` (ids) alone and knows nothing of the
//! server, which re-exports it as `chat_server::push` (and its [`settings`] in its `config`).

pub mod fcm;
pub mod mail;
pub mod settings;
pub mod sms;
pub mod webpush;

use std::future::Future;
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::Serialize;

use crate::settings::PushSettings;
use chat_protocol::ids::{MessageId, RoomId};

/// What came of one attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service accepted it.
    Delivered,
    /// The subscription or token no longer exists (404/410, `UNREGISTERED`): delete it.
    Gone,
    /// Try again later (429, 5xx, network); `after` is the service's `Retry-After`.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Will not work however often it is tried.
    Failed(String),
}

/// Why a push client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Key(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The HTTP client for the push services could not be built (its TLS backend).
    #[error("push HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// What one push says: the last message of a coalesced burst, and how many there were.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Notification {
    /// The sender (one-to-one), the group's name, or a generic title when previews are off.
    pub title: String,
    /// The text, `Sender: text` in groups, or a generic text when previews are off.
    pub body: String,
    pub room: RoomId,
    /// The last message of the burst.
    pub message: MessageId,
    pub seq: i64,
    /// Messages this push stands for.
    pub count: u32,
    pub ts: i64,
}

impl Notification {
    /// The JSON a service worker receives (Web Push payload).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["type"] = "message".into();
        v.to_string().into_bytes()
    }
}

/// Tries and back-off for one delivery.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_settings(s: &PushSettings) -> Self {
        Self {
            max_attempts: s.max_attempts.max(1),
            base: Duration::from_millis(s.retry_base_ms),
            max: Duration::from_millis(s.retry_max_ms),
        }
    }

    /// The wait after failed try number `attempt` (1-based): exponential with jitter, and never
    /// shorter than what the service asked for.
    fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let jitter = exp.mul_f64(rand::thread_rng().gen_range(0.0..0.25));
        (exp + jitter).min(self.max).max(asked.unwrap_or_default())
    }
}

/// Runs `attempt` until it gives a final outcome or the tries are used up; between tries waits
/// as `RetryPolicy::delay` says. A service asking to wait longer than `policy.max` is given up
/// on (a notification that late is stale).
pub async fn with_retries<F, Fut>(policy: &RetryPolicy, what: &str, mut attempt: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut n = 1;
    loop {
        let outcome = attempt().await;
        let Outcome::Retry { after, reason } = &outcome else {
            return outcome;
        };
        if n >= policy.max_attempts {
            return Outcome::Failed(format!("gave up after {n} tries: {reason}"));
        }
        if after.is_some_and(|a| a > policy.max) {
            return Outcome::Failed(format!(
                "asked to retry after {after:?}, longer than push.retry_max_ms"
            ));
        }
        let wait = policy.delay(n, *after);
        tracing::debug!(what, try_no = n, ?wait, %reason, "push will be retried");
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The outcome of an HTTP answer that is not a success, by status, for services that use the
/// statuses the usual way; `gone` lists the statuses that mean "delete the subscription".
pub fn outcome_of_status(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    gone: &[u16],
) -> Outcome {
    if status.is_success() {
        Outcome::Delivered
    } else if gone.contains(&status.as_u16()) {
        Outcome::Gone
    } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Outcome::Retry {
            after: retry_after(headers),
            reason: format!("HTTP {status}"),
        }
    } else {
        Outcome::Failed(format!("HTTP {status}"))
    }
}

/// A network error: worth retrying (the request may not have arrived).
pub fn outcome_of_error(e: &reqwest::Error) -> Outcome {
    Outcome::Retry {
        after: None,
        reason: format!("request failed: {}", without_url(e)),
    }
}

/// Errors without the URL, which may carry a token (FCM endpoints are not secret, but Web Push
/// endpoint URLs are capabilities).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "(endpoint)");
    }
    s
}

/// A Web Push endpoint whose name resolves to no public address (loopback, private, link-local
/// and the like): refused at connect time, so a subscription cannot make the server reach inside
/// its own network, not even by changing its DNS answer after it was saved.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint resolves to no public address")]
pub struct NotPublic;

/// Whether `ip` is an address on the public internet (not loopback, private, link-local, shared,
/// multicast, documentation or otherwise reserved).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b))
        }
    }
}

/// Resolves names like the system does, keeping only public addresses ([`is_public`]).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NotPublic) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client Web Push endpoints (URLs that users supply) are reached with: [`try_http_client`]'s
/// settings, and only public addresses unless `push.allow_http_endpoints` (tests on loopback).
/// An error rather than a client without that resolver: endpoints come from users.
pub fn webpush_http_client(s: &PushSettings) -> Result<reqwest::Client, PushError> {
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_millis(s.request_timeout_ms))
        .connect_timeout(Duration::from_millis(s.request_timeout_ms.min(5000)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("chat-server/", env!("CARGO_PKG_VERSION")));
    let builder = if s.allow_http_endpoints {
        builder
    } else {
        builder.dns_resolver(std::sync::Arc::new(PublicOnly))
    };
    builder.build().map_err(PushError::Client)
}

/// The HTTP client every push service is reached with: rustls, timeouts, no redirects (a push
/// service never redirects, and following one would let an endpoint bounce us elsewhere).
pub fn try_http_client(s: &PushSettings) -> Result<reqwest::Client, PushError> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(s.request_timeout_ms))
        .connect_timeout(Duration::from_millis(s.request_timeout_ms.min(5000)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("chat-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(PushError::Client)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::is_public;

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["8.8.8.8", "142.250.74.100", "2a00:1450:4001:80b::200a"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }
}
