//! Accounts and tokens: signing up and signing in with a username and password; `SignedIn` is
//! also the JSON answer of an OAuth sign-in (`GET /api/auth/oauth/{provider}/callback`).

use serde::{Deserialize, Serialize};

use crate::UserOut;

/// `POST /api/auth/register`: a new account; without a display name (or only blanks) the
/// username is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `POST /api/auth/login`: the username (any case) and password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// `POST /api/auth/register` → 201, `POST /api/auth/login` → 200 and, after an OAuth sign-in,
/// `GET /api/auth/oauth/{provider}/callback` with `Accept: application/json` → 200 `{token,
/// user}`: the bearer token of the new session (shown only this once) and the account's public
/// fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub token: String,
    pub user: UserOut,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn signed_in_is_the_token_and_the_public_account() {
        let body = SignedIn {
            token: "t0k".into(),
            user: UserOut {
                id: UserId("u1".into()),
                username: "ann".into(),
                display_name: "Ann".into(),
            },
        };
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"token":"t0k","user":{"id":"u1","username":"ann","display_name":"Ann"}}"#,
        )
        .expect("valid JSON");
        assert_eq!(serde_json::to_value(&body).expect("serializes"), expected);
        let back: SignedIn = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back, body);
    }

    #[test]
    fn what_clients_send() {
        let r: Register =
            serde_json::from_str(r#"{"username":"ann","password":"secret12"}"#).expect("valid");
        assert_eq!(r.display_name, None);
        let r: Register = serde_json::from_str(
            r#"{"username":"ann","password":"secret12","display_name":"Ann"}"#,
        )
        .expect("valid");
        assert_eq!(r.display_name.as_deref(), Some("Ann"));
        let l: Login =
            serde_json::from_str(r#"{"username":"Ann","password":"secret12"}"#).expect("valid");
        assert_eq!(l.username, "Ann");
        assert!(serde_json::from_str::<Login>(r#"{"username":"ann"}"#).is_err());
    }
}
