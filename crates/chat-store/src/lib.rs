//! The chat server's storage: reads and writes through SeaORM (SQLite or MariaDB) and the Redis
//! write buffer (`buffer`). `Store` wraps the connection pool; each submodule covers one domain.
//! Chat writes (messages, memberships, read marks) go through `writes::WriteOp`, applied only by
//! the Persister (embedded mode) or the Syncer (buffered mode).
//!
//! A layer of the workspace: it builds on `chat-protocol` (its vocabulary only: ids, kinds such
//! as `RoomKind` and `MediaStatus`, the settings document), `chat-media-types` (media kinds,
//! processing outcomes; not the codecs of `chat-media`), `entities` and `migration`, and knows
//! nothing of the server (which re-exports it as `chat_server::store`). Reads return its own
//! types ([`messages::Message`], [`media::MediaItem`], [`rooms::RoomOverview`],
//! [`invitations::InvitationView`], ...); the server gives them their wire form.
//! Failures are its own: [`StoreError`], and the domain refusals of some calls
//! ([`media::MediaUseError`], [`verify::ClaimError`], ...), which the server maps to its
//! `ChatError`.

pub mod admin;
pub mod apply;
pub mod buffer;
pub mod cache;
mod consent;
pub mod counters;
mod hello;
pub mod invitations;
pub mod media;
pub mod messages;
pub mod oauth;
pub mod owner;
pub mod people;
pub mod pins;
pub mod purpose;
pub mod push;
pub mod quotes;
pub mod reactions;
pub mod rooms;
pub mod search;
pub mod stars;
pub mod token_uses;
pub mod uploads;
pub mod users;
pub mod verify;
pub mod writes;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};

pub use writes::{NewMessage, WriteOp};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (duplicate username, seq or client id).
    #[error("already exists: {0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Buffer(#[from] buffer::BufferError),
}

impl StoreError {
    /// Maps unique-constraint violations to `Conflict`, everything else to `Db`.
    pub fn classify(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(m)) => StoreError::Conflict(m),
            _ => StoreError::Db(e),
        }
    }
}

/// `redis.cache_ttl_secs`'s default.
pub const DEFAULT_CACHE_TTL_SECS: u64 = 86_400;

/// Handle on the SQL database and, in production mode, the Redis write buffer whose contents
/// every read merges in (read your writes); cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: DatabaseConnection,
    pub buffer: Option<buffer::RedisBuffer>,
    /// Longest life of a connect-cache entry, in seconds; 0 = no cache (see `cache`).
    pub cache_ttl_secs: u64,
    /// Told of every durable write (the search index; see `search::WriteObserver`).
    pub observer: Option<std::sync::Arc<dyn search::WriteObserver>>,
    /// Sessions used since the last flush (see `token_uses`).
    pub token_uses: token_uses::TokenUses,
}

impl Store {
    /// Connects, prepares SQLite (directory, WAL) and applies pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        if let Some(path) = sqlite_path(url) {
            if let Some(dir) = std::path::Path::new(&path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Db(DbErr::Custom(format!(
                            "cannot create {}: {e}",
                            dir.display()
                        )))
                    })?;
                }
            }
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        let pool = match (max_connections, sqlite_path(url).is_some()) {
            (0, true) => 8,
            (0, false) => 32,
            (n, _) => n,
        };
        opts.max_connections(pool)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db = Database::connect(opts).await?;
        if sqlite_path(url).is_some() {
            // WAL lets readers run beside the single writer; synchronous stays FULL (the
            // default) so a commit is on disk before the Persister acks.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Migrator::up(&db, None).await?;
        Ok(Self {
            db,
            buffer: None,
            cache_ttl_secs: 0,
            observer: None,
            token_uses: Default::default(),
        })
    }

    /// The same store, with writes buffered in Redis (and the connect cache there, entries
    /// living at most a day; see `with_cache_ttl`).
    pub fn with_buffer(mut self, buffer: buffer::RedisBuffer) -> Self {
        self.buffer = Some(buffer);
        self.cache_ttl_secs = DEFAULT_CACHE_TTL_SECS;
        self
    }

    /// The same store, keeping connect-cache entries at most `secs` seconds (0: no cache).
    pub fn with_cache_ttl(mut self, secs: u64) -> Self {
        self.cache_ttl_secs = secs;
        self
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}

/// The file path of a `sqlite:` URL, if it names a file.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}
