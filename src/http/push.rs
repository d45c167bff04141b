//! Push notifications: the VAPID key, subscriptions (Web Push and FCM), the push settings the
//! Notifier respects, and SMS invitations.

use actix_web::{web, HttpResponse};
use entities::{push_setting, push_subscription};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::AuthUser;
use super::rooms::require_member;
use super::AppState;
use crate::actors::notifier::SendInvite;
use crate::error::ChatError;
use crate::ids::{now_ms, RoomId};
use crate::push::sms::normalize_phone;
use crate::push::webpush;
use crate::store::push::{NewSubscription, PushKind};

/// Most subscriptions one user may hold: every message fans out to all of them, so an unbounded
/// list would let one account make the server send requests anywhere at will.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// `POST /api/push/subscriptions` body, by `kind`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subscribe {
    Webpush {
        endpoint: String,
        keys: WebPushKeys,
        device: Option<String>,
    },
    Fcm {
        token: String,
        platform: Option<String>,
        device: Option<String>,
    },
}

/// The keys of a browser's `PushSubscription`.
#[derive(Debug, Deserialize)]
pub struct WebPushKeys {
    pub p256dh: String,
    pub auth: String,
}

/// `PATCH /api/push/settings` body: the fields to change.
#[derive(Debug, Deserialize)]
pub struct SettingsPatch {
    pub enabled: Option<bool>,
    pub preview: Option<bool>,
    /// A phone number for the SMS fallback; `""` removes it.
    pub sms_phone: Option<String>,
    pub sms_fallback: Option<bool>,
}

/// `PUT /api/push/mutes/{room}` body (optional).
#[derive(Debug, Default, Deserialize)]
pub struct Mute {
    /// Muted until then (ms since the epoch); absent: until unmuted.
    pub until: Option<i64>,
}

/// `POST /api/push/sms/invite` body.
#[derive(Debug, Deserialize)]
pub struct Invite {
    pub phone: String,
}

fn subscription_out(s: &push_subscription::Model) -> Value {
    let address = if s.kind == PushKind::Fcm {
        "token"
    } else {
        "endpoint"
    };
    json!({
        "id": s.id,
        "kind": s.kind,
        address: s.endpoint,
        "platform": s.platform,
        "device": s.device,
        "created_at": s.created_at,
    })
}

fn device_label(device: Option<String>) -> Result<Option<String>, ChatError> {
    let device = device
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if device.as_ref().is_some_and(|d| d.chars().count() > 100) {
        return Err(ChatError::invalid("device: at most 100 characters"));
    }
    Ok(device)
}

/// `GET /api/push/vapid` → {public_key}: the server's VAPID public key (base64url, uncompressed
/// P-256 point), the `applicationServerKey` for `pushManager.subscribe`.
pub async fn vapid(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "public_key": state.vapid_public_key }))
}

/// `POST /api/push/subscriptions` → 201 {subscription}. The same endpoint or token registered
/// again is updated (and moves to the caller); 409 beyond [`MAX_SUBSCRIPTIONS`].
pub async fn subscribe(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Subscribe>,
) -> Result<HttpResponse, ChatError> {
    state
        .limits
        .user_action(crate::limits::UserAction::PushSubscription, &auth.id())?;
    let new = match body.into_inner() {
        Subscribe::Webpush {
            endpoint,
            keys,
            device,
        } => {
            webpush::validate(
                &endpoint,
                &keys.p256dh,
                &keys.auth,
                state.settings.push.allow_http_endpoints,
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
                || token.len() > 4096
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
    };
    let mine = state.store.subscriptions_of(&auth.id()).await?;
    if mine.len() >= MAX_SUBSCRIPTIONS
        && !mine
            .iter()
            .any(|s| s.kind == new.kind && s.endpoint == new.endpoint)
    {
        return Err(ChatError::Conflict(format!(
            "at most {MAX_SUBSCRIPTIONS} push subscriptions; delete one first"
        )));
    }
    let saved = state.store.save_subscription(&auth.id(), new).await?;
    tracing::info!(user = %auth.id(), subscription = %saved.id, kind = %saved.kind, "push subscription saved");
    Ok(HttpResponse::Created().json(json!({ "subscription": subscription_out(&saved) })))
}

/// `GET /api/push/subscriptions` → {subscriptions}.
pub async fn subscriptions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let subs = state.store.subscriptions_of(&auth.id()).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "subscriptions": subs.iter().map(subscription_out).collect::<Vec<_>>() })))
}

