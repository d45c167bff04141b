//! Socket.IO v5 over Engine.IO v4 at `/socket.io/`, for clients written against the server this
//! one replaces (socket.io-client in JavaScript, Swift, Java, Python).
//!
//! It is a codec in front of the same chat session as `/ws`, not a second chat server: after a
//! CONNECT carrying `{token}`, each event `[type, object]` is the protocol v1 client frame
//! `{type, ...object}`, its answer comes back through the acknowledgement callback, and every
//! other v1 server frame arrives as the event named after its `type`.
//!
//! - [`packet`]: Engine.IO and Socket.IO packet parsing and writing.
//! - [`bridge`]: events and acknowledgements ↔ v1 frames.
//! - [`engine`]: one connection's task (queue, transports, upgrade, heartbeat, session).
//! - this module: the HTTP side (handshake, long-polling GET/POST, WebSocket).

pub mod bridge;
pub mod engine;
pub mod packet;

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{CloseReason, Codec, Frame, Message, ProtocolError};
use actix_web::body::{BodyStream, BoxBody};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use self::engine::{Cmd, Connection, Engines, PollAnswer, WsOut};
use self::packet::EnginePacket;
use crate::http::ws::origin_allowed;
use crate::http::AppState;

/// Packets waiting to be written to one WebSocket.
const WS_BUFFER: usize = 64;

/// The Engine.IO error answers (HTTP 400/403 with `{code, message}`).
#[derive(Clone, Copy, Debug)]
enum EngineError {
    UnknownTransport,
    UnknownSid,
    BadRequest(&'static str),
    Forbidden,
    UnsupportedVersion,
}

impl EngineError {
    fn response(self) -> HttpResponse {
        let (code, message) = match self {
            Self::UnknownTransport => (0, "Transport unknown"),
            Self::UnknownSid => (1, "Session ID unknown"),
            Self::BadRequest(m) => (3, m),
            Self::Forbidden => (4, "Forbidden"),
            Self::UnsupportedVersion => (5, "Unsupported protocol version"),
        };
        let mut res = if matches!(self, Self::Forbidden) { HttpResponse::Forbidden() } else { HttpResponse::BadRequest() };
        res.json(json!({"code": code, "message": message}))
    }
}

/// Mounts `/socket.io/` (which answers 404 unless `socketio.enabled`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/socket.io/", web::route().to(handle));
}

/// The query every Engine.IO request carries.
#[derive(serde::Deserialize)]
struct EngineQuery {
    #[serde(rename = "EIO")]
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
}

/// Every request to `/socket.io/`.
async fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    if !state.settings.socketio.enabled {
        return HttpResponse::NotFound().json(json!({"error": {"code": "not_found", "message": "socket.io is disabled"}}));
    }
    let Ok(q) = web::Query::<EngineQuery>::from_query(req.query_string()) else {
        return EngineError::BadRequest("bad query").response();
    };
    if q.eio.as_deref() != Some("4") {
        return EngineError::UnsupportedVersion.response();
    }
    if !origin_allowed(&req, &state.settings.server.allowed_origins) {
        return EngineError::Forbidden.response();
    }
    let engines = state.socketio.clone();
    let res = match (q.transport.as_deref(), req.method(), q.sid.as_deref()) {
        (Some("polling"), &Method::GET, None) => {
            let (_, _, open) = Connection::start(state.get_ref().clone(), engines, None);
            text(open)
        }
        (Some("polling"), &Method::GET, Some(sid)) => poll(&engines, sid).await,
        (Some("polling"), &Method::POST, Some(sid)) => post(&engines, sid, payload, state.settings.socketio.max_payload).await,
        (Some("polling"), _, _) => EngineError::BadRequest("bad handshake method").response(),
        (Some("websocket"), &Method::GET, sid) => websocket(&req, payload, &state, engines, sid),
        _ => EngineError::UnknownTransport.response(),
    };
    with_cors(&req, res)
}

/// Browsers on an allowed origin may poll cross-origin with credentials.
fn with_cors(req: &HttpRequest, mut res: HttpResponse) -> HttpResponse {
    if let Some(origin) = req.headers().get(header::ORIGIN).cloned() {
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, header::HeaderValue::from_static("true"));
    }
    res
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=UTF-8").body(body)
}

/// A long-polling GET: waits until packets are queued (a ping comes every `pingInterval`).
async fn poll(engines: &Engines, sid: &str) -> HttpResponse {
    let Some(conn) = engines.get(sid) else { return EngineError::UnknownSid.response() };
    let (tx, rx) = oneshot::channel();
    if conn.send(Cmd::Poll(tx)).await.is_err() {
        return EngineError::UnknownSid.response();
    }
    match rx.await {
        Ok(PollAnswer::Packets(body)) => text(body),
        Ok(PollAnswer::Refused(why)) => EngineError::BadRequest(why).response(),
        Err(_) => text(packet::out::CLOSE.into()),
    }
}

