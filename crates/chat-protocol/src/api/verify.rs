//! Verifying the account's phone numbers and e-mail address (`/api/me/{phone|email}/verify`,
//! `/api/me/{phone|email}/confirm`).

use serde::{Deserialize, Serialize};

/// `POST /api/me/{phone|email}/verify` (optional body): which value, when the account has two
/// phone numbers (profile and SMS fallback); absent: the profile's, else the SMS-fallback one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyStart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `POST /api/me/{phone|email}/confirm`: the code received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyConfirm {
    pub code: String,
}

/// Where a verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    /// A code was sent; it is good until `expires_at`.
    Sent,
    /// The value is verified (now, or it already was).
    Verified,
}

/// The value being verified, under the name of its kind (`phone` or `email`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactValue {
    /// A phone number (E.164).
    Phone(String),
    /// An e-mail address.
    Email(String),
}

/// `POST /api/me/{phone|email}/verify` → 202 `{status: "sent", phone|email, expires_at}` or 200
/// `{status: "verified", phone|email}` when it already is; `POST /api/me/{phone|email}/confirm`
/// → 200 `{status: "verified", phone|email}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub status: VerificationStatus,
    #[serde(flatten)]
    pub value: ContactValue,
    /// When the code sent expires (ms since the epoch); only with `sent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_named_by_its_kind() {
        let sent = Verification {
            status: VerificationStatus::Sent,
            value: ContactValue::Phone("+15550100".into()),
            expires_at: Some(42),
        };
        let expected: serde_json::Value =
            serde_json::from_str(r#"{"status":"sent","phone":"+15550100","expires_at":42}"#)
                .expect("valid JSON");
        assert_eq!(serde_json::to_value(&sent).expect("serializes"), expected);
        let back: Verification = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back, sent);

        let verified = Verification {
            status: VerificationStatus::Verified,
            value: ContactValue::Email("ann@example.com".into()),
            expires_at: None,
        };
        let expected: serde_json::Value =
            serde_json::from_str(r#"{"status":"verified","email":"ann@example.com"}"#)
                .expect("valid JSON");
        assert_eq!(
            serde_json::to_value(&verified).expect("serializes"),
            expected
        );
        let back: Verification = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back, verified);
    }

    #[test]
    fn what_clients_send() {
        let s: VerifyStart = serde_json::from_str(r#"{"phone":"+15550100"}"#).expect("valid");
        assert_eq!(s.phone.as_deref(), Some("+15550100"));
        assert_eq!(s.email, None);
        assert!(serde_json::from_str::<VerifyStart>(r#"{"fax":"1"}"#).is_err());
        let c: VerifyConfirm = serde_json::from_str(r#"{"code":"123 456"}"#).expect("valid");
        assert_eq!(c.code, "123 456");
    }
}
