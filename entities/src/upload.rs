//! `uploads`: a resumable (tus 1.0) upload in progress. The bytes received so far are the file
//! `media.dir/<id>/upload` (its length is the offset); when the last byte arrives the upload
//! becomes the `media` row with the same id and `completed_at` is set.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user who created it; nobody else may see or touch it.
    pub owner_id: String,
    /// `attachment` or `avatar`, as for `POST /api/media?purpose=`.
    pub purpose: String,
    /// `Upload-Length`: the size of the whole file in bytes.
    pub length: i64,
    /// The client's file name (`Upload-Metadata` `filename`), sanitized.
    pub name: Option<String>,
    /// The type the client declared (`filetype`); informative only, the kind is sniffed.
    pub filetype: Option<String>,
    pub created_at: i64,
    /// When an unfinished upload is removed (moved on by every `PATCH`), ms since the epoch.
    pub expires_at: i64,
    /// When the last byte arrived and the media item was created.
    pub completed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
