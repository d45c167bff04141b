//! The curation domain over HTTP: a room's pinned messages and its pin policy, and the
//! caller's starred messages. Pinning and starring themselves are the `pin` and `star` frames
//! (see `crate::actors::curation`). Answers in the API's types (`chat_protocol::api::curation`).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::media::urls::UrlSigner;
use crate::protocol::api::curation::{
    PinPolicy, PinnedMessage, PinsBody, StarredMessage, StarsBody, StarsQuery,
};
use crate::protocol::MessageOut;
use crate::store::Store;
use crate::views;

/// Stars on a page when the caller does not say.
const DEFAULT_STARS_PAGE: u64 = 50;

/// Most stars on a page.
const MAX_STARS_PAGE: u64 = 100;

/// The size of a page of stars: as asked, within 1 to [`MAX_STARS_PAGE`].
fn stars_page_size(asked: Option<u64>) -> u64 {
    asked.unwrap_or(DEFAULT_STARS_PAGE).clamp(1, MAX_STARS_PAGE)
}

/// Where the next page of stars starts: at the last star of a full page (stars are newest
/// first, so it is the `before` of the next); none after a short page.
fn next_page(star_times: &[i64], page_size: u64) -> Option<i64> {
    (star_times.len() as u64 == page_size)
        .then(|| star_times.last().copied())
        .flatten()
}

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Curation<'a> {
    pub store: &'a Store,
    /// Signs the media URLs of pinned and starred messages.
    pub media_urls: &'a UrlSigner,
}

impl Curation<'_> {
    /// The wire form of these messages of `room`, keyed by id (deleted ones left out).
    async fn messages_of(
        &self,
        room: &RoomId,
        ids: &[&str],
    ) -> Result<HashMap<String, MessageOut>, ChatError> {
        let rows = self.store.messages_by_ids(room, ids).await?;
        Ok(self
            .store
            .read_messages(rows)
            .await?
            .into_iter()
            .filter(|m| !m.deleted)
            .map(|m| (m.id.0.clone(), views::message(m, self.media_urls)))
            .collect())
    }

    /// The room's pinned messages, newest pin first, and its pin policy; members only.
    pub async fn pins(&self, me: &UserId, room: &RoomId) -> Result<PinsBody, ChatError> {
        super::rooms::require_member(self.store, room, me).await?;
        let pins = self.store.pins(room).await?;
        let ids: Vec<&str> = pins.iter().map(|p| p.message_id.as_str()).collect();
        let mut found = self.messages_of(room, &ids).await?;
        let messages = pins
            .iter()
            .filter_map(|p| {
                Some(PinnedMessage {
                    message: found.remove(&p.message_id)?,
                    pinned_at: p.at,
                    pinned_by: UserId(p.pinned_by.clone()),
                })
            })
            .collect();
        let policy = self.store.pin_policy(room).await?;
        Ok(PinsBody { messages, policy })
    }

    /// Sets who pins in a group (`members` or `admins`); its owners and admins only. Returns
    /// the policy now.
    pub async fn set_pin_policy(
        &self,
        me: &UserId,
        room: &RoomId,
        policy: &str,
    ) -> Result<PinPolicy, ChatError> {
        let policy = PinPolicy::parse(policy)
            .ok_or_else(|| ChatError::invalid("policy: members or admins"))?;
        super::rooms::require_group_manager(self.store, room, me, "set who pins").await?;
        self.store.set_pin_policy(room, policy).await?;
        Ok(policy)
    }

    /// A page of my starred messages, newest star first, from rooms I am still in (deleted
    /// ones left out), with where the next page starts.
    pub async fn stars(&self, me: &UserId, page: StarsQuery) -> Result<StarsBody, ChatError> {
        let limit = stars_page_size(page.limit);
        let stars = self.store.stars(me, page.before, limit).await?;
        let mine: HashSet<RoomId> = self.store.room_ids_of(me).await?.into_iter().collect();
        let mut by_room: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in &stars {
            by_room
                .entry(s.room_id.as_str())
                .or_default()
                .push(s.message_id.as_str());
        }
        let mut found: HashMap<String, MessageOut> = HashMap::new();
        for (room, ids) in by_room {
            let room = RoomId(room.to_owned());
            if mine.contains(&room) {
                found.extend(self.messages_of(&room, &ids).await?);
            }
        }
        let messages = stars
            .iter()
            .filter_map(|s| {
                Some(StarredMessage {
                    message: found.remove(&s.message_id)?,
                    starred_at: s.at,
                })
            })
            .collect();
        let times: Vec<i64> = stars.iter().map(|s| s.at).collect();
        Ok(StarsBody {
            messages,
            next: next_page(&times, limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_stars_is_1_to_100_and_only_a_full_one_has_a_next() {
        assert_eq!(stars_page_size(None), 50);
        assert_eq!(stars_page_size(Some(0)), 1);
        assert_eq!(stars_page_size(Some(7)), 7);
        assert_eq!(stars_page_size(Some(1000)), 100);
        assert_eq!(next_page(&[30, 20, 10], 3), Some(10));
        assert_eq!(next_page(&[30, 20], 3), None);
        assert_eq!(next_page(&[], 1), None);
    }
}
