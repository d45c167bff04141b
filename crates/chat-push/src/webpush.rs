//! Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), through
//! the `web-push` crate; the request goes out with our reqwest client.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use web_push::{
    request_builder, ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency,
    VapidSignatureBuilder, WebPushMessageBuilder,
};

use super::{outcome_of_error, outcome_of_status, Outcome, PushError};
use crate::settings::{PushSettings, Secret};

/// The server's VAPID key pair. `Debug` shows only the public half.
#[derive(Clone)]
pub struct VapidKeys {
    signer: PartialVapidSignatureBuilder,
    public: Vec<u8>,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKeys")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl VapidKeys {
    /// From a base64url raw P-256 private key.
    pub fn from_private(b64: &Secret) -> Result<Self, PushError> {
        let signer =
            VapidSignatureBuilder::from_base64_no_sub(b64.expose().trim()).map_err(|_| {
                PushError::Key("the VAPID private key is not a base64url P-256 key".into())
            })?;
        let public = signer.get_public_key();
        Ok(Self { signer, public })
    }

    /// The configured key if there is one; else the one kept in `file`, generated and written
    /// there on first start by `write_private` (the server's, which makes it readable by the
    /// owner only).
    pub fn load_or_generate(
        configured: &Secret,
        file: &Path,
        write_private: impl FnOnce(&Path, &str) -> std::io::Result<()>,
    ) -> Result<Self, PushError> {
        if !configured.is_empty() {
            return Self::from_private(configured);
        }
        let io = |source| PushError::Io {
            path: file.display().to_string(),
            source,
        };
        match std::fs::read_to_string(file) {
            Ok(s) => return Self::from_private(&Secret::new(s)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            Err(_) => {}
        }
        let (b64, keys) = loop {
            let mut raw = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut raw);
            let b64 = Secret::new(URL_SAFE_NO_PAD.encode(raw));
            // A random 32-byte string is a valid scalar but for a 2^-128 chance.
            if let Ok(keys) = Self::from_private(&b64) {
                break (b64, keys);
            }
        };
        write_private(file, b64.expose()).map_err(io)?;
        tracing::info!(file = %file.display(), public_key = %keys.public_key(), "generated the VAPID key pair");
        Ok(keys)
    }

    /// The public key as browsers want it (`applicationServerKey`): base64url, uncompressed point.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.public)
    }
}

/// Where the generated key is kept: `push.vapid_key_file`, or beside the media directory.
pub fn key_file(push: &PushSettings, media_dir: &str) -> PathBuf {
    if !push.vapid_key_file.trim().is_empty() {
        return PathBuf::from(push.vapid_key_file.trim());
    }
    let media = Path::new(media_dir);
    let data = media
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    data.join("vapid_private_key")
}

/// One browser's subscription.
#[derive(Clone, Debug)]
pub struct WebPushTarget {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Sends Web Push messages signed with the server's VAPID key.
#[derive(Clone)]
pub struct WebPushClient {
    http: reqwest::Client,
    keys: VapidKeys,
    subject: String,
    ttl: u32,
    urgency: Urgency,
    /// `push.allow_http_endpoints`: addresses inside the network may be reached (tests only).
    allow_private: bool,
}

impl WebPushClient {
    pub fn new(http: reqwest::Client, keys: VapidKeys, s: &PushSettings) -> Self {
        let urgency = match s.urgency.as_str() {
            "very-low" => Urgency::VeryLow,
            "low" => Urgency::Low,
            "normal" => Urgency::Normal,
            _ => Urgency::High,
        };
        Self {
            http,
            keys,
            subject: s.vapid_subject.clone(),
            ttl: s.ttl_secs,
            urgency,
            allow_private: s.allow_http_endpoints,
        }
    }

