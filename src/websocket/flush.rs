//! The frames on their way to one socket, and the rules for writing them: a burst of frames is
//! written with one write once the frames already waiting are handled; what the socket does not
//! take waits until it is writable again; a close frame goes out behind everything queued and
//! ends the connection once written; and a client that lets more than a bound of frames pile up
//! does not read.
//!
//! [`Outgoing`] holds the state and the queue, and performs no scheduling: each call answers with
//! what its owner (the session actor) must do next ([`Next`]). It knows no actor, so its
//! transitions are unit-tested below with a stand-in socket.

use std::io;
use std::rc::Rc;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::conn::Writer;

/// Where an [`Outgoing`] queues frames and writes them: a [`Writer`], or a stand-in in tests.
pub trait Sink {
    /// Queues `frame` behind the others, for the next [`Sink::flush`].
    fn enqueue(&mut self, frame: Bytes);
    /// Frames queued and not yet fully written.
    fn queued(&self) -> usize;
    /// Writes queued frames while the socket takes them: `Ok(true)` once none is left,
    /// `Ok(false)` if the socket is full.
    fn flush(&mut self) -> io::Result<bool>;
}

impl Sink for Writer {
    fn enqueue(&mut self, frame: Bytes) {
        Writer::enqueue(self, frame);
    }

    fn queued(&self) -> usize {
        Writer::queued(self)
    }

    fn flush(&mut self) -> io::Result<bool> {
        Writer::flush(self)
    }
}

/// What the owner of an [`Outgoing`] must do next.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Next {
    /// Nothing: everything is written, or a flush or a wait for the socket is already due.
    Nothing,
    /// Call [`Outgoing::flush`] once the frames already waiting to be pushed are pushed too, so
    /// that a burst costs one write.
    FlushSoon,
    /// Wait until the socket is writable, then call [`Outgoing::writable`].
    WaitWritable,
    /// The close frame is written, or the socket failed: the connection is over.
    Stop,
    /// More frames than the bound wait for the socket: the client does not read. No close frame
    /// could reach it (it would wait behind the frames it does not read).
    TooSlow,
}

/// The frames on their way to one socket; see the module doc.
pub struct Outgoing<S = Writer> {
    sink: S,
    /// Most frames that may wait for the socket (`ws.outbox_capacity`).
    capacity: usize,
    /// A flush is due once the frames already waiting are pushed.
    flush_soon: bool,
    /// A wait for the socket to be writable is under way.
    flushing: bool,
    /// A close frame is queued: the connection ends once it is written.
    closing: bool,
}

impl<S: Sink> Outgoing<S> {
    /// Frames toward `sink`, at most `capacity` of them waiting.
    pub fn new(sink: S, capacity: usize) -> Self {
        Self {
            sink,
            capacity,
            flush_soon: false,
            flushing: false,
            closing: false,
        }
    }

    /// Queues a framed message.
    pub fn push(&mut self, frame: Bytes) -> Next {
        self.sink.enqueue(frame);
        if self.sink.queued() > self.capacity {
            return Next::TooSlow;
        }
        if self.flush_soon || self.flushing {
            return Next::Nothing;
        }
        self.flush_soon = true;
        Next::FlushSoon
    }

    /// Writes what is queued, as far as the socket takes it.
    pub fn flush(&mut self) -> Next {
        self.flush_soon = false;
        let res = self.sink.flush();
        self.flushed(res)
    }

    /// The wait asked for with [`Next::WaitWritable`] is over (`ready` is its outcome): writes
    /// what is queued.
    pub fn writable(&mut self, ready: io::Result<()>) -> Next {
        self.flushing = false;
        let res = ready.and_then(|()| self.sink.flush());
        self.flushed(res)
    }

    /// Queues the close frame `frame` behind everything queued (past the bound: a close is
    /// always taken) and writes; the connection ends once it is out. `None` if a close frame is
    /// queued already: only the first is written.
    pub fn close(&mut self, frame: Bytes) -> Option<Next> {
        if self.closing {
            return None;
        }
        self.closing = true;
        self.sink.enqueue(frame);
        Some(self.flush())
    }

    /// A close frame is queued or written.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Frames waiting for the socket.
    pub fn queued(&self) -> usize {
        self.sink.queued()
    }

    /// Nothing is queued and nothing is due: the connection holds no frame and waits for nothing.
    pub fn is_idle(&self) -> bool {
        self.sink.queued() == 0 && !self.flush_soon && !self.flushing
    }

    fn flushed(&mut self, res: io::Result<bool>) -> Next {
        match res {
            Ok(true) if self.closing => Next::Stop,
            Ok(true) => Next::Nothing,
            Ok(false) if self.flushing => Next::Nothing,
            Ok(false) => {
                self.flushing = true;
                Next::WaitWritable
            }
            Err(_) => Next::Stop,
        }
    }
}

