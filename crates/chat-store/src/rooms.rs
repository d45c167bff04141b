//! Rooms and memberships: creation, lookups and listings. Membership changes of existing rooms
//! are chat writes (`WriteOp`), applied by the Persister.

use std::collections::HashMap;

use entities::{room, room_member, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, Set, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, RoomId, UserId};

pub use chat_protocol::{Role, RoomKind};

/// One of a user's rooms, as SQL has it (see `Store::room_rows`).
#[derive(Clone, Debug, FromQueryResult, Serialize, Deserialize)]
pub(super) struct RoomRow {
    pub id: String,
    pub kind: String,
    /// The group's name, or the other member's display name for a dm.
    pub name: Option<String>,
    pub last_seq: i64,
    pub last_read_seq: i64,
}

/// One of a user's rooms as their room list shows it: what it is, how far it has gone and how
/// much of it they have not read (the server sends it as a `RoomSummary`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomOverview {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub last_seq: i64,
    /// Messages from others after the user's read mark (capped, see `Store::rooms_for_user`).
    pub unread: i64,
    /// Of those, the ones that mention the user.
    pub unread_mentions: i64,
}

/// Everything a Room actor needs to start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomRecord {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seq: i64,
    pub members: HashMap<UserId, Role>,
    pub avatar: Option<String>,
    /// In a dm: (blocker, blocked) pairs between its two members.
    pub blocked: Vec<(UserId, UserId)>,
}

