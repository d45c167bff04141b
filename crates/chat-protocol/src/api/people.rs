//! People: my profile and account, public profiles and user search, settings, sessions,
//! contacts and address-book matching, blocks, broadcast lists.

use serde::{Deserialize, Serialize};

use super::nullable;
use crate::ids::UserId;
use crate::settings::UserSettings;

/// What anyone signed in sees of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicProfile {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub about: Option<String>,
    /// Media id of the avatar, if any.
    pub avatar: Option<String>,
    pub deleted: bool,
}

/// What I see of myself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyProfile {
    #[serde(flatten)]
    pub public: PublicProfile,
    pub email: Option<String>,
    /// The e-mail address was verified (`POST /api/me/email/verify`, `.../confirm`).
    pub email_verified: bool,
    pub phone: Option<String>,
    /// The phone number was verified (`POST /api/me/phone/verify`, `.../confirm`).
    pub phone_verified: bool,
    /// May use the admin pages.
    pub is_admin: bool,
}

/// `{user}`: `GET`/`PATCH /api/me` ([`MyProfile`]), `GET /api/users/{id}` and
/// `GET /api/users/by-name/{username}` ([`PublicProfile`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBody<P> {
    pub user: P,
}

/// `GET /api/users?q=` → `{users}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersBody {
    pub users: Vec<PublicProfile>,
}

/// `PATCH /api/me`: what to change; a missing field stays, `null` clears an optional one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// A new username (same rules as at registration); 409 if taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub about: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
    /// Media id of an upload made with `purpose=avatar`; `null` removes the avatar.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar: Option<Option<String>>,
}

/// `GET`/`PATCH /api/me/settings` → `{settings}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsBody {
    pub settings: UserSettings,
}

/// `POST /api/me/password`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    /// Needed when the account has a password; an account made through a provider sign-in has
    /// none until its first one is set here.
    #[serde(default)]
    pub old_password: Option<String>,
    pub new_password: String,
}

/// `DELETE /api/me`: the confirmation. An account with a password confirms with it; one made
/// through a provider sign-in, which has none, confirms with its username.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDeletion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A login session (a token), as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOut {
    /// The first 16 hex digits of the token's hash: enough to name it, useless to log in.
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The `User-Agent` it signed in with.
    pub user_agent: Option<String>,
    /// When it last signed in or opened a connection.
    pub last_used_at: Option<i64>,
    /// This is the session the request was made with.
    pub current: bool,
}

/// `GET /api/me/sessions` → `{sessions}`, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsBody {
    pub sessions: Vec<SessionOut>,
}

/// `DELETE /api/me/sessions` query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeAll {
    /// Also end the session the request was made with.
    #[serde(default)]
    pub include_current: bool,
}

/// `GET /api/users?q=` query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSearch {
    pub q: String,
}

/// `POST /api/contacts/match`: an address book.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBook {
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
}

/// An address-book entry that is a registered user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactMatch {
    /// The entry as sent.
    pub input: String,
    /// The entry normalised (E.164 for numbers, lower case for addresses).
    pub normalized: String,
    pub user: PublicProfile,
}

/// `POST /api/contacts/match` → `{matches}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchesBody {
    pub matches: Vec<ContactMatch>,
}

/// A contact with my nickname for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactOut {
    pub user: PublicProfile,
    pub nickname: Option<String>,
}

/// `GET /api/contacts` → `{contacts}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactsBody {
    pub contacts: Vec<ContactOut>,
}

/// `PUT /api/contacts/{user}` → `{contact}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactBody {
    pub contact: ContactOut,
}

/// `PUT /api/contacts/{user}`: my nickname for them (none, or empty: no nickname).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPatch {
    #[serde(default)]
    pub nickname: Option<String>,
}

/// `GET /api/blocks` → `{blocked}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedBody {
    pub blocked: Vec<PublicProfile>,
}

/// `POST /api/blocks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRequest {
    pub user: UserId,
}

/// A saved broadcast list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastList {
    pub id: String,
    pub name: String,
    pub members: Vec<UserId>,
    pub created_at: i64,
}

/// `POST /api/lists` (name required) and `PATCH /api/lists/{id}` (rename and/or replace the
/// members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub members: Option<Vec<UserId>>,
}

/// `POST`, `GET` and `PATCH /api/lists[/{id}]` → `{list}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBody {
    pub list: BroadcastList,
}

/// `GET /api/lists` → `{lists}`, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListsBody {
    pub lists: Vec<BroadcastList>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_patch_tells_missing_from_null() {
        let p: ProfilePatch =
            serde_json::from_str(r#"{"about":null,"display_name":"Ann"}"#).expect("valid patch");
        assert_eq!(p.about, Some(None));
        assert_eq!(p.email, None);
        assert_eq!(p.display_name.as_deref(), Some("Ann"));
        assert!(serde_json::from_str::<ProfilePatch>(r#"{"nick":"x"}"#).is_err());
    }

    #[test]
    fn my_profile_is_the_public_one_flattened_plus_private_fields() {
        let me = MyProfile {
            public: PublicProfile {
                id: UserId("u1".into()),
                username: "ann".into(),
                display_name: "Ann".into(),
                about: None,
                avatar: None,
                deleted: false,
            },
            email: None,
            email_verified: false,
            phone: Some("+15550100".into()),
            phone_verified: true,
            is_admin: false,
        };
        let v = serde_json::to_value(UserBody { user: &me }).expect("serializes");
        assert_eq!(v["user"]["username"], "ann");
        assert_eq!(v["user"]["phone_verified"], true);
        assert!(v["user"]["about"].is_null());
        let back: UserBody<MyProfile> = serde_json::from_value(v).expect("round trip");
        assert_eq!(back.user, me);
    }
}
