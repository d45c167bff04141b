//! The presence domain over HTTP: who of the people the caller shares a conversation with is
//! online, and when the others were last seen. (Live presence is the `Presence` actor's.)
//! Answers in the protocol's types (`PresenceOut`).

use std::collections::HashSet;

use actix::Addr;

use crate::actors::presence::{OnlineContacts, Presence};
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::PresenceOut;
use crate::store::Store;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct PresenceService<'a> {
    pub store: &'a Store,
    pub presence: &'a Addr<Presence>,
}

impl PresenceService<'_> {
    /// The presence of everyone who shares a conversation with `me`; people who blocked `me`
    /// and deleted accounts are left out, as they are from `presence` frames.
    pub async fn of_contacts(&self, me: &UserId) -> Result<Vec<PresenceOut>, ChatError> {
        let online: HashSet<UserId> = self
            .presence
            .send(OnlineContacts { user: me.clone() })
            .await??
            .into_iter()
            .map(|p| p.user)
            .collect();
        let blockers = self.store.blockers_of(me).await?;
        let ids: Vec<UserId> = self
            .store
            .co_members(me)
            .await?
            .into_iter()
            .filter(|u| !blockers.contains(u))
            .collect();
        Ok(self
            .store
            .users_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|u| u.deleted_at.is_none())
            .map(|u| {
                let user = UserId(u.id);
                let on = online.contains(&user);
                PresenceOut {
                    user,
                    online: on,
                    last_seen: if on { None } else { u.last_seen },
                }
            })
            .collect())
    }
}
