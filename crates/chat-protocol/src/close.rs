//! WebSocket close codes the server sends (RFC 6455 section 7.4, and 4000-4999 for the
//! application). Clients tell "reconnect" from "do not" by these.

/// The session ended normally (the client closed, or answered the server's close).
pub const NORMAL: u16 = 1000;
/// The server is going away (shutting down) or the client stopped answering pings; reconnect.
pub const GOING_AWAY: u16 = 1001;
/// The connection broke a transport rule (e.g. a second upgrade of one Engine.IO session).
pub const POLICY: u16 = 1008;
/// The server cannot serve this connection (e.g. an unknown Engine.IO session id).
pub const INTERNAL: u16 = 1011;
/// The server is overloaded; reconnect after a back-off.
pub const TRY_AGAIN: u16 = 1013;
/// The token was revoked (log-out, password change, ban): do not reconnect with it.
pub const LOGGED_OUT: u16 = 4001;
/// The client read too slowly and its outbox overflowed; reconnect and `sync`.
pub const TOO_SLOW: u16 = 4008;
