//! Messages toward a client session, and the handle by which other actors reach one. Rooms and
//! the registry hold `SessionHandle`s, not session actors, so tests can stand in for a client.

use std::sync::Arc;

use actix::{Message, Recipient};

use crate::ids::{SessionId, UserId};
use crate::protocol::{Outbound, ServerFrame};

/// Write this frame to the client. Senders use `try_send`: a full mailbox means the client does
/// not read, and it is dropped rather than buffered without bound.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub frame: Arc<Outbound>,
}

impl Deliver {
    pub fn new(frame: ServerFrame) -> Self {
        Self { frame: Outbound::new(frame) }
    }
}

/// Close the connection with this WebSocket close code and reason.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct CloseSession {
    pub code: u16,
    pub reason: String,
}

/// Close code for a session closed because its token was revoked (logout).
pub const CLOSE_LOGGED_OUT: u16 = 4001;
/// Close code for a session dropped because it did not read its frames.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// How other actors reach one live session.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub id: SessionId,
    pub user: UserId,
    /// SHA-256 of the token the session authenticated with (to close it on logout).
    pub token_hash: String,
    pub deliver: Recipient<Deliver>,
    pub close: Recipient<CloseSession>,
}

/// What happened when a frame was offered to a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Sent,
    /// The session is gone; forget it.
    Gone,
    /// The session's mailbox is full; it has been told to close.
    Dropped,
}

impl SessionHandle {
    /// Offers `frame` without waiting; a full mailbox closes the session as too slow.
    pub fn offer(&self, frame: &Deliver) -> Offer {
        use actix::prelude::SendError;
        match self.deliver.try_send(frame.clone()) {
            Ok(()) => {
                crate::metrics::inc(&crate::metrics::FRAMES_DELIVERED);
                Offer::Sent
            }
            Err(SendError::Closed(_)) => Offer::Gone,
            Err(SendError::Full(_)) => {
                crate::metrics::inc(&crate::metrics::SLOW_CONSUMERS_DROPPED);
                tracing::warn!(session = %self.id, user = %self.user, "dropping a session that does not read");
                self.close.do_send(CloseSession { code: CLOSE_TOO_SLOW, reason: "too slow".into() });
                Offer::Dropped
            }
        }
    }
}
