//! The verification domain: proving that the account's phone numbers and e-mail address are its
//! owner's. Asking sends a short random code (by SMS through the Notifier, or by mail through
//! `[mail]`); confirming takes it back. Answers in the API's types (`chat_protocol::api::verify`).
//!
//! Only a value the account uses can be verified: its profile phone or SMS-fallback number, its
//! profile e-mail. Setting or changing one leaves it unverified. Codes are stored hashed, expire
//! after `verification.code_ttl_secs`, and are dropped after `verification.max_attempts` wrong
//! tries; asking is throttled per user and per number or address (`limits.verify_*`), and texts
//! and mails count against the daily caps (`push.sms.*_per_day`, `mail.*_per_day`). A verified
//! value belongs to one account: verifying what another account verified is a conflict.

use actix::Addr;
use entities::user;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::actors::notifier::{Notifier, SendCode};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, UserId};
use crate::limits::{Limits, UserAction};
use crate::protocol::api::verify::{ContactValue, Verification, VerificationStatus, VerifyStart};
use crate::push::{mail, Outcome};
use crate::store::verify::{ClaimError, ContactKind as Kind};
use crate::store::Store;
use crate::validate::{normalize_email, normalize_phone};

/// Digits in a code.
const CODE_DIGITS: u32 = 6;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Verify<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub limits: &'a Limits,
    /// Texts the codes.
    pub notifier: &'a Addr<Notifier>,
    /// Mails the codes; `None` when `[mail]` is not configured.
    pub mail: Option<&'a mail::MailGateway>,
}

/// The value of `kind` as the answer names it.
fn contact_value(kind: Kind, value: String) -> ContactValue {
    match kind {
        Kind::Phone => ContactValue::Phone(value),
        Kind::Email => ContactValue::Email(value),
    }
}

fn verified(kind: Kind, value: String) -> Verification {
    Verification {
        status: VerificationStatus::Verified,
        value: contact_value(kind, value),
        expires_at: None,
    }
}

