//! JSON text frames and MessagePack binary frames (rmp-serde, fields by name) of the same objects.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::frames::{ClientFrame, ServerFrame};

/// How a session wants its frames: JSON text (default) or MessagePack binary (`?format=msgpack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    Json,
    MsgPack,
}

/// An encoded frame's payload.
#[derive(Clone, Debug)]
pub enum WireData {
    /// JSON (always UTF-8).
    Text(Bytes),
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

/// The deepest nesting read from a MessagePack frame, as serde_json allows for JSON. rmp-serde's
/// own limit (1024) lets a frame of a few KiB recurse deep enough to overflow a 2 MiB thread
/// stack in a debug build, which aborts the whole process.
const MAX_MSGPACK_DEPTH: usize = 128;

/// Decodes a client frame. On failure the `ref` (if one could be read) is returned too, so the
/// error frame can echo it.
pub fn decode(data: &[u8], format: WireFormat) -> Result<Decoded, (DecodeError, Option<String>)> {
    let value: Value = match format {
        WireFormat::Json => serde_json::from_slice(data)
            .map_err(|e| (DecodeError::BadFrame(format!("malformed JSON: {e}")), None))?,
        WireFormat::MsgPack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(data);
            de.set_max_depth(MAX_MSGPACK_DEPTH);
            Value::deserialize(&mut de).map_err(|e| {
                (
                    DecodeError::BadFrame(format!("malformed MessagePack: {e}")),
                    None,
                )
            })?
        }
    };
    let Value::Object(map) = &value else {
        return Err((
            DecodeError::BadFrame("a frame must be an object".into()),
            None,
        ));
    };
    let reference = match map.get("ref") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s.clone()),
        Some(_) => {
            return Err((
                DecodeError::BadFrame("ref must be a string of at most 128 bytes".into()),
                None,
            ))
        }
    };
    let Some(Value::String(kind)) = map.get("type").cloned() else {
        return Err((
            DecodeError::BadFrame("a frame needs a string \"type\"".into()),
            reference,
        ));
    };
    if !ClientFrame::TYPES.contains(&kind.as_str()) {
        let shown: String = kind.chars().take(40).collect();
        return Err((DecodeError::UnknownType(shown), reference));
    }
    match serde_json::from_value::<ClientFrame>(value) {
        Ok(frame) => Ok(Decoded { frame, reference }),
        Err(e) => Err((
            DecodeError::Invalid(format!("invalid {kind} frame: {e}")),
            reference,
        )),
    }
}

/// A server frame shared by every session it goes to; each wire format is encoded at most once,
/// already framed as a WebSocket message, so every recipient's socket is written the same bytes.
#[derive(Debug)]
pub struct Outbound {
    pub frame: ServerFrame,
    json: OnceLock<Option<Framed>>,
    msgpack: OnceLock<Option<Framed>>,
}

/// A WebSocket frame (header, then payload) in one buffer.
#[derive(Debug, Clone)]
struct Framed {
    bytes: Bytes,
    header: usize,
}

impl Framed {
    /// Serializes with `write` after room for the longest header, then writes the header just
    /// before the payload: no copy of the payload.
    fn build(opcode: u8, write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>) -> Option<Self> {
        use crate::websocket::frame::{header_into, MAX_HEADER};
        let mut buf = vec![0u8; MAX_HEADER];
        if let Err(e) = write(&mut buf) {
            tracing::error!(error = %e, "cannot encode a server frame");
            return None;
        }
        let mut head = [0u8; MAX_HEADER];
        let n = header_into(opcode, buf.len() - MAX_HEADER, &mut head);
        buf[MAX_HEADER - n..MAX_HEADER].copy_from_slice(&head[MAX_HEADER - n..]);
        Some(Self {
            bytes: Bytes::from(buf).slice(MAX_HEADER - n..),
            header: n,
        })
    }
}

impl Outbound {
    pub fn new(frame: ServerFrame) -> Arc<Self> {
        Arc::new(Self {
            frame,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        })
    }

    fn framed(&self, format: WireFormat) -> Option<&Framed> {
        use crate::websocket::frame::{OP_BINARY, OP_TEXT};
        match format {
            WireFormat::Json => self
                .json
                .get_or_init(|| {
                    Framed::build(OP_TEXT, |buf| {
                        serde_json::to_writer(buf, &self.frame).map_err(|e| e.to_string())
                    })
                })
                .as_ref(),
            WireFormat::MsgPack => self
                .msgpack
                .get_or_init(|| {
                    Framed::build(OP_BINARY, |buf| {
                        rmp_serde::encode::write_named(buf, &self.frame).map_err(|e| e.to_string())
                    })
                })
                .as_ref(),
        }
    }

    /// The frame's payload in `format`, or `None` if it cannot be encoded (logged; never
    /// expected for these types).
    pub fn encode(&self, format: WireFormat) -> Option<WireData> {
        let f = self.framed(format)?;
        let payload = f.bytes.slice(f.header..);
        Some(match format {
            WireFormat::Json => WireData::Text(payload),
            WireFormat::MsgPack => WireData::Binary(payload),
        })
    }

    /// The whole WebSocket message (a final text or binary frame) in `format`.
    pub fn ws_frame(&self, format: WireFormat) -> Option<Bytes> {
        self.framed(format).map(|f| f.bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `depth` arrays, one inside the other, around a nil.
    fn nested_msgpack(depth: usize) -> Vec<u8> {
        let mut data = vec![0x91; depth];
        data.push(0xc0);
        data
    }

    #[test]
    fn deeply_nested_msgpack_is_a_bad_frame_not_a_stack_overflow() {
        for depth in [200, 1000, 3000] {
            let err = decode(&nested_msgpack(depth), WireFormat::MsgPack).err();
            assert!(
                matches!(&err, Some((DecodeError::BadFrame(m), None)) if m.contains("depth")),
                "depth {depth}: {err:?}"
            );
        }
        // Nesting within the limit is read (and refused for not being an object).
        let err = decode(&nested_msgpack(100), WireFormat::MsgPack).err();
        assert!(
            matches!(&err, Some((DecodeError::BadFrame(m), None)) if m.contains("object")),
            "{err:?}"
        );
    }
}
