//! Wire protocol v1 of the chat server, the one definition of the wire shared by the server,
//! `chat-cli`, the load generator and the Rust tests: frame types ([`frames`]), their
//! JSON/MessagePack encoding ([`codec`]), typed ids ([`ids`]), the error codes clients see
//! ([`ErrorCode`]), the room kinds ([`RoomKind`]) and the WebSocket close codes the server uses
//! ([`close`]), the bodies of the HTTP API ([`api`]), plus the two wire rules a client may want
//! to apply before sending ([`emoji`], [`mentions`]).
//!
//! It depends on serde and nothing of the server: building a client builds neither SeaORM nor
//! FFmpeg.

pub mod api;
pub mod close;
pub mod codec;
pub mod emoji;
pub mod frames;
pub mod ids;
pub mod media;
pub mod mentions;
pub mod room_kind;
pub mod settings;

pub use codec::{
    decode, decode_server, encode_client, encode_server, DecodeError, Decoded, EncodeError,
    WireData, WireFormat,
};
pub use frames::*;
pub use ids::{MessageId, RoomId, SessionId, UserId};
pub use media::{MediaEvent, MediaOut, MediaStatus};
pub use room_kind::{RoomKind, UnknownRoomKind};

use serde::Serialize;

/// Error codes of the `error` frame and of HTTP error bodies. The first ten are fixed by the
/// protocol; `unauthorized` and `conflict` appear only in HTTP answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    UnknownType,
    NotMember,
    NotFound,
    Forbidden,
    RateLimited,
    TooLarge,
    Invalid,
    Unavailable,
    Internal,
    Unauthorized,
    Conflict,
}

impl ErrorCode {
    /// The code as it appears on the wire (`"not_member"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::UnknownType => "unknown_type",
            Self::NotMember => "not_member",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::Unauthorized => "unauthorized",
            Self::Conflict => "conflict",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn error_code_names_are_the_wire_names() {
        use ErrorCode::*;
        let all = [
            BadFrame,
            UnknownType,
            NotMember,
            NotFound,
            Forbidden,
            RateLimited,
            TooLarge,
            Invalid,
            Unavailable,
            Internal,
            Unauthorized,
            Conflict,
        ];
        for code in all {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire.as_str(), Some(code.as_str()));
        }
    }
}