/// `DELETE /api/push/subscriptions/{id}` → 204; 404 unless it is the caller's.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    if state
        .store
        .delete_subscription(&auth.id(), &path.into_inner())
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ChatError::NotFound("subscription"))
    }
}

async fn settings_out(state: &AppState, s: &push_setting::Model) -> Result<Value, ChatError> {
    let muted: Vec<Value> = state
        .store
        .mutes_of(&crate::ids::UserId(s.user_id.clone()))
        .await?
        .into_iter()
        .map(|m| json!({"room": m.room_id, "until": m.until}))
        .collect();
    let sms_phone_verified = match &s.sms_phone {
        Some(p) => state
            .store
            .verified_by(crate::store::verify::ContactKind::Phone, p)
            .await?
            .is_some_and(|owner| owner.0 == s.user_id),
        None => false,
    };
    Ok(json!({"settings": {
        "enabled": s.enabled,
        "preview": s.preview,
        "sms_phone": s.sms_phone,
        "sms_phone_verified": sms_phone_verified,
        "sms_fallback": s.sms_fallback,
        "muted": muted,
    }}))
}

/// `GET /api/push/settings` → {settings: {enabled, preview, sms_phone, sms_phone_verified,
/// sms_fallback, muted}}. The fallback texts `sms_phone` only once it is verified
/// (`POST /api/me/phone/verify` {phone}, then `POST /api/me/phone/confirm`).
pub async fn get_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let s = state.store.push_settings(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(settings_out(&state, &s).await?))
}

/// `PATCH /api/push/settings` → {settings}: changes the fields given.
pub async fn patch_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<SettingsPatch>,
) -> Result<HttpResponse, ChatError> {
    let patch = body.into_inner();
    let mut s = state.store.push_settings(&auth.id()).await?;
    if let Some(v) = patch.enabled {
        s.enabled = v;
    }
    if let Some(v) = patch.preview {
        s.preview = v;
    }
    if let Some(phone) = patch.sms_phone {
        s.sms_phone = match phone.trim() {
            "" => None,
            p => Some(normalize_phone(p).ok_or_else(|| {
                ChatError::invalid(
                    "sms_phone: a phone number in international form, like +41 44 668 18 00",
                )
            })?),
        };
    }
    if let Some(v) = patch.sms_fallback {
        s.sms_fallback = v;
    }
    if s.sms_fallback && s.sms_phone.is_none() {
        return Err(ChatError::invalid("sms_fallback: set sms_phone first"));
    }
    state.store.save_push_settings(s.clone()).await?;
    Ok(HttpResponse::Ok().json(settings_out(&state, &s).await?))
}

/// `PUT /api/push/mutes/{room}` {until?} → 204: no pushes for that conversation (until then).
pub async fn mute(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Option<web::Json<Mute>>,
) -> Result<HttpResponse, ChatError> {
    let room = RoomId(path.into_inner());
    require_member(&state, &room, &auth.id()).await?;
    let until = body.map(|b| b.into_inner()).unwrap_or_default().until;
    if until.is_some_and(|u| u <= now_ms()) {
        return Err(ChatError::invalid("until: must be in the future"));
    }
    state.store.mute(&auth.id(), &room, until).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/push/mutes/{room}` → 204.
pub async fn unmute(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .store
        .unmute(&auth.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/push/sms/invite` {phone} → 202: texts an invitation (503 without an SMS gateway,
/// 429 beyond `push.sms.invites_per_day`).
pub async fn invite(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Invite>,
) -> Result<HttpResponse, ChatError> {
    let phone = normalize_phone(&body.phone).ok_or_else(|| {
        ChatError::invalid("phone: a phone number in international form, like +41 44 668 18 00")
    })?;
    state
        .notifier
        .send(SendInvite {
            from: auth.id(),
            from_name: auth.user.display_name.clone(),
            phone,
        })
        .await??;
    Ok(HttpResponse::Accepted().json(json!({"status": "queued"})))
}
