//! `GET /ws`: checks the Origin and the token before upgrading, then hands the connection to a
//! `WsSession`. The request arrives through the upgrade service (`crate::websocket::upgrade`),
//! not through actix-web's routing.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::auth::{self, user_out};
use super::AppState;
use crate::actors::registry::SessionCount;
use crate::actors::session::{self, SessionDeps, WsSession};
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::settings::UserSettings;
use crate::protocol::WireFormat;
use crate::websocket::upgrade::Upgrade;

/// A browser's `Origin` must be the server's own or listed in `server.allowed_origins`; clients
/// that send no Origin (apps, scripts) are not browsers and pass.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
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

/// Who may open `/ws`: 403 for a foreign origin, 401 without a valid token.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    query: &str,
) -> Result<(auth::AuthUser, UserSettings), ChatError> {
    if !origin_allowed(headers, &state.settings.server.allowed_origins) {
        return Err(ChatError::Forbidden("origin not allowed".into()));
    }
    auth::authenticate_session(state, auth::token_from(headers, query)).await
}

/// How long a user refused for holding too many sessions is asked to wait.
pub(crate) const SESSION_CAP_RETRY_SECS: u64 = 5;

/// Whether `user` may open one more session: fewer than `ws.max_sessions_per_user` open on this
/// node, `/ws` and `/socket.io/` sessions together (both register with the RoomRegistry).
/// `Throttled` (429) when the cap is reached; fails closed when the registry does not answer.
pub(crate) async fn session_room_for(state: &AppState, user: &UserId) -> Result<(), ChatError> {
    let counted = state
        .registry
        .send(SessionCount { user: user.clone() })
        .await;
    match counted {
        Ok(open) if open < state.settings.ws.max_sessions_per_user => Ok(()),
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

/// The upgrade: [`admit`]'s refusals, 429 beyond the per-user session cap, then 400 for a bad
/// handshake.
pub async fn connect(state: AppState, up: Upgrade) {
    // Held until the session's `hello` is out (see `ws.setup_concurrency`); never closed.
    let Ok(turn) = state.setups.clone().acquire_owned().await else {
        return;
    };
    let (user, user_settings) = match admit(&state, up.request.headers(), up.query()).await {
        Ok(u) => u,
        Err(e) => return up.refuse(e.error_response()).await,
    };
    if let Err(e) = session_room_for(&state, &user.id()).await {
        return up.refuse(e.error_response()).await;
    }
    let format = if up.query().split('&').any(|kv| kv == "format=msgpack") {
        WireFormat::MsgPack
    } else {
        WireFormat::Json
    };
    let deps = SessionDeps {
        store: state.store.clone(),
        registry: state.registry.clone(),
        presence: state.presence.clone(),
        settings: state.settings.clone(),
        shutdown: state.shutdown.clone(),
    };
    let Some((reader, writer)) = up.accept(state.settings.ws.hard_max_frame_bytes).await else {
        return;
    };
    // "Last used" in the owner's list of sessions: noted in memory, written on a timer.
    state.store.note_token_used(&user.token_hash);
    let session = WsSession::new(user_out(&user.user), user.token_hash, format, deps)
        .holding(turn)
        .with_settings(user_settings);
    session::start(session, reader, writer);
}

/// `GET /ws` without an upgrade (real upgrades never reach actix-web's routing): the same checks,
/// then 400 for the missing handshake.
pub async fn not_upgraded(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = admit(&state, req.headers(), req.query_string()).await {
        return e.error_response();
    }
    match actix_http::ws::verify_handshake(req.head()) {
        Err(e) => e.error_response(),
        Ok(()) => HttpResponse::BadRequest().finish(),
    }
}