/// The value to verify: the one named in the body (it must be one the account uses, `mine`),
/// else the first the account uses. Phone numbers are read in `region` unless they have a
/// country code.
fn pick(
    kind: Kind,
    body: &VerifyStart,
    mine: &[String],
    region: &str,
) -> Result<String, ChatError> {
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
            normalize_phone(raw, region),
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

fn taken(kind: Kind) -> ChatError {
    ChatError::Conflict(format!(
        "{}: already verified by another account",
        kind.as_str()
    ))
}

impl Verify<'_> {
    /// The values of `kind` the account uses, the profile's first.
    async fn values_of(&self, u: &user::Model, kind: Kind) -> Result<Vec<String>, ChatError> {
        Ok(match kind {
            Kind::Email => u.email.iter().cloned().collect(),
            Kind::Phone => {
                let sms = self
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

    /// Sends a code for a value of `kind` the account uses (the one named, else the first):
    /// `sent` with its expiry, or `verified` when the account already verified it. Invalid when
    /// the account has no such value, a conflict when another account verified it, rate-limited
    /// when throttled or beyond a daily cap, unavailable without an SMS or mail gateway.
    pub async fn start(
        &self,
        u: &user::Model,
        kind: Kind,
        body: &VerifyStart,
    ) -> Result<Verification, ChatError> {
        let me = UserId(u.id.clone());
        self.limits.user_action(UserAction::Verify, &me)?;
        let mine = self.values_of(u, kind).await?;
        let value = pick(kind, body, &mine, &self.settings.people.default_region)?;
        match self.store.verified_by(kind, &value).await? {
            Some(owner) if owner == me => return Ok(verified(kind, value)),
            Some(_) => return Err(taken(kind)),
            None => {}
        }
        if kind == Kind::Email {
            self.mail_gateway()?;
        }
        self.limits.verify_target(&value)?;
        let code = format!(
            "{:0width$}",
            rand::thread_rng().gen_range(0..10u32.pow(CODE_DIGITS)),
            width = CODE_DIGITS as usize
        );
        let v = &self.settings.verification;
        let expires_at =
            now_ms() + i64::try_from(v.code_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
        self.store
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
            Kind::Phone => self
                .notifier
                .send(SendCode {
                    user: me.clone(),
                    phone: value.clone(),
                    text,
                })
                .await
                .map_err(ChatError::from)
                .and_then(|r| r),
            Kind::Email => self.send_mail(&me, &value, &text).await,
        };
        if let Err(e) = sent {
            self.store.drop_code(&me, kind).await?;
            return Err(e);
        }
        Ok(Verification {
            status: VerificationStatus::Sent,
            value: contact_value(kind, value),
            expires_at: Some(expires_at),
        })
    }

    /// The mail gateway, or unavailable when `mail.gateway_url` is not set.
    fn mail_gateway(&self) -> Result<&mail::MailGateway, ChatError> {
        self.mail.ok_or_else(|| {
            ChatError::Unavailable(
                "e-mail is not configured on this server (mail.gateway_url)".into(),
            )
        })
    }

    /// Mails a code within the daily caps (`mail.per_user_per_day`, `mail.per_address_per_day`).
    async fn send_mail(&self, me: &UserId, to: &str, text: &str) -> Result<(), ChatError> {
        let gateway = self.mail_gateway()?;
        let caps = &self.settings.mail;
        let counters = [
            (format!("mail:user:{me}"), caps.per_user_per_day),
            (format!("mail:to:{to}"), caps.per_address_per_day),
        ];
        if !self.store.within_daily_caps(&counters).await? {
            tracing::info!(user = %me, to = %mail::masked(to), "daily mail cap reached");
            return Err(ChatError::RateLimited);
        }
        let subject = &self.settings.verification.mail_subject;
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

    /// Takes back a code sent for a value of `kind`: `verified`. Invalid when the code is wrong
    /// (the message says how many tries are left), expired, used up or was never asked for, or
    /// the value changed since; a conflict when another account verified the value first;
    /// rate-limited when throttled.
    pub async fn confirm(
        &self,
        u: &user::Model,
        kind: Kind,
        code: &str,
    ) -> Result<Verification, ChatError> {
        let me = UserId(u.id.clone());
        let field = kind.as_str();
        self.limits.user_action(UserAction::VerifyConfirm, &me)?;
        let Some(pending) = self.store.pending_code(&me, kind).await? else {
            return Err(ChatError::invalid(
                "code: no code is pending (never asked for, used up or expired); ask for a new one",
            ));
        };
        if pending.expires_at <= now_ms() {
            self.store.drop_code(&me, kind).await?;
            return Err(ChatError::invalid("code: expired; ask for a new one"));
        }
        if !self.values_of(u, kind).await?.contains(&pending.value) {
            self.store.drop_code(&me, kind).await?;
            return Err(ChatError::invalid(format!(
                "code: the {field} changed since the code was sent; ask for a new one"
            )));
        }
        let entered: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
        if code_hash(&me, kind, &pending.value, &entered) != pending.code_hash {
            let tries = self.store.code_failed(&pending).await?;
            let max = i32::try_from(self.settings.verification.max_attempts).unwrap_or(i32::MAX);
            if tries >= max {
                self.store.drop_code(&me, kind).await?;
                return Err(ChatError::invalid(
                    "code: wrong code, no tries left; ask for a new one",
                ));
            }
            return Err(ChatError::invalid(format!(
                "code: wrong code, {} tries left",
                max - tries
            )));
        }
        match self.store.claim(&me, kind, &pending.value).await {
            Ok(()) => {
                tracing::info!(user = %me, kind = field, "verified");
                Ok(verified(kind, pending.value))
            }
            Err(ClaimError::Taken) => {
                self.store.drop_code(&me, kind).await?;
                Err(taken(kind))
            }
            Err(ClaimError::Store(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn start(phone: Option<&str>, email: Option<&str>) -> VerifyStart {
        VerifyStart {
            phone: phone.map(Into::into),
            email: email.map(Into::into),
        }
    }

    #[test]
    fn without_a_value_named_the_first_of_the_account_is_verified() {
        let mine = vec!["+4930123456".to_string(), "+15550100".to_string()];
        assert_eq!(
            pick(Kind::Phone, &start(None, None), &mine, "DE").unwrap(),
            mine[0]
        );
        assert!(pick(Kind::Email, &start(None, None), &[], "DE").is_err());
    }

    #[test]
    fn a_value_named_must_be_one_of_the_accounts_in_any_format() {
        let mine = vec!["+4930123456".to_string()];
        let local = start(Some("030 123456"), None);
        assert_eq!(
            pick(Kind::Phone, &local, &mine, "DE").unwrap(),
            "+4930123456"
        );
        assert!(pick(Kind::Phone, &start(Some("+15550100"), None), &mine, "DE").is_err());
        let mails = vec!["ann@example.com".to_string()];
        let named = start(None, Some(" Ann@Example.com "));
        assert_eq!(
            pick(Kind::Email, &named, &mails, "DE").unwrap(),
            "ann@example.com"
        );
    }

    #[test]
    fn a_code_hash_is_bound_to_the_account_the_kind_and_the_value() {
        let ann = UserId("ann".into());
        let h = code_hash(&ann, Kind::Phone, "+15550100", "123456");
        assert_eq!(h.len(), 64);
        assert_eq!(h, code_hash(&ann, Kind::Phone, "+15550100", "123456"));
        assert_ne!(
            h,
            code_hash(&UserId("bob".into()), Kind::Phone, "+15550100", "123456")
        );
        assert_ne!(h, code_hash(&ann, Kind::Email, "+15550100", "123456"));
        assert_ne!(h, code_hash(&ann, Kind::Phone, "+15550101", "123456"));
        assert_ne!(h, code_hash(&ann, Kind::Phone, "+15550100", "123457"));
    }
}
