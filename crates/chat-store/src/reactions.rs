//! Reactions as reads see them: the rows in SQL with the buffered reactions (not copied yet) laid
//! over, newest mark winning.

use std::collections::{BTreeMap, HashMap, HashSet};

use entities::message_reaction;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// Emoji → the users who reacted with it, earliest first.
pub type Reactions = BTreeMap<String, Vec<UserId>>;

/// (message, user, emoji) → (at, on).
type Marks = HashMap<(String, String, String), (i64, bool)>;

impl Store {
    /// The reactions of the messages of each page (a room and some of its message ids), by
    /// message id (messages without any are left out), in the order given: one Redis round trip
    /// and at most one SQL query for all of them (a `sync` after a long absence decorates many
    /// rooms).
    pub async fn reactions_of_rooms(
        &self,
        pages: &[(&RoomId, Vec<&MessageId>)],
    ) -> Result<Vec<HashMap<String, Reactions>>, StoreError> {
        let asked: Vec<&RoomId> = pages
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(room, _)| *room)
            .collect();
        let buffered = match &self.buffer {
            Some(b) => b.reactions(&asked).await?,
            None => asked.iter().map(|_| (Vec::new(), true)).collect(),
        };
        let mut by_room: HashMap<&RoomId, (Vec<_>, bool)> =
            asked.into_iter().zip(buffered).collect();
        let from_sql: Vec<&str> = pages
            .iter()
            .filter(|(room, _)| by_room.get(room).is_some_and(|(_, in_sql)| *in_sql))
            .flat_map(|(_, ids)| ids.iter().map(|i| i.as_str()))
            .collect();
        let mut stored: HashMap<String, Vec<message_reaction::Model>> = HashMap::new();
        if !from_sql.is_empty() {
            let rows = message_reaction::Entity::find()
                .filter(message_reaction::Column::MessageId.is_in(from_sql))
                .limit(10_000)
                .all(&self.db)
                .await?;
            for r in rows {
                stored.entry(r.message_id.clone()).or_default().push(r);
            }
        }
        let mut out = Vec::with_capacity(pages.len());
        for (room, ids) in pages {
            let (buffered, _) = by_room.remove(*room).unwrap_or_default();
            out.push(merge(ids, &mut stored, buffered));
        }
        Ok(out)
    }

    /// With a Redis buffer: records which rooms SQL holds reactions of, unless already known, so
    /// reads of the other rooms skip the reactions query (see `RedisBuffer::reactions`).
    pub async fn seed_reacted_rooms(&self) -> Result<(), StoreError> {
        let Some(b) = &self.buffer else {
            return Ok(());
        };
        if b.reacted_rooms_seeded().await? {
            return Ok(());
        }
        let rooms: Vec<String> = message_reaction::Entity::find()
            .select_only()
            .column(message_reaction::Column::RoomId)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        b.seed_reacted_rooms(&rooms).await?;
        Ok(())
    }
}

/// One room's reactions: the SQL rows of `ids` (taken out of `stored`) with the buffered marks
/// laid over, newest mark winning; active ones by message, earliest first.
fn merge(
    ids: &[&MessageId],
    stored: &mut HashMap<String, Vec<message_reaction::Model>>,
    buffered: Vec<super::buffer::BufferedReaction>,
) -> HashMap<String, Reactions> {
    let wanted: HashSet<&str> = ids.iter().map(|i| i.as_str()).collect();
    let mut marks: Marks = HashMap::new();
    for id in &wanted {
        for r in stored.remove(*id).unwrap_or_default() {
            marks.insert((r.message_id, r.user_id, r.emoji), (r.at, r.active));
        }
    }
    for (id, user, emoji, mark) in buffered {
        if !wanted.contains(id.as_str()) {
            continue;
        }
        let cur = marks
            .entry((id.0, user.0, emoji))
            .or_insert((i64::MIN, false));
        if mark.at >= cur.0 {
            *cur = (mark.at, mark.on);
        }
    }
    let mut active: Vec<((String, String, String), i64)> = marks
        .into_iter()
        .filter(|(_, (_, on))| *on)
        .map(|(k, (at, _))| (k, at))
        .collect();
    active.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: HashMap<String, Reactions> = HashMap::new();
    for ((id, user, emoji), _) in active {
        out.entry(id)
            .or_default()
            .entry(emoji)
            .or_default()
            .push(UserId(user));
    }
    out
}
