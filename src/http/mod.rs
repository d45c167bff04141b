//! HTTP handlers: `/api/...` JSON endpoints, `/ws`, `/media/...` files, `/healthz` and `/metrics`.

pub mod auth;
pub mod health;
pub mod media;
pub mod rooms;
pub mod users;
pub mod ws;

use std::sync::Arc;

use actix::Addr;
use actix_web::{error::JsonPayloadError, web, HttpRequest};

use crate::actors::media::MediaPool;
use crate::actors::persister::Persister;
use crate::actors::presence::Presence;
use crate::actors::registry::RoomRegistry;
use crate::actors::syncer::Syncer;
use crate::config::Settings;
use crate::error::ChatError;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Addr<RoomRegistry>,
    pub presence: Addr<Presence>,
    pub persister: Addr<Persister>,
    /// The Syncer, when writes are buffered in Redis.
    pub syncer: Option<Addr<Syncer>>,
    pub settings: Arc<Settings>,
    /// The MediaWorker pool.
    pub media: MediaPool,
}

/// Largest JSON body accepted by the API.
const JSON_LIMIT: usize = 256 * 1024;

/// Mounts every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default().limit(JSON_LIMIT).error_handler(json_error);
    cfg.app_data(json)
        .app_data(web::QueryConfig::default().error_handler(|e, _| ChatError::invalid(e.to_string()).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| ChatError::invalid(e.to_string()).into()))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/ws", web::get().to(ws::connect))
        .route("/media/{id}/{variant}", web::get().to(media::serve))
        .service(
            web::scope("/api")
                .route("/auth/register", web::post().to(auth::register))
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/logout", web::post().to(auth::logout))
                .route("/me", web::get().to(users::me))
                .route("/users/by-name/{username}", web::get().to(users::by_name))
                .route("/users/{id}", web::get().to(users::by_id))
                .route("/rooms", web::get().to(rooms::list))
                .route("/rooms", web::post().to(rooms::create_group))
                .route("/dms", web::post().to(rooms::open_dm))
                .route("/rooms/{id}", web::get().to(rooms::get))
                .route("/rooms/{id}/messages", web::get().to(rooms::messages))
                .route("/rooms/{id}/members", web::post().to(rooms::add_member))
                .route("/rooms/{id}/members/{user}", web::delete().to(rooms::remove_member))
                .route("/rooms/{id}/leave", web::post().to(rooms::leave))
                .route("/media", web::post().to(media::upload))
                .route("/media/{id}", web::get().to(media::get))
                .default_service(web::to(|| async { Err::<actix_web::HttpResponse, _>(ChatError::NotFound("endpoint")) })),
        );
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ChatError::TooLarge(format!("body larger than {limit} bytes")).into()
        }
        JsonPayloadError::ContentType => ChatError::invalid("Content-Type must be application/json").into(),
        other => ChatError::invalid(format!("invalid JSON body: {other}")).into(),
    }
}
