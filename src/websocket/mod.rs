//! The WebSocket layer under `/ws` and `/socket.io/` (it replaced actix-web-actors, deprecated
//! upstream): the HTTP server hands every upgrade request's socket to [`upgrade::service`], and
//! from then on the connection is read by a [`conn::Reader`] (its rules, with no socket, in
//! [`decoder::Decoder`]) and written by a [`conn::Writer`], under the rules of
//! [`flush::Outgoing`] (one write per burst, waiting for a full socket, a close frame behind the
//! queue, a bound on what may wait), which its owner drives.
//!
//! It exists for two costs the actix stack could not avoid. A server frame is framed once, in
//! [`Outbound`], and the same bytes are written to every recipient (no copy, no
//! per-connection framing buffer). And an idle connection holds no buffer at all: actix-http kept
//! an 8 KiB read and an 8 KiB write buffer for the life of every WebSocket.

pub mod conn;
pub mod decoder;
pub mod flush;
pub mod frame;
pub mod outbound;
pub mod upgrade;
pub mod utf8;

pub use outbound::Outbound;
