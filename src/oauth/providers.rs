//! The providers: their real endpoints and scopes, how the client authenticates at the token
//! endpoint, how their user-info answer reads, and the configured set built at start.

use std::time::Duration;

use oauth2::{AuthUrl, TokenUrl};
use serde_json::Value;

use super::OAuthConfigError;
use crate::config::{OAuthProviderSettings, OAuthSettings, Secret};

/// A provider this server can sign people in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Facebook,
    Twitter,
}

/// What a provider says about the account that signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The provider's stable id of the account.
    pub subject: String,
    /// The person's name, if given.
    pub name: Option<String>,
    /// The provider's handle, if it has one (Twitter/X).
    pub username: Option<String>,
    /// The profile picture's URL, if any.
    pub avatar_url: Option<String>,
}

/// Endpoints and scopes used when `config.toml` leaves them empty.
struct Defaults {
    authorize_url: &'static str,
    token_url: &'static str,
    userinfo_url: &'static str,
    scopes: &'static [&'static str],
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::Facebook, ProviderKind::Twitter];

    /// The name used in URLs, configuration and the `oauth_links` table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Facebook => "facebook",
            Self::Twitter => "twitter",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn defaults(self) -> Defaults {
        match self {
            Self::Facebook => Defaults {
                authorize_url: "https://www.facebook.com/v21.0/dialog/oauth",
                token_url: "https://graph.facebook.com/v21.0/oauth/access_token",
                userinfo_url: "https://graph.facebook.com/v21.0/me?fields=id,name,picture",
                scopes: &["public_profile"],
            },
            Self::Twitter => Defaults {
                authorize_url: "https://x.com/i/oauth2/authorize",
                token_url: "https://api.x.com/2/oauth2/token",
                userinfo_url: "https://api.x.com/2/users/me?user.fields=profile_image_url",
                scopes: &["users.read", "tweet.read"],
            },
        }
    }

    /// Twitter/X requires PKCE (S256); Facebook's classic code flow is used without it.
    pub fn uses_pkce(self) -> bool {
        matches!(self, Self::Twitter)
    }

    /// Twitter/X wants confidential clients to authenticate with HTTP Basic; Facebook takes the
    /// client id and secret in the form body.
    pub fn basic_auth(self) -> bool {
        matches!(self, Self::Twitter)
    }

    /// Reads the user-info answer: Graph `/me?fields=id,name,picture`, or Twitter/X
    /// `/2/users/me` (`data.id`, `data.name`, `data.username`, `data.profile_image_url`).
    pub fn parse_profile(self, body: &Value) -> Result<Profile, String> {
        let text = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        // Ids are strings in both APIs; accept a number too rather than fail on a quirk.
        let id = |v: &Value| text(v).or_else(|| v.as_u64().map(|n| n.to_string()));
        let root = match self {
            Self::Facebook => body,
            Self::Twitter => body.get("data").ok_or("no data object")?,
        };
        let subject = id(&root["id"])
            .filter(|s| s.len() <= 191)
            .ok_or("no usable id")?;
        let avatar_url = match self {
            Self::Facebook => text(&root["picture"]["data"]["url"]),
            Self::Twitter => text(&root["profile_image_url"]),
        };
        Ok(Profile {
            subject,
            name: text(&root["name"]),
            username: text(&root["username"]),
            avatar_url: avatar_url
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        })
    }
}

/// One configured provider.
#[derive(Clone, Debug)]
pub struct Provider {
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    pub authorize_url: AuthUrl,
    pub token_url: TokenUrl,
    pub userinfo_url: oauth2::url::Url,
}

impl Provider {
    /// The provider from its settings, or `None` when it has no client id.
    fn from_settings(
        kind: ProviderKind,
        s: &OAuthProviderSettings,
    ) -> Result<Option<Self>, OAuthConfigError> {
        let provider = kind.name();
        if s.client_id.trim().is_empty() {
            return Ok(None);
        }
        let client_secret = if !s.client_secret.is_empty() {
            Secret::new(s.client_secret.expose().trim())
        } else if !s.client_secret_file.trim().is_empty() {
            let path = s.client_secret_file.trim().to_owned();
            let text =
                std::fs::read_to_string(&path).map_err(|source| OAuthConfigError::SecretFile {
                    provider,
                    path: path.clone(),
                    source,
                })?;
            Secret::new(text.trim())
        } else {
            Secret::default()
        };
        if client_secret.is_empty() {
            return Err(OAuthConfigError::NoSecret { provider });
        }
        let d = kind.defaults();
        let pick = |value: &str, default: &str| {
            if value.trim().is_empty() {
                default.to_owned()
            } else {
                value.trim().to_owned()
            }
        };
        let url_err = |key: &'static str, value: String| OAuthConfigError::Url {
            provider,
            key,
            value,
        };
        let authorize = pick(&s.authorize_url, d.authorize_url);
        let token = pick(&s.token_url, d.token_url);
        let userinfo = pick(&s.userinfo_url, d.userinfo_url);
        let scopes: Vec<String> = s
            .scopes
            .iter()
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect();
        Ok(Some(Self {
            kind,
            client_id: s.client_id.trim().to_owned(),
            client_secret,
            scopes: if scopes.is_empty() {
                d.scopes.iter().map(|x| (*x).to_owned()).collect()
            } else {
                scopes
            },
            authorize_url: AuthUrl::new(authorize.clone())
                .map_err(|_| url_err("authorize_url", authorize))?,
            token_url: TokenUrl::new(token.clone()).map_err(|_| url_err("token_url", token))?,
            userinfo_url: oauth2::url::Url::parse(&userinfo)
                .map_err(|_| url_err("userinfo_url", userinfo))?,
        }))
    }
}