    /// One attempt. `topic` (at most 32 base64url characters) lets the push service replace an
    /// earlier undelivered push with the same topic.
    pub async fn send(
        &self,
        target: &WebPushTarget,
        payload: &[u8],
        topic: Option<&str>,
    ) -> Outcome {
        // A name is checked when it is resolved (`webpush_http_client`); an address right away.
        let literal = reqwest::Url::parse(&target.endpoint).ok().and_then(|u| {
            u.host_str()
                .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        });
        if !self.allow_private && literal.is_some_and(|ip| !super::is_public(ip)) {
            return Outcome::Failed(super::NotPublic.to_string());
        }
        let request = match self.build(target, payload, topic) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(e),
        };
        let (parts, body) = request.into_parts();
        let mut req = self.http.post(parts.uri.to_string()).body(body);
        for (name, value) in &parts.headers {
            req = req.header(name.as_str(), value.as_bytes());
        }
        match req.send().await {
            Ok(resp) => outcome_of_status(resp.status(), resp.headers(), &[404, 410]),
            Err(e) if refused_address(&e) => Outcome::Failed(super::NotPublic.to_string()),
            Err(e) => outcome_of_error(&e),
        }
    }

    fn build(
        &self,
        target: &WebPushTarget,
        payload: &[u8],
        topic: Option<&str>,
    ) -> Result<http::Request<Vec<u8>>, String> {
        let info = SubscriptionInfo::new(
            target.endpoint.as_str(),
            target.p256dh.as_str(),
            target.auth.as_str(),
        );
        let mut vapid = self.keys.signer.clone().add_sub_info(&info);
        vapid.add_claim("sub", self.subject.as_str());
        // The audience is the endpoint's origin (RFC 8292); web-push's default drops the port.
        let origin = reqwest::Url::parse(&target.endpoint)
            .map_err(|_| "endpoint: not a URL".to_owned())?
            .origin()
            .ascii_serialization();
        vapid.add_claim("aud", origin);
        let signature = vapid.build().map_err(|e| format!("VAPID signature: {e}"))?;
        let mut message = WebPushMessageBuilder::new(&info);
        message.set_ttl(self.ttl);
        message.set_urgency(self.urgency);
        if let Some(t) = topic {
            message.set_topic(t.to_owned());
        }
        message.set_vapid_signature(signature);
        message.set_payload(ContentEncoding::Aes128Gcm, payload);
        let message = message
            .build()
            .map_err(|e| format!("encrypting the payload: {e}"))?;
        Ok(request_builder::build_request::<Vec<u8>>(message))
    }
}

/// Whether a request failed because its endpoint resolved to no public address (not worth a
/// retry).
fn refused_address(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<super::NotPublic>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Checks a subscription as a client sent it: the endpoint is an https URL (or http when
/// `allow_http` is set, for tests on loopback), `p256dh` a P-256 public key and `auth` a 16-byte
/// secret, both base64url.
pub fn validate(endpoint: &str, p256dh: &str, auth: &str, allow_http: bool) -> Result<(), String> {
    if endpoint.len() > 2048 {
        return Err("endpoint: at most 2048 characters".into());
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| "endpoint: not a URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err("endpoint: must be an https URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() || url.host_str().is_none() {
        return Err("endpoint: must be an https URL with a host and no credentials".into());
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    if !allow_http
        && (host.parse::<std::net::IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost"))
    {
        // Push services have names; an address is more likely an attempt to reach inside.
        return Err("endpoint: must name a push service, not an address".into());
    }
    let key = URL_SAFE_NO_PAD
        .decode(p256dh.trim_end_matches('='))
        .map_err(|_| "keys.p256dh: not base64url".to_owned())?;
    if key.len() != 65 || key[0] != 4 {
        return Err("keys.p256dh: must be an uncompressed P-256 public key (65 bytes)".into());
    }
    let secret = URL_SAFE_NO_PAD
        .decode(auth.trim_end_matches('='))
        .map_err(|_| "keys.auth: not base64url".to_owned())?;
    if secret.len() != 16 {
        return Err("keys.auth: must be 16 bytes".into());
    }
    Ok(())
}
