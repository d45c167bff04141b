//! HTTP handlers: `/api/...` JSON endpoints, `/ws`, `/media/...` files, `/healthz` and `/metrics`;
//! everything else is a file of the web client (`server.static_dir`, see `static_files`).

pub mod admin;
pub mod auth;
pub mod curation;
pub mod health;
pub mod invitations;
pub mod media;
pub mod oauth;
pub mod people;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod search;
pub mod uploads;
pub mod verify;
pub mod ws;

use std::sync::Arc;

use actix::Addr;
use actix_web::{error::JsonPayloadError, web, HttpRequest, ResponseError};

use crate::actors::media::MediaPool;
use crate::actors::notifier::Notifier;
use crate::actors::persister::Persister;
use crate::actors::presence::Presence;
use crate::actors::registry::RoomRegistry;
use crate::actors::session::SessionDeps;
use crate::actors::syncer::Syncer;
use crate::config::Settings;
use crate::error::ChatError;
use crate::media::urls::UrlSigner;
use crate::store::Store;
use crate::websocket::upgrade::{Routes, Upgrade};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Signs the media URLs answers hand out, and checks them (`media.url_secret`).
    pub media_urls: UrlSigner,
    pub registry: Addr<RoomRegistry>,
    pub presence: Addr<Presence>,
    pub persister: Addr<Persister>,
    /// The Syncer, when writes are buffered in Redis.
    pub syncer: Option<Addr<Syncer>>,
    pub settings: Arc<Settings>,
    /// Pushes to people who are away.
    pub notifier: Addr<Notifier>,
    /// The VAPID public key (base64url) browsers subscribe with.
    pub vapid_public_key: String,
    /// The MediaWorker pool.
    pub media: MediaPool,
    /// The configured OAuth sign-in providers.
    pub oauth: Arc<crate::oauth::Providers>,
    /// Live Socket.IO (Engine.IO) connections.
    pub socketio: crate::socketio::engine::Engines,
    /// Turns for setting up a WebSocket connection (`ws.setup_concurrency`).
    pub setups: Arc<tokio::sync::Semaphore>,
    /// HTTP rate limits (`[limits]`).
    pub limits: Arc<crate::limits::Limits>,
    /// Argon2 hashing on its own bounded pool (`auth.hash_threads`, `auth.hash_queue`).
    pub passwords: crate::passwords::PasswordPool,
    /// This node's message search index (`None` when `search.enabled` is false).
    pub search: Option<crate::search::SearchIndex>,
    /// Graceful shutdown: the notice connections listen for, and what it waits for.
    pub shutdown: crate::shutdown::Shutdown,
    /// The mail gateway (`[mail]`), for e-mail verification codes; `None` when not configured.
    pub mail: Option<crate::push::mail::MailGateway>,
}

