//! Push notifications: the VAPID key, subscriptions (Web Push and FCM), the push settings and
//! mutes the server respects, SMS invitations.

use serde::{Deserialize, Serialize};

use crate::ids::RoomId;

/// `GET /api/push/vapid` → `{public_key}`: the server's VAPID public key (base64url,
/// uncompressed P-256 point), the `applicationServerKey` for `pushManager.subscribe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VapidBody {
    pub public_key: String,
}

/// The keys of a browser's `PushSubscription`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushKeys {
    pub p256dh: String,
    pub auth: String,
}

/// `POST /api/push/subscriptions`, by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subscribe {
    Webpush {
        endpoint: String,
        keys: WebPushKeys,
        #[serde(default)]
        device: Option<String>,
    },
    Fcm {
        token: String,
        /// `android`, `ios` or `web`.
        #[serde(default)]
        platform: Option<String>,
        #[serde(default)]
        device: Option<String>,
    },
}

/// Where a subscription pushes, with its `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PushAddress {
    /// A browser's Web Push endpoint URL.
    Webpush { endpoint: String },
    /// A device's FCM registration token.
    Fcm { token: String },
}

/// A subscription, as its owner sees it (the Web Push keys are never shown again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionOut {
    pub id: String,
    #[serde(flatten)]
    pub address: PushAddress,
    pub platform: Option<String>,
    /// The owner's label for the device.
    pub device: Option<String>,
    pub created_at: i64,
}

/// `POST /api/push/subscriptions` → 201 `{subscription}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionBody {
    pub subscription: SubscriptionOut,
}

/// `GET /api/push/subscriptions` → `{subscriptions}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionsBody {
    pub subscriptions: Vec<SubscriptionOut>,
}

/// A muted conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteOut {
    pub room: RoomId,
    /// Muted until then (ms since the epoch); `null`: until unmuted.
    pub until: Option<i64>,
}

/// The push settings the server respects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    pub enabled: bool,
    /// Show the sender and text in notifications.
    pub preview: bool,
    /// The number for the SMS fallback (E.164).
    pub sms_phone: Option<String>,
    /// `sms_phone` was verified by its owner; the fallback texts only a verified number.
    pub sms_phone_verified: bool,
    pub sms_fallback: bool,
    pub muted: Vec<MuteOut>,
}

/// `GET`/`PATCH /api/push/settings` → `{settings}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettingsBody {
    pub settings: PushSettings,
}

/// `PATCH /api/push/settings`: the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettingsPatch {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub preview: Option<bool>,
    /// A phone number for the SMS fallback; `""` removes it.
    #[serde(default)]
    pub sms_phone: Option<String>,
    #[serde(default)]
    pub sms_fallback: Option<bool>,
}

/// `PUT /api/push/mutes/{room}` (optional body).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRequest {
    /// Muted until then (ms since the epoch); absent: until unmuted.
    #[serde(default)]
    pub until: Option<i64>,
}

/// `POST /api/push/sms/invite`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsInvite {
    pub phone: String,
}

/// `POST /api/push/sms/invite` → 202 `{status: "queued"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedBody {
    pub status: String,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_names_its_address_by_kind() {
        let fcm = SubscriptionOut {
            id: "s1".into(),
            address: PushAddress::Fcm { token: "t".into() },
            platform: Some("android".into()),
            device: None,
            created_at: 5,
        };
        let v = serde_json::to_value(&fcm).expect("serializes");
        assert_eq!(v["kind"], "fcm");
        assert_eq!(v["token"], "t");
        assert!(v.get("endpoint").is_none());
        let back: SubscriptionOut = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, fcm);
        let web = serde_json::to_value(PushAddress::Webpush {
            endpoint: "https://push.example/x".into(),
        })
        .expect("serializes");
        assert_eq!(web["kind"], "webpush");
        assert_eq!(web["endpoint"], "https://push.example/x");
    }
}
