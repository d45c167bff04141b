//! WebSocket connections from chosen loopback source addresses, and the opening handshake of
//! each protocol:
//!
//! - `chat`: this server's protocol v1: `GET /ws?token=...`, then wait for `hello`.
//! - `sio`: Socket.IO v5 over Engine.IO v4, WebSocket transport only (no polling):
//!   `GET /socket.io/?EIO=4&transport=websocket`; the server opens with `0{...}`; the client
//!   connects to the main namespace with `40{"user":...}` and gets `40{"sid":...}`; events are
//!   `42[name, data]`, an event that wants an ack is `42<id>[...]` and its ack `43<id>[...]`;
//!   the server pings with `2` and expects `3`.
//! - `chat-sio`: this server's `/socket.io/` endpoint, with the same Engine.IO/Socket.IO framing
//!   code as `sio`; only the CONNECT auth (`40{"token":...}`) and the events differ (every
//!   protocol v1 frame is an event of the same name: `42["send",{...}]`, `42["message",{...}]`);
//!   no join (the server knows rooms from membership); the handshake ends with the `hello` event.
//! - `ceiling`: the bare broadcast server (`ceiling` binary): `GET /`, nothing to say.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chat_protocol::{
    decode_server, encode_client, ClientFrame, SendFrame, ServerFrame, WireData, WireFormat,
};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// Which server protocol to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    /// This chat server, protocol v1.
    Chat,
    /// The node + socket.io reference peer.
    Sio,
    /// This chat server's Socket.IO endpoint (`/socket.io/`).
    ChatSio,
    /// The bare tokio-tungstenite broadcast server.
    Ceiling,
}

impl Proto {
    /// Whether the protocol is Socket.IO over Engine.IO (acks `43<id>[...]`, pings `2`).
    pub fn is_sio(self) -> bool {
        matches!(self, Proto::Sio | Proto::ChatSio)
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Chat => "chat",
            Proto::Sio => "sio",
            Proto::ChatSio => "chat-sio",
            Proto::Ceiling => "ceiling",
        }
    }
}

/// Client socket settings: frames up to 1 MiB. (tungstenite 0.24 reads in 4 KiB chunks and
/// grows a buffer only for a frame larger than that, so idle sockets stay small.)
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig {
        max_message_size: Some(1 << 20),
        max_frame_size: Some(1 << 20),
        ..WebSocketConfig::default()
    }
}

/// Source addresses handed out in turn (127.0.0.2, 127.0.0.3, ...), so that many connections to
/// one server port never run out of ephemeral ports.
pub struct Sources {
    ips: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Sources {
    /// `count` addresses starting at 127.0.0.2 (0 = let the kernel choose, 127.0.0.1).
    pub fn loopback(count: u8) -> Self {
        let ips = (0..count)
            .map(|i| Ipv4Addr::new(127, 0, 0, 2u8.saturating_add(i)))
            .collect();
        Self {
            ips,
            next: AtomicUsize::new(0),
        }
    }

    pub fn next(&self) -> Option<Ipv4Addr> {
        if self.ips.is_empty() {
            return None;
        }
        Some(self.ips[self.next.fetch_add(1, Ordering::Relaxed) % self.ips.len()])
    }
}

/// Who a connection speaks as.
#[derive(Clone, Debug)]
pub struct Who {
    /// Bearer token (chat).
    pub token: String,
    /// User name (sio).
    pub name: String,
}

/// Opens a WebSocket to `server` + `path` from `src`.
pub async fn connect(server: SocketAddr, src: Option<Ipv4Addr>, path: &str) -> Result<Ws> {
    if !server.ip().is_loopback() {
        bail!("refusing to load-test {server}: only loopback addresses are allowed");
    }
    let sock = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        sock.bind(SocketAddr::new(ip.into(), 0))
            .with_context(|| format!("bind {ip}"))?;
    }
    let tcp = sock
        .connect(server)
        .await
        .with_context(|| format!("connect {server}"))?;
    tcp.set_nodelay(true)?;
    let (ws, _) =
        client_async_with_config(format!("ws://{server}{path}"), tcp, Some(ws_config())).await?;
    Ok(ws)
}

