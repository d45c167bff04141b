//! `/healthz` and `/metrics`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::error::ChatError;

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if state.store.ping().await {
        HttpResponse::Ok().json(json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "database unavailable"}))
    }
}

/// Prometheus text format, for the addresses in `server.metrics_addresses` (loopback by default)
/// or a request bearing `server.metrics_token`; 403 for anyone else (the figures tell an outsider
/// how busy the server is and when it struggles).
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ChatError> {
    let server = &state.settings.server;
    let token = server.metrics_token.expose().trim();
    let by_token = !token.is_empty()
        && super::auth::bearer_token(req.headers()).is_some_and(|t| {
            // Compared as hashes, so the time taken says nothing about the token.
            super::auth::hash_token(&t) == super::auth::hash_token(token)
        });
    let by_address = req.peer_addr().is_some_and(|peer| {
        server
            .metrics_addresses
            .iter()
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .any(|a| a == peer.ip() || a == peer.ip().to_canonical())
    });
    if !(by_token || by_address) {
        return Err(ChatError::Forbidden(
            "/metrics: not from an address in server.metrics_addresses, and no metrics token"
                .into(),
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render()))
}
