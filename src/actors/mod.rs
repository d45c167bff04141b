//! The actors. Each module holds one actor and the messages it handles.
//!
//! - `session`: one `WsSession` per WebSocket connection (its socket is `crate::websocket`'s).
//! - `registry`: `RoomRegistry` starts Room actors on demand, restarts dead ones, and knows each
//!   user's live sessions.
//! - `room`: one `Room` per active conversation: membership, seq, fan-out, typing.
//! - `presence`: `Presence`, who is online (its `Directory`: this node's sessions, or the
//!   cluster's counts in Redis, chosen at startup), and telling the people who share a room.
//! - `persister`: `Persister`, the only writer of chat data, group-committing per flush.
//! - `notifier`: `Notifier`, pushes to members who are away (Web Push, FCM, SMS), coalescing
//!   bursts and retrying with back-off.
//! - `syncer`: `Syncer`, draining the Redis write buffer into SQL on a timer (production mode).
//! - `requests`: edit, delete and `send_many`, answered by asking rooms and the store.
//! - `media`: `MediaWorker`, the pool of blocking threads that compress images and transcode
//!   audio/video, and `MediaPool`, which submits jobs and announces their outcome.
//! - `media_sweep`: the sweep deleting uploads never attached (`media.unattached_ttl_secs`).
//! - `periodic`: `Periodic`, the actor both sweeps run on (a round every so often, one at a time).
//! - `outbox`: what any actor may send toward a session.
//! - `slow`: the one rule for a client that does not read (whichever queue toward it fills).
//! - `fanout`: `FanOut`, how a room's durable batches and events reach their recipients (this
//!   node's sessions directly, or the cluster bus), chosen once at startup.

pub mod curation;
pub mod fanout;
pub mod media;
pub mod media_sweep;
pub mod notifier;
pub mod outbox;
pub mod periodic;
pub mod persister;
pub mod presence;
pub mod registry;
pub mod requests;
pub mod room;
pub mod session;
pub mod slow;
pub mod syncer;
pub mod uploads;

pub use outbox::{CloseSession, Deliver, SessionHandle};
