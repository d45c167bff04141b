//! Engine.IO v4 and Socket.IO v5 packets: parsing what clients send and writing what the server
//! sends. Pure functions, no I/O.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

/// Separates packets in an HTTP long-polling body (Engine.IO v4).
pub const RECORD_SEPARATOR: char = '\u{1e}';

/// Why a packet could not be read. The connection that sent it is closed.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("empty packet")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    EngineType(char),
    #[error("unknown Socket.IO packet type {0:?}")]
    SocketType(char),
    #[error("invalid base64 in a binary packet")]
    Base64,
    #[error("malformed Socket.IO packet: {0}")]
    Malformed(&'static str),
    #[error("malformed JSON in a Socket.IO packet: {0}")]
    Json(#[from] serde_json::Error),
}

/// One Engine.IO packet from a client.
#[derive(Debug, PartialEq)]
pub enum EnginePacket {
    Close,
    Ping(String),
    Pong(String),
    Message(String),
    Binary(Bytes),
    Upgrade,
    Noop,
}

impl EnginePacket {
    /// Reads one text packet (`4hello`, `3`, `2probe`, or `b<base64>` for binary over polling).
    pub fn parse(text: &str) -> Result<Self, PacketError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(PacketError::Empty)?;
        let rest = chars.as_str();
        Ok(match kind {
            '1' => Self::Close,
            '2' => Self::Ping(rest.to_owned()),
            '3' => Self::Pong(rest.to_owned()),
            '4' => Self::Message(rest.to_owned()),
            '5' => Self::Upgrade,
            '6' => Self::Noop,
            'b' => Self::Binary(Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .map_err(|_| PacketError::Base64)?,
            )),
            other => return Err(PacketError::EngineType(other)),
        })
    }

    /// Reads an HTTP long-polling body: packets separated by U+001E.
    pub fn parse_payload(body: &str) -> Result<Vec<Self>, PacketError> {
        body.split(RECORD_SEPARATOR).map(Self::parse).collect()
    }
}

/// Engine.IO packets the server writes.
pub mod out {
    /// The handshake: `0{"sid",...}`, with the transports this one can be upgraded to.
    pub fn open(
        sid: &str,
        upgrades: &[&str],
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
        max_payload: usize,
    ) -> String {
        let body = serde_json::json!({
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms,
            "maxPayload": max_payload,
        });
        format!("0{body}")
    }
    pub const CLOSE: &str = "1";
    pub const PING: &str = "2";
    pub const PROBE_ANSWER: &str = "3probe";
    pub const NOOP: &str = "6";
    /// A message packet carrying a Socket.IO packet.
    pub fn message(socket_io: &str) -> String {
        format!("4{socket_io}")
    }
}

/// Socket.IO packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

/// One Socket.IO packet from a client (binary attachments, if any, follow separately).
#[derive(Debug, PartialEq)]
pub struct SocketPacket {
    pub kind: Kind,
    /// The namespace; `/` when absent.
    pub nsp: String,
    /// The acknowledgement id the client waits on.
    pub id: Option<u64>,
    pub data: Option<Value>,
    /// How many binary attachments follow (binary packets only).
    pub attachments: usize,
}

/// Most binary attachments accepted on one packet.
pub const MAX_ATTACHMENTS: usize = 16;

impl SocketPacket {
    /// Reads `<type>[<attachments>-][<nsp>,][<id>][<json>]`.
    pub fn parse(text: &str) -> Result<Self, PacketError> {
        let mut chars = text.chars();
        let kind = match chars.next().ok_or(PacketError::Empty)? {
            '0' => Kind::Connect,
            '1' => Kind::Disconnect,
            '2' => Kind::Event,
            '3' => Kind::Ack,
            '4' => Kind::ConnectError,
            '5' => Kind::BinaryEvent,
            '6' => Kind::BinaryAck,
            other => return Err(PacketError::SocketType(other)),
        };
        let mut rest = chars.as_str();
        let mut attachments = 0;
        if matches!(kind, Kind::BinaryEvent | Kind::BinaryAck) {
            let (count, after) = rest.split_once('-').ok_or(PacketError::Malformed(
                "binary packet without an attachment count",
            ))?;
            attachments = count
                .parse()
                .map_err(|_| PacketError::Malformed("bad attachment count"))?;
            if attachments > MAX_ATTACHMENTS {
                return Err(PacketError::Malformed("too many binary attachments"));
            }
            rest = after;
        }
        let mut nsp = "/".to_owned();
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            nsp = rest[..end].to_owned();
            rest = rest.get(end + 1..).unwrap_or("");
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = match digits {
            0 => None,
            n if n > 15 => return Err(PacketError::Malformed("acknowledgement id too long")),
            n => Some(
                rest[..n]
                    .parse()
                    .map_err(|_| PacketError::Malformed("bad acknowledgement id"))?,
            ),
        };
        rest = &rest[digits..];
        let data = if rest.is_empty() {
            None
        } else {
            Some(serde_json::from_str(rest)?)
        };
        Ok(Self {
            kind,
            nsp,
            id,
            data,
            attachments,
        })
    }

