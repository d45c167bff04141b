//! Profiles, settings, contacts, blocks, broadcast lists and account management.

use std::collections::HashSet;

use entities::{
    block, broadcast_list, broadcast_list_member, contact, group_invitation, oauth_link,
    oauth_state, push_mute, push_setting, push_subscription, token, user, user_settings,
    verification_code, verified_contact,
};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::verify::ContactKind;
use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, UserId};
use chat_protocol::settings::UserSettings;

/// Fields of `PATCH /api/me`; `Some(None)` clears an optional field.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub about: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub avatar_media: Option<Option<String>>,
}

/// A contact with my nickname for them.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub user: UserId,
    pub nickname: Option<String>,
}

/// A login session (a token), as the owner sees it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The first 16 hex digits of the token's hash: enough to name it, useless to log in.
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The `User-Agent` it signed in with.
    pub user_agent: Option<String>,
    /// When it last signed in or opened a connection.
    pub last_used_at: Option<i64>,
}

/// A saved broadcast list.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: String,
    pub name: String,
    pub members: Vec<UserId>,
    pub created_at: i64,
}

impl Store {
    pub async fn update_profile(
        &self,
        user: &UserId,
        c: ProfileChange,
    ) -> Result<user::Model, StoreError> {
        let mut m: user::ActiveModel = user::ActiveModel {
            id: Set(user.0.clone()),
            ..Default::default()
        };
        if let Some(v) = c.username {
            m.username = Set(v);
        }
        if let Some(v) = c.display_name {
            m.display_name = Set(v);
        }
        if let Some(v) = c.about {
            m.about = Set(v);
        }
        if let Some(v) = c.email {
            m.email = Set(v);
        }
        if let Some(v) = c.phone {
            m.phone = Set(v);
        }
        if let Some(v) = c.avatar_media {
            m.avatar_media = Set(v);
        }
        let updated = m.update(&self.db).await.map_err(StoreError::classify)?;
        self.release_unused(user).await?;
        self.cache_changed().await;
        Ok(updated)
    }

