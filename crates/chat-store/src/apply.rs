//! Applies a batch of `WriteOp`s to SQL in one transaction, with a number of statements that does
//! not grow with the number of messages and receipts in it (what the Syncer and the embedded
//! Persister run for every batch):
//!
//! - every new message of the batch in multi-row `INSERT`s of up to `CHUNK` rows that skip a
//!   message already stored under its id (a replayed batch inserts nothing twice) but still fail
//!   on any other unique key: a different message under the same (room, seq) or (room, sender,
//!   client id) is a conflict, never silently dropped;
//! - edits, deletes and changes to rooms one by one, in batch order (they are rare);
//! - read and delivered marks folded to the highest seq per (room, member) and raised in one
//!   `UPDATE … JOIN` (MariaDB/MySQL) or `UPDATE … FROM` (SQLite) per kind;
//! - each room's `last_seq` raised in one such statement.
//!
//! Messages go first: an edit or delete always names a message sent before it, so it is never
//! moved ahead of the message's insert. Marks are applied before each change of membership that
//! follows them, so a mark never lands on a membership made after it.

use std::collections::{BTreeMap, HashSet};

use entities::{message, message_edit, message_reaction, room, room_member};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set, Statement, TransactionTrait, Value,
};

use super::rooms::add_member;
use super::writes::{mentions_column, NewMessage, WriteOp};
use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// Rows per multi-row statement: well under SQLite's and MySQL's placeholder limits (11 per
/// message row) and SQLite's 500 terms of a compound `SELECT`.
const CHUNK: usize = 400;

impl Store {
    /// Applies `ops` in one transaction (see the module doc for the order and the statements).
    pub async fn apply_writes(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        if backend == DbBackend::Sqlite {
            // Take SQLite's write lock first (waiting for it if needed): a transaction whose
            // first statement reads would fail with SQLITE_BUSY, without waiting, if another
            // connection wrote after that read.
            txn.execute_unprepared("UPDATE rooms SET last_seq = last_seq WHERE 1 = 0")
                .await?;
        }
        let msgs: Vec<&NewMessage> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        insert_messages(&txn, backend, &msgs).await?;
        let mut marks = Marks::default();
        for op in ops {
            match op {
                WriteOp::Message(_) => {}
                WriteOp::Read { room, user, seq } => marks.raise(Mark::Read, room, user, *seq),
                WriteOp::Delivered { room, user, seq } => {
                    marks.raise(Mark::Delivered, room, user, *seq)
                }
                other => {
                    if other.is_control() {
                        marks
                            .apply(&txn, backend)
                            .await
                            .map_err(StoreError::classify)?;
                    }
                    apply_one(&txn, other).await.map_err(StoreError::classify)?;
                }
            }
        }
        marks
            .apply(&txn, backend)
            .await
            .map_err(StoreError::classify)?;
        raise_last_seqs(&txn, backend, &msgs)
            .await
            .map_err(StoreError::classify)?;
        txn.commit().await.map_err(StoreError::classify)?;
        if ops.iter().any(WriteOp::is_control) {
            // Memberships and room names are in the connect cache's answers.
            self.cache_changed().await;
        }
        Ok(())
    }
}

