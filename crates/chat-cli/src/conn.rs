//! One WebSocket session speaking protocol v1 (JSON text frames), with the frame types of
//! `chat-protocol`.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use chat_protocol::{
    decode_server, encode_client, ClientFrame, ErrorOut, Hello, HistoryFrame, HistoryOut,
    ServerFrame, WireData, WireFormat,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, warn};
use uuid::Uuid;

use crate::api::{describe_error_body, with_path, Api};

/// How long to wait for `hello`, an `ack` or a `history` answer.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// A frame from the server: the raw JSON (for `--json` and filtering) and its typed reading,
/// `None` for a frame type this client does not know (servers add types within protocol v1).
pub(crate) struct Incoming {
    pub(crate) raw: Value,
    pub(crate) frame: Option<ServerFrame>,
}

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open, greeted WebSocket session.
pub(crate) struct Connection {
    sink: SplitSink<WsStream, Message>,
    stream: SplitStream<WsStream>,
    /// Frames that arrived while waiting for a particular answer; `next` hands them out first.
    backlog: VecDeque<Incoming>,
    pub(crate) hello: Hello,
    pub(crate) hello_raw: Value,
}

impl Connection {
    /// Connects with `Authorization: Bearer TOKEN` and waits for the server's `hello`.
    pub(crate) async fn open(api: &Api) -> Result<Self> {
        let url = with_path(&api.base, &["ws"])?;
        let mut url_ws = url.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url_ws
            .set_scheme(scheme)
            .map_err(|()| anyhow!("cannot derive a WebSocket URL from {url}"))?;

        let mut request = url_ws
            .as_str()
            .into_client_request()
            .context("building the WebSocket request")?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", api.token()?))
            .context("the token is not a valid header value")?;
        request.headers_mut().insert(AUTHORIZATION, bearer);

        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|err| connect_error(err, &url_ws))?;
        let (sink, mut stream) = socket.split();
        let mut backlog = VecDeque::new();
        let (hello, hello_raw) =
            wait_for(
                &mut stream,
                &mut backlog,
                "hello",
                |incoming| match &incoming.frame {
                    Some(ServerFrame::Hello(hello)) => {
                        Some(Ok((hello.clone(), incoming.raw.clone())))
                    }
                    Some(ServerFrame::Error(err)) => Some(Err(anyhow!(
                        "server refused the session: {}",
                        describe(err)
                    ))),
                    _ => None,
                },
            )
            .await?;
        debug!(user = %hello.user.username, rooms = hello.rooms.len(), "connected");
        Ok(Self {
            sink,
            stream,
            backlog,
            hello,
            hello_raw,
        })
    }

    /// Sends `frame`, with `reference` as its `ref` if given.
    pub(crate) async fn send(
        &mut self,
        frame: &ClientFrame,
        reference: Option<&str>,
    ) -> Result<()> {
        let text =
            match encode_client(frame, reference, WireFormat::Json).context("encoding a frame")? {
                WireData::Text(bytes) | WireData::Binary(bytes) => {
                    String::from_utf8(bytes).context("encoding a frame")?
                }
            };
        self.sink
            .send(Message::Text(text))
            .await
            .context("sending to the server")
    }

    /// The next frame (backlog first); `None` once the server has closed the connection.
    /// Cancel-safe, so it can sit in a `select!`.
    pub(crate) async fn next(&mut self) -> Result<Option<Incoming>> {
        match self.backlog.pop_front() {
            Some(incoming) => Ok(Some(incoming)),
            None => read_frame(&mut self.stream).await,
        }
    }

    /// Sends `frame`, then waits for the answer `pick` accepts; other frames go to the backlog.
    pub(crate) async fn request<T>(
        &mut self,
        frame: &ClientFrame,
        reference: Option<&str>,
        what: &str,
        pick: impl FnMut(&Incoming) -> Option<Result<T>>,
    ) -> Result<T> {
        self.send(frame, reference).await?;
        wait_for(&mut self.stream, &mut self.backlog, what, pick).await
    }

    pub(crate) async fn history(
        &mut self,
        room: &str,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<HistoryOut> {
        let reference = Uuid::new_v4().to_string();
        let frame = ClientFrame::History(HistoryFrame {
            room: room.into(),
            before,
            limit: limit.map(u64::from),
        });
        self.request(
            &frame,
            Some(&reference),
            "history",
            |incoming| match &incoming.frame {
                Some(ServerFrame::History(page)) if page.room.as_str() == room => {
                    Some(Ok(page.clone()))
                }
                Some(ServerFrame::Error(err)) if error_concerns(err, &reference) => {
                    Some(Err(anyhow!("history of {room}: {}", describe(err))))
                }
                _ => None,
            },
        )
        .await
    }

    /// Starts the closing handshake; failures only matter for logging.
    pub(crate) async fn close(mut self) {
        if let Err(err) = self.sink.close().await {
            debug!("closing the WebSocket: {err}");
        }
    }
}

