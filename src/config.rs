//! Configuration: `config.toml` (or `--config FILE`), every key overridable by an environment
//! variable `CHAT__SECTION__KEY` (for example `CHAT__SERVER__BIND=127.0.0.1:9000`). Every key has
//! a default, so an empty file is a valid configuration. `config.toml` documents each key.

use std::path::Path;

use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub media: MediaSettings,
    pub push: PushSettings,
    pub auth: AuthSettings,
    pub ws: WsSettings,
    pub rooms: RoomSettings,
    pub log: LogSettings,
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// Browser origins allowed to open `/ws` besides the server's own (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Threads that run Room actors; 0 means one per core.
    pub room_threads: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { bind: "127.0.0.1:8080".into(), allowed_origins: vec![], workers: 0, room_threads: 0 }
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH?mode=rwc` or `mysql://user:pass@host:port/db`.
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: "sqlite://data/chat.db?mode=rwc".into(), max_connections: 8 }
    }
}

/// `[redis]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// Empty: no Redis (embedded mode, the Persister commits straight to the database).
    pub url: String,
    /// Prefix of every key this server uses (several deployments can share one Redis).
    pub prefix: String,
    /// How often the Syncer drains the buffer into SQL, in milliseconds.
    pub sync_interval_ms: u64,
    /// Most stream entries (each one write batch) per SQL transaction.
    pub sync_batch: usize,
    /// Entries another consumer has held this long (ms) are claimed (that node is presumed dead).
    pub claim_idle_ms: u64,
    /// Tries before an entry that fails on its own goes to the dead-letter stream.
    pub max_attempts: u32,
    /// This node's consumer name in the group; empty = host name and port. Must be stable across
    /// restarts (so a node replays its own unfinished entries) and unique per node.
    pub consumer: String,
    /// How long a sent message's client id is remembered in Redis for idempotent resends (s).
    pub dedupe_ttl_secs: u64,
    /// Start even if Redis may evict keys or lose acknowledged writes (not for production).
    pub allow_unsafe: bool,
    /// Test-only failpoint: abort the process after a SQL commit, before the stream ack.
    pub debug_crash_after_commit: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            prefix: "chat".into(),
            sync_interval_ms: 100,
            sync_batch: 500,
            claim_idle_ms: 30_000,
            max_attempts: 5,
            consumer: String::new(),
            dedupe_ttl_secs: 7 * 24 * 3600,
            allow_unsafe: false,
            debug_crash_after_commit: false,
        }
    }
}

/// `[media]`
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct MediaSettings {
    /// Where uploads and their processed forms are stored.
    pub dir: String,
    /// Largest accepted upload in bytes; a larger one gets 413 and nothing is kept.
    pub max_upload_bytes: u64,
    /// Threads of the MediaWorker pool; 0 means one per core.
    pub workers: usize,
    /// Images are scaled down so that their longer edge is at most this many pixels.
    pub image_max_edge: u32,
    /// Longer edge of image thumbnails and video posters, in pixels.
    pub thumb_edge: u32,
    /// Edge of the two square avatar sizes, in pixels (content, then thumbnail).
    pub avatar_size: u32,
    pub avatar_thumb_size: u32,
    /// Images with more pixels than this are refused before decoding (decompression bombs).
    pub image_max_pixels: u64,
    /// JPEG quality of re-encoded images and thumbnails (1-100).
    pub jpeg_quality: u8,
    /// Videos are scaled down to at most this height, in pixels.
    pub video_max_height: u32,
    /// Highest video bitrate of a transcoded video, in kbit/s.
    pub video_bitrate_kbps: u32,
    /// Opus bitrate of transcoded audio (voice notes and video soundtracks), in kbit/s.
    pub audio_bitrate_kbps: u32,
    /// libvpx `cpu-used` (0-16): higher is faster and a little worse.
    pub video_cpu_used: u32,
    /// A job running longer than this many seconds fails.
    pub job_timeout_secs: u64,
    /// A processed output larger than this many bytes fails the job.
    pub max_output_bytes: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Signed media URLs stay valid between this many seconds and twice as long.
    pub url_ttl_secs: u64,
    /// Key that signs media URLs. Empty: a random key per process start (URLs handed out before
    /// a restart stop working; give several server processes the same key).
    pub url_secret: String,
}

impl std::fmt::Debug for MediaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything but the URL key.
        f.debug_struct("MediaSettings")
            .field("dir", &self.dir)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("workers", &self.workers)
            .field("url_secret", &if self.url_secret.is_empty() { "" } else { "***" })
            .finish_non_exhaustive()
    }
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            dir: "data/media".into(),
            max_upload_bytes: 100 * 1024 * 1024,
            workers: 0,
            image_max_edge: 2048,
            thumb_edge: 320,
            avatar_size: 512,
            avatar_thumb_size: 96,
            image_max_pixels: 50_000_000,
            jpeg_quality: 82,
            video_max_height: 720,
            video_bitrate_kbps: 1500,
            audio_bitrate_kbps: 64,
            video_cpu_used: 4,
            job_timeout_secs: 600,
            max_output_bytes: 512 * 1024 * 1024,
            max_attachments: 10,
            url_ttl_secs: 3600,
            url_secret: String::new(),
        }
    }
}

