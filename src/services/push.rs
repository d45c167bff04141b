//! The push domain: subscriptions (Web Push and FCM), the push settings and mutes the Notifier
//! respects, SMS invitations. Answers in the API's types (`chat_protocol::api::push`).

use actix::Addr;
use entities::{push_setting, push_subscription};

use crate::actors::notifier::{Notifier, SendInvite};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, RoomId, UserId};
use crate::limits::{Limits, UserAction};
use crate::protocol::api::push::{
    MuteOut, PushAddress, PushSettings, PushSettingsPatch, Subscribe, SubscriptionOut,
};
use crate::push::sms::normalize_phone;
use crate::push::webpush;
use crate::store::push::{NewSubscription, PushKind};
use crate::store::verify::ContactKind;
use crate::store::Store;

/// Most subscriptions one user may hold: every message fans out to all of them, so an unbounded
/// list would let one account make the server send requests anywhere at will.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// Longest FCM registration token accepted, in bytes.
const MAX_FCM_TOKEN: usize = 4096;

/// Longest device label, in characters.
const MAX_DEVICE_LABEL: usize = 100;

const PHONE_HINT: &str = "a phone number in international form, like +41 44 668 18 00";

/// The service; cheap to make for each request (it borrows what it uses).
pub struct PushService<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub limits: &'a Limits,
    pub notifier: &'a Addr<Notifier>,
}

/// A stored subscription as its owner sees it.
pub fn subscription_out(s: push_subscription::Model) -> SubscriptionOut {
    let address = match s.kind {
        PushKind::Fcm => PushAddress::Fcm { token: s.endpoint },
        PushKind::WebPush => PushAddress::Webpush {
            endpoint: s.endpoint,
        },
    };
    SubscriptionOut {
        id: s.id,
        address,
        platform: s.platform,
        device: s.device,
        created_at: s.created_at,
    }
}

/// A device label: trimmed, empty = none, at most [`MAX_DEVICE_LABEL`] characters.
fn device_label(device: Option<String>) -> Result<Option<String>, ChatError> {
    let device = device
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if device
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DEVICE_LABEL)
    {
        return Err(ChatError::invalid(format!(
            "device: at most {MAX_DEVICE_LABEL} characters"
        )));
    }
    Ok(device)
}

