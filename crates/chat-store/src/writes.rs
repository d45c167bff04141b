//! Chat writes as data. A `WriteOp` is what the Persister buffers and what lands in SQL (applied
//! by `super::apply`); applying a batch is idempotent (a message already stored by id is
//! skipped), so a batch replayed after a crash inserts nothing twice.

use serde::{Deserialize, Serialize};

use super::rooms::Role;
use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// A message to store, fully assigned (id, seq, timestamp) by its Room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: i64,
    pub sender: UserId,
    pub client_id: String,
    pub body: String,
    pub attachments: Vec<String>,
    pub reply_to: Option<MessageId>,
    pub ts: i64,
    /// Members named as `@username` in the body.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// Forwarded from another conversation.
    #[serde(default)]
    pub forwarded: bool,
}

impl NewMessage {
    /// Its row in `messages`.
    pub fn row(&self) -> entities::message::ActiveModel {
        use sea_orm::Set;
        entities::message::ActiveModel {
            id: Set(self.id.0.clone()),
            room_id: Set(self.room.0.clone()),
            seq: Set(self.seq),
            sender_id: Set(self.sender.0.clone()),
            client_id: Set(self.client_id.clone()),
            body: Set(self.body.clone()),
            attachments: Set(attachments_column(&self.attachments)),
            reply_to: Set(self.reply_to.as_ref().map(|r| r.0.clone())),
            created_at: Set(self.ts),
            edited_at: Set(None),
            deleted: Set(false),
            mentions: Set(mentions_column(&self.mentions)),
            forwarded: Set(self.forwarded),
        }
    }
}

/// The `mentions` column of a message naming these members.
pub fn mentions_column(users: &[UserId]) -> Option<String> {
    (!users.is_empty()).then(|| serde_json::to_string(users).unwrap_or_else(|_| "[]".into()))
}

/// The `attachments` column of a message carrying these media ids: a JSON array of strings, or
/// none.
pub fn attachments_column(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
}

/// The media ids an `attachments` column names. An error when it is not what
/// [`attachments_column`] writes: the caller decides what an unreadable list means, since
/// reading it as empty would, for one, leave a deleted message's media shared.
pub fn attachments_of_column(col: Option<&str>) -> Result<Vec<String>, serde_json::Error> {
    col.map_or(Ok(Vec::new()), serde_json::from_str)
}

/// The members a `mentions` column names.
pub fn mentions_of_column(col: Option<&str>) -> Vec<UserId> {
    col.and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default()
}

/// One chat write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOp {
    Message(NewMessage),
    MemberAdded {
        room: RoomId,
        user: UserId,
        role: Role,
        at: i64,
    },
    MemberRemoved {
        room: RoomId,
        user: UserId,
    },
    RoleChanged {
        room: RoomId,
        user: UserId,
        role: Role,
    },
    /// `None` leaves a field as it is; `Some(None)` clears the avatar.
    RoomUpdated {
        room: RoomId,
        name: Option<String>,
        avatar: Option<Option<String>>,
    },
    /// The body before the edit is kept in `message_edits`.
    Edit {
        room: RoomId,
        id: MessageId,
        body: String,
        at: i64,
        /// Members the new body names as `@username`.
        #[serde(default)]
        mentions: Vec<UserId>,
    },
    /// Body and attachments are removed; the row stays so seqs have no gap.
    Delete {
        room: RoomId,
        id: MessageId,
        at: i64,
    },
    Read {
        room: RoomId,
        user: UserId,
        seq: i64,
    },
    Delivered {
        room: RoomId,
        user: UserId,
        seq: i64,
    },
    /// `user` added (`on`) or took back the reaction `emoji` to message `id` at `at`; the newest
    /// `at` wins, so applying out of order settles the same.
    React {
        room: RoomId,
        id: MessageId,
        user: UserId,
        emoji: String,
        on: bool,
        at: i64,
    },
}

impl WriteOp {
    /// The room the write belongs to.
    pub fn room(&self) -> &RoomId {
        match self {
            WriteOp::Message(m) => &m.room,
            WriteOp::MemberAdded { room, .. }
            | WriteOp::MemberRemoved { room, .. }
            | WriteOp::RoleChanged { room, .. }
            | WriteOp::RoomUpdated { room, .. }
            | WriteOp::Edit { room, .. }
            | WriteOp::Delete { room, .. }
            | WriteOp::Read { room, .. }
            | WriteOp::Delivered { room, .. }
            | WriteOp::React { room, .. } => room,
        }
    }

    /// Changes to who may do what, written through to SQL at once even when writes are buffered,
    /// because every permission check reads them.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            WriteOp::MemberAdded { .. }
                | WriteOp::MemberRemoved { .. }
                | WriteOp::RoleChanged { .. }
                | WriteOp::RoomUpdated { .. }
        )
    }
}

impl Store {
    /// Makes `ops` durable the way this deployment does: appended to the Redis buffer when there is
    /// one (the Syncer copies them to SQL later), else committed to SQL now. Control changes
    /// (membership, roles, room name and avatar; see `WriteOp::is_control`) are always written
    /// through to SQL at once, because every permission check reads them.
    /// Applying twice is harmless (writes are idempotent), so a retried group is safe.
    pub async fn make_durable(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let Some(buffer) = &self.buffer else {
            return self.apply_writes(ops).await;
        };
        let (membership, rest): (Vec<WriteOp>, Vec<WriteOp>) =
            ops.iter().cloned().partition(WriteOp::is_control);
        if !membership.is_empty() {
            self.apply_writes(&membership).await?;
        }
        if !rest.is_empty() {
            buffer.append(&rest).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_attachments_column_reads_back_and_an_unreadable_one_is_an_error() {
        let ids = vec!["m1".to_owned(), "m2".to_owned()];
        let col = attachments_column(&ids);
        assert_eq!(attachments_of_column(col.as_deref()).unwrap(), ids);
        assert_eq!(attachments_column(&[]), None);
        assert!(attachments_of_column(None).unwrap().is_empty());
        // Before issue 20 these read as "no attachments", so deleting such a message left its
        // media shared and forwarding it sent a copy without them.
        for bad in ["", "{", "[1]", "\"m1\""] {
            assert!(attachments_of_column(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
