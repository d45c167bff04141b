//! Resumable (tus) upload rows: who created one, how long it is, when it expires, and whether it
//! has become a media item. The bytes themselves are a file (see `chat_media::partial`, on the server's side).

use entities::upload;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, UserId};

impl Store {
    /// Records a new upload.
    pub async fn create_upload(&self, row: upload::Model) -> Result<(), StoreError> {
        upload::ActiveModel::from(row)
            .insert(&self.db)
            .await
            .map_err(StoreError::classify)?;
        Ok(())
    }

    /// The upload `id` if `owner` created it (anyone else gets `None`, like a missing id).
    pub async fn upload_of(
        &self,
        id: &str,
        owner: &UserId,
    ) -> Result<Option<upload::Model>, StoreError> {
        Ok(upload::Entity::find_by_id(id.to_owned())
            .filter(upload::Column::OwnerId.eq(owner.0.clone()))
            .one(&self.db)
            .await?)
    }

    /// Moves the expiry of an upload to `expires_at` (ms).
    pub async fn touch_upload(&self, id: &str, expires_at: i64) -> Result<(), StoreError> {
        upload::Entity::update_many()
            .col_expr(upload::Column::ExpiresAt, expires_at.into())
            .filter(upload::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Marks an upload complete (its media item exists).
    pub async fn complete_upload(&self, row: upload::Model) -> Result<(), StoreError> {
        let mut m = row.into_active_model();
        m.completed_at = Set(Some(now_ms()));
        m.update(&self.db).await?;
        Ok(())
    }

    /// Forgets an upload.
    pub async fn delete_upload(&self, id: &str) -> Result<(), StoreError> {
        upload::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Uploads whose expiry is before `now` (ms), at most `limit` of them.
    pub async fn expired_uploads(
        &self,
        now: i64,
        limit: u64,
    ) -> Result<Vec<upload::Model>, StoreError> {
        Ok(upload::Entity::find()
            .filter(upload::Column::ExpiresAt.lt(now))
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Bytes `user` has announced in unfinished uploads (counted against the quota, so that
    /// several parallel uploads cannot together go past it).
    pub async fn pending_upload_bytes(&self, user: &UserId) -> Result<u64, StoreError> {
        let lengths: Vec<i64> = upload::Entity::find()
            .select_only()
            .column(upload::Column::Length)
            .filter(upload::Column::OwnerId.eq(user.0.clone()))
            .filter(upload::Column::CompletedAt.is_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(lengths
            .into_iter()
            .map(|l| u64::try_from(l).unwrap_or(0))
            .fold(0u64, u64::saturating_add))
    }
}