impl PushService<'_> {
    /// What a subscription request asks to store, checked: a Web Push endpoint and keys a push
    /// service would accept (`push.allow_http_endpoints` for plain http), or an FCM token of
    /// printable ASCII with an optional platform.
    fn new_subscription(&self, body: Subscribe) -> Result<NewSubscription, ChatError> {
        Ok(match body {
            Subscribe::Webpush {
                endpoint,
                keys,
                device,
            } => {
                webpush::validate(
                    &endpoint,
                    &keys.p256dh,
                    &keys.auth,
                    self.settings.push.allow_http_endpoints,
                )
                .map_err(ChatError::Invalid)?;
                NewSubscription {
                    kind: PushKind::WebPush,
                    endpoint,
                    p256dh: Some(keys.p256dh),
                    auth: Some(keys.auth),
                    platform: None,
                    device: device_label(device)?,
                }
            }
            Subscribe::Fcm {
                token,
                platform,
                device,
            } => {
                let token = token.trim().to_owned();
                if token.is_empty()
                    || token.len() > MAX_FCM_TOKEN
                    || !token.chars().all(|c| c.is_ascii_graphic())
                {
                    return Err(ChatError::invalid("token: an FCM registration token"));
                }
                let platform = platform.map(|p| p.trim().to_lowercase());
                if platform
                    .as_deref()
                    .is_some_and(|p| !["android", "ios", "web"].contains(&p))
                {
                    return Err(ChatError::invalid("platform: android, ios or web"));
                }
                NewSubscription {
                    kind: PushKind::Fcm,
                    endpoint: token,
                    p256dh: None,
                    auth: None,
                    platform,
                    device: device_label(device)?,
                }
            }
        })
    }

    /// Saves a subscription; the same endpoint or token registered again is updated (and moves
    /// to the caller); a conflict beyond [`MAX_SUBSCRIPTIONS`]. Rate limited per user.
    pub async fn subscribe(
        &self,
        me: &UserId,
        body: Subscribe,
    ) -> Result<SubscriptionOut, ChatError> {
        self.limits.user_action(UserAction::PushSubscription, me)?;
        let new = self.new_subscription(body)?;
        let mine = self.store.subscriptions_of(me).await?;
        if mine.len() >= MAX_SUBSCRIPTIONS
            && !mine
                .iter()
                .any(|s| s.kind == new.kind && s.endpoint == new.endpoint)
        {
            return Err(ChatError::Conflict(format!(
                "at most {MAX_SUBSCRIPTIONS} push subscriptions; delete one first"
            )));
        }
        let saved = self.store.save_subscription(me, new).await?;
        tracing::info!(user = %me, subscription = %saved.id, kind = %saved.kind, "push subscription saved");
        Ok(subscription_out(saved))
    }

    pub async fn subscriptions(&self, me: &UserId) -> Result<Vec<SubscriptionOut>, ChatError> {
        Ok(self
            .store
            .subscriptions_of(me)
            .await?
            .into_iter()
            .map(subscription_out)
            .collect())
    }

    /// Deletes one of my subscriptions; not found unless it is mine.
    pub async fn unsubscribe(&self, me: &UserId, id: &str) -> Result<(), ChatError> {
        if self.store.delete_subscription(me, id).await? {
            Ok(())
        } else {
            Err(ChatError::NotFound("subscription"))
        }
    }

    async fn settings_out(&self, s: push_setting::Model) -> Result<PushSettings, ChatError> {
        let me = UserId(s.user_id.clone());
        let muted = self
            .store
            .mutes_of(&me)
            .await?
            .into_iter()
            .map(|m| MuteOut {
                room: RoomId(m.room_id),
                until: m.until,
            })
            .collect();
        let sms_phone_verified = match &s.sms_phone {
            Some(p) => self
                .store
                .verified_by(ContactKind::Phone, p)
                .await?
                .is_some_and(|owner| owner == me),
            None => false,
        };
        Ok(PushSettings {
            enabled: s.enabled,
            preview: s.preview,
            sms_phone: s.sms_phone,
            sms_phone_verified,
            sms_fallback: s.sms_fallback,
            muted,
        })
    }

    /// My push settings. The fallback texts `sms_phone` only once it is verified.
    pub async fn settings(&self, me: &UserId) -> Result<PushSettings, ChatError> {
        let s = self.store.push_settings(me).await?;
        self.settings_out(s).await
    }

    /// Changes the fields given; the SMS fallback needs a number.
    pub async fn patch_settings(
        &self,
        me: &UserId,
        patch: PushSettingsPatch,
    ) -> Result<PushSettings, ChatError> {
        let mut s = self.store.push_settings(me).await?;
        if let Some(v) = patch.enabled {
            s.enabled = v;
        }
        if let Some(v) = patch.preview {
            s.preview = v;
        }
        if let Some(phone) = patch.sms_phone {
            s.sms_phone = match phone.trim() {
                "" => None,
                p => Some(
                    normalize_phone(p)
                        .ok_or_else(|| ChatError::invalid(format!("sms_phone: {PHONE_HINT}")))?,
                ),
            };
        }
        if let Some(v) = patch.sms_fallback {
            s.sms_fallback = v;
        }
        if s.sms_fallback && s.sms_phone.is_none() {
            return Err(ChatError::invalid("sms_fallback: set sms_phone first"));
        }
        self.store.save_push_settings(s.clone()).await?;
        self.settings_out(s).await
    }

    /// No pushes for that conversation of mine (until then, which must be in the future).
    pub async fn mute(
        &self,
        me: &UserId,
        room: &RoomId,
        until: Option<i64>,
    ) -> Result<(), ChatError> {
        super::rooms::require_member(self.store, room, me).await?;
        if until.is_some_and(|u| u <= now_ms()) {
            return Err(ChatError::invalid("until: must be in the future"));
        }
        self.store.mute(me, room, until).await?;
        Ok(())
    }

    pub async fn unmute(&self, me: &UserId, room: &RoomId) -> Result<(), ChatError> {
        self.store.unmute(me, room).await?;
        Ok(())
    }

    /// Texts an invitation from me (unavailable without an SMS gateway, rate limited by
    /// `push.sms.invites_per_day`).
    pub async fn invite(&self, me: &UserId, my_name: &str, phone: &str) -> Result<(), ChatError> {
        let phone = normalize_phone(phone)
            .ok_or_else(|| ChatError::invalid(format!("phone: {PHONE_HINT}")))?;
        self.notifier
            .send(SendInvite {
                from: me.clone(),
                from_name: my_name.to_owned(),
                phone,
            })
            .await??;
        Ok(())
    }
}