    /// Puts binary attachments where the packet's placeholders
    /// (`{"_placeholder":true,"num":N}`) are; `None` if a placeholder has no attachment.
    pub fn fill_placeholders(
        value: &mut Value,
        attachments: &[Bytes],
        replace: &impl Fn(&Bytes) -> Value,
    ) -> Option<()> {
        match value {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|v| Self::fill_placeholders(v, attachments, replace)),
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                let n = map.get("num")?.as_u64()? as usize;
                *value = replace(attachments.get(n)?);
                Some(())
            }
            Value::Object(map) => map
                .values_mut()
                .try_for_each(|v| Self::fill_placeholders(v, attachments, replace)),
            _ => Some(()),
        }
    }
}

/// Socket.IO packets the server writes (namespace `/` only), each inside an Engine.IO message.
pub mod socket_out {
    use serde_json::Value;

    /// The answer to a successful CONNECT.
    pub fn connect(sid: &str) -> String {
        super::out::message(&format!("0{}", serde_json::json!({ "sid": sid })))
    }
    /// A refused CONNECT.
    pub fn connect_error(message: &str) -> String {
        super::out::message(&format!("4{}", serde_json::json!({ "message": message })))
    }
    /// A refused CONNECT with `data` beside the message (socket.io-client's `err.data`).
    pub fn connect_error_with_data(message: &str, data: &Value) -> String {
        super::out::message(&format!(
            "4{}",
            serde_json::json!({ "message": message, "data": data })
        ))
    }
    /// The server ends the socket; the client does not reconnect by itself.
    pub fn disconnect() -> String {
        super::out::message("1")
    }
    /// An event `[name, <json object>]`, the object already encoded.
    pub fn event(name: &str, json: &str) -> String {
        let name = Value::String(name.to_owned());
        super::out::message(&format!("2[{name},{json}]"))
    }
    /// The acknowledgement of the client's packet `id`, with one argument.
    pub fn ack(id: u64, arg: &Value) -> String {
        super::out::message(&format!("3{id}[{arg}]"))
    }
}

#[cfg(test)]
// A panic is how a test fails: the workspace's unwrap lint is for the server code.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_acks_namespaces_and_binary_headers() {
        let p = SocketPacket::parse(r#"212["send",{"a":1}]"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_str(), p.id), (Kind::Event, "/", Some(12)));
        assert_eq!(p.data.unwrap()[0], "send");
        let p = SocketPacket::parse(r#"0/admin,{"token":"t"}"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_str()), (Kind::Connect, "/admin"));
        let p = SocketPacket::parse(r#"51-3["send",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (Kind::BinaryEvent, 1, Some(3))
        );
        assert!(SocketPacket::parse("9").is_err());
        assert!(SocketPacket::parse("2[oops").is_err());
        assert!(SocketPacket::parse("599-[]").is_err());
    }

    #[test]
    fn parses_polling_payloads() {
        let ps = EnginePacket::parse_payload("3\u{1e}40{\"token\":\"x\"}\u{1e}bAQI=").unwrap();
        assert_eq!(ps[0], EnginePacket::Pong(String::new()));
        assert_eq!(ps[1], EnginePacket::Message("0{\"token\":\"x\"}".into()));
        assert_eq!(ps[2], EnginePacket::Binary(Bytes::from_static(&[1, 2])));
        assert!(EnginePacket::parse_payload("x").is_err());
    }
}
