//! `GET /ws`: checks the Origin and the token before upgrading, then hands the connection to a
//! `WsSession`. The request arrives through the upgrade service (`crate::websocket::upgrade`),
//! not through actix-web's routing.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::auth;
use super::AppState;
use crate::actors::session::{self, WsSession};
use crate::error::ChatError;
use crate::protocol::settings::UserSettings;
use crate::protocol::WireFormat;
use crate::transport::{origin_allowed, session_room_for, user_out};
use crate::websocket::upgrade::Upgrade;

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

/// The upgrade: 403 for a foreign origin and 401 without a valid token (`admit`), 429 beyond
/// the per-user session cap, then 400 for a bad handshake.
pub async fn connect(state: AppState, up: Upgrade) {
    // Held until the session's `hello` is out (see `ws.setup_concurrency`); never closed.
    let Ok(turn) = state.setups.clone().acquire_owned().await else {
        return;
    };
    let (user, user_settings) = match admit(&state, up.request.headers(), up.query()).await {
        Ok(u) => u,
        Err(e) => return up.refuse(e.error_response()).await,
    };
    let deps = state.session_deps();
    if let Err(e) = session_room_for(&deps, &user.id()).await {
        return up.refuse(e.error_response()).await;
    }
    let format = if up.query().split('&').any(|kv| kv == "format=msgpack") {
        WireFormat::MsgPack
    } else {
        WireFormat::Json
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
