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
            Self::RateLimited => ErrorCode::RateLimited,
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
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}
