//! Building and running the server: connect the store, start the actors, bind HTTP; on SIGTERM
//! or SIGINT, shut down gracefully (`crate::shutdown`).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext};
use actix_http::HttpService;
use actix_service::{map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::{web, App};

use crate::actors::fanout::FanOut;
use crate::actors::media::MediaPool;
use crate::actors::notifier::Notifier;
use crate::actors::persister::{PersistHandle, Persister};
use crate::actors::presence::{Directory, Presence};
use crate::actors::registry::RoomRegistry;
use crate::actors::syncer::Syncer;
use crate::cluster::Cluster;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::media::urls::UrlSigner;
use crate::push::webpush::{self, VapidKeys};
use crate::shutdown::{self, Shutdown};
use crate::store::buffer::RedisBuffer;
use crate::store::{Store, StoreError};

/// How often rate-limit keys whose limit has refilled are forgotten.
const LIMITS_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("push: {0}")]
    Push(#[from] crate::push::PushError),
    #[error("cannot create media.dir {dir}: {source}")]
    Storage { dir: String, source: std::io::Error },
    #[error("{0}")]
    OAuth(#[from] crate::oauth::OAuthConfigError),
    #[error("cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    /// Another server already runs on this Redis prefix in a way this one cannot run beside.
    #[error("redis.prefix: {0}")]
    Owner(#[from] crate::store::owner::OwnerError),
    #[error("{0}")]
    Search(#[from] crate::search::SearchError),
    #[error("admin bootstrap: {0}")]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
}

/// A server bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// The Redis prefix lease this plain server holds, given up when it stops (see
    /// `store::owner`).
    owner: Option<(RedisBuffer, String, Arc<AtomicBool>)>,
}

impl Application {
    /// Connects the database (applying migrations), starts the actors and binds
    /// `server.bind` (port 0 picks a free port). Must run inside an actix system.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let settings = Arc::new(settings);
        let oauth = Arc::new(crate::oauth::Providers::from_settings(&settings.oauth)?);
        let signer = UrlSigner::new(&settings.media.url_secret, settings.media.url_ttl_secs);
        let mut store =
            Store::connect(&settings.database.url, settings.database.max_connections).await?;
        let mut syncer = None;
        let mut cluster = None;
        let mut owner = None;
        let redis = &settings.redis;
        if !redis.url.trim().is_empty() {
            let buffer = RedisBuffer::connect(
                redis.url.trim(),
                &redis.prefix,
                redis.dedupe_ttl_secs,
                redis.allow_unsafe,
            )
            .await
            .map_err(StoreError::from)?;
            let buffer = buffer.with_recent(
                settings.rooms.unread_count_max.min(10_000) as usize,
                redis.cache_ttl_secs,
            );
            store = store
                .with_buffer(buffer.clone())
                .with_cache_ttl(redis.cache_ttl_secs);
            store.seed_reacted_rooms().await?;
            let consumer = match redis.consumer.trim() {
                "" => format!("{}:{}", hostname(), settings.server.bind),
                c => c.to_owned(),
            };
            if settings.cluster.enabled {
                buffer.check_no_owner().await?;
            } else {
                buffer.claim_owner(&consumer, redis.owner_ttl_ms).await?;
                let released = Arc::new(AtomicBool::new(false));
                buffer
                    .clone()
                    .keep_owner(consumer.clone(), redis.owner_ttl_ms, released.clone());
                owner = Some((buffer.clone(), consumer.clone(), released));
            }
            if settings.cluster.enabled {
                let node = match settings.cluster.node_id.trim() {
                    "" => consumer.clone(),
                    n => n.to_owned(),
                };
                cluster = Some(Cluster::new(
                    buffer.clone(),
                    redis.url.trim(),
                    &redis.prefix,
                    node,
                    settings.cluster.clone(),
                ));
            }
            syncer = Some(Syncer::new(store.clone(), buffer, redis.clone(), consumer).start());
        }
        crate::bootstrap::prepare(&store, &crate::bootstrap::code_file(&settings.media.dir))
            .await?;
        // A previous run of this node may have been killed: its sessions are gone.
        let stale = match &cluster {
            Some(c) => c.sweep_own().await?,
            None => Vec::new(),
        };
        // The one choice of mode: how batches reach their recipients (`actors::fanout`, which
        // also says who gives out seqs), who is online (`actors::presence::Directory`) and what
        // feeds the search index (`search::Feed`).
        let (fanout, directory, feed) = match &cluster {
            Some(c) => {
                let c = Arc::new(c.clone());
                (
                    FanOut::Bus(c.clone()),
                    Directory::Redis(c.clone()),
                    crate::search::Feed::Bus(c),
                )
            }
            None => (FanOut::Local, Directory::Local, crate::search::Feed::Writes),
        };
        let search = crate::search::start(&settings, &mut store, &feed).await?;
        let persister = Persister::new(store.clone())
            .with_fanout(fanout.clone())
            .with_linger(std::time::Duration::from_millis(
                settings.rooms.delivered_linger_ms,
            ))
            .start();
        let vapid = VapidKeys::load_or_generate(
            &settings.push.vapid_private_key,
            &webpush::key_file(&settings.push, &settings.media.dir),
            crate::private_file::write,
        )?;
        let vapid_public_key = vapid.public_key();
        let notifier = Notifier::new(store.clone(), &settings, vapid)?.start();
        let handle = PersistHandle::new(persister.clone(), &store, fanout.clone());
        // Presence's address first: the registry tells it of sessions, and it delivers through
        // the registry. It runs once the registry does (and the bus is subscribed).
        let presence_ctx = actix::Context::<Presence>::new();
        let registry = RoomRegistry::new(store.clone(), handle, settings.clone())
            .with_notifier(notifier.clone())
            .with_fanout(fanout)
            .with_presence(presence_ctx.address())
            .start();
        let presence = Presence::new(store.clone(), registry.clone())
            .with_max_members(settings.rooms.presence_max_members)
            .with_directory(directory, stale);
        if let Some(c) = &cluster {
            // Subscribed before serving, so no session misses the events of its first moments.
            c.subscribe(registry.clone().recipient(), registry.clone().recipient())
                .await;
            tracing::info!(node = %c.node(), "cluster mode: seqs, fan-out and presence through Redis");
        }
        let presence = presence_ctx.run(presence);
        std::fs::create_dir_all(&settings.media.dir).map_err(|source| StartupError::Storage {
            dir: settings.media.dir.clone(),
            source,
        })?;
        let media = MediaPool::start(&settings.media, store.clone(), registry.clone());
        media.resume().await;
        crate::actors::uploads::start(
            store.clone(),
            settings.media.dir.clone().into(),
            std::time::Duration::from_secs(settings.media.upload_expiry_secs),
        );
        crate::actors::media_sweep::start(
            store.clone(),
            settings.media.dir.clone().into(),
            std::time::Duration::from_secs(settings.media.unattached_ttl_secs),
        );
        // Sessions' last use (GET /api/me/sessions), noted at each connect, written in batches.
        {
            let store = store.clone();
            crate::actors::periodic::Periodic::new(
                crate::store::token_uses::FLUSH_EVERY,
                "record when sessions were last used",
                move || {
                    let store = store.clone();
                    async move { store.flush_token_uses().await }
                },
            )
            .start();
        }
        let state = AppState {
            store,
            media_urls: signer,
            registry,
            presence,
            persister,
            syncer,
            settings: settings.clone(),
            notifier,
            vapid_public_key,
            media,
            oauth,
            socketio: Default::default(),
            setups: Arc::new(tokio::sync::Semaphore::new(
                settings.ws.setup_concurrency.max(1),
            )),
            limits: Arc::new(crate::limits::Limits::new(&settings.limits)),
            passwords: crate::passwords::PasswordPool::start(
                settings.auth.hash_threads,
                settings.auth.hash_queue,
            ),
            search,
            shutdown: Shutdown::new(),
            mail: crate::push::mail::MailGateway::new(
                &settings.mail,
                crate::push::try_http_client(&settings.push)?,
            ),
        };
        let limits = Arc::downgrade(&state.limits);
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(LIMITS_SWEEP);
            every.tick().await;
            loop {
                every.tick().await;
                match limits.upgrade() {
                    Some(l) => l.sweep(),
                    None => return,
                }
            }
        });

        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?
            .port();
        let data = web::Data::new(state.clone());
        let socketio = web::Data::new(state.socketio_deps());
        let gate = state.shutdown.clone();
        let static_dir = settings.server.static_dir.clone();
        let upgrades = http::upgrade_routes(state.clone());
        // actix-web's HttpServer, plus the upgrade service: WebSocket requests leave actix-web
        // with their socket (see `crate::websocket`).
        let mut server = actix_server::Server::build()
            .listen("chat", listener, move || {
                let app = App::new()
                    .app_data(gate.clone())
                    .wrap(actix_web::middleware::from_fn(shutdown::gate))
                    .wrap(http::security_headers())
                    .wrap(tracing_actix_web::TracingLogger::<
                        crate::telemetry::RedactedRootSpan,
                    >::new())
                    .app_data(data.clone())
                    .app_data(socketio.clone())
                    .configure(http::routes)
                    .service(http::static_files(&static_dir))
                    .into_factory()
                    .map_err(|e: actix_web::Error| e.error_response());
                HttpService::build()
                    .upgrade(crate::websocket::upgrade::service(upgrades.clone()))
                    .finish(map_config(app, |_| AppConfig::default()))
                    .tcp()
            })
            .map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        // Signals start `crate::shutdown`'s sequence, which stops the server at its end.
        server = server.disable_signals();
        let mode = if state.syncer.is_some() {
            "redis write buffer"
        } else {
            "embedded"
        };
        tracing::info!(port, database = %redact(&settings.database.url), mode, "chat server listening");
        Ok(Self {
            port,
            server: server.run(),
            state,
            owner,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state, for tests that drive actors beside the HTTP server.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// A handle to stop the HTTP server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped: SIGTERM or SIGINT start a graceful shutdown (`crate::shutdown`),
    /// the handle stops at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        // Its own task: the server has to keep running while the shutdown sequence drives it.
        let mut serving = actix_web::rt::spawn(self.server);
        let stopped = tokio::select! {
            stopped = &mut serving => stopped,
            sig = shutdown::signal() => {
                tracing::info!(signal = sig, "shutdown: signal received");
                let stages = shutdown::Stages {
                    server: handle,
                    presence: self.state.registry.clone().recipient(),
                    rooms: self.state.registry.clone().recipient(),
                    persister: self.state.persister.clone().recipient(),
                    syncer: self.state.syncer.clone().map(Addr::recipient),
                    database: self.state.store.db.clone(),
                };
                let timeout = Duration::from_millis(self.state.settings.server.shutdown_timeout_ms);
                self.state.shutdown.run(stages, timeout).await;
                serving.await
            }
        };
        let stopped = stopped.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some((buffer, me, released)) = &self.owner {
            released.store(true, Ordering::Relaxed);
            if let Err(e) = buffer.release_owner(me).await {
                tracing::warn!(error = %e, "could not give up the Redis prefix lease");
            }
        }
        stopped
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
