//! What message search needs from the store: a hook that hears every durable write (the search
//! index is fed from it), the reads that rebuild or catch the index up (messages changed since a
//! time, deleted ids, writes still in the Redis buffer), and search hits turned into the current
//! rows (SQL, or the hit's own copy while the message is only buffered, with buffered edits and
//! deletes applied).

use std::collections::HashMap;
use std::sync::Arc;

use entities::message;
use redis::streams::StreamRangeReply;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::buffer::{with_seqs, BufferError};
use super::{Store, StoreError, WriteOp};
use chat_protocol::ids::RoomId;

/// Hears every write once it is durable (embedded and single-node Redis modes; in cluster mode
/// writes are heard on the bus instead). Must not block: it runs on the writer's thread.
pub trait WriteObserver: Send + Sync + std::fmt::Debug {
    fn durable(&self, ops: &[WriteOp]);
}

/// Stream entries read per round trip when reading the whole buffer.
const STREAM_PAGE: usize = 1000;

impl Store {
    /// The same store, telling `observer` of every durable write.
    pub fn with_observer(mut self, observer: Arc<dyn WriteObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Tells the observer, if any, that `ops` are durable (called by the Persister's commit).
    pub fn observe(&self, ops: &[WriteOp]) {
        if let Some(o) = &self.observer {
            o.durable(ops);
        }
    }

    /// Up to `limit` messages with an id above `after`, in id order, created or edited after
    /// `since` (ms; every message when 0), deleted ones included.
    pub async fn messages_changed_since(
        &self,
        since: i64,
        after: &str,
        limit: u64,
    ) -> Result<Vec<message::Model>, StoreError> {
        let mut q = message::Entity::find().filter(message::Column::Id.gt(after));
        if since > 0 {
            q = q.filter(
                Condition::any()
                    .add(message::Column::CreatedAt.gt(since))
                    .add(message::Column::EditedAt.gt(since)),
            );
        }
        Ok(q.order_by_asc(message::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Up to `limit` ids of deleted messages above `after`, in order. (A delete records no time,
    /// so finding the deletes made since some moment means looking at all of them.)
    pub async fn deleted_message_ids(
        &self,
        after: &str,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::Deleted.eq(true))
            .filter(message::Column::Id.gt(after))
            .order_by_asc(message::Column::Id)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// Every write still in the Redis buffer (not yet copied to SQL), oldest first; none without
    /// Redis. Entries that cannot be decoded are skipped (the Syncer dead-letters them).
    pub async fn buffered_writes(&self) -> Result<Vec<WriteOp>, StoreError> {
        let Some(b) = &self.buffer else {
            return Ok(Vec::new());
        };
        let mut c = b.conn().await?;
        let mut out = Vec::new();
        let mut start = "-".to_owned();
        loop {
            let page: StreamRangeReply = redis::cmd("XRANGE")
                .arg(b.stream())
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(STREAM_PAGE)
                .query_async(&mut c)
                .await
                .map_err(BufferError::from)?;
            let n = page.ids.len();
            for e in page.ids {
                start = format!("({}", e.id);
                let Some(redis::Value::BulkString(raw)) = e.map.get("ops") else {
                    continue;
                };
                let Ok(ops) = rmp_serde::from_slice::<Vec<WriteOp>>(raw) else {
                    continue;
                };
                let ops = match e.map.get("seqs") {
                    Some(redis::Value::BulkString(list)) => {
                        match with_seqs(ops, &String::from_utf8_lossy(list)) {
                            Ok(ops) => ops,
                            Err(_) => continue,
                        }
                    }
                    _ => ops,
                };
                out.extend(ops);
            }
            if n < STREAM_PAGE {
                return Ok(out);
            }
        }
    }

    /// Search hits (as the index has them) as they are now: the SQL row when there is one, else
    /// the hit itself (the message is still only buffered); buffered edits and deletes applied;
    /// deleted messages left out. Order is kept.
    pub async fn search_rows(
        &self,
        hits: Vec<message::Model>,
    ) -> Result<Vec<message::Model>, StoreError> {
        if hits.is_empty() {
            return Ok(hits);
        }
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut stored: HashMap<String, message::Model> = message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let mut rows: Vec<message::Model> = hits
            .into_iter()
            .map(|h| stored.remove(&h.id).unwrap_or(h))
            .collect();
        if self.buffer.is_some() {
            let mut by_room: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, r) in rows.iter().enumerate() {
                by_room.entry(r.room_id.clone()).or_default().push(i);
            }
            for (room, at) in by_room {
                let mut group: Vec<message::Model> = at.iter().map(|&i| rows[i].clone()).collect();
                self.overlay(&RoomId(room), &mut group).await?;
                for (i, m) in at.into_iter().zip(group) {
                    rows[i] = m;
                }
            }
        }
        rows.retain(|m| !m.deleted);
        Ok(rows)
    }
}
