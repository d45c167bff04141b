//! The two halves of the authorization-code flow: the URL the browser is sent to, and, when it
//! comes back, the code exchange and the user-info read. PKCE (S256) for providers that use it.

use std::borrow::Cow;

use oauth2::basic::{BasicClient, BasicRequestTokenError};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use super::{OAuthError, Profile, Provider};

/// Largest user-info answer read.
const MAX_USERINFO_BYTES: usize = 256 * 1024;

/// A client with its authorization and token endpoints set.
type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A sign-in started: where to send the browser, and what to keep until it comes back.
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    /// The `state` parameter; the caller keeps only its hash.
    pub state: String,
    /// The PKCE code verifier, for providers that use PKCE.
    pub pkce_verifier: Option<String>,
}

/// Whether `value` may be a web page's own value carried through the state: 16 to 64 characters
/// of base64url (no dot, so it splits off the random part unambiguously).
pub fn valid_page_value(value: &str) -> bool {
    (16..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The page value a state carries (what [`Provider::start`] put after the dot), if any.
pub fn page_of_state(state: &str) -> Option<&str> {
    state
        .split_once('.')
        .map(|(_, page)| page)
        .filter(|p| valid_page_value(p))
}

impl Provider {
    fn client(&self, redirect_uri: &str) -> Result<Client, OAuthError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| OAuthError::Internal)?;
        let auth_type = if self.kind.basic_auth() {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        };
        Ok(BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_auth_uri(self.authorize_url.clone())
            .set_token_uri(self.token_url.clone())
            .set_redirect_uri(redirect)
            .set_auth_type(auth_type))
    }

    /// The authorization URL for a new sign-in returning to `redirect_uri`, with a fresh random
    /// state (and PKCE challenge). A `page` value (the web page's own random value, see
    /// [`page_of_state`]) rides in the state after a dot, so the provider hands it back and the
    /// stored state hash vouches for it.
    pub fn start(&self, redirect_uri: &str, page: Option<&str>) -> Result<Started, OAuthError> {
        let client = self.client(redirect_uri)?;
        let state = || {
            let random = CsrfToken::new_random();
            match page {
                Some(p) => CsrfToken::new(format!("{}.{p}", random.secret())),
                None => random,
            }
        };
        let mut request = client
            .authorize_url(state)
            .add_scopes(self.scopes.iter().map(|s| Scope::new(s.clone())));
        let mut pkce_verifier = None;
        if self.kind.uses_pkce() {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, state) = request.url();
        Ok(Started {
            authorize_url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier,
        })
    }

    /// Exchanges `code` (with the PKCE verifier kept at the start) and reads the account's
    /// profile with the access token.
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<String>,
    ) -> Result<Profile, OAuthError> {
        let provider = self.kind.name();
        let client = self.client(redirect_uri)?;
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| OAuthError::Internal)?;
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect));
        if let Some(v) = pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(v));
        }
        let token = exchange
            .request_async(http)
            .await
            .map_err(|e| exchange_error(provider, e))?;
        let access_token = token.access_token().secret();

        let unexpected = |reason: String| OAuthError::Provider { provider, reason };
        let mut response = http
            .get(self.userinfo_url.clone())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unexpected(format!("user info: {}", without_url(e))))?;
        if !response.status().is_success() {
            return Err(unexpected(format!(
                "user info: HTTP {}",
                response.status().as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unexpected(format!("user info: {}", without_url(e))))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_USERINFO_BYTES {
                return Err(unexpected("user info: answer too large".into()));
            }
        }
        let json: Value =
            serde_json::from_slice(&body).map_err(|_| unexpected("user info: not JSON".into()))?;
        self.kind
            .parse_profile(&json)
            .map_err(|e| unexpected(format!("user info: {e}")))
    }
}

/// A failed code exchange: the provider's refusal (`invalid_grant` for a used or unknown code, a
/// wrong verifier or redirect URI), or trouble reaching or reading it.
fn exchange_error(
    provider: &'static str,
    e: BasicRequestTokenError<HttpClientError<reqwest::Error>>,
) -> OAuthError {
    use oauth2::RequestTokenError as E;
    tracing::warn!(provider, error = %e, "oauth code exchange failed");
    match e {
        E::ServerResponse(r) => {
            let mut reason = r.error().to_string();
            if let Some(d) = r.error_description() {
                reason = format!("{reason}: {}", d.chars().take(200).collect::<String>());
            }
            OAuthError::CodeRejected { provider, reason }
        }
        E::Request(_) => OAuthError::Provider {
            provider,
            reason: "token endpoint unreachable".into(),
        },
        E::Parse(..) => OAuthError::Provider {
            provider,
            reason: "unreadable token answer".into(),
        },
        E::Other(m) => OAuthError::Provider {
            provider,
            reason: format!("token endpoint: {m}"),
        },
    }
}

/// A reqwest error without its URL (which may carry the access token in a query).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_value_rides_in_the_state_after_a_dot() {
        assert_eq!(
            page_of_state("AbC-_123.page-value_0123456"),
            Some("page-value_0123456")
        );
        assert_eq!(page_of_state("AbC-_123"), None);
        assert_eq!(page_of_state("AbC.short"), None);
        assert_eq!(page_of_state("AbC.has space in it...."), None);
        assert!(!valid_page_value(&"a".repeat(65)));
        assert!(valid_page_value(&"a".repeat(16)));
    }
}
