//! Verifying phone numbers and e-mail addresses: `POST /api/me/{phone,email}/verify` sends a
//! short random code (by SMS through the Notifier, or by mail through `[mail]`), and
//! `POST /api/me/{phone,email}/confirm` takes it back. The routes extract the request, call the
//! verification service (`services::verify`, which owns the rules) and answer with its typed body
//! (`chat_protocol::api::verify`).
//!
//! Only a value the account uses can be verified: its profile phone or SMS-fallback number
//! (`PATCH /api/me`, `PATCH /api/push/settings`), its profile e-mail. Setting or changing one
//! leaves it unverified. Codes are stored hashed, expire after `verification.code_ttl_secs`,
//! and are dropped after `verification.max_attempts` wrong tries; asking is throttled per user
//! and per number or address (`limits.verify_*`), and texts and mails count against the daily
//! caps (`push.sms.*_per_day`, `mail.*_per_day`). A verified value belongs to one account:
//! verifying what another account verified is refused with 409.

use actix_web::{web, HttpResponse};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::protocol::api::verify::{VerificationStatus, VerifyConfirm, VerifyStart};
use crate::services::verify::Verify;
use crate::store::verify::ContactKind as Kind;

impl AppState {
    /// The verification service over this state.
    pub fn verify(&self) -> Verify<'_> {
        Verify {
            store: &self.store,
            settings: &self.settings,
            limits: &self.limits,
            notifier: &self.notifier,
            mail: self.mail.as_ref(),
        }
    }
}

/// `POST /api/me/{phone|email}/verify` [{phone} | {email}] → 202 {status: "sent", phone|email,
/// expires_at}, or 200 {status: "verified", ...} when it already is. 400 when the account has
/// no such value, 409 when another account verified it, 429 when throttled or beyond a daily
/// cap, 503 (`unavailable`) without an SMS or mail gateway.
pub async fn start(
    state: web::Data<AppState>,
    auth: AuthUser,
    kind: web::Path<Kind>,
    body: Option<web::Json<VerifyStart>>,
) -> Result<HttpResponse, ChatError> {
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let answer = state
        .verify()
        .start(&auth.user, kind.into_inner(), &body)
        .await?;
    Ok(match answer.status {
        VerificationStatus::Sent => HttpResponse::Accepted().json(answer),
        VerificationStatus::Verified => HttpResponse::Ok().json(answer),
    })
}

/// `POST /api/me/{phone|email}/confirm` {code} → 200 {status: "verified", phone|email}. 400 when
/// the code is wrong (the message says how many tries are left), expired, used up or was never
/// asked for, or the value changed since; 409 when another account verified the value first;
/// 429 when throttled.
pub async fn confirm(
    state: web::Data<AppState>,
    auth: AuthUser,
    kind: web::Path<Kind>,
    body: web::Json<VerifyConfirm>,
) -> Result<HttpResponse, ChatError> {
    let answer = state
        .verify()
        .confirm(&auth.user, kind.into_inner(), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
