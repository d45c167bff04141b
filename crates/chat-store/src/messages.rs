//! Reading messages: history pages, what came after a seq, and lookups by client id.

use std::collections::BTreeMap;

use entities::message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::media::MediaItem;
use super::quotes::Quoted;
use super::writes::{
    attachments_column, attachments_of_column, mentions_column, mentions_of_column,
};
use super::{NewMessage, Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// A stored (or still buffered) message as read back for history, sync, search and pins, with
/// its reactions and the quote of the message it answers. The server gives it its wire form.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub room: RoomId,
    pub id: MessageId,
    pub seq: i64,
    pub sender: UserId,
    pub body: String,
    /// In the order they were sent.
    pub attachments: Vec<Attachment>,
    pub reply_to: Option<MessageId>,
    pub client_id: String,
    pub ts: i64,
    pub edited_at: Option<i64>,
    /// Deleted: its body, attachments, mentions and reactions are gone.
    pub deleted: bool,
    /// Emoji → the users who reacted with it, earliest first (no empty keys).
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// The members the body names as `@username`.
    pub mentions: Vec<UserId>,
    /// The quote of the message `reply_to` names, if it could be found.
    pub quote: Option<Quoted>,
    pub forwarded: bool,
}

/// An attachment of a stored message: the media id, and the media item while it exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub id: String,
    /// `None` when the media is gone (or not looked up yet).
    pub media: Option<MediaItem>,
}

/// A stored row as a [`Message`], not yet decorated (no reactions, quote or media details).
pub(super) fn message_of(m: message::Model) -> Message {
    let ids = attachments_of_column(m.attachments.as_deref()).unwrap_or_else(|e| {
        // Shown without attachments: nothing is revealed, and the message itself still reads.
        tracing::error!(message = %m.id, error = %e, "unreadable attachments column; shown without them");
        Vec::new()
    });
    Message {
        room: RoomId(m.room_id),
        id: MessageId(m.id),
        seq: m.seq,
        sender: UserId(m.sender_id),
        body: m.body,
        attachments: ids
            .into_iter()
            .map(|id| Attachment { id, media: None })
            .collect(),
        reply_to: m.reply_to.map(MessageId),
        client_id: m.client_id,
        ts: m.created_at,
        edited_at: m.edited_at,
        deleted: m.deleted,
        reactions: BTreeMap::new(),
        mentions: if m.deleted {
            Vec::new()
        } else {
            mentions_of_column(m.mentions.as_deref())
        },
        quote: None,
        forwarded: m.forwarded,
    }
}

/// The ack fields of a stored or buffered message, found by client id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAck {
    pub sender: UserId,
    pub client_id: String,
    pub id: MessageId,
    pub seq: i64,
    pub ts: i64,
}

/// A buffered message in the shape of a stored row.
pub(super) fn model_of(m: NewMessage) -> message::Model {
    message::Model {
        id: m.id.0,
        room_id: m.room.0,
        seq: m.seq,
        sender_id: m.sender.0,
        client_id: m.client_id,
        body: m.body,
        attachments: attachments_column(&m.attachments),
        reply_to: m.reply_to.map(|r| r.0),
        created_at: m.ts,
        edited_at: None,
        deleted: false,
        mentions: mentions_column(&m.mentions),
        forwarded: m.forwarded,
    }
}

/// SQL rows and buffered messages as one list in seq order; a message in both counts once.
fn merge(mut rows: Vec<message::Model>, buffered: Vec<NewMessage>) -> Vec<message::Model> {
    if buffered.is_empty() {
        rows.sort_by_key(|m| m.seq);
        return rows;
    }
    let mut by_seq: BTreeMap<i64, message::Model> = rows.into_iter().map(|m| (m.seq, m)).collect();
    for b in buffered {
        by_seq.entry(b.seq).or_insert_with(|| model_of(b));
    }
    by_seq.into_values().collect()
}

/// Where a message lives and who wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    pub room: RoomId,
    pub author: UserId,
    pub deleted: bool,
}

