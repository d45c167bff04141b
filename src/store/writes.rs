//! Chat writes as data. A `WriteOp` is what the Persister buffers and what lands in SQL; applying
//! a batch is idempotent (a message already stored by id is skipped), so a batch replayed after a
//! crash inserts nothing twice.

use std::collections::{HashMap, HashSet};

use entities::{message, message_edit, room, room_member};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
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
    RoleChanged { room: RoomId, user: UserId, role: Role },
    /// `None` leaves a field as it is; `Some(None)` clears the avatar.
    RoomUpdated { room: RoomId, name: Option<String>, avatar: Option<Option<String>> },
    /// The body before the edit is kept in `message_edits`.
    Edit { room: RoomId, id: MessageId, body: String, at: i64 },
    /// Body and attachments are removed; the row stays so seqs have no gap.
    Delete { room: RoomId, id: MessageId, at: i64 },
    Read { room: RoomId, user: UserId, seq: i64 },
    Delivered { room: RoomId, user: UserId, seq: i64 },
}

impl WriteOp {
    /// Changes to who may do what, written through to SQL at once even when writes are buffered,
    /// because every permission check reads them.
    pub fn is_control(&self) -> bool {
        matches!(self, WriteOp::MemberAdded { .. } | WriteOp::MemberRemoved { .. } | WriteOp::RoleChanged { .. } | WriteOp::RoomUpdated { .. })
    }
}

impl Store {
    /// Applies `ops` in order in one transaction.
    pub async fn apply_writes(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
            // Take SQLite's write lock first (waiting for it if needed): a transaction whose
            // first statement reads would fail with SQLITE_BUSY, without waiting, if another
            // connection wrote after that read.
            txn.execute_unprepared("UPDATE rooms SET last_seq = last_seq WHERE 1 = 0").await?;
        }
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
        WriteOp::RoleChanged { room, user, role } => {
            room_member::Entity::update_many()
                .col_expr(room_member::Column::Role, Expr::value(role.as_str()))
                .filter(room_member::Column::RoomId.eq(room.0.clone()))
                .filter(room_member::Column::UserId.eq(user.0.clone()))
                .exec(db)
                .await?;
            Ok(())
        }
        WriteOp::RoomUpdated { room, name, avatar } => {
            let mut q = room::Entity::update_many().filter(room::Column::Id.eq(room.0.clone()));
            if let Some(n) = name {
                q = q.col_expr(room::Column::Name, Expr::value(n.clone()));
            }
            if let Some(a) = avatar {
                q = q.col_expr(room::Column::AvatarMedia, Expr::value(a.clone()));
            }
            if name.is_some() || avatar.is_some() {
                q.exec(db).await?;
            }
            Ok(())
        }
        WriteOp::Edit { id, body, at, .. } => {
            let Some(m) = message::Entity::find_by_id(id.0.clone()).one(db).await? else { return Ok(()) };
            // Replayed: this edit (or a later one) is already applied.
            if m.deleted || m.edited_at.is_some_and(|e| e >= *at) {
                return Ok(());
            }
            let version = message_edit::Entity::find()
                .filter(message_edit::Column::MessageId.eq(id.0.clone()))
                .count(db)
                .await? as i32
                + 1;
            message_edit::ActiveModel {
                message_id: Set(id.0.clone()),
                version: Set(version),
                body: Set(m.body),
                edited_at: Set(*at),
            }
            .insert(db)
            .await?;
            message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(body.clone()))
                .col_expr(message::Column::EditedAt, Expr::value(*at))
                .filter(message::Column::Id.eq(id.0.clone()))
                .exec(db)
                .await?;
            Ok(())
        }
        WriteOp::Delete { id, .. } => {
            message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(String::new()))
                .col_expr(message::Column::Attachments, Expr::value(Option::<String>::None))
                .col_expr(message::Column::Deleted, Expr::value(true))
                .filter(message::Column::Id.eq(id.0.clone()))
                .exec(db)
                .await?;
            message_edit::Entity::delete_many().filter(message_edit::Column::MessageId.eq(id.0.clone())).exec(db).await?;
            Ok(())
        }
        WriteOp::Read { room, user, seq } => raise_mark(db, room, user, room_member::Column::LastReadSeq, *seq).await,
        WriteOp::Delivered { room, user, seq } => raise_mark(db, room, user, room_member::Column::DeliveredSeq, *seq).await,
    }
}

/// Raises a member's read or delivered mark to `seq` (never lowers it).
async fn raise_mark(db: &impl ConnectionTrait, room: &RoomId, user: &UserId, col: room_member::Column, seq: i64) -> Result<(), DbErr> {
    room_member::Entity::update_many()
        .col_expr(col, Expr::value(seq))
        .filter(room_member::Column::RoomId.eq(room.0.clone()))
        .filter(room_member::Column::UserId.eq(user.0.clone()))
        .filter(col.lt(seq))
        .exec(db)
        .await?;
    Ok(())
}

impl Store {
    /// Makes `ops` durable the way this deployment does: appended to the Redis buffer when there is
    /// one (the Syncer copies them to SQL later), else committed to SQL now. Control changes
    /// (membership, roles, room name and avatar; see `WriteOp::is_control`) are always written
    /// through to SQL at once, because every permission check reads them.
    /// Applying twice is harmless (writes are idempotent), so a retried group is safe.
    pub async fn make_durable(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let Some(buffer) = &self.buffer else { return self.apply_writes(ops).await };
        let (membership, rest): (Vec<WriteOp>, Vec<WriteOp>) = ops.iter().cloned().partition(WriteOp::is_control);
        if !membership.is_empty() {
            self.apply_writes(&membership).await?;
        }
        if !rest.is_empty() {
            buffer.append(&rest).await?;
        }
        Ok(())
    }
}
