//! Wire protocol v1 of the chat server, the one definition of the wire shared by the server,
//! `chat-cli`, the load generator and the Rust tests: frame types ([`frames`]), their
//! JSON/MessagePack encoding ([`codec`]), typed ids ([`ids`]), the error codes clients see
//! ([`ErrorCode`]) and the WebSocket close codes the server uses ([`close`]), plus the two wire
//! rules a client may want to apply before sending ([`emoji`], [`mentions`]).
//!
//! It depends on serde and nothing of the server: building a client builds neither SeaORM nor
//! FFmpeg.

pub mod close;
pub mod codec;
pub mod emoji;
pub mod frames;
pub mod ids;
pub mod media;
pub mod mentions;
pub mod settings;

pub use codec::{
    decode, decode_server, encode_client, encode_server, DecodeError, Decoded, EncodeError,
    WireData, WireFormat,
};
pub use frames::*;
pub use media::{MediaEvent, MediaOut, MediaStatus};

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