/// Inserts the messages not stored yet (see the module doc).
async fn insert_messages(
    db: &impl ConnectionTrait,
    backend: DbBackend,
    msgs: &[&NewMessage],
) -> Result<(), StoreError> {
    for chunk in msgs.chunks(CHUNK) {
        let rows = chunk.iter().map(|m| m.row());
        match backend {
            // `ON CONFLICT (id)` skips only a message stored under the same id; any other unique
            // key still fails the statement.
            DbBackend::Sqlite => {
                let skip_same_id = OnConflict::column(message::Column::Id)
                    .do_nothing()
                    .to_owned();
                message::Entity::insert_many(rows)
                    .on_conflict(skip_same_id)
                    .exec_without_returning(db)
                    .await
                    .map_err(StoreError::classify)?;
            }
            // MySQL's `ON DUPLICATE KEY` fires on any unique key, so a message skipped for
            // another key than its id would vanish: count that every id is stored afterwards.
            _ => {
                // `id = id`: the clashing row stays exactly as it was (`id = VALUES(id)` would
                // rename a row that clashes on another key).
                let keep = OnConflict::column(message::Column::Id)
                    .value(message::Column::Id, Expr::col(message::Column::Id))
                    .to_owned();
                message::Entity::insert_many(rows)
                    .on_conflict(keep)
                    .exec_without_returning(db)
                    .await
                    .map_err(StoreError::classify)?;
                let ids: HashSet<&str> = chunk.iter().map(|m| m.id.as_str()).collect();
                let stored = message::Entity::find()
                    .filter(message::Column::Id.is_in(ids.iter().copied()))
                    .count(db)
                    .await
                    .map_err(StoreError::classify)?;
                if stored != ids.len() as u64 {
                    return Err(StoreError::Conflict(format!(
                        "{} of {} messages clash with stored ones on (room, seq) or (room, sender, client_id)",
                        ids.len() as u64 - stored,
                        ids.len()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Raises each room's `last_seq` to its highest seq in the batch (never lowers it).
async fn raise_last_seqs(
    db: &impl ConnectionTrait,
    backend: DbBackend,
    msgs: &[&NewMessage],
) -> Result<(), DbErr> {
    let mut top: BTreeMap<&RoomId, i64> = BTreeMap::new();
    for m in msgs {
        let e = top.entry(&m.room).or_insert(0);
        *e = (*e).max(m.seq);
    }
    let rows: Vec<(Vec<String>, i64)> = top
        .into_iter()
        .map(|(r, s)| (vec![r.0.clone()], s))
        .collect();
    raise_many(db, backend, "rooms", &["id"], "last_seq", &rows).await
}

/// Which mark of a member.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Read,
    Delivered,
}

impl Mark {
    fn column(self) -> &'static str {
        match self {
            Mark::Read => "last_read_seq",
            Mark::Delivered => "delivered_seq",
        }
    }
}

/// Read and delivered marks waiting to be applied: the highest seq per (mark, room, member).
#[derive(Default)]
struct Marks(BTreeMap<(Mark, RoomId, UserId), i64>);

impl Marks {
    fn raise(&mut self, mark: Mark, room: &RoomId, user: &UserId, seq: i64) {
        let e = self
            .0
            .entry((mark, room.clone(), user.clone()))
            .or_insert(seq);
        *e = (*e).max(seq);
    }

    /// Applies and forgets the marks: one statement (per chunk) per kind.
    async fn apply(&mut self, db: &impl ConnectionTrait, backend: DbBackend) -> Result<(), DbErr> {
        for mark in [Mark::Read, Mark::Delivered] {
            let rows: Vec<(Vec<String>, i64)> = self
                .0
                .iter()
                .filter(|((m, _, _), _)| *m == mark)
                .map(|((_, r, u), s)| (vec![r.0.clone(), u.0.clone()], *s))
                .collect();
            raise_many(
                db,
                backend,
                "room_members",
                &["room_id", "user_id"],
                mark.column(),
                &rows,
            )
            .await?;
        }
        self.0.clear();
        Ok(())
    }
}

/// `SET col = max(col, seq)` on the rows of `table` whose `keys` equal each row's key values, in
/// one statement per [`CHUNK`] rows. Names come from this module, never from input.
async fn raise_many(
    db: &impl ConnectionTrait,
    backend: DbBackend,
    table: &str,
    keys: &[&str],
    col: &str,
    rows: &[(Vec<String>, i64)],
) -> Result<(), DbErr> {
    for chunk in rows.chunks(CHUNK) {
        let one = keys
            .iter()
            .map(|k| format!("? AS {k}"))
            .chain(std::iter::once("? AS s".to_owned()))
            .collect::<Vec<_>>()
            .join(", ");
        let more = vec!["?"; keys.len() + 1].join(", ");
        let mut values_sql = format!("SELECT {one}");
        for _ in 1..chunk.len() {
            values_sql.push_str(&format!(" UNION ALL SELECT {more}"));
        }
        let sql = match backend {
            DbBackend::Sqlite => {
                let on = keys
                    .iter()
                    .map(|k| format!("{table}.{k} = v.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                format!("UPDATE {table} SET {col} = MAX({col}, v.s) FROM ({values_sql}) AS v WHERE {on}")
            }
            _ => {
                let on = keys
                    .iter()
                    .map(|k| format!("t.{k} = v.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                format!("UPDATE {table} t JOIN ({values_sql}) v ON {on} SET t.{col} = GREATEST(t.{col}, v.s)")
            }
        };
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * (keys.len() + 1));
        for (key, seq) in chunk {
            values.extend(key.iter().map(|k| Value::from(k.clone())));
            values.push(Value::from(*seq));
        }
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Applies an op other than a new message or a mark.
async fn apply_one(db: &impl ConnectionTrait, op: &WriteOp) -> Result<(), DbErr> {
    match op {
        WriteOp::Message(_) | WriteOp::Read { .. } | WriteOp::Delivered { .. } => Ok(()),
        WriteOp::React {
            room,
            id,
            user,
            emoji,
            on,
            at,
        } => apply_reaction(db, room, id, user, emoji, *on, *at).await,
        WriteOp::MemberAdded {
            room,
            user,
            role,
            at,
        } => add_member(db, room, user, *role, *at).await,
        WriteOp::MemberRemoved { room, user } => {
            room_member::Entity::delete_by_id((room.0.clone(), user.0.clone()))
                .exec(db)
                .await?;
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
        WriteOp::Edit {
            id,
            body,
            at,
            mentions,
            ..
        } => {
            let Some(m) = message::Entity::find_by_id(id.0.clone()).one(db).await? else {
                return Ok(());
            };
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
                .col_expr(
                    message::Column::Mentions,
                    Expr::value(mentions_column(mentions)),
                )
                .filter(message::Column::Id.eq(id.0.clone()))
                .exec(db)
                .await?;
            Ok(())
        }
        WriteOp::Delete { id, .. } => {
            let before = message::Entity::find_by_id(id.0.clone()).one(db).await?;
            message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(String::new()))
                .col_expr(
                    message::Column::Attachments,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(message::Column::Deleted, Expr::value(true))
                .filter(message::Column::Id.eq(id.0.clone()))
                .exec(db)
                .await?;
            message_edit::Entity::delete_many()
                .filter(message_edit::Column::MessageId.eq(id.0.clone()))
                .exec(db)
                .await?;
            message_reaction::Entity::delete_many()
                .filter(message_reaction::Column::MessageId.eq(id.0.clone()))
                .exec(db)
                .await?;
            if let Some(m) = before {
                unshare_attachments(db, &m).await?;
            }
            Ok(())
        }
    }
}

/// One reaction added or taken back; the newest `at` wins (see `WriteOp::React`).
async fn apply_reaction(
    db: &impl ConnectionTrait,
    room: &RoomId,
    id: &MessageId,
    user: &UserId,
    emoji: &str,
    on: bool,
    at: i64,
) -> Result<(), DbErr> {
    let key = (id.0.clone(), user.0.clone(), emoji.to_owned());
    match message_reaction::Entity::find_by_id(key).one(db).await? {
        Some(r) if r.at > at || (r.at == at && r.active == on) => Ok(()),
        Some(_) => {
            message_reaction::Entity::update_many()
                .col_expr(message_reaction::Column::Active, Expr::value(on))
                .col_expr(message_reaction::Column::At, Expr::value(at))
                .filter(message_reaction::Column::MessageId.eq(id.0.clone()))
                .filter(message_reaction::Column::UserId.eq(user.0.clone()))
                .filter(message_reaction::Column::Emoji.eq(emoji))
                .exec(db)
                .await?;
            Ok(())
        }
        None => {
            message_reaction::ActiveModel {
                message_id: Set(id.0.clone()),
                user_id: Set(user.0.clone()),
                emoji: Set(emoji.to_owned()),
                room_id: Set(room.0.clone()),
                active: Set(on),
                at: Set(at),
            }
            .insert(db)
            .await?;
            Ok(())
        }
    }
}

/// After `m` was deleted: its attachments are no longer viewable by the room's members (their
/// uploader still sees them) unless another message of the room, not deleted, carries them too.
async fn unshare_attachments(db: &impl ConnectionTrait, m: &message::Model) -> Result<(), DbErr> {
    let ids = match super::writes::attachments_of_column(m.attachments.as_deref()) {
        Ok(ids) => ids,
        Err(e) => {
            // Which media to unshare is unknown; guessing from the room's links could unshare
            // the media of a message still in the write buffer. Loud, so someone looks.
            tracing::error!(message = %m.id, room = %m.room_id, error = %e, "unreadable attachments column of a deleted message; its media stay shared with the room");
            return Ok(());
        }
    };
    for media in ids {
        // Media ids are generated hex; anything else cannot be in a LIKE pattern safely.
        if media.is_empty() || !media.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let still_sent = message::Entity::find()
            .filter(message::Column::RoomId.eq(m.room_id.clone()))
            .filter(message::Column::Deleted.eq(false))
            .filter(message::Column::Attachments.like(format!("%\"{media}\"%")))
            .one(db)
            .await?
            .is_some();
        if !still_sent {
            entities::media_room::Entity::delete_by_id((media, m.room_id.clone()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}
