//! Verifying phone numbers and e-mail addresses: `POST /api/me/{phone,email}/verify` sends a
//! short random code (by SMS through the Notifier, or by mail through `[mail]`), and
//! `POST /api/me/{phone,email}/confirm` takes it back.
//!
//! Only a value the account uses can be verified: its profile phone or SMS-fallback number
//! (`PATCH /api/me`, `PATCH /api/push/settings`), its profile e-mail. Setting or changing one
//! leaves it unverified. Codes are stored hashed, expire after `verification.code_ttl_secs`,
//! and are dropped after `verification.max_attempts` wrong tries; asking is throttled per user
//! and per number or address (`limits.verify_*`), and texts and mails count against the daily
//! caps (`push.sms.*_per_day`, `mail.*_per_day`). A verified value belongs to one account:
//! verifying what another account verified is refused with 409.

use actix_web::{web, HttpResponse};
use entities::user;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::auth::AuthUser;
use super::AppState;
use crate::actors::notifier::SendCode;
use crate::error::ChatError;
use crate::ids::{now_ms, UserId};
use crate::limits::UserAction;
use crate::push::{mail, Outcome};
use crate::store::verify::{ClaimError, ContactKind as Kind};
use crate::validate::{normalize_email, normalize_phone};

/// `POST /api/me/{kind}/verify` body (optional): which value, when the account has two phone
/// numbers (profile and SMS fallback); absent: the profile's, else the SMS-fallback number.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// `POST /api/me/{kind}/confirm` body.
#[derive(Debug, Deserialize)]
pub struct Confirm {
    pub code: String,
}

/// Digits in a code.
const CODE_DIGITS: u32 = 6;

/// The values of `kind` the account uses, the profile's first.
async fn values_of(
    state: &AppState,
    u: &user::Model,
    kind: Kind,
) -> Result<Vec<String>, ChatError> {
    Ok(match kind {
        Kind::Email => u.email.iter().cloned().collect(),
        Kind::Phone => {
            let sms = state
                .store
                .push_settings(&UserId(u.id.clone()))
                .await?
                .sms_phone;
            let mut v: Vec<String> = u.phone.iter().cloned().collect();
            v.extend(sms.filter(|s| !v.contains(s)));
            v
        }
    })
}

/// The value to verify: the one named in the body (it must be one the account uses), else the
/// first the account uses.
fn pick(state: &AppState, kind: Kind, body: &Start, mine: &[String]) -> Result<String, ChatError> {
    let named = match kind {
        Kind::Phone => body.phone.as_deref(),
        Kind::Email => body.email.as_deref(),
    };
    let field = kind.as_str();
    let Some(raw) = named else {
        return mine
            .first()
            .cloned()
            .ok_or_else(|| ChatError::invalid(format!("{field}: set one first (PATCH /api/me)")));
    };
    let candidates: Vec<String> = match kind {
        Kind::Phone => [
            normalize_phone(raw, &state.settings.people.default_region),
            crate::push::sms::normalize_phone(raw),
        ]
        .into_iter()
        .flatten()
        .collect(),
        Kind::Email => normalize_email(raw).into_iter().collect(),
    };
    candidates
        .into_iter()
        .find(|c| mine.contains(c))
        .ok_or_else(|| {
            ChatError::invalid(format!(
                "{field}: not one of yours; set it first (PATCH /api/me or /api/push/settings)"
            ))
        })
}

