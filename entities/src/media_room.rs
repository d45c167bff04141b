//! `media_rooms`: the rooms a media item was sent to. Members of those rooms may view it besides
//! its uploader.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub media_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    pub shared_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