    /// Users whose username or display name starts with `q` (case-insensitive), not deleted.
    pub async fn search_users(&self, q: &str, limit: u64) -> Result<Vec<user::Model>, StoreError> {
        let pattern = format!("{}%", q.to_lowercase().replace(['%', '_'], ""));
        Ok(user::Entity::find()
            .filter(user::Column::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(user::Column::Username.like(pattern.clone()))
                    .add(
                        Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                            user::Column::DisplayName,
                        )))
                        .like(pattern),
                    ),
            )
            .order_by_asc(user::Column::Username)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    pub async fn settings(&self, user: &UserId) -> Result<UserSettings, StoreError> {
        let row = user_settings::Entity::find_by_id(user.0.clone())
            .one(&self.db)
            .await?;
        Ok(read_settings(
            &user.0,
            row.as_ref().map(|r| r.settings.as_str()),
        ))
    }

    pub async fn save_settings(&self, user: &UserId, s: &UserSettings) -> Result<(), StoreError> {
        let json = serde_json::to_string(s)
            .map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e.to_string())))?;
        let row = user_settings::ActiveModel {
            user_id: Set(user.0.clone()),
            settings: Set(json),
            updated_at: Set(now_ms()),
        };
        let exists = user_settings::Entity::find_by_id(user.0.clone())
            .one(&self.db)
            .await?
            .is_some();
        if exists {
            row.update(&self.db).await?;
        } else {
            row.insert(&self.db).await?;
        }
        self.cache_changed().await;
        Ok(())
    }

    /// Registered (not deleted) users whose profile phone (E.164) or e-mail address is one of
    /// these and verified by them, each with the value it was found by. A value someone set but
    /// never verified finds nobody: anyone can type anyone's number into a profile.
    pub async fn users_by_contacts(
        &self,
        phones: &[String],
        emails: &[String],
    ) -> Result<Vec<(String, user::Model)>, StoreError> {
        use verified_contact::Column as V;
        if phones.is_empty() && emails.is_empty() {
            return Ok(vec![]);
        }
        let verified = verified_contact::Entity::find()
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(V::Kind.eq(ContactKind::Phone.as_str()))
                            .add(V::Value.is_in(phones.to_vec())),
                    )
                    .add(
                        Condition::all()
                            .add(V::Kind.eq(ContactKind::Email.as_str()))
                            .add(V::Value.is_in(emails.to_vec())),
                    ),
            )
            .all(&self.db)
            .await?;
        if verified.is_empty() {
            return Ok(vec![]);
        }
        let ids: HashSet<String> = verified.iter().map(|v| v.user_id.clone()).collect();
        let users = user::Entity::find()
            .filter(user::Column::DeletedAt.is_null())
            .filter(user::Column::Id.is_in(ids))
            .all(&self.db)
            .await?;
        Ok(verified
            .into_iter()
            .filter_map(|v| {
                let u = users.iter().find(|u| u.id == v.user_id)?;
                // Only the value the profile shows: a verified SMS-fallback number stays private.
                let shown = if ContactKind::parse(&v.kind) == Some(ContactKind::Phone) {
                    &u.phone
                } else {
                    &u.email
                };
                (shown.as_deref() == Some(v.value.as_str())).then(|| (v.value, u.clone()))
            })
            .collect())
    }

    pub async fn contacts(&self, owner: &UserId) -> Result<Vec<ContactRow>, StoreError> {
        Ok(contact::Entity::find()
            .filter(contact::Column::OwnerId.eq(owner.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| ContactRow {
                user: UserId(c.contact_id),
                nickname: c.nickname,
            })
            .collect())
    }

    /// Adds or renames a contact.
    pub async fn put_contact(
        &self,
        owner: &UserId,
        other: &UserId,
        nickname: Option<String>,
    ) -> Result<(), StoreError> {
        let key = (owner.0.clone(), other.0.clone());
        let row = contact::ActiveModel {
            owner_id: Set(owner.0.clone()),
            contact_id: Set(other.0.clone()),
            nickname: Set(nickname),
            created_at: Set(now_ms()),
        };
        if contact::Entity::find_by_id(key)
            .one(&self.db)
            .await?
            .is_some()
        {
            let mut row = row;
            row.created_at = sea_orm::ActiveValue::NotSet;
            row.update(&self.db).await?;
        } else {
            row.insert(&self.db).await?;
        }
        Ok(())
    }

    pub async fn delete_contact(&self, owner: &UserId, other: &UserId) -> Result<bool, StoreError> {
        Ok(
            contact::Entity::delete_by_id((owner.0.clone(), other.0.clone()))
                .exec(&self.db)
                .await?
                .rows_affected
                > 0,
        )
    }

    pub async fn block(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        if !self.is_blocked(blocker, blocked).await? {
            block::ActiveModel {
                blocker_id: Set(blocker.0.clone()),
                blocked_id: Set(blocked.0.clone()),
                created_at: Set(now_ms()),
            }
            .insert(&self.db)
            .await?;
            self.cache_changed().await;
        }
        Ok(())
    }

    pub async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        block::Entity::delete_by_id((blocker.0.clone(), blocked.0.clone()))
            .exec(&self.db)
            .await?;
        self.cache_changed().await;
        Ok(())
    }

    /// Whether `blocker` blocked `blocked`.
    pub async fn is_blocked(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        Ok(
            block::Entity::find_by_id((blocker.0.clone(), blocked.0.clone()))
                .one(&self.db)
                .await?
                .is_some(),
        )
    }

    /// Whether either of the two blocked the other.
    pub async fn blocked_between(&self, a: &UserId, b: &UserId) -> Result<bool, StoreError> {
        Ok(self.is_blocked(a, b).await? || self.is_blocked(b, a).await?)
    }

    pub async fn blocked_by(&self, blocker: &UserId) -> Result<Vec<UserId>, StoreError> {
        Ok(block::Entity::find()
            .filter(block::Column::BlockerId.eq(blocker.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| UserId(b.blocked_id))
            .collect())
    }

    /// The users who blocked `user`.
    pub async fn blockers_of(&self, user: &UserId) -> Result<HashSet<UserId>, StoreError> {
        Ok(block::Entity::find()
            .filter(block::Column::BlockedId.eq(user.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| UserId(b.blocker_id))
            .collect())
    }

    pub async fn sessions_of(
        &self,
        user: &UserId,
    ) -> Result<Vec<(String, SessionRow)>, StoreError> {
        let now = now_ms();
        Ok(token::Entity::find()
            .filter(token::Column::UserId.eq(user.0.clone()))
            .filter(token::Column::ExpiresAt.gt(now))
            .order_by_desc(token::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| {
                let row = SessionRow {
                    id: t.token_hash[..16].to_owned(),
                    created_at: t.created_at,
                    expires_at: t.expires_at,
                    user_agent: t.user_agent,
                    last_used_at: t.last_used_at.or(Some(t.created_at)),
                };
                (t.token_hash, row)
            })
            .collect())
    }

    pub async fn set_password_hash(&self, user: &UserId, hash: &str) -> Result<(), StoreError> {
        user::ActiveModel {
            id: Set(user.0.clone()),
            password_hash: Set(hash.to_owned()),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        self.cache_changed().await;
        Ok(())
    }

    /// Deletes every token of `user` but `keep`; returns the deleted token hashes.
    pub async fn revoke_tokens(
        &self,
        user: &UserId,
        keep: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let hashes: Vec<String> = self
            .sessions_of(user)
            .await?
            .into_iter()
            .map(|(h, _)| h)
            .filter(|h| Some(h.as_str()) != keep)
            .collect();
        if !hashes.is_empty() {
            token::Entity::delete_many()
                .filter(token::Column::TokenHash.is_in(hashes.clone()))
                .exec(&self.db)
                .await?;
            self.cache_changed().await;
        }
        Ok(hashes)
    }

    /// Deletes an account: tokens, settings, contacts, blocks, lists, linked provider accounts,
    /// push subscriptions, push settings (with the SMS number) and mutes go; the user row stays
    /// (renamed, without profile or password) so messages keep a sender, shown as a deleted user.
    pub async fn delete_account(&self, user: &UserId) -> Result<Vec<String>, StoreError> {
        let hashes = self.revoke_tokens(user, None).await?;
        let txn = self.db.begin().await?;
        user::ActiveModel {
            id: Set(user.0.clone()),
            username: Set(format!("deleted-{}", user.0)),
            display_name: Set("Deleted user".into()),
            password_hash: Set(String::new()),
            about: Set(None),
            email: Set(None),
            phone: Set(None),
            avatar_media: Set(None),
            deleted_at: Set(Some(now_ms())),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        user_settings::Entity::delete_by_id(user.0.clone())
            .exec(&txn)
            .await?;
        contact::Entity::delete_many()
            .filter(contact::Column::OwnerId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        block::Entity::delete_many()
            .filter(block::Column::BlockerId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        let lists: Vec<String> = broadcast_list::Entity::find()
            .filter(broadcast_list::Column::OwnerId.eq(user.0.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|l| l.id)
            .collect();
        broadcast_list_member::Entity::delete_many()
            .filter(broadcast_list_member::Column::ListId.is_in(lists))
            .exec(&txn)
            .await?;
        broadcast_list::Entity::delete_many()
            .filter(broadcast_list::Column::OwnerId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        oauth_link::Entity::delete_many()
            .filter(oauth_link::Column::UserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::LinkUserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        // Nothing may be pushed or texted to a deleted account: its devices, its SMS number and
        // the rest of its push settings go too.
        push_subscription::Entity::delete_many()
            .filter(push_subscription::Column::UserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        push_setting::Entity::delete_by_id(user.0.clone())
            .exec(&txn)
            .await?;
        // Its verified numbers and addresses are free for another account to verify.
        verified_contact::Entity::delete_many()
            .filter(verified_contact::Column::UserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        verification_code::Entity::delete_many()
            .filter(verification_code::Column::UserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        push_mute::Entity::delete_many()
            .filter(push_mute::Column::UserId.eq(user.0.clone()))
            .exec(&txn)
            .await?;
        // Its pending invitations, sent and received: none could be accepted any more, and those
        // it sent would hold places under the caps of pending invitations.
        group_invitation::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(group_invitation::Column::InviteeId.eq(user.0.clone()))
                    .add(group_invitation::Column::InviterId.eq(user.0.clone())),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.cache_changed().await;
        Ok(hashes)
    }

    pub async fn lists(&self, owner: &UserId) -> Result<Vec<ListRow>, StoreError> {
        let lists = broadcast_list::Entity::find()
            .filter(broadcast_list::Column::OwnerId.eq(owner.0.clone()))
            .order_by_asc(broadcast_list::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(lists.len());
        for l in lists {
            let members = self.list_members(&l.id).await?;
            out.push(ListRow {
                id: l.id,
                name: l.name,
                members,
                created_at: l.created_at,
            });
        }
        Ok(out)
    }

    pub async fn list(&self, owner: &UserId, id: &str) -> Result<Option<ListRow>, StoreError> {
        let Some(l) = broadcast_list::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if l.owner_id != owner.0 {
            return Ok(None);
        }
        let members = self.list_members(&l.id).await?;
        Ok(Some(ListRow {
            id: l.id,
            name: l.name,
            members,
            created_at: l.created_at,
        }))
    }

    async fn list_members(&self, id: &str) -> Result<Vec<UserId>, StoreError> {
        Ok(broadcast_list_member::Entity::find()
            .filter(broadcast_list_member::Column::ListId.eq(id.to_owned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| UserId(m.user_id))
            .collect())
    }

    /// Creates a list, or (with `id`) renames it and replaces its members where given.
    pub async fn save_list(
        &self,
        owner: &UserId,
        id: Option<&str>,
        name: Option<&str>,
        members: Option<&[UserId]>,
    ) -> Result<String, StoreError> {
        let txn = self.db.begin().await?;
        let id = match id {
            Some(id) => {
                if let Some(n) = name {
                    broadcast_list::ActiveModel {
                        id: Set(id.to_owned()),
                        name: Set(n.to_owned()),
                        ..Default::default()
                    }
                    .update(&txn)
                    .await?;
                }
                id.to_owned()
            }
            None => {
                let id = chat_protocol::ids::RoomId::generate().0;
                broadcast_list::ActiveModel {
                    id: Set(id.clone()),
                    owner_id: Set(owner.0.clone()),
                    name: Set(name.unwrap_or("list").to_owned()),
                    created_at: Set(now_ms()),
                }
                .insert(&txn)
                .await?;
                id
            }
        };
        if let Some(members) = members {
            broadcast_list_member::Entity::delete_many()
                .filter(broadcast_list_member::Column::ListId.eq(id.clone()))
                .exec(&txn)
                .await?;
            let rows: Vec<_> = members
                .iter()
                .map(|u| broadcast_list_member::ActiveModel {
                    list_id: Set(id.clone()),
                    user_id: Set(u.0.clone()),
                })
                .collect();
            if !rows.is_empty() {
                broadcast_list_member::Entity::insert_many(rows)
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(id)
    }

    pub async fn delete_list(&self, id: &str) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        broadcast_list_member::Entity::delete_many()
            .filter(broadcast_list_member::Column::ListId.eq(id.to_owned()))
            .exec(&txn)
            .await?;
        broadcast_list::Entity::delete_by_id(id.to_owned())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// A user's stored settings document (`user_settings.settings`, or none). One that cannot be
/// read is logged and counts as [`UserSettings::most_private`]: the defaults would let everyone
/// add the user to groups and show message text in their pushes, whatever they chose.
pub(super) fn read_settings(user: &str, stored: Option<&str>) -> UserSettings {
    UserSettings::from_stored(stored).unwrap_or_else(|e| {
        tracing::error!(user, error = %e, "unreadable settings document; the most private settings apply");
        UserSettings::most_private()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_protocol::settings::GroupAddPolicy;

    /// Before issue 20 an unreadable document counted as the defaults: everyone could add the
    /// user to groups and pushes showed message text.
    #[test]
    fn an_unreadable_settings_document_fails_closed() {
        for stored in [
            "{",
            r#"{"privacy": {"group_adds": "nobody", "added_later": true}}"#,
        ] {
            let s = read_settings("u1", Some(stored));
            assert_eq!(s.privacy.who_may_add(), GroupAddPolicy::Nobody, "{stored}");
            assert!(!s.notifications.preview, "{stored}");
        }
        let none = read_settings("u1", None);
        assert_eq!(none, UserSettings::default());
        assert_eq!(none.privacy.who_may_add(), GroupAddPolicy::Everyone);
    }
}
