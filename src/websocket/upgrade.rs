//! The HTTP server's upgrade service: every `Connection: upgrade` request comes here with its
//! socket, instead of going through actix-web. `/ws` and `/socket.io/` take the socket over; any
//! other path, and any refused upgrade, gets an ordinary HTTP answer and the connection closes.

use std::convert::Infallible;
use std::rc::Rc;

use actix_codec::Framed;
use actix_http::{h1, Request};
use actix_service::{fn_service, ServiceFactory};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use bytes::BytesMut;
use tokio::net::TcpStream;

use super::conn::{Reader, Writer};
use crate::error::ChatError;
use crate::http::AppState;

/// An upgraded connection before the 101 answer: the socket and whatever the client sent after
/// its request.
pub struct Upgrade {
    pub request: Request,
    io: TcpStream,
    leftover: BytesMut,
}

impl Upgrade {
    /// The upgrade request and the connection the HTTP server hands over with it.
    pub fn new(request: Request, framed: Framed<TcpStream, h1::Codec>) -> Self {
        let parts = framed.into_parts();
        Self {
            request,
            io: parts.io,
            leftover: parts.read_buf,
        }
    }

    /// Refuses the upgrade with `res` (status, headers and body as actix-web would write them).
    pub async fn refuse(self, res: HttpResponse) {
        let status = res.status();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in res.headers() {
            if let Ok(v) = value.to_str() {
                head.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .unwrap_or_default();
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        let mut writer = Writer::new(Rc::new(self.io));
        let _ = writer.send(bytes::Bytes::from(head)).await;
        let _ = writer.send(body).await;
    }

    /// Checks the request is a WebSocket handshake and answers 101: the connection is then a
    /// WebSocket, read through the returned [`Reader`] (messages up to `max` bytes) and written
    /// through the [`Writer`]. A bad handshake is refused (400) and gives `None`.
    pub async fn accept(self, max: usize) -> Option<(Reader, Writer)> {
        if let Err(e) = actix_http::ws::verify_handshake(self.request.head()) {
            self.refuse(e.error_response()).await;
            return None;
        }
        let key = self
            .request
            .headers()
            .get(actix_web::http::header::SEC_WEBSOCKET_KEY)?;
        let accept = actix_http::ws::hash_key(key.as_bytes());
        let accept = std::str::from_utf8(&accept).ok()?;
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
        );
        // A session's due frames already leave in one write (see `Writer::flush`), so Nagle's
        // algorithm would only hold the next write back for the client's delayed ACK.
        let _ = self.io.set_nodelay(true);
        let io = Rc::new(self.io);
        let mut writer = Writer::new(io.clone());
        writer.send(bytes::Bytes::from(head)).await.ok()?;
        Some((Reader::new(io, self.leftover, max), writer))
    }

    /// The query string, empty if none.
    pub fn query(&self) -> &str {
        self.request.uri().query().unwrap_or_default()
    }
}

/// The upgrade service for one HTTP worker.
pub fn service(
    state: AppState,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
> {
    fn_service(
        move |(request, framed): (Request, Framed<TcpStream, h1::Codec>)| {
            let state = state.clone();
            async move {
                route(state, Upgrade::new(request, framed)).await;
                Ok::<_, Infallible>(())
            }
        },
    )
}

async fn route(state: AppState, up: Upgrade) {
    let path = up.request.path().to_owned();
    tracing::debug!(path = %path, "upgrade request");
    if state.shutdown.is_draining() {
        return up.refuse(crate::shutdown::refusal()).await;
    }
    // Until the connection's session holds its own guard.
    let _busy = state.shutdown.guard();
    match path.as_str() {
        "/ws" => crate::http::ws::connect(state, up).await,
        "/socket.io/" => crate::socketio::websocket_upgrade(state, up).await,
        _ => {
            up.refuse(ChatError::NotFound("WebSocket endpoint").error_response())
                .await
        }
    }
}