/// Whether this error answers the frame sent with `id` as `ref` or `client_id`. An error that
/// names no frame at all is taken to answer the one we are waiting for.
pub(crate) fn error_concerns(err: &ErrorOut, id: &str) -> bool {
    match (&err.reference, &err.client_id) {
        (None, None) => true,
        (reference, client_id) => {
            reference.as_deref() == Some(id) || client_id.as_deref() == Some(id)
        }
    }
}

/// `message (code)`.
pub(crate) fn describe(err: &ErrorOut) -> String {
    format!("{} ({})", err.message, err.code)
}

/// Reads frames until `pick` accepts one (or fails), within `REPLY_TIMEOUT`. Frames it passes
/// over are kept in `backlog`.
async fn wait_for<T>(
    stream: &mut SplitStream<WsStream>,
    backlog: &mut VecDeque<Incoming>,
    what: &str,
    mut pick: impl FnMut(&Incoming) -> Option<Result<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            let incoming = read_frame(stream)
                .await?
                .with_context(|| format!("the server closed the connection before {what}"))?;
            match pick(&incoming) {
                Some(answer) => return answer,
                None => backlog.push_back(incoming),
            }
        }
    };
    timeout(REPLY_TIMEOUT, wait).await.with_context(|| {
        format!(
            "no {what} from the server within {}s",
            REPLY_TIMEOUT.as_secs()
        )
    })?
}

/// The next JSON text frame; `None` when the connection ends. Cancel-safe.
async fn read_frame(stream: &mut SplitStream<WsStream>) -> Result<Option<Incoming>> {
    while let Some(message) = stream.next().await {
        match message.context("reading from the server")? {
            Message::Text(text) => {
                if let Some(incoming) = parse_frame(&text) {
                    return Ok(Some(incoming));
                }
            }
            Message::Close(frame) => {
                if let Some(frame) = frame.filter(|f| !f.reason.is_empty()) {
                    warn!(
                        "server closed the connection: {} ({})",
                        frame.reason, frame.code
                    );
                }
                return Ok(None);
            }
            Message::Binary(_) => warn!("ignoring a binary frame (this client speaks JSON)"),
            // Pings are answered by tungstenite itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    Ok(None)
}

fn parse_frame(text: &str) -> Option<Incoming> {
    let raw: Value = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            warn!("ignoring a frame that is not JSON: {err}");
            return None;
        }
    };
    let frame = match decode_server(text.as_bytes(), WireFormat::Json) {
        Ok(frame) => Some(frame),
        Err(err) => {
            debug!("frame this client does not read ({err}): {raw}");
            None
        }
    };
    Some(Incoming { raw, frame })
}

fn connect_error(err: tungstenite::Error, url: &Url) -> anyhow::Error {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let detail = response
                .body()
                .as_deref()
                .and_then(describe_error_body)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let hint = if status.as_u16() == 401 {
                " (log in again for a fresh token)"
            } else {
                ""
            };
            anyhow!("{url}: WebSocket refused with HTTP {status}{detail}{hint}")
        }
        // Not `.context()`: tungstenite errors repeat their source in their own message.
        other => anyhow!("connecting to {url}: {other}"),
    }
}
