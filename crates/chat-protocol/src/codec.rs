//! JSON text frames and MessagePack binary frames (rmp-serde, fields by name) of the same objects.

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
    Text(Vec<u8>),
    Binary(Vec<u8>),
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

/// Encodes a client frame with its `ref` (for clients: `chat-cli`, the load generator, tests).
pub fn encode_client(
    frame: &ClientFrame,
    reference: Option<&str>,
    format: WireFormat,
) -> Result<WireData, EncodeError> {
    let mut value = serde_json::to_value(frame).map_err(EncodeError::Json)?;
    if let (Some(r), Value::Object(map)) = (reference, &mut value) {
        map.insert("ref".into(), Value::String(r.to_owned()));
    }
    encode_value(&value, format)
}

/// Encodes a server frame (the server frames each message once per format in its WebSocket
/// layer; this is the plain form, for tests and tools).
pub fn encode_server(frame: &ServerFrame, format: WireFormat) -> Result<WireData, EncodeError> {
    match format {
        WireFormat::Json => serde_json::to_vec(frame)
            .map(WireData::Text)
            .map_err(EncodeError::Json),
        WireFormat::MsgPack => rmp_serde::to_vec_named(frame)
            .map(WireData::Binary)
            .map_err(EncodeError::MsgPack),
    }
}

fn encode_value(value: &Value, format: WireFormat) -> Result<WireData, EncodeError> {
    match format {
        WireFormat::Json => serde_json::to_vec(value)
            .map(WireData::Text)
            .map_err(EncodeError::Json),
        WireFormat::MsgPack => rmp_serde::to_vec_named(value)
            .map(WireData::Binary)
            .map_err(EncodeError::MsgPack),
    }
}

/// Decodes a server frame (for clients). Frame types this version does not know are an error
/// the caller may skip: servers add frame types without a protocol version change.
pub fn decode_server(data: &[u8], format: WireFormat) -> Result<ServerFrame, DecodeError> {
    let parsed = match format {
        WireFormat::Json => serde_json::from_slice::<ServerFrame>(data).map_err(|e| e.to_string()),
        WireFormat::MsgPack => {
            rmp_serde::from_slice::<ServerFrame>(data).map_err(|e| e.to_string())
        }
    };
    parsed.map_err(|e| {
        if e.contains("unknown variant") {
            DecodeError::UnknownType(e)
        } else {
            DecodeError::Invalid(e)
        }
    })
}

/// Why a frame could not be encoded (never expected for these types).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("JSON: {0}")]
    Json(serde_json::Error),
    #[error("MessagePack: {0}")]
    MsgPack(rmp_serde::encode::Error),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
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

    fn bytes(w: WireData) -> Vec<u8> {
        match w {
            WireData::Text(b) | WireData::Binary(b) => b,
        }
    }

    fn react() -> ClientFrame {
        ClientFrame::React(crate::frames::ReactFrame {
            room: "r1".into(),
            id: "m1".into(),
            emoji: "👍".into(),
            on: true,
        })
    }

    #[test]
    fn a_client_frame_survives_encode_then_decode_in_both_formats_with_its_ref() {
        for format in [WireFormat::Json, WireFormat::MsgPack] {
            let data = bytes(encode_client(&react(), Some("r-7"), format).unwrap());
            let decoded = decode(&data, format).unwrap();
            assert_eq!(decoded.reference.as_deref(), Some("r-7"), "{format:?}");
            match decoded.frame {
                ClientFrame::React(f) => {
                    assert_eq!((f.room.as_str(), f.id.as_str()), ("r1", "m1"));
                    assert_eq!((f.emoji.as_str(), f.on), ("👍", true));
                }
                other => panic!("{format:?}: decoded as {other:?}"),
            }
            let ping = bytes(encode_client(&ClientFrame::Ping, None, format).unwrap());
            let decoded = decode(&ping, format).unwrap();
            assert!(matches!(decoded.frame, ClientFrame::Ping) && decoded.reference.is_none());
        }
    }

    #[test]
    fn a_server_frame_survives_encode_then_decode_in_both_formats() {
        let ack = ServerFrame::Ack(crate::frames::Ack {
            client_id: "c1".into(),
            room: "r1".into(),
            id: "m1".into(),
            seq: 42,
            ts: 1_700_000_000_000,
            reference: Some("x".into()),
        });
        for format in [WireFormat::Json, WireFormat::MsgPack] {
            let data = bytes(encode_server(&ack, format).unwrap());
            match decode_server(&data, format).unwrap() {
                ServerFrame::Ack(a) => {
                    assert_eq!((a.seq, a.client_id.as_str()), (42, "c1"));
                    assert_eq!(a.reference.as_deref(), Some("x"));
                }
                other => panic!("{format:?}: decoded as {other:?}"),
            }
        }
    }

    /// Each malformed input and the error class (and echoed `ref`) it must give.
    #[test]
    fn malformed_frames_map_to_their_error_codes() {
        type Check = fn(&DecodeError) -> bool;
        let bad: Check = |e| matches!(e, DecodeError::BadFrame(_));
        let unknown: Check = |e| matches!(e, DecodeError::UnknownType(_));
        let invalid: Check = |e| matches!(e, DecodeError::Invalid(_));
        let long_ref = format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(129));
        let cases: Vec<(&str, Check, Option<&str>)> = vec![
            ("not json", bad, None),
            ("[1,2]", bad, None),
            ("\"ping\"", bad, None),
            (r#"{"ref":"a"}"#, bad, Some("a")),
            (r#"{"type":7,"ref":"a"}"#, bad, Some("a")),
            (r#"{"type":"ping","ref":5}"#, bad, None),
            (&long_ref, bad, None),
            (r#"{"type":"launch","ref":"b"}"#, unknown, Some("b")),
            (r#"{"type":"send","ref":"c"}"#, invalid, Some("c")),
            (
                r#"{"type":"send","room":"r","client_id":"c","body":5}"#,
                invalid,
                None,
            ),
            (
                r#"{"type":"react","room":"r","id":"m","emoji":"x"}"#,
                invalid,
                None,
            ),
        ];
        for (input, check, reference) in cases {
            let (err, r) = decode(input.as_bytes(), WireFormat::Json).unwrap_err();
            assert!(check(&err), "{input}: {err:?}");
            assert_eq!(r.as_deref(), reference, "{input}");
        }
    }

    #[test]
    fn every_client_type_name_is_known_and_unknown_names_are_cut_short() {
        for kind in ClientFrame::TYPES {
            let data = format!(r#"{{"type":"{kind}"}}"#);
            let err = decode(data.as_bytes(), WireFormat::Json).err();
            assert!(
                !matches!(err, Some((DecodeError::UnknownType(_), _))),
                "{kind} is unknown"
            );
        }
        let long = format!(r#"{{"type":"{}"}}"#, "z".repeat(500));
        match decode(long.as_bytes(), WireFormat::Json) {
            Err((DecodeError::UnknownType(shown), None)) => assert_eq!(shown.len(), 40),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_server_frame_type_this_client_does_not_know_is_told_apart() {
        let err = decode_server(br#"{"type":"hologram"}"#, WireFormat::Json).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownType(_)), "{err:?}");
        let err = decode_server(br#"{"type":"ack"}"#, WireFormat::Json).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid(_)), "{err:?}");
    }
}
