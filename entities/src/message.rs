//! `messages`: every acked chat message, keyed by id, unique per (room, seq) and per
//! (room, sender, client_id) so that a replayed write can never insert twice.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub room_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// JSON array of attachment media ids.
    #[sea_orm(column_type = "Text", nullable)]
    pub attachments: Option<String>,
    pub reply_to: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// JSON array of the member ids the body names as `@username` (none: no mentions).
    #[sea_orm(column_type = "Text", nullable)]
    pub mentions: Option<String>,
    /// Forwarded from another conversation.
    pub forwarded: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
