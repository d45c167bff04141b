//! Push subscriptions and the small push settings the Notifier respects (push on/off, message
//! preview, per-conversation mutes, the SMS fallback). The fuller settings of issue 6 can take
//! these over; [`Store::push_prefs_many`] is the one read the Notifier makes.

use entities::{
    push_mute, push_setting, push_subscription, room, room_member, user, user_settings,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, RoomId, UserId};
use chat_protocol::settings::UserSettings;

pub use entities::push_subscription::PushKind;

/// A subscription as a client registers it (already validated).
#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub kind: PushKind,
    /// The Web Push endpoint, or the FCM token.
    pub endpoint: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub platform: Option<String>,
    pub device: Option<String>,
}

/// What decides whether and how `user` is notified about a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPrefs {
    pub enabled: bool,
    pub preview: bool,
    /// The conversation is muted now.
    pub muted: bool,
    /// Mentions of the user push even when the conversation is muted.
    pub mention_pushes: bool,
    /// The SMS-fallback number, only when its owner verified it.
    pub sms_phone: Option<String>,
    pub sms_fallback: bool,
}

/// The settings of a user without a row.
pub fn default_settings(user: &UserId) -> push_setting::Model {
    push_setting::Model {
        user_id: user.0.clone(),
        enabled: true,
        preview: true,
        sms_phone: None,
        sms_fallback: false,
        updated_at: 0,
    }
}

