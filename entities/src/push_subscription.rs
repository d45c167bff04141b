//! `push_subscriptions`: where to push a user's notifications (a browser's Web Push endpoint, or
//! a device's FCM registration token).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// `webpush` or `fcm`.
    pub kind: String,
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
