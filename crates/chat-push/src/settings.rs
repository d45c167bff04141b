//! `[push]` (with `[push.fcm]` and `[push.sms]`) and `[mail]` of the server's configuration:
//! what the clients are told, with the defaults of `config.toml`; and [`Secret`], the type of
//! every configured secret, here because most of them are these services' keys.

use serde::Deserialize;

/// A configured secret (private key, password, API key): never printed, not even by `{:?}`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// `[push]`: push notifications to people who are away (Web Push, FCM, SMS).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PushSettings {
    /// Accept plain-http Web Push endpoints, and endpoints on loopback or private addresses
    /// (only for tests on loopback).
    pub allow_http_endpoints: bool,
    /// The VAPID private key: base64url of the raw 32-byte P-256 scalar. Empty: the key in
    /// `vapid_key_file`, generated there on first start.
    pub vapid_private_key: Secret,
    /// Where the generated VAPID key is kept. Empty: `vapid_private_key` in the parent directory
    /// of `media.dir` (the data directory).
    pub vapid_key_file: String,
    /// Contact for the push services (`mailto:` or `https:` URL), sent in every VAPID token.
    pub vapid_subject: String,
    /// How long a push service keeps an undelivered notification, in seconds.
    pub ttl_secs: u32,
    /// Web Push urgency: `very-low`, `low`, `normal` or `high`.
    pub urgency: String,
    /// Messages to one user in one conversation within this window (ms, from the first) make one
    /// push that carries their count.
    pub coalesce_ms: u64,
    /// Tries per notification and device (the first one included).
    pub max_attempts: u32,
    /// Back-off before the second try (ms); doubled each time, at least the `Retry-After` asked.
    pub retry_base_ms: u64,
    /// Longest wait before a retry (ms); a service asking for longer gets no more tries.
    pub retry_max_ms: u64,
    /// Timeout of one request to a push service or the SMS gateway (ms).
    pub request_timeout_ms: u64,
    /// Requests to push services in flight at once.
    pub concurrency: usize,
    /// `[push.fcm]`
    pub fcm: FcmSettings,
    /// `[push.sms]`
    pub sms: SmsSettings,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            allow_http_endpoints: false,
            vapid_private_key: Secret::default(),
            vapid_key_file: String::new(),
            vapid_subject: "mailto:admin@example.com".into(),
            ttl_secs: 24 * 3600,
            urgency: "high".into(),
            coalesce_ms: 2000,
            max_attempts: 5,
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
            request_timeout_ms: 10_000,
            concurrency: 32,
            fcm: FcmSettings::default(),
            sms: SmsSettings::default(),
        }
    }
}

/// `[push.fcm]`: Firebase Cloud Messaging, HTTP v1 API.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct FcmSettings {
    /// The service account JSON key file (from the Firebase console). Empty: FCM is off.
    pub service_account_file: String,
    /// Base URL of the FCM API; messages go to `{base_url}/v1/projects/{project}/messages:send`.
    pub base_url: String,
}

impl Default for FcmSettings {
    fn default() -> Self {
        Self {
            service_account_file: String::new(),
            base_url: "https://fcm.googleapis.com".into(),
        }
    }
}

/// `[push.sms]`: an SMS gateway taking an HTTP form POST (the common SMS-API style).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SmsSettings {
    /// The gateway's send URL. Empty: SMS is off.
    pub url: String,
    /// HTTP basic auth user (empty: no basic auth).
    pub username: String,
    /// HTTP basic auth password.
    pub password: Secret,
    /// Sender id or number.
    pub from: String,
    /// Form field names for the recipient, the sender and the text.
    pub to_field: String,
    pub from_field: String,
    pub text_field: String,
    /// Extra form fields sent as they are (for example an `api_key`).
    pub fields: std::collections::BTreeMap<String, Secret>,
    /// A one-to-one message still unread this long after it was sent is texted to recipients who
    /// opted in (seconds).
    pub fallback_after_secs: u64,
    /// Invitations one user may send per day.
    pub invites_per_day: u32,
    /// Texts of any kind per user and UTC day: invitations they send, codes they ask for,
    /// fallback texts to them. Counted in Redis (else SQL), so every node counts together.
    pub texts_per_user_per_day: u32,
    /// Texts of any kind to one number per UTC day, whoever causes them.
    pub texts_per_number_per_day: u32,
    /// Invitation text; `{name}` is the inviter's display name, `{url}` is `invite_url`.
    pub invite_text: String,
    /// Where invited people sign up.
    pub invite_url: String,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            to_field: "to".into(),
            from_field: "from".into(),
            text_field: "text".into(),
            fields: Default::default(),
            fallback_after_secs: 900,
            invites_per_day: 10,
            texts_per_user_per_day: 20,
            texts_per_number_per_day: 10,
            invite_text: "{name} invites you to chat: {url}".into(),
            invite_url: String::new(),
        }
    }
}

/// `[mail]`: a mail gateway taking an HTTP JSON POST (`{from, to, subject, text}`), used to send
/// e-mail verification codes.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// The gateway's send URL. Empty: no mail, e-mail verification is unavailable.
    pub gateway_url: String,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Secret,
    /// The sender address.
    pub from: String,
    /// Mails per user and UTC day.
    pub per_user_per_day: u32,
    /// Mails to one address per UTC day, whoever causes them.
    pub per_address_per_day: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            gateway_url: String::new(),
            token: Secret::default(),
            from: "chat@example.com".into(),
            per_user_per_day: 10,
            per_address_per_day: 5,
        }
    }
}