/// Opens a connection and completes the protocol's handshake; with `room`, also joins it (sio;
/// the chat server knows rooms from membership, the ceiling has one room).
pub async fn open(
    proto: Proto,
    server: SocketAddr,
    src: Option<Ipv4Addr>,
    who: &Who,
    room: Option<&str>,
) -> Result<Ws> {
    let work = async {
        match proto {
            Proto::Chat => {
                let mut ws = connect(server, src, &format!("/ws?token={}", who.token)).await?;
                wait_for(&mut ws, |t| t.contains("\"type\":\"hello\"")).await?;
                Ok(ws)
            }
            Proto::Sio => {
                let mut ws = sio_open(server, src, serde_json::json!({ "user": who.name })).await?;
                if let Some(room) = room {
                    let join = serde_json::json!(["join", { "room": room }]);
                    ws.send(Message::Text(format!("421{join}"))).await?;
                    wait_for(&mut ws, |t| t.starts_with("431")).await?;
                }
                Ok(ws)
            }
            Proto::ChatSio => {
                let mut ws =
                    sio_open(server, src, serde_json::json!({ "token": who.token })).await?;
                // The CONNECT ack comes before the session is set up; like `chat`, wait for its
                // `hello` (the session may still fail, e.g. on a database timeout, and close).
                wait_for(&mut ws, |t| t.starts_with("42[\"hello\"")).await?;
                Ok(ws)
            }
            Proto::Ceiling => connect(server, src, "/").await,
        }
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| anyhow!("handshake timed out"))?
}

/// Opens an Engine.IO v4 WebSocket and connects to the main namespace with `auth`.
async fn sio_open(
    server: SocketAddr,
    src: Option<Ipv4Addr>,
    auth: serde_json::Value,
) -> Result<Ws> {
    let mut ws = connect(server, src, "/socket.io/?EIO=4&transport=websocket").await?;
    wait_for(&mut ws, |t| t.starts_with('0')).await?;
    ws.send(Message::Text(format!("40{auth}"))).await?;
    let open = wait_for(&mut ws, |t| t.starts_with("40") || t.starts_with("44")).await?;
    if open.starts_with("44") {
        bail!("socket.io refused the connection: {open}");
    }
    Ok(ws)
}

/// Reads until a text frame satisfies `done` and returns it, answering Engine.IO pings.
async fn wait_for(ws: &mut Ws, done: impl Fn(&str) -> bool) -> Result<String> {
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            if done(&t) {
                return Ok(t);
            }
            if t == "2" {
                ws.send(Message::Text("3".into())).await?;
            }
        }
    }
    bail!("connection closed during the handshake")
}

/// A protocol v1 `send` frame (JSON text), encoded by `chat-protocol`.
fn chat_send(room: &str, client_id: &str, body: &str) -> String {
    let frame = ClientFrame::Send(SendFrame::new(
        room.into(),
        client_id.to_owned(),
        body.to_owned(),
    ));
    match encode_client(&frame, None, WireFormat::Json) {
        Ok(WireData::Text(bytes) | WireData::Binary(bytes)) => {
            String::from_utf8(bytes).unwrap_or_default()
        }
        // Never expected for a send frame; the server answers an empty frame with bad_frame,
        // which the run counts as an error.
        Err(_) => String::new(),
    }
}

/// An `error` frame's code and whether it names a `client_id` (answers a `send`), read with
/// `chat-protocol`'s types; `("?", false)` for a frame that is not a readable error.
pub fn error_frame(text: &str) -> (String, bool) {
    match decode_server(text.as_bytes(), WireFormat::Json) {
        Ok(ServerFrame::Error(e)) => (e.code.as_str().to_owned(), e.client_id.is_some()),
        _ => ("?".to_owned(), false),
    }
}

/// A `send` of `body` to `room` in `proto`'s framing. `ack_id` asks socket.io for an ack.
pub fn send_frame(
    proto: Proto,
    room: &str,
    client_id: &str,
    body: &str,
    ack_id: Option<u64>,
) -> String {
    match proto {
        Proto::Chat => chat_send(room, client_id, body),
        Proto::Sio | Proto::ChatSio => {
            let event =
                serde_json::json!(["send", { "room": room, "client_id": client_id, "body": body }]);
            match ack_id {
                Some(id) => format!("42{id}{event}"),
                None => format!("42{event}"),
            }
        }
        Proto::Ceiling => body.to_owned(),
    }
}
