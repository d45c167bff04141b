//! The HTTP server's upgrade service: every `Connection: upgrade` request comes here with its
//! socket, instead of going through actix-web. The paths that take a socket over, and what
//! answers any other path, are a [`Routes`] table handed over at startup: this layer knows
//! nothing of the server's state or endpoints. A refused upgrade gets an ordinary HTTP answer and
//! the connection closes.

use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;

use actix_codec::Framed;
use actix_http::{h1, Request};
use actix_service::{fn_service, ServiceFactory};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use bytes::BytesMut;
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

use super::conn::{Reader, Writer};

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
        // A refused upgrade: a client that went away does not need the answer.
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
        // Only latency depends on it.
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

/// What takes over an upgrade request: it accepts ([`Upgrade::accept`]) or refuses it.
pub type Handler = Arc<dyn Fn(Upgrade) -> LocalBoxFuture<'static, ()> + Send + Sync>;

/// The upgrade paths and their handlers (exact path match), and the handler for any other path.
#[derive(Clone)]
pub struct Routes {
    paths: Vec<(&'static str, Handler)>,
    fallback: Handler,
}

impl Routes {
    /// A table where every path goes to `fallback` (typically a 404 refusal).
    pub fn new(
        fallback: impl Fn(Upgrade) -> LocalBoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Self {
            paths: Vec::new(),
            fallback: Arc::new(fallback),
        }
    }

    /// Sends upgrade requests for `path` to `handler`.
    pub fn route(
        mut self,
        path: &'static str,
        handler: impl Fn(Upgrade) -> LocalBoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        self.paths.push((path, Arc::new(handler)));
        self
    }

    fn handler(&self, path: &str) -> &Handler {
        self.paths
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(&self.fallback, |(_, h)| h)
    }
}

/// The upgrade service for one HTTP worker.
pub fn service(
    routes: Routes,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
> {
    fn_service(
        move |(request, framed): (Request, Framed<TcpStream, h1::Codec>)| {
            let routes = routes.clone();
            async move {
                let up = Upgrade::new(request, framed);
                tracing::debug!(path = %up.request.path(), "upgrade request");
                let handler = routes.handler(up.request.path()).clone();
                handler(up).await;
                Ok::<_, Infallible>(())
            }
        },
    )
}
