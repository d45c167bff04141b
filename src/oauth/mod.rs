//! Sign-in with provider accounts over OAuth 2.0: Facebook (authorization code) and Twitter/X
//! (authorization code with PKCE), through the `oauth2` crate.
//!
//! [`providers`] knows each provider (its real endpoints, scopes, how it wants the client to
//! authenticate, how to read its user-info answer) and builds the configured ones at start;
//! [`flow`] builds the authorization URL and, on the way back, exchanges the code and reads the
//! profile. Like [`crate::push`], this module talks to outside services and knows nothing of the
//! database: the OAuth service (`crate::services::oauth`) keeps the pending states and the links
//! through the store.

pub mod flow;
pub mod providers;

pub use flow::Started;
pub use providers::{Profile, Provider, ProviderKind, Providers};

use crate::error::ChatError;

/// Why a sign-in through a provider failed; each is shown to the person trying.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    #[error("sign-in with {0} is not available on this server")]
    NotConfigured(String),
    #[error("missing {0} parameter in the provider's answer")]
    Missing(&'static str),
    #[error("this sign-in attempt is unknown, already used or expired; please start again")]
    BadState,
    #[error("this sign-in was started in another browser; please start again")]
    OtherBrowser,
    #[error("{provider} did not grant access: {reason}")]
    Denied {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} did not accept the sign-in code ({reason}); please start again")]
    CodeRejected {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} could not be reached or answered unexpectedly ({reason})")]
    Provider {
        provider: &'static str,
        reason: String,
    },
    #[error("internal error")]
    Internal,
}

impl From<OAuthError> for ChatError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(_) => ChatError::NotFound("sign-in provider"),
            OAuthError::Missing(_) | OAuthError::BadState | OAuthError::CodeRejected { .. } => {
                ChatError::Invalid(e.to_string())
            }
            OAuthError::OtherBrowser | OAuthError::Denied { .. } => {
                ChatError::Forbidden(e.to_string())
            }
            OAuthError::Provider { .. } => ChatError::Unavailable(e.to_string()),
            OAuthError::Internal => ChatError::Internal,
        }
    }
}

/// Why the `[oauth]` configuration cannot be used; stops the server at start.
#[derive(Debug, thiserror::Error)]
pub enum OAuthConfigError {
    #[error("oauth.{provider}: client_secret or client_secret_file is required with a client_id")]
    NoSecret { provider: &'static str },
    #[error("oauth.{provider}.client_secret_file {path}: {source}")]
    SecretFile {
        provider: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("oauth.{provider}.{key} is not a valid URL: {value}")]
    Url {
        provider: &'static str,
        key: &'static str,
        value: String,
    },
    #[error("oauth.public_url is not an http(s) origin: {0}")]
    PublicUrl(String),
    #[error("oauth: cannot build the HTTP client: {0}")]
    Client(String),
}
