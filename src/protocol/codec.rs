//! JSON text frames and MessagePack binary frames (rmp-serde, fields by name) of the same objects.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

use super::frames::{ClientFrame, ServerFrame};

/// How a session wants its frames: JSON text (default) or MessagePack binary (`?format=msgpack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    Json,
    MsgPack,
}

/// An encoded frame ready for the socket.
#[derive(Clone, Debug)]
pub enum WireData {
    Text(Arc<str>),
    Binary(Bytes),
}

/// Why a client frame could not be decoded. Each maps to one protocol error code.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON/MessagePack, not an object, or no string `type`.
    #[error("{0}")]
    BadFrame(String),
    /// A `type` this server does not know.
    #[error("unknown frame type {0:?}")]
    UnknownType(String),
    /// A known type with missing or wrong fields.
    #[error("{0}")]
    Invalid(String),
}

/// A decoded client frame with the `ref` it carried (if any), to echo in the answer.
#[derive(Debug)]
pub struct Decoded {
    pub frame: ClientFrame,
    pub reference: Option<String>,
}

/// Decodes a client frame. On failure the `ref` (if one could be read) is returned too, so the
/// error frame can echo it.
pub fn decode(data: &[u8], format: WireFormat) -> Result<Decoded, (DecodeError, Option<String>)> {
    let value: Value = match format {
        WireFormat::Json => serde_json::from_slice(data)
            .map_err(|e| (DecodeError::BadFrame(format!("malformed JSON: {e}")), None))?,
        WireFormat::MsgPack => rmp_serde::from_slice(data)
            .map_err(|e| (DecodeError::BadFrame(format!("malformed MessagePack: {e}")), None))?,
    };
    let Value::Object(map) = &value else {
        return Err((DecodeError::BadFrame("a frame must be an object".into()), None));
    };
    let reference = match map.get("ref") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s.clone()),
        Some(_) => return Err((DecodeError::BadFrame("ref must be a string of at most 128 bytes".into()), None)),
    };
    let Some(Value::String(kind)) = map.get("type").cloned() else {
        return Err((DecodeError::BadFrame("a frame needs a string \"type\"".into()), reference));
    };
    if !ClientFrame::TYPES.contains(&kind.as_str()) {
        let shown: String = kind.chars().take(40).collect();
        return Err((DecodeError::UnknownType(shown), reference));
    }
    match serde_json::from_value::<ClientFrame>(value) {
        Ok(frame) => Ok(Decoded { frame, reference }),
        Err(e) => Err((DecodeError::Invalid(format!("invalid {kind} frame: {e}")), reference)),
    }
}

/// A server frame shared by every session it goes to; each wire format is encoded at most once.
#[derive(Debug)]
pub struct Outbound {
    pub frame: ServerFrame,
    json: OnceLock<Option<Arc<str>>>,
    msgpack: OnceLock<Option<Bytes>>,
}

impl Outbound {
    pub fn new(frame: ServerFrame) -> Arc<Self> {
        Arc::new(Self { frame, json: OnceLock::new(), msgpack: OnceLock::new() })
    }

    /// The frame in `format`, or `None` if it cannot be encoded (logged; never expected for
    /// these types).
    pub fn encode(&self, format: WireFormat) -> Option<WireData> {
        match format {
            WireFormat::Json => self
                .json
                .get_or_init(|| {
                    serde_json::to_string(&self.frame)
                        .map(Arc::from)
                        .map_err(|e| tracing::error!(error = %e, "cannot encode frame as JSON"))
                        .ok()
                })
                .clone()
                .map(WireData::Text),
            WireFormat::MsgPack => self
                .msgpack
                .get_or_init(|| {
                    rmp_serde::to_vec_named(&self.frame)
                        .map(Bytes::from)
                        .map_err(|e| tracing::error!(error = %e, "cannot encode frame as MessagePack"))
                        .ok()
                })
                .clone()
                .map(WireData::Binary),
        }
    }
}
