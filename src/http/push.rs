//! Push routes: extract the request, call the push service (`services::push`), answer with its
//! typed body (`chat_protocol::api::push`).

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::ids::RoomId;
use crate::protocol::api::push::{
    MuteRequest, PushSettingsBody, PushSettingsPatch, QueuedBody, SmsInvite, Subscribe,
    SubscriptionBody, SubscriptionsBody, VapidBody,
};
use crate::services::push::PushService;

impl AppState {
    /// The push service over this state.
    pub fn push(&self) -> PushService<'_> {
        PushService {
            store: &self.store,
            settings: &self.settings,
            limits: &self.limits,
            notifier: &self.notifier,
        }
    }
}

/// `GET /api/push/vapid` → {public_key}: the server's VAPID public key (base64url, uncompressed
/// P-256 point), the `applicationServerKey` for `pushManager.subscribe`.
pub async fn vapid(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(VapidBody {
        public_key: state.vapid_public_key.clone(),
    })
}

/// `POST /api/push/subscriptions` → 201 {subscription}. The same endpoint or token registered
/// again is updated (and moves to the caller); 409 beyond `services::push::MAX_SUBSCRIPTIONS`.
pub async fn subscribe(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Subscribe>,
) -> Result<HttpResponse, ChatError> {
    let subscription = state
        .push()
        .subscribe(&auth.id(), body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(SubscriptionBody { subscription }))
}

/// `GET /api/push/subscriptions` → {subscriptions}.
pub async fn subscriptions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let subscriptions = state.push().subscriptions(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(SubscriptionsBody { subscriptions }))
}

/// `DELETE /api/push/subscriptions/{id}` → 204; 404 unless it is the caller's.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .push()
        .unsubscribe(&auth.id(), &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/push/settings` → {settings: {enabled, preview, sms_phone, sms_phone_verified,
/// sms_fallback, muted}}. The fallback texts `sms_phone` only once it is verified
/// (`POST /api/me/phone/verify` {phone}, then `POST /api/me/phone/confirm`).
pub async fn get_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ChatError> {
    let settings = state.push().settings(&auth.id()).await?;
    Ok(HttpResponse::Ok().json(PushSettingsBody { settings }))
}

/// `PATCH /api/push/settings` → {settings}: changes the fields given.
pub async fn patch_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<PushSettingsPatch>,
) -> Result<HttpResponse, ChatError> {
    let settings = state
        .push()
        .patch_settings(&auth.id(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(PushSettingsBody { settings }))
}

/// `PUT /api/push/mutes/{room}` {until?} → 204: no pushes for that conversation (until then).
pub async fn mute(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Option<web::Json<MuteRequest>>,
) -> Result<HttpResponse, ChatError> {
    let until = body.map(|b| b.into_inner()).unwrap_or_default().until;
    state
        .push()
        .mute(&auth.id(), &RoomId(path.into_inner()), until)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/push/mutes/{room}` → 204.
pub async fn unmute(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ChatError> {
    state
        .push()
        .unmute(&auth.id(), &RoomId(path.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/push/sms/invite` {phone} → 202: texts an invitation (503 without an SMS gateway,
/// 429 beyond `push.sms.invites_per_day`).
pub async fn invite(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<SmsInvite>,
) -> Result<HttpResponse, ChatError> {
    state
        .push()
        .invite(&auth.id(), &auth.user.display_name, &body.phone)
        .await?;
    Ok(HttpResponse::Accepted().json(QueuedBody {
        status: "queued".into(),
    }))
}