/// A long-polling POST: the client's packets, at most `max` bytes.
async fn post(engines: &Engines, sid: &str, mut payload: web::Payload, max: usize) -> HttpResponse {
    let Some(conn) = engines.get(sid) else { return EngineError::UnknownSid.response() };
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { return EngineError::BadRequest("body read failed").response() };
        if body.len() + chunk.len() > max {
            let _ = conn.send(Cmd::Abort("payload larger than maxPayload")).await;
            return HttpResponse::PayloadTooLarge().json(json!({"code": 3, "message": "payload larger than maxPayload"}));
        }
        body.extend_from_slice(&chunk);
    }
    let packets = std::str::from_utf8(&body).ok().map(EnginePacket::parse_payload);
    let Some(Ok(packets)) = packets else {
        let _ = conn.send(Cmd::Abort("malformed polling payload")).await;
        return EngineError::BadRequest("malformed payload").response();
    };
    if conn.send(Cmd::Packets(packets)).await.is_err() {
        return EngineError::UnknownSid.response();
    }
    text("ok".into())
}

/// The WebSocket transport: a new connection (no `sid`) or the upgrade of a polling one.
fn websocket(req: &HttpRequest, payload: web::Payload, state: &AppState, engines: Engines, sid: Option<&str>) -> HttpResponse {
    let mut response = match actix_http::ws::handshake(req.head()) {
        Ok(r) => r,
        Err(e) => return actix_web::ResponseError::error_response(&e),
    };
    let id = engine::next_ws_id();
    let (out_tx, out_rx) = mpsc::channel(WS_BUFFER);
    let conn = match sid {
        Some(sid) => {
            let Some(conn) = engines.get(sid) else { return EngineError::UnknownSid.response() };
            if conn.try_send(Cmd::WsOpen { ws: id, tx: out_tx.clone() }).is_err() {
                return EngineError::UnknownSid.response();
            }
            conn
        }
        None => Connection::start(state.clone(), engines, Some((id, out_tx.clone()))).1,
    };
    actix_web::rt::spawn(read_ws(id, payload, conn, out_tx, state.settings.socketio.max_payload));
    let body = write_ws(out_rx);
    match response.message_body(BoxBody::new(BodyStream::new(body))) {
        Ok(r) => r.into(),
        Err(e) => actix_web::error::ErrorInternalServerError(e).error_response(),
    }
}

/// Reads WebSocket `id` and hands its packets to the connection.
async fn read_ws(id: u64, mut payload: web::Payload, conn: mpsc::Sender<Cmd>, out: mpsc::Sender<WsOut>, max: usize) {
    let mut codec = Codec::new().max_size(max);
    let mut buf = BytesMut::new();
    let close: Option<(u16, &str)> = loop {
        let frame = match codec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => match payload.next().await {
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    continue;
                }
                _ => break None,
            },
            Err(ProtocolError::Overflow) => break Some((1009, "message larger than maxPayload")),
            Err(_) => break Some((1002, "websocket protocol error")),
        };
        let packet = match frame {
            Frame::Text(t) => match std::str::from_utf8(&t).map(EnginePacket::parse) {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => break Some((1003, "malformed engine.io packet")),
                Err(_) => break Some((1007, "text is not UTF-8")),
            },
            Frame::Binary(b) => EnginePacket::Binary(b),
            Frame::Ping(p) => {
                let _ = out.try_send(WsOut::Pong(p));
                continue;
            }
            Frame::Pong(_) => continue,
            Frame::Close(_) => break None,
            Frame::Continuation(_) => break Some((1003, "fragmented messages are not supported")),
        };
        if conn.send(Cmd::WsPacket { ws: id, packet }).await.is_err() {
            break None;
        }
    };
    if let Some((code, why)) = close {
        tracing::debug!(code, why, "closing a socket.io websocket");
        let _ = out.try_send(WsOut::Close(code, why.into()));
    }
    let _ = conn.send(Cmd::WsClosed { ws: id }).await;
}

/// The WebSocket's response body: encoded frames, ending after a close.
fn write_ws(rx: mpsc::Receiver<WsOut>) -> impl futures_util::Stream<Item = Result<bytes::Bytes, ProtocolError>> {
    futures_util::stream::unfold((rx, Codec::new(), false), |(mut rx, mut codec, done)| async move {
        if done {
            return None;
        }
        let (msg, last) = match rx.recv().await? {
            WsOut::Text(t) => (Message::Text(t.into()), false),
            WsOut::Pong(p) => (Message::Pong(p), false),
            WsOut::Close(code, why) => (Message::Close(Some(CloseReason { code: code.into(), description: Some(why) })), true),
        };
        let mut buf = BytesMut::new();
        let res = codec.encode(msg, &mut buf).map(|()| buf.freeze());
        Some((res, (rx, codec, last)))
    })
}