impl Store {
    /// Applies buffered edits and deletes (not yet in SQL) to rows read for `room`.
    pub(super) async fn overlay(
        &self,
        room: &RoomId,
        rows: &mut [message::Model],
    ) -> Result<(), StoreError> {
        let Some(b) = &self.buffer else { return Ok(()) };
        let overlays = b.overlays(room).await?;
        if overlays.is_empty() {
            return Ok(());
        }
        for m in rows.iter_mut() {
            if let Some(o) = overlays.get(&m.id) {
                if o.deleted {
                    m.deleted = true;
                    m.body.clear();
                    m.attachments = None;
                } else if m.edited_at.is_none_or(|e| e < o.at) {
                    m.body = o.body.clone();
                    m.edited_at = Some(o.at);
                    m.mentions = mentions_column(&o.mentions);
                }
            }
        }
        Ok(())
    }

    /// Adds the reactions and reply quotes of messages read from the store (any rooms).
    pub(super) async fn decorate(&self, out: &mut [Message]) -> Result<(), StoreError> {
        // Each room's messages, by position, found in one pass.
        let mut by_room: std::collections::BTreeMap<RoomId, Vec<usize>> = Default::default();
        for (i, m) in out.iter().enumerate() {
            by_room.entry(m.room.clone()).or_default().push(i);
        }
        let reactions = {
            let pages: Vec<(&RoomId, Vec<&MessageId>)> = by_room
                .iter()
                .map(|(room, at)| {
                    let live = at
                        .iter()
                        .map(|&i| &out[i])
                        .filter(|m| !m.deleted)
                        .map(|m| &m.id)
                        .collect();
                    (room, live)
                })
                .collect();
            self.reactions_of_rooms(&pages).await?
        };
        for ((room, at), reactions) in by_room.iter().zip(reactions) {
            let quotes = {
                let page: Vec<&Message> = at.iter().map(|&i| &out[i]).collect();
                if page.iter().any(|m| m.reply_to.is_some()) {
                    self.quotes_for(room, &page).await?
                } else {
                    Default::default()
                }
            };
            for &i in at {
                let m = &mut out[i];
                if !m.deleted {
                    if let Some(r) = reactions.get(m.id.as_str()) {
                        m.reactions = r.clone();
                    }
                }
                if let Some(t) = &m.reply_to {
                    m.quote = quotes.get(t.as_str()).cloned();
                }
            }
        }
        Ok(())
    }

