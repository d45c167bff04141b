//! `push_subscriptions`: where to push a user's notifications (a browser's Web Push endpoint, or
//! a device's FCM registration token).
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a subscription pushes. Stored as the strings the column always held (`webpush`,
/// `fcm`), so no migration; a row with any other value fails to read instead of being pushed
/// to as something it is not.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PushKind {
    /// A browser's Web Push endpoint (RFC 8030, VAPID).
    #[sea_orm(string_value = "webpush")]
    #[serde(rename = "webpush")]
    WebPush,
    /// A device's Firebase Cloud Messaging registration token.
    #[sea_orm(string_value = "fcm")]
    #[serde(rename = "fcm")]
    Fcm,
}

impl PushKind {
    /// The stored and wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::WebPush => "webpush",
            PushKind::Fcm => "fcm",
        }
    }
}

impl std::fmt::Display for PushKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: PushKind,
    /// The Web Push endpoint URL, or the FCM registration token.
    #[sea_orm(column_type = "Text")]
    pub endpoint: String,
    /// Hex SHA-256 of `kind:endpoint`, unique: one subscription per endpoint.
    pub endpoint_hash: String,
    /// Web Push: the browser's P-256 public key (base64url).
    pub p256dh: Option<String>,
    /// Web Push: the 16-byte auth secret (base64url).
    pub auth: Option<String>,
    /// FCM: `android`, `ios` or `web`.
    pub platform: Option<String>,
    /// A label the client chose for the device.
    pub device: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn push_kinds_keep_their_stored_and_wire_strings() {
        for (kind, s) in [(PushKind::WebPush, "webpush"), (PushKind::Fcm, "fcm")] {
            assert_eq!(kind.as_str(), s);
            assert_eq!(kind.to_string(), s);
            assert_eq!(kind.to_value(), s);
            assert_eq!(PushKind::try_from_value(&s.to_owned()).unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<PushKind>(&format!("\"{s}\"")).unwrap(),
                kind
            );
        }
        assert!(PushKind::try_from_value(&"apns".to_owned()).is_err());
    }
}
