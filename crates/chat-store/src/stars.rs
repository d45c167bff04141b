//! Starred messages: private to each user, written straight to SQL.

use entities::star;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

impl Store {
    /// Stars (`on`) or unstars message `id` (of `room`) for `user`; true when that changed
    /// anything.
    pub async fn set_star(
        &self,
        user: &UserId,
        id: &MessageId,
        room: &RoomId,
        on: bool,
        at: i64,
    ) -> Result<bool, StoreError> {
        let key = (user.0.clone(), id.0.clone());
        let exists = star::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
            .is_some();
        if exists == on {
            return Ok(false);
        }
        if on {
            star::Entity::insert(star::ActiveModel {
                user_id: Set(user.0.clone()),
                message_id: Set(id.0.clone()),
                room_id: Set(room.0.clone()),
                at: Set(at),
            })
            .on_conflict(
                OnConflict::columns([star::Column::UserId, star::Column::MessageId])
                    .do_nothing_on([star::Column::UserId])
                    .to_owned(),
            )
            .do_nothing()
            .exec_without_returning(&self.db)
            .await?;
        } else {
            star::Entity::delete_by_id(key).exec(&self.db).await?;
        }
        Ok(true)
    }

    /// Up to `limit` of `user`'s stars starred before `before` (all when `None`), newest first.
    pub async fn stars(
        &self,
        user: &UserId,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<star::Model>, StoreError> {
        let mut q = star::Entity::find().filter(star::Column::UserId.eq(user.0.clone()));
        if let Some(b) = before {
            q = q.filter(star::Column::At.lt(b));
        }
        Ok(q.order_by_desc(star::Column::At)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
