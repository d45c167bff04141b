//! `GET /ws`: checks the Origin and the token before upgrading, then hands the connection to a
//! `WsSession`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use super::auth::{user_out, AuthUser};
use super::AppState;
use crate::actors::session::{self, SessionDeps, WsSession};
use crate::error::ChatError;
use crate::protocol::WireFormat;

/// A browser's `Origin` must be the server's own or listed in `server.allowed_origins`; clients
/// that send no Origin (apps, scripts) are not browsers and pass.
pub(crate) fn origin_allowed(req: &HttpRequest, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The upgrade handler.
pub async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if !origin_allowed(&req, &state.settings.server.allowed_origins) {
        return Err(ChatError::Forbidden("origin not allowed".into()).into());
    }
    let auth = AuthUser::extract(&req).await?;
    let format = if req.query_string().split('&').any(|kv| kv == "format=msgpack") {
        WireFormat::MsgPack
    } else {
        WireFormat::Json
    };
    let deps = SessionDeps {
        store: state.store.clone(),
        registry: state.registry.clone(),
        presence: state.presence.clone(),
        settings: state.settings.clone(),
    };
    let session = WsSession::new(user_out(&auth.user), auth.token_hash, format, deps);
    session::start(session, &req, stream)
}

use actix_web::FromRequest;