/// `[push]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PushSettings {
    /// Accept plain-http Web Push endpoints (only for tests on loopback).
    pub allow_http_endpoints: bool,
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How long a login token stays valid, in seconds.
    pub token_ttl_secs: i64,
    /// Shortest accepted password, in characters.
    pub min_password_len: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { token_ttl_secs: 30 * 24 * 3600, min_password_len: 8 }
    }
}

/// `[ws]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WsSettings {
    /// Largest frame accepted as a request; a larger one gets `too_large` and the session stays.
    pub max_frame_bytes: usize,
    /// Largest frame read at all; beyond it the connection is closed with 1009.
    pub hard_max_frame_bytes: usize,
    /// Seconds between server pings.
    pub heartbeat_secs: u64,
    /// A client silent for this many seconds is disconnected.
    pub client_timeout_secs: u64,
    /// Frames queued toward one client before it is dropped as too slow.
    pub outbox_capacity: usize,
    /// Sustained client frames per second before `rate_limited`.
    pub rate_per_sec: f64,
    /// Burst of client frames allowed above the sustained rate.
    pub rate_burst: f64,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            hard_max_frame_bytes: 1024 * 1024,
            heartbeat_secs: 15,
            client_timeout_secs: 45,
            outbox_capacity: 1024,
            rate_per_sec: 50.0,
            rate_burst: 200.0,
        }
    }
}

/// `[rooms]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RoomSettings {
    /// A room actor with no live session and no activity for this long is stopped.
    pub idle_secs: u64,
    /// A `typing: start` expires after this many seconds without a refresh.
    pub typing_ttl_secs: u64,
    /// Longest message body, in characters.
    pub max_body_chars: usize,
    /// Most members a group may have.
    pub max_members: usize,
    /// Most messages one `sync` returns per room (the `synced` frame lists rooms cut short).
    pub sync_max_per_room: u64,
    /// Recent `client_id`s each room remembers for idempotent resends (older ones are checked in
    /// the database).
    pub dedupe_window: usize,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            idle_secs: 300,
            typing_ttl_secs: 6,
            max_body_chars: 8000,
            max_members: 10_000,
            sync_max_per_room: 1000,
            dedupe_window: 4096,
        }
    }
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `tracing` filter used when `RUST_LOG` is not set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { filter: "info".into() }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    Missing(String),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Value(String),
}

impl Settings {
    /// Reads `path` (which must exist when given explicitly; `./config.toml` may be absent) and
    /// applies `CHAT__*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        match path {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigError::Missing(p.display().to_string()));
                }
                builder = builder.add_source(config::File::from(p).required(true));
            }
            None => builder = builder.add_source(config::File::with_name("config.toml").required(false)),
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("CHAT")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.allowed_origins"),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Value(m.to_owned()));
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return bad("server.bind must be an address like 127.0.0.1:8080");
        }
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("mysql:")) {
            return bad("database.url must start with sqlite: or mysql:");
        }
        if self.ws.max_frame_bytes == 0 || self.ws.hard_max_frame_bytes < self.ws.max_frame_bytes {
            return bad("ws.hard_max_frame_bytes must be at least ws.max_frame_bytes (> 0)");
        }
        if self.ws.outbox_capacity == 0 || self.ws.rate_per_sec <= 0.0 || self.ws.rate_burst < 1.0 {
            return bad("ws.outbox_capacity, ws.rate_per_sec and ws.rate_burst must be positive");
        }
        if self.redis.sync_interval_ms == 0 || self.redis.sync_batch == 0 || self.redis.max_attempts == 0 {
            return bad("redis.sync_interval_ms, redis.sync_batch and redis.max_attempts must be positive");
        }
        let m = &self.media;
        if m.max_upload_bytes == 0 || m.image_max_edge == 0 || m.thumb_edge == 0 || m.avatar_size == 0 || m.avatar_thumb_size == 0 {
            return bad("media.max_upload_bytes, media.image_max_edge, media.thumb_edge and the avatar sizes must be positive");
        }
        if m.video_max_height < 16 || m.video_bitrate_kbps == 0 || m.audio_bitrate_kbps < 6 || m.video_cpu_used > 16 {
            return bad("media.video_max_height (>= 16), media.video_bitrate_kbps (> 0), media.audio_bitrate_kbps (>= 6) or media.video_cpu_used (0-16) out of range");
        }
        if !(1..=100).contains(&m.jpeg_quality) || m.job_timeout_secs == 0 || m.url_ttl_secs == 0 || m.image_max_pixels == 0 {
            return bad("media.jpeg_quality must be 1-100; media.job_timeout_secs, media.url_ttl_secs and media.image_max_pixels positive");
        }
        if self.ws.heartbeat_secs == 0 || self.ws.client_timeout_secs <= self.ws.heartbeat_secs {
            return bad("ws.client_timeout_secs must be longer than ws.heartbeat_secs (> 0)");
        }
        Ok(())
    }
}
