//! Messages toward a client session, and the handle by which other actors reach one. Rooms and
//! the registry hold `SessionHandle`s, not session actors, so tests can stand in for a client.
//!
//! Frames reach a session through its [`outlet`], not through its actix mailbox: a fan-out
//! offers the same frame to every member, and a mailbox would allocate an envelope and wake the
//! session once per frame. The outlet is a bounded queue under one lock that wakes its session
//! only when it goes from empty to non-empty; the session takes everything queued at once.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use actix::{Message, Recipient};
use futures_util::task::AtomicWaker;

use super::slow::{self, Backlog, Verdict};
use crate::ids::{SessionId, UserId};
use crate::protocol::ServerFrame;
use crate::websocket::Outbound;

/// A frame for one or more clients (see [`SessionHandle::offer`]).
#[derive(Clone, Debug)]
pub struct Deliver {
    pub frame: Arc<Outbound>,
}

impl Deliver {
    pub fn new(frame: ServerFrame) -> Self {
        Self {
            frame: Outbound::new(frame),
        }
    }
}

/// Close the connection with this WebSocket close code and reason.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct CloseSession {
    pub code: u16,
    pub reason: String,
}

/// How other actors reach one live session.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub id: SessionId,
    pub user: UserId,
    /// SHA-256 of the token the session authenticated with (to close it on logout).
    pub token_hash: String,
    pub deliver: Outlet,
    pub close: Recipient<CloseSession>,
}

/// What happened when a frame was offered to a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Sent,
    /// The session is gone; forget it.
    Gone,
    /// The session's queue is full; it has been told to close.
    Dropped,
}

impl SessionHandle {
    /// Offers `frame` without waiting; a full queue closes the session as too slow (see
    /// [`super::slow`]).
    pub fn offer(&self, frame: &Deliver) -> Offer {
        match self.deliver.push(&frame.frame) {
            Pushed::Queued => {
                crate::metrics::inc(&crate::metrics::FRAMES_DELIVERED);
                Offer::Sent
            }
            Pushed::Closed => Offer::Gone,
            Pushed::Full => {
                // A full outlet's verdict is always a close behind the unread frames (the
                // session's socket still takes frames); the session carries it out.
                if let Verdict::CloseBehind(close) =
                    slow::judge(Backlog::Outlet, &self.id, &self.user)
                {
                    self.close.do_send(close);
                }
                Offer::Dropped
            }
        }
    }
}

/// A new queue toward one session, holding at most `capacity` frames: the [`Outlet`] goes into
/// the session's handle, the [`Inlet`] to the session, which reads it as a stream.
pub fn outlet(capacity: usize) -> (Outlet, Inlet) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            frames: Vec::new(),
            closed: false,
        }),
        waker: AtomicWaker::new(),
        capacity,
    });
    (Outlet(shared.clone()), Inlet(shared))
}

/// The sending end of a session's queue (cheap to clone).
#[derive(Clone)]
pub struct Outlet(Arc<Shared>);

/// The receiving end of a session's queue: a stream of everything queued since the last read,
/// oldest first. It never ends by itself; dropping it closes the queue.
pub struct Inlet(Arc<Shared>);

struct Shared {
    queue: Mutex<Queue>,
    waker: AtomicWaker,
    capacity: usize,
}

struct Queue {
    frames: Vec<Arc<Outbound>>,
    closed: bool,
}

impl Shared {
    /// The queue; a panic elsewhere while it was held leaves it usable (a push or a take is
    /// never half done).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What became of a frame pushed into an [`Outlet`].
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue holds `capacity` frames already; the frame was not queued.
    Full,
    /// The session is gone.
    Closed,
}

impl Outlet {
    /// Queues `frame`, waking the session if it had nothing queued.
    pub fn push(&self, frame: &Arc<Outbound>) -> Pushed {
        let mut q = self.0.lock();
        if q.closed {
            return Pushed::Closed;
        }
        if q.frames.len() >= self.0.capacity {
            return Pushed::Full;
        }
        let was_empty = q.frames.is_empty();
        q.frames.push(frame.clone());
        drop(q);
        if was_empty {
            self.0.waker.wake();
        }
        Pushed::Queued
    }
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet")
            .field("capacity", &self.0.capacity)
            .finish_non_exhaustive()
    }
}

impl futures_util::Stream for Inlet {
    type Item = Vec<Arc<Outbound>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.waker.register(cx.waker());
        let mut q = self.0.lock();
        if q.frames.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(Some(std::mem::take(&mut q.frames)))
    }
}

impl Drop for Inlet {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.closed = true;
        q.frames.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, ErrorOut, ServerFrame};
    use futures_util::StreamExt;

    fn frame(n: u32) -> Arc<Outbound> {
        Outbound::new(ServerFrame::Error(ErrorOut {
            code: ErrorCode::BadFrame,
            message: n.to_string(),
            reference: None,
            client_id: None,
        }))
    }

    fn message(f: &Outbound) -> String {
        match &f.frame {
            ServerFrame::Error(e) => e.message.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_in_one_batch_and_the_bound_holds() {
        let (out, mut inlet) = outlet(3);
        for n in 0..3 {
            assert_eq!(out.push(&frame(n)), Pushed::Queued);
        }
        assert_eq!(out.push(&frame(3)), Pushed::Full);
        let batch = inlet.next().await.unwrap();
        assert_eq!(
            batch.iter().map(|f| message(f)).collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
        assert_eq!(
            out.push(&frame(4)),
            Pushed::Queued,
            "taking the batch frees the queue"
        );
        assert_eq!(message(&inlet.next().await.unwrap()[0]), "4");
    }

    #[tokio::test]
    async fn a_waiting_session_is_woken_by_a_push_from_another_thread() {
        let (out, mut inlet) = outlet(8);
        assert!(
            futures_util::poll!(inlet.next()).is_pending(),
            "nothing queued yet"
        );
        let pusher = std::thread::spawn(move || out.push(&frame(7)));
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), inlet.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message(&batch[0]), "7");
        assert_eq!(pusher.join().unwrap(), Pushed::Queued);
    }

    /// Records the close a session is told to make.
    struct Closes(tokio::sync::mpsc::UnboundedSender<CloseSession>);

    impl actix::Actor for Closes {
        type Context = actix::Context<Self>;
    }

    impl actix::Handler<CloseSession> for Closes {
        type Result = ();
        fn handle(&mut self, msg: CloseSession, _: &mut Self::Context) {
            let _ = self.0.send(msg);
        }
    }

    #[actix_web::test]
    async fn a_full_outlet_tells_its_session_to_close_with_4008() {
        use actix::Actor;
        let (tx, mut closes) = tokio::sync::mpsc::unbounded_channel();
        let (deliver, _inlet) = outlet(1);
        let handle = SessionHandle {
            id: SessionId::generate(),
            user: UserId("u".into()),
            token_hash: String::new(),
            deliver,
            close: Closes(tx).start().recipient(),
        };
        let d = Deliver { frame: frame(1) };
        assert_eq!(handle.offer(&d), Offer::Sent);
        assert_eq!(handle.offer(&d), Offer::Dropped);
        let close = closes.recv().await.unwrap();
        assert_eq!(
            (close.code, close.reason.as_str()),
            (crate::protocol::close::TOO_SLOW, "too slow")
        );
    }

    #[test]
    fn a_dropped_inlet_closes_the_queue() {
        let (out, inlet) = outlet(8);
        drop(inlet);
        assert_eq!(out.push(&frame(1)), Pushed::Closed);
    }
}
