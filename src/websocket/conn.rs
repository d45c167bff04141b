//! One upgraded connection: a [`Reader`] that yields whole client messages and a [`Writer`] that
//! writes shared, pre-framed server frames. Neither holds a buffer while the connection is idle:
//! reads go through one scratch buffer per thread, and only the bytes of a frame that is not
//! complete yet are kept; writes go straight to the socket and only what it does not take at
//! once is queued (as shared `Bytes`, never copied).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use tokio::net::TcpStream;

use super::frame::{self, FrameError};

/// Bytes read from a socket at once.
const SCRATCH: usize = 16 * 1024;
/// Queued frames handed to one vectored write.
const WRITE_BATCH: usize = 64;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// A whole message or a control frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFrame {
    /// A text message (checked to be UTF-8).
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    /// The client closes, with its code and reason if it gave them.
    Close(Option<(u16, String)>),
}

/// Why reading a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("{0}")]
    Protocol(&'static str),
    #[error("message too large")]
    TooLarge,
    #[error("text is not UTF-8")]
    BadUtf8,
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl WsError {
    /// The close code to send for this error; none when the connection itself failed.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Protocol(_) => Some(1002),
            Self::TooLarge => Some(1009),
            Self::BadUtf8 => Some(1007),
            Self::Io(_) => None,
        }
    }
}

impl From<FrameError> for WsError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Protocol(why) => Self::Protocol(why),
            FrameError::TooLarge => Self::TooLarge,
        }
    }
}

/// The client's messages, reassembled from fragments; ends at EOF or after an error.
pub struct Reader {
    io: Rc<TcpStream>,
    /// Bytes of frames not complete yet (empty, with no allocation, between messages).
    buf: BytesMut,
    /// A fragmented message: its opcode and what has arrived.
    partial: Option<(u8, BytesMut)>,
    max: usize,
    done: bool,
}

impl Reader {
    /// Reads `io`, starting with `leftover` (bytes that came after the upgrade request).
    /// Messages above `max` bytes end the connection with [`WsError::TooLarge`].
    pub fn new(io: Rc<TcpStream>, leftover: BytesMut, max: usize) -> Self {
        // `leftover` is the tail of the HTTP server's read buffer and keeps all of that buffer
        // alive: copy what it holds (usually nothing) and let the buffer go.
        let buf = if leftover.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(&leftover[..])
        };
        Self {
            io,
            buf,
            partial: None,
            max,
            done: false,
        }
    }

    /// The next whole message or control frame in `buf`, if one is there.
    fn parse(&mut self) -> Result<Option<InFrame>, WsError> {
        loop {
            let Some(head) = frame::parse_head(&self.buf, self.max)? else {
                return Ok(None);
            };
            if self.buf.len() < head.head_len + head.len {
                return Ok(None);
            }
            self.buf.advance(head.head_len);
            let mut payload = self.buf.split_to(head.len);
            frame::unmask(&mut payload, head.mask);
            match head.opcode {
                frame::OP_TEXT | frame::OP_BINARY if self.partial.is_some() => {
                    return Err(WsError::Protocol("a new message inside a fragmented one"))
                }
                op @ (frame::OP_TEXT | frame::OP_BINARY) if head.fin => {
                    return message(op, payload.freeze()).map(Some)
                }
                op @ (frame::OP_TEXT | frame::OP_BINARY) => self.partial = Some((op, payload)),
                frame::OP_CONTINUATION => {
                    let Some((op, acc)) = self.partial.as_mut() else {
                        return Err(WsError::Protocol("continuation without a first frame"));
                    };
                    if acc.len() + payload.len() > self.max {
                        return Err(WsError::TooLarge);
                    }
                    acc.extend_from_slice(&payload);
                    if head.fin {
                        let op = *op;
                        let data = self
                            .partial
                            .take()
                            .map(|(_, d)| d.freeze())
                            .unwrap_or_default();
                        return message(op, data).map(Some);
                    }
                }
                frame::OP_PING => return Ok(Some(InFrame::Ping(payload.freeze()))),
                frame::OP_PONG => return Ok(Some(InFrame::Pong)),
                _ => return close_frame(&payload).map(Some),
            }
        }
    }

    /// Reads what the socket has into `buf`; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_read_ready(cx))?;
            let read = SCRATCH_BUF.with(|s| {
                let mut s = s.borrow_mut();
                let n = self.io.try_read(&mut s[..])?;
                self.buf.extend_from_slice(&s[..n]);
                Ok::<_, io::Error>(n)
            });
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }
}

fn message(opcode: u8, data: Bytes) -> Result<InFrame, WsError> {
    if opcode == frame::OP_BINARY {
        return Ok(InFrame::Binary(data));
    }
    std::str::from_utf8(&data).map_err(|_| WsError::BadUtf8)?;
    Ok(InFrame::Text(data))
}

fn close_frame(payload: &[u8]) -> Result<InFrame, WsError> {
    match payload {
        [] => Ok(InFrame::Close(None)),
        [_] => Err(WsError::Protocol("a close frame with a one-byte payload")),
        [a, b, reason @ ..] => {
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::BadUtf8)?;
            Ok(InFrame::Close(Some((
                u16::from_be_bytes([*a, *b]),
                reason.to_owned(),
            ))))
        }
    }
}

