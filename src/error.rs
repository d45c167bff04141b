//! The errors a request can end in, mapped once to protocol `error` frames and HTTP responses.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde_json::json;

use crate::protocol::ErrorCode;

/// A failure a client is told about.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ChatError {
    #[error("you are not a member of this room")]
    NotMember,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many requests, slow down")]
    RateLimited,
    /// An HTTP rate limit is spent: 429 with `Retry-After`.
    #[error("too many requests, try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Too much work queued (password hashing): 503 with `Retry-After`.
    #[error("server busy, try again in {retry_after_secs} s")]
    Overloaded { retry_after_secs: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("missing, invalid or expired token")]
    Unauthorized,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal,
}

impl ChatError {
    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotMember => ErrorCode::NotMember,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Invalid(_) => ErrorCode::Invalid,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::RateLimited | Self::Throttled { .. } => ErrorCode::RateLimited,
            Self::Overloaded { .. } => ErrorCode::Unavailable,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal => ErrorCode::Internal,
        }
    }

    /// Shorthand for a validation error naming the field.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

impl From<crate::store::StoreError> for ChatError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(what) => ChatError::Conflict(what),
            crate::store::StoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                ChatError::Unavailable("database".into())
            }
            crate::store::StoreError::Buffer(err) => {
                tracing::error!(error = %err, "write buffer error");
                ChatError::Unavailable("write buffer".into())
            }
        }
    }
}

impl From<crate::store::media::MediaUseError> for ChatError {
    fn from(e: crate::store::media::MediaUseError) -> Self {
        use crate::store::media::MediaUseError;
        match e {
            MediaUseError::NotMember => ChatError::NotMember,
            MediaUseError::NotFound => ChatError::NotFound("media"),
            MediaUseError::Invalid(why) => ChatError::Invalid(why),
            MediaUseError::Store(err) => err.into(),
        }
    }
}

impl From<actix::MailboxError> for ChatError {
    fn from(e: actix::MailboxError) -> Self {
        tracing::warn!(error = %e, "actor unreachable");
        ChatError::Unavailable("try again".into())
    }
}

impl ResponseError for ChatError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotMember | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited | Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Throttled { retry_after_secs } | Self::Overloaded { retry_after_secs } = self {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                (*retry_after_secs).max(1),
            ));
        }
        response.json(json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}