/// A member with the profile fields other members see (the API answers them as
/// `chat_protocol::api::rooms::MemberOut`).
#[derive(Clone, Debug)]
pub struct MemberDetails {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Highest seq this member has read, as stored in SQL (a mark still in the Redis buffer
    /// shows with the next `receipt`).
    pub last_read_seq: i64,
    /// Highest seq handed to one of this member's devices, as stored in SQL.
    pub delivered_seq: i64,
    /// Media id of the member's avatar, if any.
    pub avatar: Option<String>,
}

/// A room with its members' profiles (the API answers it as `chat_protocol::api::rooms::RoomOut`).
#[derive(Clone, Debug)]
pub struct RoomDetails {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seq: i64,
    /// Media id of the group avatar.
    pub avatar: Option<String>,
    pub members: Vec<MemberDetails>,
}

/// The unique key of the dm between two users.
pub fn dm_key(a: &UserId, b: &UserId) -> String {
    if a <= b {
        format!("{a}:{b}")
    } else {
        format!("{b}:{a}")
    }
}

impl Store {
    /// Creates a group owned by `creator` with `members` (the creator is added if missing).
    pub async fn create_group(
        &self,
        creator: &UserId,
        name: &str,
        members: &[UserId],
    ) -> Result<RoomId, StoreError> {
        let id = RoomId::generate();
        let now = now_ms();
        let txn = self.db.begin().await?;
        room::ActiveModel {
            id: Set(id.0.clone()),
            kind: Set(RoomKind::Group.as_str().into()),
            name: Set(Some(name.to_owned())),
            dm_key: Set(None),
            created_by: Set(creator.0.clone()),
            created_at: Set(now),
            last_seq: Set(0),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let mut rows = vec![member_row(&id, creator, Role::Owner, now)];
        rows.extend(
            members
                .iter()
                .filter(|m| *m != creator)
                .map(|m| member_row(&id, m, Role::Member, now)),
        );
        room_member::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        self.cache_changed().await;
        Ok(id)
    }

    /// The dm room of `a` and `b`, created if it does not exist yet; `true` when created now.
    pub async fn get_or_create_dm(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<(RoomId, bool), StoreError> {
        let key = dm_key(a, b);
        if let Some(r) = self.dm_by_key(&key).await? {
            return Ok((r, false));
        }
        let id = RoomId::generate();
        let now = now_ms();
        let txn = self.db.begin().await?;
        let inserted = room::ActiveModel {
            id: Set(id.0.clone()),
            kind: Set(RoomKind::Dm.as_str().into()),
            name: Set(None),
            dm_key: Set(Some(key.clone())),
            created_by: Set(a.0.clone()),
            created_at: Set(now),
            last_seq: Set(0),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted.map_err(StoreError::classify) {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                // Both users opened the dm at once; the other request won.
                drop(txn);
                return match self.dm_by_key(&key).await? {
                    Some(r) => Ok((r, false)),
                    None => Err(StoreError::Conflict("dm".into())),
                };
            }
            Err(e) => return Err(e),
        }
        let rows = if a == b {
            vec![member_row(&id, a, Role::Owner, now)]
        } else {
            vec![
                member_row(&id, a, Role::Owner, now),
                member_row(&id, b, Role::Owner, now),
            ]
        };
        room_member::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        self.cache_changed().await;
        Ok((id, true))
    }

    async fn dm_by_key(&self, key: &str) -> Result<Option<RoomId>, StoreError> {
        Ok(room::Entity::find()
            .filter(room::Column::DmKey.eq(key))
            .one(&self.db)
            .await?
            .map(|r| RoomId(r.id)))
    }

    /// A room with its member list, or `None` if there is no such room.
    /// With Redis, from the connect cache while valid (members, roles, name and blocks change only
    /// through writes that invalidate it; see `cache`), the last seq being the larger of the
    /// record's and the room's counter in Redis: a room starts without SQL.
    pub async fn load_room(&self, id: &RoomId) -> Result<Option<RoomRecord>, StoreError> {
        let found = self
            .cached(
                "room",
                &id.0,
                |r: &Option<RoomRecord>| r.as_ref().map(|_| u64::MAX),
                || self.load_room_sql(id),
            )
            .await?;
        let Some(mut rec) = found else {
            return Ok(None);
        };
        if let Some(b) = &self.buffer {
            rec.last_seq = rec.last_seq.max(b.room_seq(id).await?);
        }
        Ok(Some(rec))
    }

    /// [`Self::load_room`] from SQL alone (`last_seq` as SQL has it).
    async fn load_room_sql(&self, id: &RoomId) -> Result<Option<RoomRecord>, StoreError> {
        let Some(r) = room::Entity::find_by_id(id.0.clone()).one(&self.db).await? else {
            return Ok(None);
        };
        let members: HashMap<UserId, Role> = room_member::Entity::find()
            .filter(room_member::Column::RoomId.eq(id.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (UserId(m.user_id), Role::parse(&m.role)))
            .collect();
        let kind = room_kind(&r.kind)?;
        let mut blocked = Vec::new();
        if kind.is_dm() {
            let ids: Vec<&UserId> = members.keys().collect();
            if let [a, b] = ids[..] {
                for (x, y) in [(a, b), (b, a)] {
                    if self.is_blocked(x, y).await? {
                        blocked.push((x.clone(), y.clone()));
                    }
                }
            }
        }
        Ok(Some(RoomRecord {
            id: RoomId(r.id),
            kind,
            name: r.name,
            created_at: r.created_at,
            last_seq: r.last_seq,
            members,
            avatar: r.avatar_media,
            blocked,
        }))
    }

    /// A room with its members' profiles, sorted by username.
    pub async fn room_details(&self, id: &RoomId) -> Result<Option<RoomDetails>, StoreError> {
        let Some(rec) = self.load_room(id).await? else {
            return Ok(None);
        };
        let ids: Vec<UserId> = rec.members.keys().cloned().collect();
        let marks: HashMap<String, (i64, i64)> = room_member::Entity::find()
            .filter(room_member::Column::RoomId.eq(id.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.user_id, (m.last_read_seq, m.delivered_seq)))
            .collect();
        let mut members: Vec<MemberDetails> = self
            .users_by_ids(&ids)
            .await?
            .into_iter()
            .map(|u: user::Model| {
                let id = UserId(u.id);
                let role = rec.members.get(&id).copied().unwrap_or(Role::Member);
                let (last_read_seq, delivered_seq) = marks.get(&id.0).copied().unwrap_or((0, 0));
                MemberDetails {
                    id,
                    username: u.username,
                    display_name: u.display_name,
                    role,
                    last_read_seq,
                    delivered_seq,
                    avatar: u.avatar_media,
                }
            })
            .collect();
        members.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(Some(RoomDetails {
            id: rec.id,
            kind: rec.kind,
            name: rec.name,
            created_at: rec.created_at,
            last_seq: rec.last_seq,
            avatar: rec.avatar,
            members,
        }))
    }

    /// The dm room of two users, if they have one.
    pub async fn dm_between(&self, a: &UserId, b: &UserId) -> Result<Option<RoomId>, StoreError> {
        self.dm_by_key(&dm_key(a, b)).await
    }

    /// `user`'s role in `room`, or `None` if not a member.
    pub async fn membership(
        &self,
        room: &RoomId,
        user: &UserId,
    ) -> Result<Option<Role>, StoreError> {
        Ok(
            room_member::Entity::find_by_id((room.0.clone(), user.0.clone()))
                .one(&self.db)
                .await?
                .map(|m| Role::parse(&m.role)),
        )
    }

    /// Ids of the rooms `user` is a member of.
    /// With Redis, from the connect cache's room list while valid (see `cache`).
    pub async fn room_ids_of(&self, user: &UserId) -> Result<Vec<RoomId>, StoreError> {
        if let (Some(b), true) = (&self.buffer, self.cache_ttl_secs > 0) {
            return Ok(self
                .cached_rooms(b, user)
                .await?
                .into_iter()
                .map(|r| RoomId(r.id))
                .collect());
        }
        Ok(room_member::Entity::find()
            .filter(room_member::Column::UserId.eq(user.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| RoomId(m.room_id))
            .collect())
    }

    /// `user`'s rooms as SQL has them, most recent first; a dm is named after the other member.
    pub(super) async fn room_rows(&self, user: &UserId) -> Result<Vec<RoomRow>, StoreError> {
        let me = user.0.clone();
        let backend = self.db.get_database_backend();
        Ok(RoomRow::find_by_statement(Statement::from_sql_and_values(
            backend,
            "SELECT r.id AS id, r.kind AS kind, \
               COALESCE(r.name, (SELECT u.display_name FROM room_members o JOIN users u ON u.id = o.user_id \
                                 WHERE o.room_id = r.id AND o.user_id <> ? LIMIT 1)) AS name, \
               r.last_seq AS last_seq, m.last_read_seq AS last_read_seq \
             FROM room_members m JOIN rooms r ON r.id = m.room_id \
             WHERE m.user_id = ? ORDER BY r.last_seq DESC, r.created_at DESC",
            [me.clone().into(), me.into()],
        ))
        .all(&self.db)
        .await?)
    }

    /// [`Self::rooms_for_user`] from SQL (and the buffered messages), without the Redis lists.
    ///
    /// Unread counts are exact up to `unread_max` and stop there: only a room's last `unread_max`
    /// seqs are counted, so a member far behind in busy rooms costs a small bounded index range
    /// per room (one statement for all rooms, with constant bounds so that the range is used).
    pub(super) async fn rooms_for_user_sql(
        &self,
        user: &UserId,
        unread_max: u64,
    ) -> Result<Vec<RoomOverview>, StoreError> {
        let rows = self.room_rows(user).await?;
        let cap = unread_max.min(i64::MAX as u64) as i64;
        // Messages still in the buffer count too: they are acked, only not yet in SQL.
        let buffered = match &self.buffer {
            Some(buffer) => {
                buffer
                    .room_seqs(
                        &rows
                            .iter()
                            .map(|r| RoomId(r.id.clone()))
                            .collect::<Vec<_>>(),
                    )
                    .await?
            }
            None => vec![0; rows.len()],
        };
        // Per room: (lowest seq not counted, highest seq in SQL).
        let ranges: Vec<(RoomId, i64, i64)> = rows
            .iter()
            .zip(&buffered)
            .map(|(r, b)| {
                (
                    RoomId(r.id.clone()),
                    r.last_read_seq.max(r.last_seq.max(*b) - cap),
                    r.last_seq,
                )
            })
            .filter(|(_, lo, hi)| hi > lo)
            .collect();
        let counted = self.count_unread(user, &ranges).await?;
        // Mentions only where something is unread (few rows, looked up one by one).
        let unread_ranges: Vec<(RoomId, i64, i64)> = ranges
            .iter()
            .filter(|(id, _, _)| counted.get(id).is_some_and(|n| *n > 0))
            .cloned()
            .collect();
        let mentioned = self.count_mentions(user, &unread_ranges).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (r, buffered_seq) in rows.into_iter().zip(buffered) {
            let id = RoomId(r.id);
            let mut unread = counted.get(&id).copied().unwrap_or(0);
            let mut mentions = mentioned.get(&id).copied().unwrap_or(0);
            if let (Some(buffer), true) = (&self.buffer, buffered_seq > r.last_seq) {
                let newer = buffer
                    .unsynced(
                        &id,
                        r.last_seq.max(r.last_read_seq).max(buffered_seq - cap),
                        None,
                    )
                    .await?;
                let others = newer.iter().filter(|m| m.sender != *user);
                unread += others.clone().count() as i64;
                mentions += others.filter(|m| m.mentions.contains(user)).count() as i64;
            }
            out.push(RoomOverview {
                id,
                kind: room_kind(&r.kind)?,
                name: r.name,
                last_seq: r.last_seq.max(buffered_seq),
                unread: unread.min(cap),
                unread_mentions: mentions.min(cap),
            });
        }
        Ok(out)
    }

    /// Messages from others, not deleted, with `lo < seq <= hi` in each room, in one statement
    /// per [`UNREAD_CHUNK`] rooms, from `idx_messages_unread` alone: at most `hi - lo` index
    /// entries per room (MariaDB left to itself may count through the client-id index, every
    /// message of the room).
    async fn count_unread(
        &self,
        user: &UserId,
        ranges: &[(RoomId, i64, i64)],
    ) -> Result<HashMap<RoomId, i64>, StoreError> {
        #[derive(FromQueryResult)]
        struct Count {
            room_id: String,
            n: i64,
        }
        let backend = self.db.get_database_backend();
        let index = match backend {
            sea_orm::DbBackend::Sqlite => "INDEXED BY idx_messages_unread",
            _ => "FORCE INDEX (idx_messages_unread)",
        };
        let one = format!(
            "SELECT ? AS room_id, COUNT(*) AS n FROM messages x {index} \
             WHERE x.room_id = ? AND x.seq > ? AND x.seq <= ? AND x.sender_id <> ? AND x.deleted = ?"
        );
        let mut out = HashMap::new();
        for chunk in ranges.chunks(UNREAD_CHUNK) {
            let sql = vec![one.as_str(); chunk.len()].join(" UNION ALL ");
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 6);
            for (room, lo, hi) in chunk {
                values.extend([
                    room.0.clone().into(),
                    room.0.clone().into(),
                    (*lo).into(),
                    (*hi).into(),
                    user.0.clone().into(),
                    false.into(),
                ]);
            }
            for c in Count::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
                .all(&self.db)
                .await?
            {
                out.insert(RoomId(c.room_id), c.n);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Messages from others, not deleted, that mention `user`, with `lo < seq <= hi` in each
    /// room.
    async fn count_mentions(
        &self,
        user: &UserId,
        ranges: &[(RoomId, i64, i64)],
    ) -> Result<HashMap<RoomId, i64>, StoreError> {
        let mut out = HashMap::new();
        // Ids are generated hex; anything else cannot go into a LIKE pattern safely.
        if ranges.is_empty() || !user.0.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(out);
        }
        let pattern = format!("%\"{}\"%", user.0);
        for (room, lo, hi) in ranges {
            let n = entities::message::Entity::find()
                .filter(entities::message::Column::RoomId.eq(room.0.clone()))
                .filter(entities::message::Column::Seq.gt(*lo))
                .filter(entities::message::Column::Seq.lte(*hi))
                .filter(entities::message::Column::SenderId.ne(user.0.clone()))
                .filter(entities::message::Column::Deleted.eq(false))
                .filter(entities::message::Column::Mentions.like(pattern.clone()))
                .count(&self.db)
                .await?;
            if n > 0 {
                out.insert(room.clone(), n as i64);
            }
        }
        Ok(out)
    }
}

/// `rooms.kind` as read from SQL. A value the server does not know is an error rather than a
/// guess: a room taken for a group would let its owners manage a dm, one taken for a dm would
/// apply a dm's block rules to a group.
pub(super) fn room_kind(stored: &str) -> Result<RoomKind, StoreError> {
    stored.parse().map_err(|e: chat_protocol::UnknownRoomKind| {
        StoreError::Db(sea_orm::DbErr::Type(format!("rooms.kind: {e}")))
    })
}

/// Rooms per unread-count statement: under SQLite's 500 terms of a compound `SELECT`.
const UNREAD_CHUNK: usize = 400;

fn member_row(room: &RoomId, user: &UserId, role: Role, now: i64) -> room_member::ActiveModel {
    room_member::ActiveModel {
        room_id: Set(room.0.clone()),
        user_id: Set(user.0.clone()),
        role: Set(role.as_str().into()),
        joined_at: Set(now),
        last_read_seq: Set(0),
        delivered_seq: Set(0),
    }
}

/// Used by `writes` to apply membership changes inside a transaction.
pub(super) async fn add_member(
    db: &impl ConnectionTrait,
    room: &RoomId,
    user: &UserId,
    role: Role,
    at: i64,
) -> Result<(), sea_orm::DbErr> {
    let exists = room_member::Entity::find_by_id((room.0.clone(), user.0.clone()))
        .one(db)
        .await?;
    if exists.is_none() {
        member_row(room, user, role, at).insert(db).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rooms_kind_is_read_at_the_store_edge_and_an_unknown_one_is_an_error() {
        assert_eq!(room_kind("dm").unwrap(), RoomKind::Dm);
        assert_eq!(room_kind("group").unwrap(), RoomKind::Group);
        // Before issue 20 any other string passed as "not a dm": a group's rules applied.
        assert!(matches!(
            room_kind("channel"),
            Err(StoreError::Db(sea_orm::DbErr::Type(_)))
        ));
    }

    #[test]
    fn a_room_record_cached_with_a_string_kind_still_reads() {
        // The connect cache holds RoomRecords as MessagePack; entries written when `kind` was a
        // String must read as the enum.
        #[derive(Serialize)]
        struct Old {
            id: RoomId,
            kind: String,
            name: Option<String>,
            created_at: i64,
            last_seq: i64,
            members: HashMap<UserId, Role>,
            avatar: Option<String>,
            blocked: Vec<(UserId, UserId)>,
        }
        let old = Old {
            id: RoomId::from("r1"),
            kind: "dm".into(),
            name: None,
            created_at: 1,
            last_seq: 2,
            members: HashMap::new(),
            avatar: None,
            blocked: vec![],
        };
        for bytes in [
            rmp_serde::to_vec_named(&old).unwrap(),
            rmp_serde::to_vec(&old).unwrap(),
        ] {
            let rec: RoomRecord = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(rec.kind, RoomKind::Dm);
        }
    }
}
