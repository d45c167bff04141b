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
//!
//! It does not import `crate::http`: what it needs from the rest of the server is handed to it
//! as [`Deps`], and what it shares with `/ws` (origin and token checks, the per-user session
//! cap) is in `crate::transport`.

pub mod bridge;
pub mod engine;
pub mod packet;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use self::engine::{Cmd, Connection, Engines, PollAnswer, WsOut};
use self::packet::EnginePacket;
use crate::actors::session::SessionDeps;
use crate::limits::Limits;
use crate::protocol::close;
use crate::transport::origin_allowed;
use crate::websocket::conn::{InFrame, Reader, Writer};
use crate::websocket::frame;
use crate::websocket::upgrade::Upgrade;
use actix_web::HttpMessage;
use std::sync::Arc;

/// What Socket.IO needs from the rest of the server (the HTTP layer builds it at startup, and
/// its handlers find it as `web::Data<Deps>`).
#[derive(Clone)]
pub struct Deps {
    /// What each chat session needs (the store, the actors, the settings, the shutdown notice).
    pub session: SessionDeps,
    /// Live Engine.IO connections, shared by every worker.
    pub engines: Engines,
    /// The handshake rate limit per address.
    pub limits: Arc<Limits>,
}

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
        let mut res = if matches!(self, Self::Forbidden) {
            HttpResponse::Forbidden()
        } else {
            HttpResponse::BadRequest()
        };
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
async fn handle(req: HttpRequest, payload: web::Payload, deps: web::Data<Deps>) -> HttpResponse {
    let settings = &deps.session.settings;
    if !settings.socketio.enabled {
        return disabled();
    }
    let q = match checked_query(req.headers(), req.query_string(), &deps) {
        Ok(q) => q,
        Err(e) => return with_cors(req.headers(), e.response()),
    };
    let engines = &deps.engines;
    let res = match (q.transport.as_deref(), req.method(), q.sid.as_deref()) {
        (Some("polling"), &Method::GET, None) => {
            let peer = req.peer_addr().map(|a| a.ip());
            if let Err(e) = deps.limits.socketio_handshake(peer) {
                return with_cors(req.headers(), e.error_response());
            }
            let (_, _, open) = Connection::start(deps.session.clone(), engines.clone(), None);
            text(open)
        }
        (Some("polling"), &Method::GET, Some(sid)) => poll(engines, sid).await,
        (Some("polling"), &Method::POST, Some(sid)) => {
            post(engines, sid, payload, settings.socketio.max_payload).await
        }
        (Some("polling"), _, _) => EngineError::BadRequest("bad handshake method").response(),
        // A WebSocket upgrade goes to `websocket_upgrade`; this one is not a handshake.
        (Some("websocket"), &Method::GET, _) => {
            match actix_http::ws::verify_handshake(req.head()) {
                Err(e) => e.error_response(),
                Ok(()) => EngineError::BadRequest("websocket upgrade expected").response(),
            }
        }
        _ => EngineError::UnknownTransport.response(),
    };
    with_cors(req.headers(), res)
}

/// The answer to every request while `socketio.enabled` is off.
fn disabled() -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({"error": {"code": "not_found", "message": "socket.io is disabled"}}))
}

/// The checks every Engine.IO request passes: the query, the protocol version, the origin.
fn checked_query(
    headers: &HeaderMap,
    query: &str,
    deps: &Deps,
) -> Result<EngineQuery, EngineError> {
    let q = web::Query::<EngineQuery>::from_query(query)
        .map_err(|_| EngineError::BadRequest("bad query"))?;
    if q.eio.as_deref() != Some("4") {
        return Err(EngineError::UnsupportedVersion);
    }
    if !origin_allowed(headers, &deps.session.settings.server.allowed_origins) {
        return Err(EngineError::Forbidden);
    }
    Ok(q.into_inner())
}

/// Browsers on an allowed origin may poll cross-origin with credentials.
fn with_cors(headers: &HeaderMap, mut res: HttpResponse) -> HttpResponse {
    if let Some(origin) = headers.get(header::ORIGIN).cloned() {
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::HeaderValue::from_static("true"),
        );
    }
    res
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=UTF-8")
        .body(body)
}

/// A long-polling GET: waits until packets are queued (a ping comes every `pingInterval`).
async fn poll(engines: &Engines, sid: &str) -> HttpResponse {
    let Some(conn) = engines.get(sid) else {
        return EngineError::UnknownSid.response();
    };
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
    let Some(conn) = engines.get(sid) else {
        return EngineError::UnknownSid.response();
    };
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return EngineError::BadRequest("body read failed").response();
        };
        if body.len() + chunk.len() > max {
            // The connection may have ended already; the answer below is the same.
            let _ = conn
                .send(Cmd::Abort("payload larger than maxPayload"))
                .await;
            return HttpResponse::PayloadTooLarge()
                .json(json!({"code": 3, "message": "payload larger than maxPayload"}));
        }
        body.extend_from_slice(&chunk);
    }
    let packets = std::str::from_utf8(&body)
        .ok()
        .map(EnginePacket::parse_payload);
    let Some(Ok(packets)) = packets else {
        // The connection may have ended already; the answer below is the same.
        let _ = conn.send(Cmd::Abort("malformed polling payload")).await;
        return EngineError::BadRequest("malformed payload").response();
    };
    if conn.send(Cmd::Packets(packets)).await.is_err() {
        return EngineError::UnknownSid.response();
    }
    text("ok".into())
}