impl Stream for Reader {
    type Item = Result<InFrame, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.parse() {
                Ok(Some(f)) => {
                    if this.buf.is_empty() {
                        // Let go of the read buffer between messages.
                        this.buf = BytesMut::new();
                    }
                    return Poll::Ready(Some(Ok(f)));
                }
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match ready!(this.poll_fill(cx)) {
                Ok(0) => this.done = true,
                Ok(_) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// Writes server frames in order; see the module doc.
pub struct Writer {
    io: Rc<TcpStream>,
    queue: VecDeque<Bytes>,
}

impl Writer {
    pub fn new(io: Rc<TcpStream>) -> Self {
        Self {
            io,
            queue: VecDeque::new(),
        }
    }

    /// The socket, to wait until it is writable.
    pub fn socket(&self) -> Rc<TcpStream> {
        self.io.clone()
    }

    /// Frames waiting for the socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queues `frame` for the next [`Writer::flush`], which writes everything queued with one
    /// vectored write: a client that several frames wait for gets them in one go.
    pub fn enqueue(&mut self, frame: Bytes) {
        self.queue.push_back(frame);
    }

    /// Writes queued frames while the socket takes them: `Ok(true)` once the queue is empty,
    /// `Ok(false)` if the socket is full again.
    pub fn flush(&mut self) -> io::Result<bool> {
        while !self.queue.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .queue
                .iter()
                .take(WRITE_BATCH)
                .map(|b| IoSlice::new(b))
                .collect();
            let mut n = match self.io.try_write_vectored(&slices) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            while n > 0 {
                let Some(front) = self.queue.front_mut() else {
                    break;
                };
                if n >= front.len() {
                    n -= front.len();
                    self.queue.pop_front();
                } else {
                    front.advance(n);
                    n = 0;
                }
            }
        }
        Ok(true)
    }

    /// Writes `frame` and waits until the socket has taken everything queued (for tasks that
    /// own a connection; actors use `enqueue` and `flush`).
    pub async fn send(&mut self, frame: Bytes) -> io::Result<()> {
        self.enqueue(frame);
        while !self.flush()? {
            self.io.writable().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [9, 8, 7, 6];
        let mut out = vec![
            (if fin { 0x80 } else { 0 }) | opcode,
            0x80 | payload.len() as u8,
        ];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    async fn pair() -> (Rc<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Rc::new(server), client)
    }

    #[tokio::test]
    async fn fragments_and_control_frames_arrive_as_messages() {
        let (server, mut client) = pair().await;
        let mut bytes = masked(false, frame::OP_TEXT, b"hel");
        bytes.extend(masked(true, frame::OP_PING, b"p"));
        bytes.extend(masked(true, frame::OP_CONTINUATION, b"lo"));
        bytes.extend(masked(true, frame::OP_BINARY, &[1, 2]));
        bytes.extend(masked(
            true,
            frame::OP_CLOSE,
            &[0x03, 0xE8, b'b', b'y', b'e'],
        ));
        // Split the bytes at an awkward place: the reader must wait for the rest.
        let (first, rest) = bytes.split_at(5);
        let mut reader = Reader::new(server, BytesMut::from(first), 1024);
        client.write_all(rest).await.unwrap();
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            InFrame::Ping(Bytes::from_static(b"p"))
        );
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            InFrame::Text(Bytes::from_static(b"hello"))
        );
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            InFrame::Binary(Bytes::from_static(&[1, 2]))
        );
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            InFrame::Close(Some((1000, "bye".into())))
        );
        drop(client);
        assert!(reader.next().await.is_none());
    }

    #[tokio::test]
    async fn bad_input_ends_the_stream_with_its_close_code() {
        let cases: [(Vec<u8>, u16); 3] = [
            (masked(true, frame::OP_TEXT, &[0xFF, 0xFE]), 1007),
            (masked(true, frame::OP_CONTINUATION, b"x"), 1002),
            (
                [
                    masked(false, frame::OP_TEXT, &[b'a'; 100]),
                    masked(true, frame::OP_CONTINUATION, &[b'a'; 100]),
                ]
                .concat(),
                1009,
            ),
        ];
        for (bytes, code) in cases {
            let (server, _client) = pair().await;
            let mut reader = Reader::new(server, BytesMut::from(&bytes[..]), 150);
            let err = reader.next().await.unwrap().unwrap_err();
            assert_eq!(err.close_code(), Some(code), "{err}");
            assert!(reader.next().await.is_none());
        }
    }

    #[tokio::test]
    async fn a_full_socket_queues_frames_in_order() {
        let (server, mut client) = pair().await;
        let mut writer = Writer::new(server);
        let frame = Bytes::from(vec![7u8; 64 * 1024]);
        let mut pushed = 0usize;
        loop {
            writer.enqueue(frame.clone());
            pushed += 1;
            if !writer.flush().unwrap() {
                break;
            }
            assert!(pushed < 10_000, "the socket never filled");
        }
        writer.enqueue(Bytes::from_static(b"end"));
        let total = pushed * frame.len() + 3;
        let reading = async {
            let mut got = vec![0u8; total];
            client.read_exact(&mut got).await.unwrap();
            got
        };
        let flushing = async {
            while !writer.flush().unwrap() {
                writer.socket().writable().await.unwrap();
            }
        };
        let (got, ()) = tokio::join!(reading, flushing);
        assert!(got[..total - 3].iter().all(|b| *b == 7));
        assert_eq!(&got[total - 3..], b"end");
        assert_eq!(writer.queued(), 0);
    }
}
