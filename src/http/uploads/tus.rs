//! The tus 1.0 protocol's headers and errors (<https://tus.io/protocols/resumable-upload>):
//! version checks, numeric headers, `Upload-Metadata`, `Upload-Expires`, and the status codes
//! the protocol gives each failure.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use actix_web::http::{header::HeaderMap, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use base64::Engine;
use serde_json::json;

use crate::error::ChatError;
use crate::protocol::ErrorCode;

/// The one protocol version spoken.
pub const VERSION: &str = "1.0.0";
/// Extensions implemented (`Tus-Extension`).
pub const EXTENSIONS: &str = "creation,termination,expiration";
/// Media type of a `PATCH` body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

pub const TUS_RESUMABLE: &str = "Tus-Resumable";
pub const TUS_VERSION: &str = "Tus-Version";
pub const TUS_EXTENSION: &str = "Tus-Extension";
pub const TUS_MAX_SIZE: &str = "Tus-Max-Size";
pub const UPLOAD_LENGTH: &str = "Upload-Length";
pub const UPLOAD_OFFSET: &str = "Upload-Offset";
pub const UPLOAD_METADATA: &str = "Upload-Metadata";
pub const UPLOAD_EXPIRES: &str = "Upload-Expires";
/// Not part of tus: the id of the media item a complete upload became (also the upload's id).
pub const UPLOAD_MEDIA_ID: &str = "Upload-Media-Id";

/// Why a tus request failed.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    #[error("Tus-Resumable: {VERSION} is required")]
    Version,
    #[error("{0}")]
    BadHeader(String),
    #[error("Content-Type must be {OFFSET_OCTET_STREAM}")]
    ContentType,
    #[error("Upload-Offset {sent} does not match the {received} bytes received")]
    Offset { sent: u64, received: u64 },
    #[error("another request is writing to this upload; retry after it ends")]
    Locked,
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl From<crate::store::StoreError> for TusError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Chat(e.into())
    }
}

impl ResponseError for TusError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Version => StatusCode::PRECONDITION_FAILED,
            Self::BadHeader(_) => StatusCode::BAD_REQUEST,
            Self::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Offset { .. } => StatusCode::CONFLICT,
            Self::Locked => StatusCode::LOCKED,
            Self::Chat(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::Version | Self::BadHeader(_) | Self::ContentType => ErrorCode::Invalid,
            Self::Offset { .. } | Self::Locked => ErrorCode::Conflict,
            Self::Chat(e) => return e.error_response(),
        };
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, Self::Version) {
            res.insert_header((TUS_VERSION, VERSION));
        }
        res.json(json!({"error": {"code": code, "message": self.to_string()}}))
    }
}

/// Refuses requests that do not speak tus 1.0.0.
pub fn require_version(headers: &HeaderMap) -> Result<(), TusError> {
    match headers.get(TUS_RESUMABLE).map(|v| v.as_bytes()) {
        Some(v) if v == VERSION.as_bytes() => Ok(()),
        _ => Err(TusError::Version),
    }
}

/// A header that must be a non-negative integer; `None` when absent.
pub fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, TusError> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| TusError::BadHeader(format!("{name} must be a non-negative integer")))
}

/// A header that must be present and a non-negative integer.
pub fn required_number(headers: &HeaderMap, name: &str) -> Result<u64, TusError> {
    number(headers, name)?.ok_or_else(|| TusError::BadHeader(format!("{name} is required")))
}

/// Longest `Upload-Metadata` accepted.
const METADATA_MAX: usize = 4096;

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs (the value may be absent).
/// Values that are not UTF-8 text are refused.
pub fn metadata(headers: &HeaderMap) -> Result<HashMap<String, String>, TusError> {
    let mut out = HashMap::new();
    let Some(raw) = headers.get(UPLOAD_METADATA) else {
        return Ok(out);
    };
    let bad = |why: &str| TusError::BadHeader(format!("{UPLOAD_METADATA}: {why}"));
    if raw.len() > METADATA_MAX {
        return Err(bad("too long"));
    }
    let raw = raw.to_str().map_err(|_| bad("not ASCII"))?;
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().ok_or_else(|| bad("empty key"))?;
        let value = match parts.next() {
            Some(v) => base64::engine::general_purpose::STANDARD
                .decode(v)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad(&format!("the value of {key} is not base64 of UTF-8 text")))?,
            None => String::new(),
        };
        if parts.next().is_some() {
            return Err(bad("a pair has more than a key and a value"));
        }
        if out.insert(key.to_owned(), value).is_some() {
            return Err(bad(&format!("{key} is repeated")));
        }
    }
    Ok(out)
}

/// `Upload-Expires` for an expiry in ms since the epoch (an HTTP date).
pub fn expires(at_ms: i64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0));
    httpdate::fmt_http_date(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        h
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(
            number(&headers("upload-offset", "42"), UPLOAD_OFFSET).unwrap(),
            Some(42)
        );
        for bad in ["-1", "1e3", " 4", "abc", "", "99999999999999999999999"] {
            let mut h = HeaderMap::new();
            h.insert(
                HeaderName::from_static("upload-offset"),
                HeaderValue::from_str(bad).unwrap(),
            );
            assert!(number(&h, UPLOAD_OFFSET).is_err(), "{bad:?}");
        }
        assert_eq!(number(&HeaderMap::new(), UPLOAD_OFFSET).unwrap(), None);
    }

    #[test]
    fn metadata_pairs_are_base64() {
        let m = metadata(&headers(
            "upload-metadata",
            "filename aGVsbG8udHh0, filetype dGV4dC9wbGFpbg==,is_confidential",
        ))
        .unwrap();
        assert_eq!(m["filename"], "hello.txt");
        assert_eq!(m["filetype"], "text/plain");
        assert_eq!(m["is_confidential"], "");
        assert!(metadata(&headers("upload-metadata", "filename !!!")).is_err());
        assert!(metadata(&headers("upload-metadata", "a YQ==,a YQ==")).is_err());
    }

    #[test]
    fn expiry_is_an_http_date() {
        assert_eq!(expires(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
