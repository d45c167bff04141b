//! `rooms`: conversations, groups and one-to-one (`dm`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `group` or `dm`.
    pub kind: String,
    pub name: Option<String>,
    /// For `dm` rooms: the two user ids sorted and joined by `:`; unique, so a pair has one dm.
    #[sea_orm(unique)]
    pub dm_key: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    /// Highest message seq committed in this room (0 when empty).
    pub last_seq: i64,
    /// Media id of the group avatar.
    pub avatar_media: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
