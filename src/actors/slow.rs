//! The one rule for a client that does not read.
//!
//! Three queues toward a client are bounded by `ws.outbox_capacity`, and any of them can fill:
//! its session's outlet (frames rooms and the registry handed it that the session has not taken
//! yet, [`super::outbox`]), the frames its socket has not taken (`websocket::flush::Outgoing`),
//! and, behind Socket.IO, the pipe toward the Engine.IO connection (`session::start_piped`).
//! Behind Socket.IO the connection's own answers (pongs, errors) may wait 64 beyond it. Each
//! queue only notices that it is full; [`judge`] counts the client, logs it, and says what
//! becomes of it ([`Verdict`]), and the session carries that out.

use super::outbox::CloseSession;
use crate::ids::{SessionId, UserId};
use crate::metrics;
use crate::protocol::close;

/// The queue toward a client that filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backlog {
    /// The session's outlet: the session has not taken what rooms handed it.
    Outlet,
    /// The frames its WebSocket has not taken.
    Socket,
    /// The pipe toward another transport (Socket.IO), which stopped taking frames.
    Pipe,
    /// Behind Socket.IO, the answers to the client's own packets (pongs, errors) that its
    /// Engine.IO connection could not send: the client sends without reading.
    Answers,
}

/// What becomes of a client that does not read.
#[derive(Debug)]
pub enum Verdict {
    /// Close with this code and reason, queued behind the frames the client has not read: it
    /// sees the close only if it catches up within the session's close grace (2 s), and the
    /// session ends then either way.
    CloseBehind(CloseSession),
    /// End the session now, without a close frame: the queue that is full is the one the close
    /// frame would wait in, so it could never be written. (Behind Socket.IO, the Engine.IO
    /// connection then sees the session end and closes.)
    Drop,
}

impl Backlog {
    /// What becomes of a client whose `self` filled: a full outlet leaves the socket able to take
    /// a close (4008, "too slow"); a full socket queue, pipe or queue of answers does not.
    pub fn verdict(self) -> Verdict {
        match self {
            Self::Outlet => Verdict::CloseBehind(CloseSession {
                code: close::TOO_SLOW,
                reason: "too slow".into(),
            }),
            Self::Socket | Self::Pipe | Self::Answers => Verdict::Drop,
        }
    }
}

/// A client of `session` (of `user`) lets `backlog` fill: counts it among the slow consumers
/// dropped, logs it, and returns the [`Verdict`] to carry out.
pub fn judge(backlog: Backlog, session: &SessionId, user: &UserId) -> Verdict {
    metrics::inc(&metrics::SLOW_CONSUMERS_DROPPED);
    tracing::warn!(%session, %user, ?backlog, "dropping a session that does not read");
    backlog.verdict()
}

/// [`judge`] for an Engine.IO connection, named by its sid (its chat session may not have
/// started yet).
pub fn judge_connection(backlog: Backlog, sid: &str) -> Verdict {
    metrics::inc(&metrics::SLOW_CONSUMERS_DROPPED);
    tracing::warn!(%sid, ?backlog, "dropping a Socket.IO connection that does not read");
    backlog.verdict()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_outlet_leaves_room_for_a_close_frame() {
        match Backlog::Outlet.verdict() {
            Verdict::CloseBehind(c) => {
                assert_eq!((c.code, c.reason.as_str()), (close::TOO_SLOW, "too slow"));
            }
            Verdict::Drop => panic!("a full outlet is closed with 4008"),
        }
        assert!(matches!(Backlog::Socket.verdict(), Verdict::Drop));
        assert!(matches!(Backlog::Pipe.verdict(), Verdict::Drop));
        assert!(matches!(Backlog::Answers.verdict(), Verdict::Drop));
    }

    #[test]
    fn every_judgement_is_counted() {
        let before = metrics::SLOW_CONSUMERS_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
        let (s, u) = (SessionId::generate(), UserId("u".into()));
        for backlog in [Backlog::Outlet, Backlog::Socket, Backlog::Pipe] {
            let _ = judge(backlog, &s, &u);
        }
        let _ = judge_connection(Backlog::Answers, "sid");
        let after = metrics::SLOW_CONSUMERS_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
        assert!(after >= before + 4);
    }
}
