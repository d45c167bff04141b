//! Typed identifiers and timestamps (from the wire crate, `chat_protocol::ids`), and the random
//! tokens the server hands out.

pub use chat_protocol::ids::*;

/// Seconds since the Unix epoch (0 before it): the clock signed media URLs are made and checked
/// against.
pub fn now_secs() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

/// `bytes` random bytes, base64url without padding: bearer tokens, OAuth state and browser
/// binding values, Engine.IO session ids.
pub fn random_urlsafe(bytes: usize) -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}