/// Hex SHA-256 of `kind:endpoint` (the kind's stored string, so hashes of existing rows match).
fn endpoint_hash(kind: PushKind, endpoint: &str) -> String {
    Sha256::digest(format!("{}:{endpoint}", kind.as_str()).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Saves a subscription for `user`. The same endpoint registered again (by this user or,
    /// after a sign-in on the same device, by another) is updated in place.
    pub async fn save_subscription(
        &self,
        user: &UserId,
        new: NewSubscription,
    ) -> Result<push_subscription::Model, StoreError> {
        use push_subscription::Column as C;
        let hash = endpoint_hash(new.kind, &new.endpoint);
        let row = push_subscription::ActiveModel {
            id: Set(UserId::generate().0),
            user_id: Set(user.0.clone()),
            kind: Set(new.kind),
            endpoint: Set(new.endpoint),
            endpoint_hash: Set(hash.clone()),
            p256dh: Set(new.p256dh),
            auth: Set(new.auth),
            platform: Set(new.platform),
            device: Set(new.device),
            created_at: Set(now_ms()),
        };
        push_subscription::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::EndpointHash)
                    .update_columns([C::UserId, C::P256dh, C::Auth, C::Platform, C::Device])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        push_subscription::Entity::find()
            .filter(C::EndpointHash.eq(hash))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::Conflict("subscription removed meanwhile".into()))
    }

    /// `user`'s subscriptions, oldest first.
    pub async fn subscriptions_of(
        &self,
        user: &UserId,
    ) -> Result<Vec<push_subscription::Model>, StoreError> {
        Ok(push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(user.0.clone()))
            .order_by_asc(push_subscription::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    /// Deletes subscription `id` if it belongs to `user`; `true` if it did.
    pub async fn delete_subscription(&self, user: &UserId, id: &str) -> Result<bool, StoreError> {
        let res = push_subscription::Entity::delete_many()
            .filter(push_subscription::Column::Id.eq(id))
            .filter(push_subscription::Column::UserId.eq(user.0.clone()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Deletes a subscription the push service reported gone.
    pub async fn prune_subscription(&self, id: &str) -> Result<(), StoreError> {
        push_subscription::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// `user`'s push settings (the defaults if never changed).
    pub async fn push_settings(&self, user: &UserId) -> Result<push_setting::Model, StoreError> {
        Ok(push_setting::Entity::find_by_id(user.0.clone())
            .one(&self.db)
            .await?
            .unwrap_or_else(|| default_settings(user)))
    }

    /// Stores `settings` (one row per user).
    pub async fn save_push_settings(
        &self,
        settings: push_setting::Model,
    ) -> Result<(), StoreError> {
        use push_setting::Column as C;
        let user = UserId(settings.user_id.clone());
        let row = push_setting::ActiveModel {
            user_id: Set(settings.user_id),
            enabled: Set(settings.enabled),
            preview: Set(settings.preview),
            sms_phone: Set(settings.sms_phone),
            sms_fallback: Set(settings.sms_fallback),
            updated_at: Set(now_ms()),
        };
        push_setting::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::UserId)
                    .update_columns([
                        C::Enabled,
                        C::Preview,
                        C::SmsPhone,
                        C::SmsFallback,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        self.release_unused(&user).await
    }

    /// The conversations `user` muted (expired mutes left out).
    pub async fn mutes_of(&self, user: &UserId) -> Result<Vec<push_mute::Model>, StoreError> {
        let now = now_ms();
        Ok(push_mute::Entity::find()
            .filter(push_mute::Column::UserId.eq(user.0.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|m| m.until.is_none_or(|u| u > now))
            .collect())
    }

    /// Mutes `room` for `user` until `until` (ms), or until unmuted.
    pub async fn mute(
        &self,
        user: &UserId,
        room: &RoomId,
        until: Option<i64>,
    ) -> Result<(), StoreError> {
        let row = push_mute::ActiveModel {
            user_id: Set(user.0.clone()),
            room_id: Set(room.0.clone()),
            until: Set(until),
        };
        push_mute::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([push_mute::Column::UserId, push_mute::Column::RoomId])
                    .update_column(push_mute::Column::Until)
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    pub async fn unmute(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        push_mute::Entity::delete_by_id((user.0.clone(), room.0.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A group's name (`None` for a dm or an unknown room).
    pub async fn room_name(&self, room: &RoomId) -> Result<Option<String>, StoreError> {
        Ok(room::Entity::find_by_id(room.0.clone())
            .one(&self.db)
            .await?
            .and_then(|r| r.name))
    }
}

/// Ids per `IN (...)` list, well under every backend's limit on bound values.
const CHUNK: usize = 500;

impl Store {
    /// [`PushPrefs`] and read marks of `users` in `room`, in a few queries whatever their number.
    /// Users who are no longer members, and deleted accounts, are left out.
    pub async fn push_prefs_many(
        &self,
        room: &RoomId,
        users: &[UserId],
    ) -> Result<Vec<(UserId, PushPrefs, i64)>, StoreError> {
        let now = now_ms();
        let mut out = Vec::with_capacity(users.len());
        for chunk in users.chunks(CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|u| u.0.clone()).collect();
            // Deleted accounts are never notified, whatever rows may be left of them.
            let deleted: std::collections::HashSet<String> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(user::Column::Id.is_in(ids.clone()))
                .filter(user::Column::DeletedAt.is_not_null())
                .into_tuple::<String>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
            let marks: Vec<room_member::Model> = room_member::Entity::find()
                .filter(room_member::Column::RoomId.eq(room.0.clone()))
                .filter(room_member::Column::UserId.is_in(ids.clone()))
                .all(&self.db)
                .await?
                .into_iter()
                .filter(|m| !deleted.contains(&m.user_id))
                .collect();
            let settings: std::collections::HashMap<String, push_setting::Model> =
                push_setting::Entity::find()
                    .filter(push_setting::Column::UserId.is_in(ids.clone()))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|s| (s.user_id.clone(), s))
                    .collect();
            let muted: std::collections::HashSet<String> = push_mute::Entity::find()
                .filter(push_mute::Column::RoomId.eq(room.0.clone()))
                .filter(push_mute::Column::UserId.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .filter(|m| m.until.is_none_or(|u| u > now))
                .map(|m| m.user_id)
                .collect();
            // The user's settings document (`PATCH /api/me/settings`) counts as well: push off,
            // preview off, a muted conversation or quiet hours in either place hold.
            let docs: std::collections::HashMap<String, UserSettings> =
                user_settings::Entity::find()
                    .filter(
                        user_settings::Column::UserId
                            .is_in(chunk.iter().map(|u| u.0.clone()).collect::<Vec<_>>()),
                    )
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|r| {
                        let doc = super::people::read_settings(&r.user_id, Some(&r.settings));
                        (r.user_id, doc)
                    })
                    .collect();
            // The SMS fallback texts only numbers their owner verified.
            let numbers: Vec<(UserId, String)> = settings
                .values()
                .filter_map(|s| Some((UserId(s.user_id.clone()), s.sms_phone.clone()?)))
                .collect();
            let verified = self.verified_phones(&numbers).await?;
            for m in marks {
                let user = UserId(m.user_id);
                let s = settings
                    .get(&user.0)
                    .cloned()
                    .unwrap_or_else(|| default_settings(&user));
                let doc = docs.get(&user.0).cloned().unwrap_or_default();
                let quiet = doc.in_quiet_hours(now);
                let prefs = PushPrefs {
                    enabled: s.enabled && doc.notifications.push && !quiet,
                    preview: s.preview && doc.notifications.preview,
                    muted: muted.contains(&user.0) || doc.is_muted(room, now),
                    mention_pushes: doc.notifications.mentions,
                    sms_phone: s
                        .sms_phone
                        .filter(|p| verified.contains(&(user.clone(), p.clone()))),
                    sms_fallback: s.sms_fallback,
                };
                out.push((user, prefs, m.last_read_seq));
            }
        }
        Ok(out)
    }

    /// The subscriptions of all of `users`.
    pub async fn subscriptions_of_users(
        &self,
        users: &[UserId],
    ) -> Result<Vec<push_subscription::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in users.chunks(CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|u| u.0.clone()).collect();
            out.extend(
                push_subscription::Entity::find()
                    .filter(push_subscription::Column::UserId.is_in(ids))
                    .all(&self.db)
                    .await?,
            );
        }
        Ok(out)
    }
}
