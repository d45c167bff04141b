//! A real-time chat server on actix actors.
//!
//! People connect over WebSocket (`/ws`, protocol v1: JSON text or MessagePack binary frames) and
//! chat one-to-one and in groups, with presence, typing, history and reconnect `sync`.
//!
//! # Layout
//!
//! The workspace's crates are layers the compiler enforces: `chat-protocol` (the wire),
//! `entities`/`migration` (the tables), `chat-media-types` (media kinds, outcomes, signed URLs),
//! `chat-media` (media work, with the codecs), `chat-store` (SeaORM and the Redis write buffer,
//! on all of these but `chat-media`, so without FFmpeg) and `chat-push` (the push, SMS and mail
//! clients, on `chat-protocol`) import nothing of the server; `chat-cli` and the load generator build on
//! `chat-protocol` alone. Inside this crate the modules below are listed from
//! the top (what a request meets first) down; the WebSocket layer imports neither HTTP nor the
//! actors (its routes are handed to it at startup), and [`socketio`] does not import HTTP (its
//! dependencies are handed to it as `socketio::Deps`; what it shares with `/ws` is in
//! [`transport`]).
//!
//! - [`http`]: actix-web handlers (`/api/...`, `/ws`, `/healthz`, `/metrics`).
//! - [`services`]: domain services that own a domain's rules over the store and the actors and
//!   know nothing of HTTP; a handler extracts, calls one method, and answers with a typed body of
//!   `chat_protocol::api`. So far `people` (profiles, settings, sessions, contacts, blocks,
//!   lists), `push` (subscriptions, push settings, mutes, SMS invitations), `rooms` (groups,
//!   dms, history, membership, roles, and the shared room access rules), `invitations`,
//!   `search`, `media` (upload caps, accepting uploads, item status), `verify`, `presence`,
//!   `admin` (statistics, bans, sessions, the admin role, dead letters, closing conversations),
//!   `curation` (pins, stars, the pin policy), `oauth` (sign-in with a provider account,
//!   links) and `auth` (sign-up, sign-in, sign-out, session tokens, the account a token names;
//!   `http::auth` keeps the `AuthUser` extractor).
//! - [`websocket`]: the WebSocket layer under `/ws` and `/socket.io/` (upgrade, framing, reading
//!   and writing without per-connection buffers; `websocket::flush`, the rules for writing to a
//!   socket and the bound on what may wait for it, as a plain struct the session drives).
//! - [`socketio`]: Socket.IO v5 / Engine.IO v4 at `/socket.io/`, a codec in front of the same
//!   `WsSession` as `/ws`.
//! - [`transport`]: what `/ws` and `/socket.io/` share: the origin check, token hashing, and the
//!   per-user session cap.
//! - [`actors`]: one actor per connection (`WsSession`), per active conversation (`Room`), plus
//!   the `RoomRegistry` (starts and restarts rooms; the one index of this node's live sessions,
//!   which decides a user's first and last session and tells `Presence`), `Presence`, and the
//!   `Persister` (the only writer of chat data, group-committing), and the `Notifier` (pushes to
//!   members with no live session). `WsSession` dispatches client frames; the requests it
//!   answers by asking the store and other actors (history, sync, edit, ...) are in
//!   `actors::requests`, and the one rule for a client that does not read in `actors::slow`.
//! - [`cluster`]: several processes on one Redis (`[cluster] enabled`): seqs allocated by the
//!   append script, fan-out over Redis pub/sub, presence with expiring node keys. The mode is
//!   chosen once at startup as strategies the actors hold: `actors::fanout::FanOut` (fan-out,
//!   and with it who gives out seqs, `actors::room::SeqSource`) and `actors::presence::Directory`
//!   (who is online), and `search::Feed` for the search index; no actor holds an
//!   `Option<Cluster>`.
//! - [`store`]: the `chat-store` crate (crates/chat-store), re-exported: SeaORM reads and writes
//!   and the Redis write buffer. It returns its own types (`store::messages::Message`,
//!   `store::media::MediaItem`, `store::rooms::RoomOverview`, ...), which [`views`] (those the
//!   actors and several services share) or the one service that answers them turns into the
//!   wire's, and its own errors (`StoreError`, and refusals such as
//!   `store::media::MediaUseError`), which [`error`] maps to `ChatError`.
//! - [`views`]: the wire form of the store's shared read types (and the signed media URLs in it).
//! - [`protocol`]: the `chat-protocol` crate (frame types, their codec, ids, error and close
//!   codes), shared with `chat-cli` and the tests.
//! - [`push`]: the `chat-push` crate (crates/chat-push), re-exported: clients of Web Push, FCM
//!   HTTP v1, an SMS gateway and a mail gateway (one attempt each, plus back-off), and their
//!   settings (`[push]`, `[mail]`, which [`config`] re-exports); they know nothing of the
//!   database.
//! - [`oauth`]: sign-in with Facebook and Twitter/X (OAuth 2.0 code flow, PKCE); it talks to the
//!   providers and knows nothing of the database.
//! - [`media`]: the `chat-media` crate (crates/chat-media), re-exported: image and audio/video
//!   work (pure, blocking functions run by the MediaWorker pool), and the media kinds, outcomes
//!   and signed URLs of `chat-media-types`, which it re-exports.
//! - [`search`]: message search: an embedded full-text index (tantivy) per node, fed from the
//!   write path (or the cluster bus) and caught up from SQL at start.
//! - [`limits`]: HTTP rate limits (login, sign-up, per-user writes); [`passwords`]: Argon2 on
//!   its own bounded pool.
//! - [`shutdown`]: graceful shutdown on SIGTERM/SIGINT (stop intake, close connections with
//!   1001 once they answered what they received, drain rooms, Persister and Syncer), one sequence.
//! - [`bootstrap`]: the one-time code that makes the first admin.
//! - [`private_file`]: writing files only the server's user may read (keys, one-time codes).
//! - [`threads`]: lower priorities for background threads (media workers, search indexer).
//! - [`config`], [`error`], [`ids`], [`metrics`], [`telemetry`].
//!
//! # The write path
//!
//! ```text
//! socket ─► websocket::conn::Reader ─► WsSession: chat_protocol::decode → ClientFrame::Send
//!                                       │ room::Draft: reply, attachments, @names looked up
//!                                       ▼
//!           Room actor: plan::plan_batch(RoomState, jobs) → id + seq, WriteOps, answers
//!                                       │ PersistHandle (the room's thread)
//!                                       ▼
//!   with Redis: the append script (stream entry, seq, client-id and overlay keys) ─ durable ─┐
//!   embedded:   Persister group commit, one SQLite transaction ─────────────────── durable ─┤
//!                                                                                            ▼
//!   Room: ack to the sender, `message` to the members' outboxes (websocket::Outbound, framed once)
//!   with Redis, later: Syncer (timer) ─ XREADGROUP ─► Store::apply_writes ─► SQL row (SeaORM)
//! ```
//!
//! The room acks the sender and fans the message out only after the write is durable; a failed
//! batch is not counted, so per-room seqs stay gap-free. In cluster mode (`FanOut::Bus`,
//! `SeqSource::Store`) the Redis append script allocates the seqs instead and publishes the batch,
//! and every node fans it out to its own sessions from that subscription (see [`cluster`]).

pub mod actors;
pub mod bootstrap;
pub mod cluster;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod limits;
pub use chat_media as media;
pub mod metrics;
pub mod oauth;
pub mod passwords;
pub mod private_file;
pub use chat_push as push;
pub mod search;
pub mod services;
pub mod shutdown;
pub mod socketio;
pub mod startup;
pub use chat_store as store;
pub mod telemetry;
pub mod threads;
pub mod transport;
pub mod validate;
pub mod views;
pub mod websocket;

/// Wire protocol v1 (frames, codec, ids, error and close codes): the `chat-protocol` crate,
/// shared with `chat-cli`, the load generator and the tests.
pub use chat_protocol as protocol;
