//! What each fuzz target does with its input, shared by the libFuzzer targets (`fuzz_targets/`,
//! nightly, `make fuzz`) and the stable regression test that replays the committed corpus and
//! every crash input (`tests/integration/fuzz_corpus.rs`, part of `make test`).
//!
//! Every function takes any bytes, must not panic, and asserts what must hold of the result: a
//! failed assertion is a bug found, like a panic inside the code under test.

use bytes::Bytes;
use chat_server::media;
use chat_server::protocol::codec::{self, WireFormat};
use chat_server::socketio::bridge::{Bridge, Inbound};
use chat_server::socketio::packet::{EnginePacket, SocketPacket, RECORD_SEPARATOR};
use chat_server::websocket::decoder::{close_code_is_valid, Decoder, InFrame, WsError};

/// The largest message the WebSocket target allows (small, so the size limits are reached).
pub const WS_MAX: usize = 1024;

/// A fuzz target's entry point: any bytes in, a panic for a bug.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the names of `fuzz_targets/*.rs` and of the corpus folders).
pub const TARGETS: [(&str, Target); 6] = [
    ("ws_frame", ws_frame),
    ("protocol_json", protocol_json),
    ("protocol_msgpack", protocol_msgpack),
    ("engineio_packet", engineio_packet),
    ("socketio_packet", socketio_packet),
    ("media_sniff", media_sniff),
];

/// What a decoder made of some bytes: the frames, then the error that ended it (as its close
/// code and text), if any.
type Outcome = (Vec<InFrame>, Option<(Option<u16>, String)>);

/// Feeds `bytes` to a decoder `step` bytes at a time (all at once for 0).
fn decode_in_steps(bytes: &[u8], step: usize) -> Outcome {
    let mut decoder = Decoder::new(WS_MAX);
    let mut frames = Vec::new();
    let step = if step == 0 { bytes.len().max(1) } else { step };
    for chunk in bytes.chunks(step) {
        decoder.feed(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(describe(&e))),
            }
        }
    }
    (frames, None)
}

fn describe(e: &WsError) -> (Option<u16>, String) {
    (e.close_code(), e.to_string())
}

/// The WebSocket frame reader (`websocket::decoder`). The first byte chooses how the rest is cut
/// into reads; whatever the cut, the frames and the error are the same as when all the bytes
/// arrive at once, and what comes out keeps the layer's promises.
pub fn ws_frame(data: &[u8]) {
    let Some((&step, bytes)) = data.split_first() else {
        return;
    };
    let whole = decode_in_steps(bytes, 0);
    let stepped = decode_in_steps(bytes, usize::from(step % 64) + 1);
    assert_eq!(
        whole, stepped,
        "the frames depend on how the bytes were cut"
    );
    let (frames, _) = whole;
    for (i, f) in frames.iter().enumerate() {
        match f {
            InFrame::Text(t) => {
                assert!(
                    std::str::from_utf8(t).is_ok(),
                    "a text message is not UTF-8"
                );
                assert!(t.len() <= WS_MAX);
            }
            InFrame::Binary(b) => assert!(b.len() <= WS_MAX),
            InFrame::Ping(p) => assert!(p.len() <= 125),
            InFrame::Pong => {}
            InFrame::Close(reason) => {
                assert_eq!(i, frames.len() - 1, "a frame came after a close");
                if let Some((code, why)) = reason {
                    assert!(close_code_is_valid(*code), "close code {code} let through");
                    assert!(why.len() <= 123);
                }
            }
        }
    }
}

/// The protocol v1 decoder on a JSON text frame.
pub fn protocol_json(data: &[u8]) {
    protocol(data, WireFormat::Json);
}

/// The protocol v1 decoder on a MessagePack binary frame.
pub fn protocol_msgpack(data: &[u8]) {
    protocol(data, WireFormat::MsgPack);
}

fn protocol(data: &[u8], format: WireFormat) {
    let reference = match codec::decode(data, format) {
        Ok(decoded) => decoded.reference,
        Err((_, reference)) => reference,
    };
    if let Some(r) = reference {
        assert!(r.len() <= 128, "a ref longer than 128 bytes was kept");
    }
}

/// Engine.IO packets: one packet, and a long-polling body of several.
pub fn engineio_packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let one = EnginePacket::parse(text);
    if let Ok(packets) = EnginePacket::parse_payload(text) {
        assert_eq!(packets.len(), text.split(RECORD_SEPARATOR).count());
        if !text.contains(RECORD_SEPARATOR) {
            assert_eq!(one.ok().as_ref(), packets.first());
        }
    }
}

/// Socket.IO packets, as the connection handles them: parsed, binary placeholders filled, and an
/// event turned into a protocol v1 frame.
pub fn socketio_packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(packet) = SocketPacket::parse(text) else {
        return;
    };
    assert!(packet.attachments <= chat_server::socketio::packet::MAX_ATTACHMENTS);
    let attachments = vec![Bytes::from_static(b"attachment"); packet.attachments];
    let mut data = packet.data.clone().unwrap_or(serde_json::Value::Null);
    let _ = SocketPacket::fill_placeholders(&mut data, &attachments, &|_| serde_json::Value::Null);
    let mut bridge = Bridge::new("fuzz-".into());
    match bridge.inbound(packet.data, packet.id) {
        Inbound::Frame(json) => {
            let value: serde_json::Value =
                serde_json::from_str(&json).expect("the bridge wrote JSON that does not parse");
            assert!(
                value.is_object(),
                "the bridge wrote a frame that is not an object"
            );
            protocol(json.as_bytes(), WireFormat::Json);
        }
        Inbound::Answer(packet) => assert!(
            packet.starts_with("42") || packet.starts_with("43"),
            "the bridge answered with {packet:?}"
        ),
    }
}

/// Upload content sniffing: the kind comes from the bytes, and images are only the types the
/// image pipeline decodes.
pub fn media_sniff(data: &[u8]) {
    let sniffed = media::sniff_bytes(data);
    if sniffed.kind == media::Kind::Image {
        assert!(
            ["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&sniffed.mime.as_str()),
            "{} sniffed as an image",
            sniffed.mime
        );
    }
    if sniffed.unknown {
        assert_eq!(sniffed.kind, media::Kind::File);
    }
    assert!(!sniffed.mime.is_empty());
}