/// How a code is stored: bound to the account and the value, so a row copied elsewhere proves
/// nothing.
fn code_hash(user: &UserId, kind: Kind, value: &str, code: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{value}\n{code}", user.0, kind.as_str()));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /api/me/{phone|email}/verify` [{phone} | {email}] → 202 {status: "sent", phone|email,
/// expires_at}, or 200 {status: "verified", ...} when it already is. 400 when the account has
/// no such value, 409 when another account verified it, 429 when throttled or beyond a daily
/// cap, 503 (`unavailable`) without an SMS or mail gateway.
pub async fn start(
    state: web::Data<AppState>,
    auth: AuthUser,
    kind: web::Path<Kind>,
    body: Option<web::Json<Start>>,
) -> Result<HttpResponse, ChatError> {
    let kind = kind.into_inner();
    let me = auth.id();
    state.limits.user_action(UserAction::Verify, &me)?;
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let mine = values_of(&state, &auth.user, kind).await?;
    let value = pick(&state, kind, &body, &mine)?;
    let field = kind.as_str();
    match state.store.verified_by(kind, &value).await? {
        Some(owner) if owner == me => {
            return Ok(HttpResponse::Ok().json(json!({"status": "verified", field: value})));
        }
        Some(_) => return Err(taken(kind)),
        None => {}
    }
    if kind == Kind::Email {
        mail_gateway(&state)?;
    }
    state.limits.verify_target(&value)?;
    let code = format!(
        "{:0width$}",
        rand::thread_rng().gen_range(0..10u32.pow(CODE_DIGITS)),
        width = CODE_DIGITS as usize
    );
    let v = &state.settings.verification;
    let expires_at =
        now_ms() + i64::try_from(v.code_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    state
        .store
        .save_code(
            &me,
            kind,
            &value,
            &code_hash(&me, kind, &value, &code),
            expires_at,
        )
        .await?;
    let text = v.code_text.replace("{code}", &code);
    let sent = match kind {
        Kind::Phone => state
            .notifier
            .send(SendCode {
                user: me.clone(),
                phone: value.clone(),
                text,
            })
            .await
            .map_err(ChatError::from)
            .and_then(|r| r),
        Kind::Email => send_mail(&state, &me, &value, &text).await,
    };
    if let Err(e) = sent {
        state.store.drop_code(&me, kind).await?;
        return Err(e);
    }
    Ok(HttpResponse::Accepted()
        .json(json!({"status": "sent", field: value, "expires_at": expires_at})))
}

/// The mail gateway, or 503 when `mail.gateway_url` is not set.
fn mail_gateway(state: &AppState) -> Result<&mail::MailGateway, ChatError> {
    state.mail.as_ref().ok_or_else(|| {
        ChatError::Unavailable("e-mail is not configured on this server (mail.gateway_url)".into())
    })
}

/// Mails a code within the daily caps (`mail.per_user_per_day`, `mail.per_address_per_day`).
async fn send_mail(state: &AppState, me: &UserId, to: &str, text: &str) -> Result<(), ChatError> {
    let gateway = mail_gateway(state)?;
    let caps = &state.settings.mail;
    let counters = [
        (format!("mail:user:{me}"), caps.per_user_per_day),
        (format!("mail:to:{to}"), caps.per_address_per_day),
    ];
    if !state.store.within_daily_caps(&counters).await? {
        tracing::info!(user = %me, to = %mail::masked(to), "daily mail cap reached");
        return Err(ChatError::RateLimited);
    }
    let subject = &state.settings.verification.mail_subject;
    match gateway.send(to, subject, text).await {
        Outcome::Delivered => {
            tracing::info!(user = %me, to = %mail::masked(to), "mailed a verification code");
            Ok(())
        }
        other => {
            tracing::warn!(user = %me, to = %mail::masked(to), outcome = ?other, "the mail gateway did not take a verification code");
            Err(ChatError::Unavailable(
                "the mail could not be sent; try again later".into(),
            ))
        }
    }
}

fn taken(kind: Kind) -> ChatError {
    ChatError::Conflict(format!(
        "{}: already verified by another account",
        kind.as_str()
    ))
}

/// `POST /api/me/{phone|email}/confirm` {code} → 200 {status: "verified", phone|email}. 400 when
/// the code is wrong (the message says how many tries are left), expired, used up or was never
/// asked for, or the value changed since; 409 when another account verified the value first;
/// 429 when throttled.
pub async fn confirm(
    state: web::Data<AppState>,
    auth: AuthUser,
    kind: web::Path<Kind>,
    body: web::Json<Confirm>,
) -> Result<HttpResponse, ChatError> {
    let kind = kind.into_inner();
    let me = auth.id();
    let field = kind.as_str();
    state.limits.user_action(UserAction::VerifyConfirm, &me)?;
    let Some(pending) = state.store.pending_code(&me, kind).await? else {
        return Err(ChatError::invalid(
            "code: no code is pending (never asked for, used up or expired); ask for a new one",
        ));
    };
    if pending.expires_at <= now_ms() {
        state.store.drop_code(&me, kind).await?;
        return Err(ChatError::invalid("code: expired; ask for a new one"));
    }
    if !values_of(&state, &auth.user, kind)
        .await?
        .contains(&pending.value)
    {
        state.store.drop_code(&me, kind).await?;
        return Err(ChatError::invalid(format!(
            "code: the {field} changed since the code was sent; ask for a new one"
        )));
    }
    let entered: String = body.code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code_hash(&me, kind, &pending.value, &entered) != pending.code_hash {
        let tries = state.store.code_failed(&pending).await?;
        let max = i32::try_from(state.settings.verification.max_attempts).unwrap_or(i32::MAX);
        if tries >= max {
            state.store.drop_code(&me, kind).await?;
            return Err(ChatError::invalid(
                "code: wrong code, no tries left; ask for a new one",
            ));
        }
        return Err(ChatError::invalid(format!(
            "code: wrong code, {} tries left",
            max - tries
        )));
    }
    match state.store.claim(&me, kind, &pending.value).await {
        Ok(()) => {
            tracing::info!(user = %me, kind = field, "verified");
            Ok(HttpResponse::Ok().json(json!({"status": "verified", field: pending.value})))
        }
        Err(ClaimError::Taken) => {
            state.store.drop_code(&me, kind).await?;
            Err(taken(kind))
        }
        Err(ClaimError::Store(e)) => Err(e.into()),
    }
}
