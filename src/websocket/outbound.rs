//! A server frame encoded once per wire format, already framed as a WebSocket message, shared by
//! every session it is fanned out to.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::protocol::{ServerFrame, WireFormat};

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
        use super::frame::{header_into, MAX_HEADER};
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
        use super::frame::{OP_BINARY, OP_TEXT};
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

    /// The frame's JSON text payload (without the WebSocket header), or `None` if it cannot be
    /// encoded (logged; never expected for these types).
    pub fn json_payload(&self) -> Option<Bytes> {
        let f = self.framed(WireFormat::Json)?;
        Some(f.bytes.slice(f.header..))
    }

    /// The whole WebSocket message (a final text or binary frame) in `format`.
    pub fn ws_frame(&self, format: WireFormat) -> Option<Bytes> {
        self.framed(format).map(|f| f.bytes.clone())
    }
}