impl AppState {
    /// What a chat session needs, for the transports that start one.
    pub fn session_deps(&self) -> SessionDeps {
        SessionDeps {
            store: self.store.clone(),
            media_urls: self.media_urls.clone(),
            registry: self.registry.clone(),
            settings: self.settings.clone(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// What Socket.IO needs: a session's dependencies, its live connections, its rate limits.
    pub fn socketio_deps(&self) -> crate::socketio::Deps {
        crate::socketio::Deps {
            session: self.session_deps(),
            engines: self.socketio.clone(),
            limits: self.limits.clone(),
        }
    }
}

/// The upgrade paths that take a socket over (`/ws`, `/socket.io/`), for the WebSocket layer's
/// upgrade service; any other path is refused with 404.
pub fn upgrade_routes(state: AppState) -> Routes {
    let ws_state = state.clone();
    let socketio = state.socketio_deps();
    Routes::new(|up: Upgrade| {
        Box::pin(async move {
            up.refuse(ChatError::NotFound("WebSocket endpoint").error_response())
                .await
        })
    })
    .route("/ws", move |up| {
        let state = ws_state.clone();
        Box::pin(while_serving(state.clone(), up, |up| {
            ws::connect(state, up)
        }))
    })
    .route("/socket.io/", move |up| {
        let deps = socketio.clone();
        Box::pin(while_serving(state.clone(), up, |up| {
            crate::socketio::websocket_upgrade(deps, up)
        }))
    })
}

/// Runs an upgrade unless the server is shutting down (503 then), holding a shutdown guard until
/// the connection's session holds its own.
async fn while_serving<F: std::future::Future<Output = ()>>(
    state: AppState,
    up: Upgrade,
    take: impl FnOnce(Upgrade) -> F,
) {
    if state.shutdown.is_draining() {
        return up.refuse(crate::shutdown::refusal()).await;
    }
    let _busy = state.shutdown.guard();
    take(up).await
}

/// Largest JSON body accepted by the API.
const JSON_LIMIT: usize = 256 * 1024;

/// Mounts every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(json_error);
    cfg.app_data(json)
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ChatError::invalid(e.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ChatError::invalid(e.to_string()).into()),
        )
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/ws", web::get().to(ws::not_upgraded))
        .configure(crate::socketio::routes)
        .route("/media/{id}/{variant}", web::get().to(media::serve))
        .service(
            web::scope("/api")
                .route("/auth/register", web::post().to(auth::register))
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/logout", web::post().to(auth::logout))
                .route("/auth/oauth/providers", web::get().to(oauth::providers))
                .route("/auth/oauth/links", web::get().to(oauth::links))
                .route(
                    "/auth/oauth/links/{provider}",
                    web::delete().to(oauth::unlink),
                )
                .route("/auth/oauth/{provider}/start", web::get().to(oauth::start))
                .route(
                    "/auth/oauth/{provider}/callback",
                    web::get().to(oauth::callback),
                )
                .route("/auth/oauth/{provider}/link", web::post().to(oauth::link))
                .route("/me", web::get().to(people::me))
                .route("/me", web::patch().to(people::update_me))
                .route("/me", web::delete().to(people::delete_me))
                .route("/me/settings", web::get().to(people::settings))
                .route("/me/settings", web::patch().to(people::update_settings))
                .route("/me/password", web::post().to(people::change_password))
                .route("/me/{kind}/verify", web::post().to(verify::start))
                .route("/me/{kind}/confirm", web::post().to(verify::confirm))
                .route("/me/sessions", web::get().to(people::sessions))
                .route("/me/sessions", web::delete().to(people::revoke_all))
                .route(
                    "/me/sessions/{id}",
                    web::delete().to(people::revoke_session),
                )
                .route("/presence", web::get().to(presence::presence))
                .route("/users", web::get().to(people::search))
                .route("/search", web::get().to(search::search))
                .route("/users/by-name/{username}", web::get().to(people::by_name))
                .route("/users/{id}", web::get().to(people::profile))
                .route("/contacts", web::get().to(people::contacts))
                .route("/contacts/match", web::post().to(people::match_contacts))
                .route("/contacts/{user}", web::put().to(people::put_contact))
                .route("/contacts/{user}", web::delete().to(people::delete_contact))
                .route("/blocks", web::get().to(people::blocks))
                .route("/blocks", web::post().to(people::block))
                .route("/blocks/{user}", web::delete().to(people::unblock))
                .route("/lists", web::get().to(people::lists))
                .route("/lists", web::post().to(people::create_list))
                .route("/lists/{id}", web::get().to(people::get_list))
                .route("/lists/{id}", web::patch().to(people::update_list))
                .route("/lists/{id}", web::delete().to(people::delete_list))
                .route("/rooms", web::get().to(rooms::list))
                .route("/rooms", web::post().to(rooms::create_group))
                .route("/dms", web::post().to(rooms::open_dm))
                .route("/rooms/{id}", web::get().to(rooms::get))
                .route("/rooms/{id}", web::patch().to(rooms::update))
                .route("/rooms/{id}/members/{user}", web::put().to(rooms::set_role))
                .route("/messages/{id}/versions", web::get().to(rooms::versions))
                .route("/rooms/{id}/messages", web::get().to(rooms::messages))
                .route("/rooms/{id}/members", web::post().to(rooms::add_member))
                .route("/invitations", web::get().to(invitations::list))
                .route(
                    "/invitations/{id}/accept",
                    web::post().to(invitations::accept),
                )
                .route(
                    "/invitations/{id}/decline",
                    web::post().to(invitations::decline),
                )
                .route(
                    "/rooms/{id}/members/{user}",
                    web::delete().to(rooms::remove_member),
                )
                .route("/rooms/{id}/leave", web::post().to(rooms::leave))
                .route("/rooms/{id}/pins", web::get().to(curation::pins))
                .route(
                    "/rooms/{id}/pin-policy",
                    web::put().to(curation::set_pin_policy),
                )
                .route("/stars", web::get().to(curation::stars))
                .route("/push/vapid", web::get().to(push::vapid))
                .route("/push/subscriptions", web::post().to(push::subscribe))
                .route("/push/subscriptions", web::get().to(push::subscriptions))
                .route(
                    "/push/subscriptions/{id}",
                    web::delete().to(push::unsubscribe),
                )
                .route("/push/settings", web::get().to(push::get_settings))
                .route("/push/settings", web::patch().to(push::patch_settings))
                .route("/push/mutes/{room}", web::put().to(push::mute))
                .route("/push/mutes/{room}", web::delete().to(push::unmute))
                .route("/push/sms/invite", web::post().to(push::invite))
                .route("/media", web::post().to(media::upload))
                .route("/media/{id}", web::get().to(media::get))
                .configure(uploads::routes)
                .route("/admin/bootstrap", web::post().to(admin::bootstrap))
                .route("/admin/stats", web::get().to(admin::stats))
                .route("/admin/users", web::get().to(admin::users))
                .route("/admin/users/{id}/ban", web::post().to(admin::ban))
                .route("/admin/users/{id}/ban", web::delete().to(admin::unban))
                .route(
                    "/admin/users/{id}/revoke-sessions",
                    web::post().to(admin::revoke_sessions),
                )
                .route("/admin/users/{id}/admin", web::put().to(admin::set_role))
                .route("/admin/dead-letters", web::get().to(admin::dead_letters))
                .route("/admin/rooms", web::get().to(admin::rooms))
                .route("/admin/rooms/{id}", web::delete().to(admin::delete_room))
                .route(
                    "/admin/messages/{id}",
                    web::delete().to(admin::delete_message),
                )
                .route(
                    "/admin/rooms/{id}/members",
                    web::get().to(admin::room_members),
                )
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ChatError::NotFound("endpoint"))
                })),
        );
}

/// What the web client and admin pages may load: scripts, styles and everything else from this
/// origin only (no inline script), images and media also from `data:`/`blob:` (previews of
/// captured photos and recordings); no framing by other sites.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every HTTP answer (a handler's own win): the CSP above, no framing, no Referer
/// to other sites (URLs can carry signed media links), no MIME sniffing.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
}

/// The web client and admin pages: files under `server.static_dir`, `index.html` for a folder.
/// Mounted last, so every route above wins.
pub fn static_files(dir: &str) -> actix_files::Files {
    actix_files::Files::new("/", dir)
        .index_file("index.html")
        .redirect_to_slash_directory()
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ChatError::TooLarge(format!("body larger than {limit} bytes")).into()
        }
        JsonPayloadError::ContentType => {
            ChatError::invalid("Content-Type must be application/json").into()
        }
        other => ChatError::invalid(format!("invalid JSON body: {other}")).into(),
    }
}
