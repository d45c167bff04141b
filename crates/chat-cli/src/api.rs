//! The server's HTTP API (`/api/...`): requests with or without the bearer token, and the
//! server's refusals. The requests and answers themselves are the types of
//! `chat_protocol::api`, shared with the server.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::output::one_line;

/// Timeout for each HTTP request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) token: Option<String>,
}

impl Api {
    pub(crate) fn new(server: &str, token: Option<String>) -> Result<Self> {
        let base =
            Url::parse(server).with_context(|| format!("invalid --server URL {server:?}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            bail!("--server must be an http:// or https:// URL, not {server:?}");
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base, token })
    }

    pub(crate) fn token(&self) -> Result<&str> {
        self.token
            .as_deref()
            .filter(|token| !token.is_empty())
            .context("no token: pass --token or set CHAT_TOKEN (see `chat-cli login`)")
    }

    /// A request that needs no session.
    pub(crate) fn public(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        Ok(self.http.request(method, with_path(&self.base, segments)?))
    }

    /// A request carrying `Authorization: Bearer TOKEN`.
    pub(crate) fn authed(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        Ok(self.public(method, segments)?.bearer_auth(self.token()?))
    }
}

/// `base` with `segments` appended to its path (each percent-encoded), query dropped.
pub(crate) fn with_path(base: &Url, segments: &[&str]) -> Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| anyhow!("{base} cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Sends `request` and fails with the server's `{error:{code,message}}` on a non-2xx status.
pub(crate) async fn checked(request: RequestBuilder) -> Result<reqwest::Response> {
    let response = request.send().await.context("HTTP request failed")?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    match describe_error_body(&body) {
        Some(detail) => bail!("HTTP {status}: {detail}"),
        None => bail!("HTTP {status}"),
    }
}

pub(crate) async fn fetch<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
    checked(request)
        .await?
        .json()
        .await
        .context("the server's answer is not the expected JSON")
}

/// `message (code)` from an `{error:{code,message}}` body, or the start of a plain-text body.
pub(crate) fn describe_error_body(body: &[u8]) -> Option<String> {
    if let Ok(parsed) = serde_json::from_slice::<ApiErrorBody>(body) {
        return Some(format!("{} ({})", parsed.error.message, parsed.error.code));
    }
    let text = one_line(String::from_utf8_lossy(body).trim());
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

/// `{error: {code, message}}`, the body of every refusal. Read here with the code as plain text
/// (not `chat_protocol::ErrorCode`) so that a code this client does not know yet is still shown.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiErrorBody {
    pub(crate) error: ApiError,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    pub(crate) code: String,
    pub(crate) message: String,
}
