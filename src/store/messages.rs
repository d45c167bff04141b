//! Reading messages: history pages, what came after a seq, and lookups by client id.

use entities::message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Store, StoreError};
use crate::ids::{MessageId, RoomId, UserId};
use crate::protocol::MessageOut;

/// The wire form of a stored message.
pub fn to_out(m: message::Model) -> MessageOut {
    let attachments = m
        .attachments
        .as_deref()
        .and_then(|a| serde_json::from_str::<Vec<String>>(a).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    MessageOut {
        room: RoomId(m.room_id),
        id: MessageId(m.id),
        seq: m.seq,
        from: UserId(m.sender_id),
        body: m.body,
        attachments,
        reply_to: m.reply_to.map(MessageId),
        client_id: m.client_id,
        ts: m.created_at,
        edited_at: m.edited_at,
    }
}

impl Store {
    /// Up to `limit` messages with seq below `before` (all if `None`), oldest first, and whether
    /// older ones exist.
    pub async fn history(
        &self,
        room: &RoomId,
        before: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<message::Model>, bool), StoreError> {
        let mut q = message::Entity::find().filter(message::Column::RoomId.eq(room.0.clone()));
        if let Some(b) = before {
            q = q.filter(message::Column::Seq.lt(b));
        }
        let mut rows = q.order_by_desc(message::Column::Seq).limit(limit + 1).all(&self.db).await?;
        let has_more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        rows.reverse();
        Ok((rows, has_more))
    }

    /// Up to `limit` messages with seq above `after`, in seq order.
    pub async fn messages_after(
        &self,
        room: &RoomId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<message::Model>, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .filter(message::Column::Seq.gt(after))
            .order_by_asc(message::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// The newest `limit` messages of a room (for the room's idempotency window), newest first.
    pub async fn recent_messages(&self, room: &RoomId, limit: u64) -> Result<Vec<message::Model>, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .order_by_desc(message::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Stored messages of `room` matching any of the (sender, client id) pairs.
    pub async fn messages_by_client_ids(
        &self,
        room: &RoomId,
        keys: &[(UserId, String)],
    ) -> Result<Vec<message::Model>, StoreError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let cids: Vec<String> = keys.iter().map(|(_, c)| c.clone()).collect();
        let rows = message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .filter(message::Column::ClientId.is_in(cids))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|m| keys.iter().any(|(u, c)| u.0 == m.sender_id && *c == m.client_id))
            .collect())
    }

    /// Highest seq stored for a room (0 when empty).
    pub async fn max_seq(&self, room: &RoomId) -> Result<i64, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .order_by_desc(message::Column::Seq)
            .one(&self.db)
            .await?
            .map(|m| m.seq)
            .unwrap_or(0))
    }
}