    /// The messages of `room` with these ids, stored or still buffered, edits and deletes applied
    /// (unknown ids and messages of other rooms are left out), in no particular order.
    pub async fn messages_by_ids(
        &self,
        room: &RoomId,
        ids: &[&str],
    ) -> Result<Vec<message::Model>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<message::Model> = self
            .buffered(room, 0, None)
            .await?
            .into_iter()
            .filter(|m| ids.contains(&m.id.as_str()))
            .map(model_of)
            .collect();
        if rows.len() < ids.len() {
            let have: std::collections::HashSet<String> =
                rows.iter().map(|r| r.id.clone()).collect();
            let sql = message::Entity::find()
                .filter(message::Column::Id.is_in(ids.iter().copied()))
                .filter(message::Column::RoomId.eq(room.0.clone()))
                .all(&self.db)
                .await?;
            rows.extend(sql.into_iter().filter(|r| !have.contains(&r.id)));
        }
        self.overlay(room, &mut rows).await?;
        Ok(rows)
    }

    /// The room and author of a message, stored or buffered.
    pub async fn locate_message(&self, id: &MessageId) -> Result<Option<MessageInfo>, StoreError> {
        if let Some(m) = message::Entity::find_by_id(id.0.clone())
            .one(&self.db)
            .await?
        {
            let room = RoomId(m.room_id.clone());
            let mut rows = [m];
            self.overlay(&room, &mut rows).await?;
            let [m] = rows;
            return Ok(Some(MessageInfo {
                room,
                author: UserId(m.sender_id),
                deleted: m.deleted,
            }));
        }
        let Some(b) = &self.buffer else {
            return Ok(None);
        };
        let Some((room, author)) = b.locate(id).await? else {
            return Ok(None);
        };
        let deleted = b
            .overlays(&room)
            .await?
            .get(&id.0)
            .is_some_and(|o| o.deleted);
        Ok(Some(MessageInfo {
            room,
            author,
            deleted,
        }))
    }

    /// Earlier versions of a message, oldest first: (body, replaced at).
    pub async fn message_versions(&self, id: &MessageId) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(entities::message_edit::Entity::find()
            .filter(entities::message_edit::Column::MessageId.eq(id.0.clone()))
            .order_by_asc(entities::message_edit::Column::Version)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.body, e.edited_at))
            .collect())
    }

    pub(super) async fn buffered(
        &self,
        room: &RoomId,
        lo: i64,
        hi: Option<i64>,
    ) -> Result<Vec<NewMessage>, StoreError> {
        match &self.buffer {
            Some(b) => Ok(b.unsynced(room, lo, hi).await?),
            None => Ok(vec![]),
        }
    }

    /// Up to `limit` messages with seq below `before` (all if `None`), oldest first, and whether
    /// older ones exist. Buffered messages are included.
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
        let rows = q
            .order_by_desc(message::Column::Seq)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let mut all = merge(rows, self.buffered(room, 0, before).await?);
        let has_more = all.len() as u64 > limit;
        let cut = all.len().saturating_sub(limit as usize);
        all.drain(..cut);
        self.overlay(room, &mut all).await?;
        Ok((all, has_more))
    }

    /// Up to `limit` messages with seq above `after`, in seq order. Buffered messages are included.
    pub async fn messages_after(
        &self,
        room: &RoomId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<message::Model>, StoreError> {
        let buffered = self.buffered(room, after, None).await?;
        // Every seq from `after + 1` to the room's highest is still buffered, or the caller has
        // every message: no SQL round trip (a sync works while the database stalls). Syncers may
        // copy a room's batches out of order (several nodes), so the buffer must be checked
        // seq by seq up to the room's counter.
        let all_buffered = match &self.buffer {
            Some(b) => {
                let top = b.room_seq(room).await?;
                let first = buffered.first().map_or(after + 1, |m| m.seq);
                let last = buffered.last().map_or(after, |m| m.seq);
                // No counter in Redis: the room's messages may all be in SQL only.
                top > 0
                    && first == after + 1
                    && last == top
                    && buffered.windows(2).all(|w| w[1].seq == w[0].seq + 1)
            }
            None => false,
        };
        let rows = if all_buffered {
            Vec::new()
        } else {
            message::Entity::find()
                .filter(message::Column::RoomId.eq(room.0.clone()))
                .filter(message::Column::Seq.gt(after))
                .order_by_asc(message::Column::Seq)
                .limit(limit)
                .all(&self.db)
                .await?
        };
        let mut all = merge(rows, buffered);
        all.truncate(limit as usize);
        self.overlay(room, &mut all).await?;
        Ok(all)
    }

    /// Acks of stored or buffered messages of `room` matching any of the (sender, client id) pairs.
    pub async fn acks_by_client_ids(
        &self,
        room: &RoomId,
        keys: &[(UserId, String)],
    ) -> Result<Vec<StoredAck>, StoreError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let cids: Vec<String> = keys.iter().map(|(_, c)| c.clone()).collect();
        let rows = message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .filter(message::Column::ClientId.is_in(cids))
            .all(&self.db)
            .await?;
        let mut out: Vec<StoredAck> = rows
            .into_iter()
            .filter(|m| {
                keys.iter()
                    .any(|(u, c)| u.0 == m.sender_id && *c == m.client_id)
            })
            .map(|m| StoredAck {
                sender: UserId(m.sender_id),
                client_id: m.client_id,
                id: MessageId(m.id),
                seq: m.seq,
                ts: m.created_at,
            })
            .collect();
        if let Some(b) = &self.buffer {
            for (sender, client_id, (id, seq, ts)) in b.acks_by_client_ids(room, keys).await? {
                if !out
                    .iter()
                    .any(|a| a.sender == sender && a.client_id == client_id)
                {
                    out.push(StoredAck {
                        sender,
                        client_id,
                        id,
                        seq,
                        ts,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Highest seq stored or buffered for a room (0 when empty).
    pub async fn max_seq(&self, room: &RoomId) -> Result<i64, StoreError> {
        let sql = message::Entity::find()
            .filter(message::Column::RoomId.eq(room.0.clone()))
            .order_by_desc(message::Column::Seq)
            .one(&self.db)
            .await?
            .map(|m| m.seq)
            .unwrap_or(0);
        let buffered = match &self.buffer {
            Some(b) => b.room_seq(room).await?,
            None => 0,
        };
        Ok(sql.max(buffered))
    }
}
