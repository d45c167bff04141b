//! Who may add whom to a group (issue 19, finding 6): nobody adds someone they blocked or who
//! blocked them, nor a deleted account, and each user's `privacy.group_adds` setting decides the
//! rest (`everyone`, `contacts`: only people in their contacts, `nobody`). Those the setting does
//! not let the adder add are invited instead (see `store::invitations`).

use std::collections::{HashMap, HashSet};

use entities::{block, contact, user, user_settings};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::people::read_settings;
use super::{Store, StoreError};
use chat_protocol::ids::UserId;
use chat_protocol::settings::GroupAddPolicy;

/// Users looked up per statement (under SQLite's bound-variable limit).
const CHUNK: usize = 400;

/// What `adder` may do with each candidate of a group add.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GroupAdds {
    /// Refused outright: unknown or deleted accounts, a block either way.
    pub refused: Vec<UserId>,
    /// Their `privacy.group_adds` does not allow the adder: they may be invited.
    pub invite: Vec<UserId>,
}

impl Store {
    /// Sorts `candidates` into those `adder` may not add at all and those who must be invited
    /// (in the order given); the rest may be added. A constant number of statements per chunk.
    pub async fn group_adds(
        &self,
        adder: &UserId,
        candidates: &[UserId],
    ) -> Result<GroupAdds, StoreError> {
        let mut out = GroupAdds::default();
        for chunk in candidates.chunks(CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|u| u.0.clone()).collect();
            let live: HashSet<String> = user::Entity::find()
                .filter(user::Column::Id.is_in(ids.clone()))
                .filter(user::Column::DeletedAt.is_null())
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
            let blocked: HashSet<String> = block::Entity::find()
                .filter(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(block::Column::BlockerId.eq(adder.0.clone()))
                                .add(block::Column::BlockedId.is_in(ids.clone())),
                        )
                        .add(
                            Condition::all()
                                .add(block::Column::BlockedId.eq(adder.0.clone()))
                                .add(block::Column::BlockerId.is_in(ids.clone())),
                        ),
                )
                .all(&self.db)
                .await?
                .into_iter()
                .map(|b| {
                    if b.blocker_id == adder.0 {
                        b.blocked_id
                    } else {
                        b.blocker_id
                    }
                })
                .collect();
            let policy: HashMap<String, GroupAddPolicy> = user_settings::Entity::find()
                .filter(user_settings::Column::UserId.is_in(ids.clone()))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|s| {
                    let doc = read_settings(&s.user_id, Some(&s.settings));
                    (s.user_id, doc.privacy.who_may_add())
                })
                .collect();
            let knows_adder: HashSet<String> = contact::Entity::find()
                .filter(contact::Column::OwnerId.is_in(ids.clone()))
                .filter(contact::Column::ContactId.eq(adder.0.clone()))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|c| c.owner_id)
                .collect();
            for u in chunk {
                if !live.contains(&u.0) || blocked.contains(&u.0) {
                    out.refused.push(u.clone());
                    continue;
                }
                // No settings row: the default, everyone.
                let allowed = match policy.get(&u.0) {
                    None | Some(GroupAddPolicy::Everyone) => true,
                    Some(GroupAddPolicy::Contacts) => knows_adder.contains(&u.0),
                    Some(GroupAddPolicy::Nobody) => false,
                };
                if !allowed {
                    out.invite.push(u.clone());
                }
            }
        }
        Ok(out)
    }
}
