//! Chat writes as data. A `WriteOp` is what the Persister buffers and what lands in SQL; applying
//! a batch is idempotent (a message already stored by id is skipped), so a batch replayed after a
//! crash inserts nothing twice.

use std::collections::{HashMap, HashSet};

use entities::{message, room, room_member};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::rooms::{add_member, Role};
use super::{Store, StoreError};
use crate::ids::{MessageId, RoomId, UserId};

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
}

/// One chat write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOp {
    Message(NewMessage),
    MemberAdded { room: RoomId, user: UserId, role: Role, at: i64 },
    MemberRemoved { room: RoomId, user: UserId },
    Read { room: RoomId, user: UserId, seq: i64 },
}

impl Store {
    /// Applies `ops` in order in one transaction.
    pub async fn apply_writes(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let mut run: Vec<&NewMessage> = Vec::new();
        for op in ops {
            match op {
                WriteOp::Message(m) => run.push(m),
                other => {
                    insert_messages(&txn, &run).await.map_err(StoreError::classify)?;
                    run.clear();
                    apply_other(&txn, other).await.map_err(StoreError::classify)?;
                }
            }
        }
        insert_messages(&txn, &run).await.map_err(StoreError::classify)?;
        txn.commit().await.map_err(StoreError::classify)?;
        Ok(())
    }
}

/// Inserts the messages not stored yet and raises each room's `last_seq`.
async fn insert_messages(db: &impl ConnectionTrait, msgs: &[&NewMessage]) -> Result<(), DbErr> {
    if msgs.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = msgs.iter().map(|m| m.id.0.clone()).collect();
    let existing: HashSet<String> = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::Id.is_in(ids))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let fresh: Vec<&&NewMessage> = msgs.iter().filter(|m| !existing.contains(&m.id.0)).collect();
    let mut top: HashMap<&RoomId, i64> = HashMap::new();
    for m in msgs {
        let e = top.entry(&m.room).or_insert(0);
        *e = (*e).max(m.seq);
    }
    // Chunks keep each statement well under SQLite's and MySQL's placeholder limits.
    for chunk in fresh.chunks(500) {
        let rows = chunk.iter().map(|m| message::ActiveModel {
            id: Set(m.id.0.clone()),
            room_id: Set(m.room.0.clone()),
            seq: Set(m.seq),
            sender_id: Set(m.sender.0.clone()),
            client_id: Set(m.client_id.clone()),
            body: Set(m.body.clone()),
            attachments: Set((!m.attachments.is_empty())
                .then(|| serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into()))),
            reply_to: Set(m.reply_to.as_ref().map(|r| r.0.clone())),
            created_at: Set(m.ts),
            edited_at: Set(None),
            deleted: Set(false),
        });
        message::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    for (room_id, seq) in top {
        room::Entity::update_many()
            .col_expr(room::Column::LastSeq, Expr::value(seq))
            .filter(room::Column::Id.eq(room_id.0.clone()))
            .filter(room::Column::LastSeq.lt(seq))
            .exec(db)
            .await?;
    }
    Ok(())
}

async fn apply_other(db: &impl ConnectionTrait, op: &WriteOp) -> Result<(), DbErr> {
    match op {
        WriteOp::Message(_) => Ok(()),
        WriteOp::MemberAdded { room, user, role, at } => add_member(db, room, user, *role, *at).await,
        WriteOp::MemberRemoved { room, user } => {
            room_member::Entity::delete_by_id((room.0.clone(), user.0.clone())).exec(db).await?;
            Ok(())
        }
        WriteOp::Read { room, user, seq } => {
            room_member::Entity::update_many()
                .col_expr(room_member::Column::LastReadSeq, Expr::value(*seq))
                .filter(room_member::Column::RoomId.eq(room.0.clone()))
                .filter(room_member::Column::UserId.eq(user.0.clone()))
                .filter(room_member::Column::LastReadSeq.lt(*seq))
                .exec(db)
                .await?;
            Ok(())
        }
    }
}

impl Store {
    /// Makes `ops` durable the way this deployment does: appended to the Redis buffer when there is
    /// one (the Syncer copies them to SQL later), else committed to SQL now. Membership changes
    /// are always written through to SQL at once, because every permission check reads them.
    /// Applying twice is harmless (writes are idempotent), so a retried group is safe.
    pub async fn make_durable(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let Some(buffer) = &self.buffer else { return self.apply_writes(ops).await };
        let is_membership = |o: &WriteOp| matches!(o, WriteOp::MemberAdded { .. } | WriteOp::MemberRemoved { .. });
        let (membership, rest): (Vec<WriteOp>, Vec<WriteOp>) = ops.iter().cloned().partition(is_membership);
        if !membership.is_empty() {
            self.apply_writes(&membership).await?;
        }
        if !rest.is_empty() {
            buffer.append(&rest).await?;
        }
        Ok(())
    }
}
