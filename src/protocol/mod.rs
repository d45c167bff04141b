//! Wire protocol v1: frame types (`frames`), their JSON/MessagePack encoding (`codec`) and the
//! error codes clients see (`ErrorCode`).

pub mod codec;
pub mod emoji;
pub mod frames;
pub mod media;
pub mod mentions;
pub mod settings;

pub use codec::{decode, DecodeError, Outbound, WireData, WireFormat};
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
