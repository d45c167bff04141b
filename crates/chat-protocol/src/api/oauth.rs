//! Sign-in with provider accounts (Facebook, Twitter/X) and the linked accounts of the signed-in
//! user (`/api/auth/oauth/...`). The browser flow itself answers with redirects; these are the
//! JSON answers, and the queries of the start and callback routes (a sign-in's JSON answer is
//! [`crate::api::auth::SignedIn`], as for a password sign-in).
//!
//! The fields of the answers are declared in alphabetical order: that is the order these bodies
//! had when they were built as JSON maps, so the bytes on the wire stay the same.

use serde::{Deserialize, Serialize};

/// A configured provider and where a sign-in with it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderOut {
    /// `facebook` or `twitter`.
    pub name: String,
    /// `/api/auth/oauth/{name}/start`.
    pub start_url: String,
}

/// `GET /api/auth/oauth/providers` → `{providers}`: the configured ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersBody {
    pub providers: Vec<ProviderOut>,
}

/// `?nonce=` of `GET /api/auth/oauth/{provider}/start`: a random value the web page made and
/// kept (16 to 64 base64url characters), handed back beside the token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    pub nonce: Option<String>,
}

/// `POST /api/auth/oauth/{provider}/link` → `{url}`: where to send the browser to link an
/// account of that provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkUrlBody {
    pub url: String,
}

/// The provider's answer on `GET /api/auth/oauth/{provider}/callback` (the OAuth 2.0 query).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// A linked account, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOut {
    pub avatar_url: Option<String>,
    /// When it was linked (ms).
    pub linked_at: i64,
    /// The name the provider gave.
    pub name: Option<String>,
    /// `facebook` or `twitter`.
    pub provider: String,
    /// The provider's handle, if it has one.
    pub username: Option<String>,
}

/// `GET /api/auth/oauth/{provider}/callback` with `Accept: application/json`, after a link →
/// `{linked}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedBody {
    pub linked: LinkOut,
}

/// `GET /api/auth/oauth/links` → `{has_password, links}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksBody {
    /// The account has a password (without one, its last link cannot be removed).
    pub has_password: bool,
    pub links: Vec<LinkOut>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::frames::UserOut;
    use crate::ids::UserId;

    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serializes")
    }

    fn link() -> LinkOut {
        LinkOut {
            avatar_url: None,
            linked_at: 5,
            name: Some("Ann Lee".into()),
            provider: "twitter".into(),
            username: Some("annl".into()),
        }
    }

    #[test]
    fn links_read_as_they_did() {
        let body = LinksBody {
            has_password: false,
            links: vec![link()],
        };
        assert_eq!(
            text(&body),
            r#"{"has_password":false,"links":[{"avatar_url":null,"linked_at":5,"name":"Ann Lee","provider":"twitter","username":"annl"}]}"#
        );
        let back: LinksBody = serde_json::from_str(&text(&body)).expect("round trip");
        assert_eq!(back, body);
        assert_eq!(
            text(&LinkedBody { linked: link() }),
            r#"{"linked":{"avatar_url":null,"linked_at":5,"name":"Ann Lee","provider":"twitter","username":"annl"}}"#
        );
    }

    #[test]
    fn providers_urls_and_sign_ins() {
        let body = ProvidersBody {
            providers: vec![ProviderOut {
                name: "facebook".into(),
                start_url: "/api/auth/oauth/facebook/start".into(),
            }],
        };
        assert_eq!(
            text(&body),
            r#"{"providers":[{"name":"facebook","start_url":"/api/auth/oauth/facebook/start"}]}"#
        );
        assert_eq!(
            text(&LinkUrlBody {
                url: "https://x.com/i/oauth2/authorize?a=b".into()
            }),
            r#"{"url":"https://x.com/i/oauth2/authorize?a=b"}"#
        );
        let signed_in = crate::api::auth::SignedIn {
            token: "t".into(),
            user: UserOut {
                id: UserId("u1".into()),
                username: "ann".into(),
                display_name: "Ann".into(),
            },
        };
        let v = serde_json::to_value(&signed_in).expect("serializes");
        assert_eq!(v["token"], "t");
        assert_eq!(v["user"]["username"], "ann");
        let back: crate::api::auth::SignedIn = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, signed_in);
    }

    #[test]
    fn queries_take_what_is_given() {
        let q: CallbackQuery = serde_json::from_str(r#"{"error":"access_denied"}"#).expect("valid");
        assert_eq!(q.error.as_deref(), Some("access_denied"));
        assert_eq!((q.code, q.state), (None, None));
        let q: StartQuery = serde_json::from_str("{}").expect("valid");
        assert_eq!(q.nonce, None);
    }
}
