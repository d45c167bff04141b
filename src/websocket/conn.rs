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
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::decoder::Decoder;

/// Bytes read from a socket at once.
const SCRATCH: usize = 16 * 1024;
/// Queued frames handed to one vectored write.
const WRITE_BATCH: usize = 64;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

pub use super::decoder::{InFrame, WsError};

/// The client's messages, reassembled from fragments (see [`Decoder`]); ends at EOF or after an
/// error or a close frame.
pub struct Reader {
    io: Rc<TcpStream>,
    decoder: Decoder,
    /// The socket reached EOF or failed.
    eof: bool,
}

impl Reader {
    /// Reads `io`, starting with `leftover` (bytes that came after the upgrade request).
    /// Messages above `max` bytes end the connection with [`WsError::TooLarge`].
    pub fn new(io: Rc<TcpStream>, leftover: BytesMut, max: usize) -> Self {
        // `leftover` is the tail of the HTTP server's read buffer and keeps all of that buffer
        // alive: the decoder copies what it holds (usually nothing) and the buffer goes.
        let mut decoder = Decoder::new(max);
        decoder.feed(&leftover);
        Self {
            io,
            decoder,
            eof: false,
        }
    }

    /// Reads what the socket has into the decoder; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_read_ready(cx))?;
            let read = SCRATCH_BUF.with(|s| {
                let mut s = s.borrow_mut();
                let n = self.io.try_read(&mut s[..])?;
                self.decoder.feed(&s[..n]);
                Ok::<_, io::Error>(n)
            });
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }
}

impl Stream for Reader {
    type Item = Result<InFrame, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.eof {
                return Poll::Ready(None);
            }
            let done = this.decoder.is_done();
            match this.decoder.next_frame() {
                Ok(Some(f)) => return Poll::Ready(Some(Ok(f))),
                Ok(None) if done => return Poll::Ready(None),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            match ready!(this.poll_fill(cx)) {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(e) => {
                    this.eof = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// Ends a connection once its close frame is written: shuts the sending side, so the client sees
/// the server end the TCP connection (RFC 6455 section 7.1.1), then reads and drops what the
/// client still sends until it closes too or `linger` passes. Closing a socket that has unread
/// bytes resets it, and the client could lose the close frame written just before.
pub async fn shut(reader: Reader, writer: Writer, linger: Duration) {
    let Reader { io, .. } = reader;
    drop(writer);
    let Ok(mut io) = Rc::try_unwrap(io) else {
        return;
    };
    // The socket is being dropped; a failed shutdown or a linger cut short changes nothing.
    let _ = io.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        while let Ok(1..) = io.read(&mut sink).await {}
    };
    let _ = tokio::time::timeout(linger, drain).await;
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
    use crate::websocket::frame;
    use futures_util::StreamExt;

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
