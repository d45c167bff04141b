//! What the two client transports share, `/ws` (`crate::http::ws`) and `/socket.io/`
//! (`crate::socketio`): who may connect (a browser's origin; a token, stored only as its hash,
//! that names a user) and whether that user may open one more session. Neither transport owns
//! these rules, so that neither imports the other, and Socket.IO does not import HTTP.

use actix_web::http::header::{self, HeaderMap};
use entities::user;

use crate::actors::registry::SessionCount;
use crate::actors::session::SessionDeps;
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::UserOut;

/// A browser's `Origin` must be the server's own or listed in `server.allowed_origins`; clients
/// that send no Origin (apps, scripts) are not browsers and pass.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Longest token looked up; anything longer is not one of ours.
pub const MAX_TOKEN_LEN: usize = 256;

/// A token worth looking up: present, not empty, not longer than [`MAX_TOKEN_LEN`].
pub fn plausible_token(token: Option<&str>) -> Option<&str> {
    token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
}

/// The SHA-256 of a token, in hex: what the store keeps and looks tokens up by.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public fields of an account.
pub fn user_out(u: &user::Model) -> UserOut {
    UserOut {
        id: UserId(u.id.clone()),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
    }
}

/// How long a user refused for holding too many sessions is asked to wait.
pub const SESSION_CAP_RETRY_SECS: u64 = 5;

/// Whether `user` may open one more session: fewer than `ws.max_sessions_per_user` open on this
/// node, `/ws` and `/socket.io/` sessions together (both register with the RoomRegistry).
/// `Throttled` (429) when the cap is reached; fails closed when the registry does not answer.
pub async fn session_room_for(deps: &SessionDeps, user: &UserId) -> Result<(), ChatError> {
    let counted = deps
        .registry
        .send(SessionCount { user: user.clone() })
        .await;
    match counted {
        Ok(open) if open < deps.settings.ws.max_sessions_per_user => Ok(()),
        Ok(open) => {
            tracing::debug!(user = %user, open, "session refused: the per-user cap is reached");
            Err(ChatError::Throttled {
                retry_after_secs: SESSION_CAP_RETRY_SECS,
            })
        }
        Err(e) => {
            tracing::error!(user = %user, error = %e, "cannot count the user's sessions");
            Err(ChatError::Unavailable("sessions".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn only_plausible_tokens_are_looked_up() {
        assert_eq!(plausible_token(None), None);
        assert_eq!(plausible_token(Some("")), None);
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(plausible_token(Some(&long)), None);
        assert_eq!(plausible_token(Some("t0k")), Some("t0k"));
    }

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn origins_the_server_own_listed_ones_and_none_pass() {
        let allowed = ["https://app.example/".to_owned()];
        assert!(origin_allowed(&headers(None, "chat.example"), &allowed));
        assert!(origin_allowed(
            &headers(Some("https://chat.example"), "chat.example"),
            &allowed
        ));
        assert!(origin_allowed(
            &headers(Some("https://APP.example"), "chat.example"),
            &allowed
        ));
        assert!(!origin_allowed(
            &headers(Some("https://evil.example"), "chat.example"),
            &allowed
        ));
    }

    #[test]
    fn a_token_hash_is_sha256_in_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
