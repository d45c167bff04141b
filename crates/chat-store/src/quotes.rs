//! The short quote a reply carries of the message it answers (author and first line, or
//! "deleted"), looked up in the page being sent, then the Redis buffer, then SQL.

use std::collections::{HashMap, HashSet};

use entities::message;
use sea_orm::EntityTrait;

use super::messages::{model_of, Message};
use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// What a reply shows of the message it answers: its author and first line (at most
/// [`Quoted::MAX_CHARS`] characters), or only that it was deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quoted {
    pub id: MessageId,
    pub from: UserId,
    /// Empty when deleted.
    pub text: String,
    pub deleted: bool,
}

impl Quoted {
    /// Longest quoted text, in characters (the protocol's `Quote::MAX_CHARS`).
    pub const MAX_CHARS: usize = chat_protocol::Quote::MAX_CHARS;

    /// The quote of a message with this author and body (`deleted`: it is gone): its first
    /// line that is not blank, trimmed, cut at [`Self::MAX_CHARS`] characters with an ellipsis.
    pub fn of(id: MessageId, from: UserId, body: &str, deleted: bool) -> Self {
        let text = if deleted {
            String::new()
        } else {
            let line = body.lines().map(str::trim).find(|l| !l.is_empty());
            let line = line.unwrap_or("");
            let mut t: String = line.chars().take(Self::MAX_CHARS).collect();
            if line.chars().count() > Self::MAX_CHARS {
                t.push('…');
            }
            t
        };
        Self {
            id,
            from,
            text,
            deleted,
        }
    }
}

fn quote_of_row(m: &message::Model) -> Quoted {
    Quoted::of(
        MessageId(m.id.clone()),
        UserId(m.sender_id.clone()),
        &m.body,
        m.deleted,
    )
}

impl Store {
    /// Quotes of the messages that the replies of `page` (all of `room`) answer, by id.
    pub(super) async fn quotes_for(
        &self,
        room: &RoomId,
        page: &[&Message],
    ) -> Result<HashMap<String, Quoted>, StoreError> {
        let targets: HashSet<&str> = page
            .iter()
            .filter_map(|m| m.reply_to.as_ref().map(|r| r.as_str()))
            .collect();
        let mut found: HashMap<String, Quoted> = page
            .iter()
            .filter(|m| targets.contains(m.id.as_str()))
            .map(|m| {
                let q = Quoted::of(m.id.clone(), m.sender.clone(), &m.body, m.deleted);
                (m.id.0.clone(), q)
            })
            .collect();
        let missing: Vec<&str> = targets
            .iter()
            .copied()
            .filter(|t| !found.contains_key(*t))
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = self.messages_by_ids(room, &missing).await?;
        for r in &rows {
            found.insert(r.id.clone(), quote_of_row(r));
        }
        Ok(found)
    }

    /// The room of message `id` and its quote, if it exists (stored or buffered).
    pub async fn quote(&self, id: &MessageId) -> Result<Option<(RoomId, Quoted)>, StoreError> {
        let mut rows = match message::Entity::find_by_id(id.0.clone())
            .one(&self.db)
            .await?
        {
            Some(m) => vec![m],
            None => {
                let Some(b) = &self.buffer else {
                    return Ok(None);
                };
                let Some((room, _)) = b.locate(id).await? else {
                    return Ok(None);
                };
                self.buffered(&room, 0, None)
                    .await?
                    .into_iter()
                    .filter(|m| m.id == *id)
                    .map(model_of)
                    .collect()
            }
        };
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let room = RoomId(first.room_id.clone());
        self.overlay(&room, &mut rows).await?;
        Ok(rows.first().map(|m| (room, quote_of_row(m))))
    }
}