/// The configured providers, and the HTTP client used to reach them.
#[derive(Clone, Debug)]
pub struct Providers {
    list: Vec<Provider>,
    /// Redirects are not followed: a token endpoint that redirects is an error, never a hop to
    /// somewhere the code or secret should not go.
    pub http: reqwest::Client,
    /// `oauth.public_url` without a trailing slash; empty: from the request.
    pub public_url: String,
    /// How long a started sign-in stays valid, in milliseconds.
    pub state_ttl_ms: i64,
}

impl Providers {
    /// Builds the providers that have a client id (reading secret files); none is fine.
    pub fn from_settings(s: &OAuthSettings) -> Result<Self, OAuthConfigError> {
        let mut list = Vec::new();
        for kind in ProviderKind::ALL {
            let settings = match kind {
                ProviderKind::Facebook => &s.facebook,
                ProviderKind::Twitter => &s.twitter,
            };
            list.extend(Provider::from_settings(kind, settings)?);
        }
        let public_url = s.public_url.trim().trim_end_matches('/').to_owned();
        if !public_url.is_empty() {
            let ok = oauth2::url::Url::parse(&public_url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/"
            });
            if !ok {
                return Err(OAuthConfigError::PublicUrl(public_url));
            }
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(s.request_timeout_ms))
            .build()
            .map_err(|e| OAuthConfigError::Client(e.to_string()))?;
        let state_ttl_ms = i64::try_from(s.state_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        Ok(Self {
            list,
            http,
            public_url,
            state_ttl_ms,
        })
    }

    /// The configured providers, in a fixed order.
    pub fn list(&self) -> &[Provider] {
        &self.list
    }

    /// The configured provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Provider> {
        let kind = ProviderKind::parse(name)?;
        self.list.iter().find(|p| p.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_user_info_shapes() {
        let fb =
            json!({"id": "10", "name": "Ann Lee", "picture": {"data": {"url": "https://x/p.jpg"}}});
        let p = ProviderKind::Facebook.parse_profile(&fb).unwrap();
        assert_eq!(
            (
                p.subject.as_str(),
                p.name.as_deref(),
                p.avatar_url.as_deref()
            ),
            ("10", Some("Ann Lee"), Some("https://x/p.jpg"))
        );
        let tw = json!({"data": {"id": "22", "name": "Bo", "username": "bo_b", "profile_image_url": "https://x/b.png"}});
        let p = ProviderKind::Twitter.parse_profile(&tw).unwrap();
        assert_eq!(
            (p.subject.as_str(), p.username.as_deref()),
            ("22", Some("bo_b"))
        );
        assert!(ProviderKind::Twitter
            .parse_profile(&json!({"errors": []}))
            .is_err());
        assert!(ProviderKind::Facebook
            .parse_profile(&json!({"name": "no id"}))
            .is_err());
    }

    #[test]
    fn configured_providers_need_a_secret_and_default_to_the_real_endpoints() {
        let none = Providers::from_settings(&OAuthSettings::default()).unwrap();
        assert!(none.list().is_empty());

        let mut s = OAuthSettings::default();
        s.twitter.client_id = "tw".into();
        let err = Providers::from_settings(&s).unwrap_err().to_string();
        assert!(
            err.contains("oauth.twitter: client_secret or client_secret_file"),
            "{err}"
        );

        let dir = std::env::temp_dir().join(format!("oauth-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        s.twitter.client_secret_file = dir.display().to_string();
        let p = Providers::from_settings(&s).unwrap();
        let tw = p.get("twitter").unwrap();
        assert_eq!(tw.client_secret.expose(), "s3cret");
        assert_eq!(tw.token_url.as_str(), "https://api.x.com/2/oauth2/token");
        assert_eq!(tw.scopes, ["users.read", "tweet.read"]);
        assert!(p.get("facebook").is_none() && p.get("nope").is_none());
        assert!(
            !format!("{tw:?}").contains("s3cret"),
            "secrets stay out of Debug output"
        );

        s.twitter.token_url = "not a url".into();
        let err = Providers::from_settings(&s).unwrap_err().to_string();
        std::fs::remove_file(&dir).unwrap();
        assert!(err.contains("oauth.twitter.token_url"), "{err}");
    }
}
