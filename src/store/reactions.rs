//! Reactions as reads see them: the rows in SQL with the buffered reactions (not copied yet) laid
//! over, newest mark winning.

use std::collections::{BTreeMap, HashMap, HashSet};

use entities::message_reaction;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Store, StoreError};
use crate::ids::{MessageId, RoomId, UserId};

/// Emoji → the users who reacted with it, earliest first.
pub type Reactions = BTreeMap<String, Vec<UserId>>;

/// (message, user, emoji) → (at, on).
type Marks = HashMap<(String, String, String), (i64, bool)>;

impl Store {
    /// The reactions of these messages of `room`, by message id (messages without any are left
    /// out).
    pub async fn reactions_of(
        &self,
        room: &RoomId,
        ids: &[&MessageId],
    ) -> Result<HashMap<String, Reactions>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: HashSet<&str> = ids.iter().map(|i| i.as_str()).collect();
        let (buffered, in_sql) = match &self.buffer {
            Some(b) => b.reactions(room).await?,
            None => (Vec::new(), true),
        };
        let mut marks: Marks = HashMap::new();
        if in_sql {
            let rows = message_reaction::Entity::find()
                .filter(message_reaction::Column::MessageId.is_in(wanted.iter().copied()))
                .limit(10_000)
                .all(&self.db)
                .await?;
            for r in rows {
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
