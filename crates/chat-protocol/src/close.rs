//! WebSocket close codes the server sends (RFC 6455 section 7.4, and 4000-4999 for the
//! application). Clients tell "reconnect" from "do not" by these.

/// The session ended normally (the client closed, or answered the server's close).
pub const NORMAL: u16 = 1000;
/// The server is going away (shutting down) or the client stopped answering pings; reconnect.
pub const GOING_AWAY: u16 = 1001;
/// The client broke the WebSocket framing rules (RFC 6455: bad opcode, unmasked frame, ...).
pub const PROTOCOL_ERROR: u16 = 1002;
/// The client sent data the endpoint cannot take (a malformed Engine.IO packet).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A text message was not UTF-8.
pub const INVALID_PAYLOAD: u16 = 1007;
/// The connection broke a transport rule (e.g. a second upgrade of one Engine.IO session).
pub const POLICY: u16 = 1008;
/// A message was larger than the server takes (`ws.max_frame_bytes`, Engine.IO `maxPayload`).
pub const TOO_BIG: u16 = 1009;
/// The server cannot serve this connection (e.g. an unknown Engine.IO session id).
pub const INTERNAL: u16 = 1011;
/// The server restarted a service under the session (in cluster mode, the bus subscription was
/// lost and events may be missing): reconnect and `sync`.
pub const SERVICE_RESTART: u16 = 1012;
/// The server is overloaded; reconnect after a back-off.
pub const TRY_AGAIN: u16 = 1013;
/// The token was revoked (log-out, password change, ban): do not reconnect with it.
pub const LOGGED_OUT: u16 = 4001;
/// The client read too slowly and its outbox overflowed; reconnect and `sync`.
pub const TOO_SLOW: u16 = 4008;
