//! An echo server on the chat server's own WebSocket layer (`chat_server::websocket`), for the
//! Autobahn|Testsuite cases (`make conformance`, scripts/conformance.sh). It is an example, so it
//! is never part of the shipped server: the upgrade goes through the same handshake
//! (`Upgrade::accept`), reader and writer as `/ws`, and every message comes back as it came.
//!
//!     cargo run --example ws_echo -- 127.0.0.1:9001

use std::convert::Infallible;
use std::time::Duration;

use actix_http::{HttpService, Request, Response};
use actix_service::fn_service;
use futures_util::StreamExt;

use chat_server::websocket::conn::{self, InFrame};
use chat_server::websocket::frame;
use chat_server::websocket::upgrade::Upgrade;

/// Autobahn's largest messages (section 9) are 16 MiB.
const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// How long a closed connection waits for the client to close its end.
const LINGER: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    actix_web::rt::System::new().block_on(serve(bind))
}

async fn serve(bind: String) -> anyhow::Result<()> {
    let server = actix_server::Server::build()
        .bind("ws-echo", &bind, || {
            HttpService::build()
                .upgrade(fn_service(|(request, framed)| async move {
                    echo(Upgrade::new(request, framed)).await;
                    Ok::<_, Infallible>(())
                }))
                .finish(|_: Request| async { Ok::<_, Infallible>(Response::not_found()) })
                .tcp()
        })?
        .workers(1)
        .run();
    tracing::info!(%bind, "ws_echo listening");
    server.await?;
    Ok(())
}

/// Sends every message back; answers pings; answers a close with the client's code, and a
/// protocol violation with its close code.
async fn echo(up: Upgrade) {
    let Some((mut reader, mut writer)) = up.accept(MAX_MESSAGE).await else {
        return;
    };
    while let Some(item) = reader.next().await {
        let (out, last) = match item {
            Ok(InFrame::Text(t)) => (frame::encode(frame::OP_TEXT, &t), false),
            Ok(InFrame::Binary(b)) => (frame::encode(frame::OP_BINARY, &b), false),
            Ok(InFrame::Ping(p)) => (frame::encode(frame::OP_PONG, &p), false),
            Ok(InFrame::Pong) => continue,
            Ok(InFrame::Close(reason)) => (
                frame::close(reason.map_or(1000, |(code, _)| code), ""),
                true,
            ),
            Err(e) => match e.close_code() {
                Some(code) => {
                    tracing::debug!(error = %e, code, "closing on a protocol violation");
                    (frame::close(code, &e.to_string()), true)
                }
                None => return,
            },
        };
        if writer.send(out).await.is_err() {
            return;
        }
        if last {
            break;
        }
    }
    conn::shut(reader, writer, LINGER).await;
}