impl Outgoing<Writer> {
    /// The socket, to wait until it is writable (see [`Next::WaitWritable`]).
    pub fn socket(&self) -> Rc<TcpStream> {
        self.sink.socket()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A socket that takes `room` frames, then is full until given more room.
    #[derive(Default)]
    struct FakeSocket {
        queue: VecDeque<Bytes>,
        written: Vec<Bytes>,
        room: usize,
        broken: bool,
    }

    impl Sink for FakeSocket {
        fn enqueue(&mut self, frame: Bytes) {
            self.queue.push_back(frame);
        }

        fn queued(&self) -> usize {
            self.queue.len()
        }

        fn flush(&mut self) -> io::Result<bool> {
            if self.broken {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            while self.room > 0 {
                let Some(f) = self.queue.pop_front() else {
                    break;
                };
                self.written.push(f);
                self.room -= 1;
            }
            Ok(self.queue.is_empty())
        }
    }

    fn socket(room: usize) -> FakeSocket {
        FakeSocket {
            room,
            ..FakeSocket::default()
        }
    }

    fn frame(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn a_burst_costs_one_flush_and_idle_holds_nothing() {
        let mut out = Outgoing::new(socket(usize::MAX), 8);
        assert!(out.is_idle());
        assert_eq!(out.push(frame("a")), Next::FlushSoon);
        assert_eq!(
            out.push(frame("b")),
            Next::Nothing,
            "a flush is due already"
        );
        assert_eq!(out.flush(), Next::Nothing);
        assert_eq!(out.sink.written, [frame("a"), frame("b")]);
        assert!(out.is_idle(), "everything written, nothing due");
        assert_eq!(
            out.push(frame("c")),
            Next::FlushSoon,
            "the next burst flushes again"
        );
    }

    #[test]
    fn a_partial_flush_waits_for_the_socket_then_finishes() {
        let mut out = Outgoing::new(socket(1), 8);
        let _ = out.push(frame("a"));
        let _ = out.push(frame("b"));
        assert_eq!(out.flush(), Next::WaitWritable);
        assert_eq!(out.queued(), 1);
        assert_eq!(
            out.push(frame("c")),
            Next::Nothing,
            "the wait for the socket writes it"
        );
        assert_eq!(
            out.flush(),
            Next::Nothing,
            "already waiting: no second wait"
        );
        out.sink.room = usize::MAX;
        assert_eq!(out.writable(Ok(())), Next::Nothing);
        assert_eq!(out.sink.written, [frame("a"), frame("b"), frame("c")]);
        assert!(out.is_idle());
    }

    #[test]
    fn a_queue_past_its_bound_means_the_client_is_too_slow() {
        let mut out = Outgoing::new(socket(0), 3);
        assert_eq!(out.push(frame("1")), Next::FlushSoon);
        assert_eq!(out.flush(), Next::WaitWritable);
        for f in ["2", "3"] {
            assert_eq!(out.push(frame(f)), Next::Nothing);
        }
        assert_eq!(out.push(frame("4")), Next::TooSlow);
    }

    #[test]
    fn a_close_goes_out_behind_the_queued_frames_and_ends_the_connection() {
        let mut out = Outgoing::new(socket(1), 2);
        let _ = out.push(frame("a"));
        let _ = out.push(frame("b"));
        assert_eq!(
            out.close(frame("close")),
            Some(Next::WaitWritable),
            "past the bound: a close is always taken"
        );
        assert!(out.is_closing());
        assert_eq!(out.close(frame("again")), None, "only the first close");
        out.sink.room = 1;
        assert_eq!(out.writable(Ok(())), Next::WaitWritable);
        out.sink.room = 1;
        assert_eq!(out.writable(Ok(())), Next::Stop, "the close frame is out");
        assert_eq!(out.sink.written, [frame("a"), frame("b"), frame("close")]);
    }

    #[test]
    fn a_failed_socket_ends_the_connection() {
        let mut out = Outgoing::new(socket(0), 8);
        let _ = out.push(frame("a"));
        assert_eq!(out.flush(), Next::WaitWritable);
        assert_eq!(
            out.writable(Err(io::ErrorKind::ConnectionReset.into())),
            Next::Stop
        );
        out.sink.broken = true;
        assert_eq!(out.flush(), Next::Stop);
    }

    #[tokio::test]
    async fn over_a_real_socket_every_frame_arrives_in_order() {
        use tokio::io::AsyncReadExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let frames = 64usize;
        let mut out = Outgoing::new(Writer::new(Rc::new(server)), frames);
        let big = Bytes::from(vec![5u8; 256 * 1024]);
        for _ in 0..frames {
            let _ = out.push(big.clone());
        }
        let reading = async {
            let mut got = vec![0u8; frames * big.len()];
            client.read_exact(&mut got).await.unwrap();
            got
        };
        let writing = async {
            let mut next = out.flush();
            while next == Next::WaitWritable {
                let ready = out.socket().writable().await;
                next = out.writable(ready);
            }
            next
        };
        let (got, last) = tokio::join!(reading, writing);
        assert_eq!(last, Next::Nothing);
        assert!(got.iter().all(|b| *b == 5));
        assert!(out.is_idle());
    }
}