/// The WebSocket transport, reached through the upgrade service: a new connection (no `sid`) or
/// the upgrade of a polling one.
pub async fn websocket_upgrade(deps: Deps, up: Upgrade) {
    let headers = up.request.headers().clone();
    let refuse = |e: EngineError| with_cors(&headers, e.response());
    if !deps.session.settings.socketio.enabled {
        return up.refuse(disabled()).await;
    }
    let q = match checked_query(&headers, up.query(), &deps) {
        Ok(q) => q,
        Err(e) => return up.refuse(refuse(e)).await,
    };
    if q.transport.as_deref() != Some("websocket") || up.request.method() != Method::GET {
        return up.refuse(refuse(EngineError::UnknownTransport)).await;
    }
    let engines = deps.engines.clone();
    let upgrading = match q.sid.as_deref() {
        Some(sid) => match engines.get(sid) {
            Some(conn) => Some(conn),
            None => return up.refuse(refuse(EngineError::UnknownSid)).await,
        },
        None => {
            let peer = up.request.peer_addr().map(|a| a.ip());
            if let Err(e) = deps.limits.socketio_handshake(peer) {
                return up.refuse(with_cors(&headers, e.error_response())).await;
            }
            None
        }
    };
    let max = deps.session.settings.socketio.max_payload;
    let Some((reader, writer)) = up.accept(max).await else {
        return;
    };
    let id = engine::next_ws_id();
    let (out_tx, out_rx) = mpsc::channel(WS_BUFFER);
    let conn = match upgrading {
        Some(conn) => {
            if conn
                .try_send(Cmd::WsOpen {
                    ws: id,
                    tx: out_tx.clone(),
                })
                .is_err()
            {
                let mut writer = writer;
                // Best effort: the connection ends here whether the close frame is written or not.
                let _ = writer
                    .send(frame::close(close::INTERNAL, "session ID unknown"))
                    .await;
                return;
            }
            conn
        }
        None => Connection::start(deps.session.clone(), engines, Some((id, out_tx.clone()))).1,
    };
    // The socket closes when both are done; the reader stops once the writer has.
    let (written, done) = oneshot::channel::<()>();
    actix_web::rt::spawn(read_ws(id, reader, conn, out_tx, done));
    actix_web::rt::spawn(write_ws(writer, out_rx, written));
}

/// Reads WebSocket `id` and hands its packets to the connection.
async fn read_ws(
    id: u64,
    mut reader: Reader,
    conn: mpsc::Sender<Cmd>,
    out: mpsc::Sender<WsOut>,
    mut writer_done: oneshot::Receiver<()>,
) {
    let close: Option<(u16, &str)> = loop {
        let next = tokio::select! {
            next = reader.next() => next,
            _ = &mut writer_done => break None,
        };
        let frame = match next {
            Some(Ok(f)) => f,
            Some(Err(e)) => match e.close_code() {
                Some(close::TOO_BIG) => {
                    break Some((close::TOO_BIG, "message larger than maxPayload"))
                }
                Some(close::INVALID_PAYLOAD) => {
                    break Some((close::INVALID_PAYLOAD, "text is not UTF-8"))
                }
                Some(_) => break Some((close::PROTOCOL_ERROR, "websocket protocol error")),
                None => break None,
            },
            None => break None,
        };
        let packet = match frame {
            InFrame::Text(t) => match std::str::from_utf8(&t).map(EnginePacket::parse) {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => break Some((close::UNSUPPORTED_DATA, "malformed engine.io packet")),
                Err(_) => break Some((close::INVALID_PAYLOAD, "text is not UTF-8")),
            },
            InFrame::Binary(b) => EnginePacket::Binary(b),
            InFrame::Ping(p) => {
                // A writer too far behind to take a pong is dropped by its own queue limit.
                let _ = out.try_send(WsOut::Pong(p));
                continue;
            }
            InFrame::Pong => continue,
            InFrame::Close(_) => break None,
        };
        if conn.send(Cmd::WsPacket { ws: id, packet }).await.is_err() {
            break None;
        }
    };
    if let Some((code, why)) = close {
        tracing::debug!(code, why, "closing a socket.io websocket");
        // A writer that cannot take the close frame is closing anyway.
        let _ = out.try_send(WsOut::Close(code, why.into()));
    }
    // The connection may have ended first; then there is nobody to tell.
    let _ = conn.send(Cmd::WsClosed { ws: id }).await;
}

/// Writes what the connection queues for this WebSocket, ending after a close.
async fn write_ws(mut writer: Writer, mut rx: mpsc::Receiver<WsOut>, _done: oneshot::Sender<()>) {
    while let Some(out) = rx.recv().await {
        let (bytes, last) = match out {
            WsOut::Text(t) => (frame::encode(frame::OP_TEXT, t.as_bytes()), false),
            WsOut::Pong(p) => (frame::encode(frame::OP_PONG, &p), false),
            WsOut::Close(code, why) => (frame::close(code, &why), true),
        };
        if writer.send(bytes).await.is_err() || last {
            return;
        }
    }
}
