//! `push_settings`: a user's notification switches. A missing row means the defaults (push on,
//! preview on, no SMS).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// Push notifications at all.
    pub enabled: bool,
    /// Show the sender and text; off: a generic "New message".
    pub preview: bool,
    /// Phone number (E.164) for the SMS fallback.
    pub sms_phone: Option<String>,
    /// Text `sms_phone` about one-to-one messages still unread after `push.sms.fallback_after_secs`.
    pub sms_fallback: bool,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
