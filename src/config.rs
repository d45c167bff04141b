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
    pub cluster: ClusterSettings,
    pub media: MediaSettings,
    pub push: PushSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub ws: WsSettings,
    pub socketio: SocketIoSettings,
    pub rooms: RoomSettings,
    pub people: PeopleSettings,
    pub oauth: OAuthSettings,
    pub log: LogSettings,
    pub search: SearchSettings,
    pub verification: VerificationSettings,
    pub mail: MailSettings,
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
    /// Folder of the web client and admin pages, served at `/`.
    pub static_dir: String,
    /// Client addresses that may read `/metrics` without a token.
    pub metrics_addresses: Vec<String>,
    /// When set, `/metrics` also answers `Authorization: Bearer` with this token, from anywhere.
    pub metrics_token: Secret,
    /// Longest a graceful shutdown (SIGTERM, SIGINT) takes, in milliseconds: connections get
    /// half of it to answer what they received, then rooms, the Persister and the Syncer drain
    /// in what is left (see `crate::shutdown`).
    pub shutdown_timeout_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            allowed_origins: vec![],
            workers: 0,
            room_threads: 0,
            static_dir: "static".into(),
            metrics_addresses: vec!["127.0.0.1".into(), "::1".into()],
            metrics_token: Secret::default(),
            shutdown_timeout_ms: 10_000,
        }
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH?mode=rwc` or `mysql://user:pass@host:port/db`.
    pub url: String,
    /// Connection pool size; 0 = 8 for SQLite, 32 for MariaDB/MySQL.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/chat.db?mode=rwc".into(),
            max_connections: 0,
        }
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
    /// Longest life (s) of an entry of the connect cache in Redis (a token's user and settings,
    /// whom a user's presence goes to); any change to accounts, tokens, memberships or blocks
    /// invalidates every entry at once. 0: no cache, every connect asks the database.
    pub cache_ttl_secs: u64,
    /// A plain (not clustered) server holds the prefix with a lease this long (ms), renewed every
    /// third of it; another plain server, or a cluster node, refuses to start on the prefix while
    /// it is held (see `store::owner`).
    pub owner_ttl_ms: u64,
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
            cache_ttl_secs: crate::store::DEFAULT_CACHE_TTL_SECS,
            owner_ttl_ms: 10_000,
            debug_crash_after_commit: false,
        }
    }
}

/// `[search]`: message search (`GET /api/search`) and its index.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SearchSettings {
    /// Index messages and answer `GET /api/search`; false: nothing is indexed and the endpoint
    /// answers 503.
    pub enabled: bool,
    /// Index directory; empty = `search` beside `media.dir` (in cluster mode `search-NODE`: every
    /// node keeps its own index).
    pub dir: String,
    /// How often new writes are committed to the index (ms): a message is searchable about this
    /// long after its ack.
    pub commit_interval_ms: u64,
    /// Memory the index writer buffers before it writes a segment (MB, 15 to 2000).
    pub writer_memory_mb: usize,
    /// After a restart the index catches up on what changed since its last commit, starting this
    /// much earlier (ms) to cover other nodes' clocks and writes that were in flight.
    pub catchup_slack_ms: u64,
    /// Nice value (0 to 19) of the indexing threads, so that under load indexing waits for acks
    /// and deliveries instead of taking their CPU (search then lags behind a little).
    pub indexer_nice: i32,
    /// Most live changes queued for the indexer (it runs at a low priority and falls behind
    /// when every core is busy). Past this, new writes are not queued; a catch-up from the
    /// database and the Redis buffer indexes them once the indexer is idle again.
    pub max_backlog: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: String::new(),
            commit_interval_ms: 500,
            writer_memory_mb: 32,
            catchup_slack_ms: 120_000,
            indexer_nice: 10,
            max_backlog: 100_000,
        }
    }
}

/// `[cluster]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    /// Several server processes share `redis.url` and `database.url` (needs Redis).
    pub enabled: bool,
    /// This node's name; empty = `redis.consumer` (itself defaulting to host name and bind
    /// address). Unique per node and stable across restarts.
    pub node_id: String,
    /// How often a node renews its presence key and sweeps dead nodes, in milliseconds.
    pub heartbeat_ms: u64,
    /// A node whose key was not renewed for this long is presumed dead, in milliseconds.
    pub node_ttl_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            node_id: String::new(),
            heartbeat_ms: 1000,
            node_ttl_ms: 5000,
        }
    }
}

/// `[media]`: defined by the media crate, whose functions take it.
pub use chat_media::MediaSettings;

/// `[push]` (with `[push.fcm]`, `[push.sms]`) and `[mail]`: defined by the push crate, whose
/// clients take them; `Secret` too (every configured secret, most of them these services' keys).
pub use chat_push::settings::{FcmSettings, MailSettings, PushSettings, Secret, SmsSettings};

/// `[auth]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How long a login token stays valid, in seconds.
    pub token_ttl_secs: i64,
    /// Shortest accepted password, in characters.
    pub min_password_len: usize,
    /// Threads that hash and check passwords (Argon2id); 0 = one per core.
    pub hash_threads: usize,
    /// Passwords waiting for a hashing thread; beyond it a request gets 503 with `Retry-After`.
    pub hash_queue: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            token_ttl_secs: 30 * 24 * 3600,
            min_password_len: 8,
            hash_threads: 0,
            hash_queue: 64,
        }
    }
}

/// A rate limit: `burst` at once, then one more every `period_ms` (GCRA, as in `governor`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub period_ms: u64,
}

impl Rate {
    const fn new(burst: u32, period_ms: u64) -> Self {
        Self { burst, period_ms }
    }
}

/// `[limits]`: request rate limits (429 with `Retry-After` beyond them).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct LimitSettings {
    /// Client addresses the per-address limits do not apply to (a load generator, a trusted
    /// gateway).
    pub exempt_addresses: Vec<String>,
    /// Login attempts from one address (IPv6: one /64), whatever the account.
    pub login_per_address: Rate,
    /// Login attempts from one address at one account.
    pub login_per_address_account: Rate,
    /// Login attempts at one account from addresses that have not signed in to it before.
    pub login_per_account: Rate,
    /// Registrations from one address.
    pub register_per_address: Rate,
    /// Uploads (`POST /api/media`) per user.
    pub uploads_per_user: Rate,
    /// Push subscriptions saved (`POST /api/push/subscriptions`) per user.
    pub push_subscriptions_per_user: Rate,
    /// User searches (`GET /api/users?q=`) and message searches (`GET /api/search`) per user.
    pub search_per_user: Rate,
    /// Address-book matches (`POST /api/contacts/match`) per user.
    pub contact_match_per_user: Rate,
    /// Verification codes asked for (`POST /api/me/{phone,email}/verify`) per user.
    pub verify_per_user: Rate,
    /// Verification codes asked for per phone number or e-mail address, whoever asks.
    pub verify_per_target: Rate,
    /// Codes entered (`POST /api/me/{phone,email}/confirm`) per user, right or wrong.
    pub verify_confirm_per_user: Rate,
    /// New Engine.IO connections (`/socket.io/` handshakes, before any login) from one address.
    pub socketio_handshakes_per_address: Rate,
    /// Admin bootstrap attempts (`POST /api/admin/bootstrap`), per address and per account.
    pub admin_bootstrap: Rate,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            exempt_addresses: vec![],
            login_per_address: Rate::new(30, 10_000),
            login_per_address_account: Rate::new(6, 60_000),
            login_per_account: Rate::new(20, 60_000),
            register_per_address: Rate::new(20, 30_000),
            uploads_per_user: Rate::new(60, 1_000),
            push_subscriptions_per_user: Rate::new(60, 10_000),
            search_per_user: Rate::new(60, 500),
            contact_match_per_user: Rate::new(10, 60_000),
            verify_per_user: Rate::new(5, 60_000),
            verify_per_target: Rate::new(3, 60_000),
            verify_confirm_per_user: Rate::new(10, 60_000),
            socketio_handshakes_per_address: Rate::new(60, 1_000),
            admin_bootstrap: Rate::new(5, 60_000),
        }
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
    /// Frames queued toward one client (in its outlet, or waiting for its socket) before it is
    /// dropped as too slow.
    pub outbox_capacity: usize,
    /// Sustained client frames per second before `rate_limited`.
    pub rate_per_sec: f64,
    /// Burst of client frames allowed above the sustained rate.
    pub rate_burst: f64,
    /// Connections set up at once (authentication and the session's lookups up to `hello`); more
    /// wait their turn, so a crowd reconnecting at once neither floods the database pool nor
    /// delays the frames of the sessions already open.
    pub setup_concurrency: usize,
    /// Most WebSocket sessions one user may have open on a node; another `/ws` connect gets 429.
    pub max_sessions_per_user: usize,
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
            setup_concurrency: 64,
            max_sessions_per_user: 32,
        }
    }
}

/// `[socketio]`: the Socket.IO v5 / Engine.IO v4 endpoint at `/socket.io/`, for clients written
/// against the server this one replaces. Frame limits, rate limits and the outbox bound of `[ws]`
/// apply to its sessions too.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SocketIoSettings {
    /// Serve `/socket.io/` at all.
    pub enabled: bool,
    /// Milliseconds between Engine.IO pings (advertised as `pingInterval`).
    pub ping_interval_ms: u64,
    /// Milliseconds a client has to answer a ping before it is dropped (`pingTimeout`).
    pub ping_timeout_ms: u64,
    /// Largest Engine.IO payload accepted: a polling POST body (beyond it: 413 and the connection
    /// closes) or a WebSocket message (beyond it: close 1009). Advertised as `maxPayload`.
    pub max_payload: usize,
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
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
    /// the store). Every active room fills its window, so this times the active rooms is memory.
    pub dedupe_window: usize,
    /// Receipts (delivered, and read shared with others) only in rooms up to this many members.
    pub receipts_max_members: usize,
    /// Longest wait (ms) of a delivered mark to be written together with other rooms' marks and
    /// writes (one append or transaction for many, instead of one per message delivered); its
    /// `delivered` receipt follows once written. 0 writes each at once.
    pub delivered_linger_ms: u64,
    /// Presence changes are pushed (`presence` frames) to the members of dms and of groups up to
    /// this many members; members of larger groups ask `GET /api/presence` (a room of 1,000 would
    /// otherwise cost 999 frames for every connect and disconnect in it).
    pub presence_max_members: usize,
    /// Unread counts (in `hello` and `GET /api/rooms`) are exact up to this many and stop there.
    pub unread_count_max: u64,
    /// Pending invitations one group may have (people whose `privacy.group_adds` asks to be
    /// invited); beyond it, inviting more gets 409 until some accept or decline.
    pub max_pending_invitations_per_group: u64,
    /// Pending invitations one inviter may have out, across groups.
    pub max_pending_invitations_per_inviter: u64,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            idle_secs: 300,
            typing_ttl_secs: 6,
            max_body_chars: 8000,
            max_members: 10_000,
            sync_max_per_room: 1000,
            dedupe_window: 256,
            receipts_max_members: 50,
            delivered_linger_ms: 20,
            presence_max_members: 100,
            unread_count_max: 100,
            max_pending_invitations_per_group: 50,
            max_pending_invitations_per_inviter: 100,
        }
    }
}

/// `[verification]`: codes that prove a phone number or e-mail address is the account's.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct VerificationSettings {
    /// How long a code can be entered, in seconds.
    pub code_ttl_secs: u64,
    /// Wrong codes accepted before the code is dropped (a new one must be asked for).
    pub max_attempts: u32,
    /// Text of the SMS or mail carrying the code; `{code}` is the code.
    pub code_text: String,
    /// Subject of the mail carrying the code.
    pub mail_subject: String,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            code_ttl_secs: 600,
            max_attempts: 5,
            code_text: "Your chat verification code: {code}".into(),
            mail_subject: "Your chat verification code".into(),
        }
    }
}

/// `[people]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PeopleSettings {
    /// Region (ISO 3166 code, e.g. `US`, `DE`) assumed for phone numbers written without a
    /// country code, when normalising to E.164.
    pub default_region: String,
    /// Most recipients of one `send_many` or broadcast list.
    pub max_broadcast: usize,
}

impl Default for PeopleSettings {
    fn default() -> Self {
        Self {
            default_region: "US".into(),
            max_broadcast: 256,
        }
    }
}

/// `[oauth]`: sign-in with Facebook and Twitter/X accounts (OAuth 2.0). A provider without a
/// `client_id` is not offered.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct OAuthSettings {
    /// This server's public origin (`https://chat.example.com`), from which the redirect URIs
    /// `{public_url}/api/auth/oauth/{provider}/callback` are built; register those with the
    /// providers. Empty: taken from each request's scheme and `Host`.
    pub public_url: String,
    /// How long a started sign-in stays valid, in seconds.
    pub state_ttl_secs: u64,
    /// Timeout of one request to a provider (code exchange, user info), in milliseconds.
    pub request_timeout_ms: u64,
    /// `[oauth.facebook]`
    pub facebook: OAuthProviderSettings,
    /// `[oauth.twitter]`
    pub twitter: OAuthProviderSettings,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            state_ttl_secs: 600,
            request_timeout_ms: 10_000,
            facebook: OAuthProviderSettings::default(),
            twitter: OAuthProviderSettings::default(),
        }
    }
}

/// `[oauth.facebook]`, `[oauth.twitter]`: one provider. Empty URLs and scopes mean the provider's
/// real ones (see `config.toml`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct OAuthProviderSettings {
    /// The app's client id. Empty: this provider is off.
    pub client_id: String,
    /// The app's client secret (or `CHAT__OAUTH__<PROVIDER>__CLIENT_SECRET`).
    pub client_secret: Secret,
    /// A file holding the client secret (used when `client_secret` is empty).
    pub client_secret_file: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// The provider's authorization endpoint (the browser is sent there).
    pub authorize_url: String,
    /// The provider's token endpoint (the code is exchanged there).
    pub token_url: String,
    /// The provider's user-info endpoint (read with the access token).
    pub userinfo_url: String,
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
        Self {
            filter: "info".into(),
        }
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
            None => {
                builder = builder.add_source(config::File::with_name("config.toml").required(false))
            }
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("CHAT")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.allowed_origins")
                    .with_list_parse_key("limits.exempt_addresses")
                    .with_list_parse_key("server.metrics_addresses")
                    .with_list_parse_key("oauth.facebook.scopes")
                    .with_list_parse_key("oauth.twitter.scopes"),
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
        if !(100..=600_000).contains(&self.server.shutdown_timeout_ms) {
            return bad("server.shutdown_timeout_ms must be 100 to 600000 (10 minutes)");
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
        if self.redis.sync_interval_ms == 0
            || self.redis.sync_batch == 0
            || self.redis.max_attempts == 0
        {
            return bad(
                "redis.sync_interval_ms, redis.sync_batch and redis.max_attempts must be positive",
            );
        }
        if self.rooms.delivered_linger_ms > 1000 {
            return bad("rooms.delivered_linger_ms must be 0 to 1000");
        }
        let l = &self.limits;
        for (key, rate) in [
            ("login_per_address", l.login_per_address),
            ("login_per_address_account", l.login_per_address_account),
            ("login_per_account", l.login_per_account),
            ("register_per_address", l.register_per_address),
            ("uploads_per_user", l.uploads_per_user),
            ("push_subscriptions_per_user", l.push_subscriptions_per_user),
            ("search_per_user", l.search_per_user),
            ("contact_match_per_user", l.contact_match_per_user),
            ("verify_per_user", l.verify_per_user),
            ("verify_per_target", l.verify_per_target),
            ("verify_confirm_per_user", l.verify_confirm_per_user),
            (
                "socketio_handshakes_per_address",
                l.socketio_handshakes_per_address,
            ),
            ("admin_bootstrap", l.admin_bootstrap),
        ] {
            if rate.burst == 0 || rate.period_ms == 0 {
                return bad(&format!(
                    "limits.{key} needs a positive burst and period_ms"
                ));
            }
        }
        for (key, list) in [
            ("limits.exempt_addresses", &l.exempt_addresses),
            ("server.metrics_addresses", &self.server.metrics_addresses),
        ] {
            if list
                .iter()
                .any(|a| a.trim().parse::<std::net::IpAddr>().is_err())
            {
                return bad(&format!(
                    "{key} must list IP addresses such as 127.0.0.1 or ::1"
                ));
            }
        }
        if self.search.commit_interval_ms == 0
            || self.search.commit_interval_ms > 1000
            || !(15..=2000).contains(&self.search.writer_memory_mb)
        {
            return bad("search.commit_interval_ms must be 1 to 1000 and search.writer_memory_mb 15 to 2000");
        }
        if !(0..=19).contains(&self.search.indexer_nice) {
            return bad("search.indexer_nice must be 0 to 19");
        }
        if self.auth.hash_queue == 0 {
            return bad("auth.hash_queue must be positive");
        }
        if self.cluster.enabled && self.redis.url.trim().is_empty() {
            return bad("cluster.enabled needs redis.url (the nodes share Redis)");
        }
        if self.cluster.heartbeat_ms == 0 || self.cluster.node_ttl_ms <= self.cluster.heartbeat_ms {
            return bad("cluster.node_ttl_ms must be longer than cluster.heartbeat_ms (> 0)");
        }
        if self
            .people
            .default_region
            .parse::<phonenumber::country::Id>()
            .is_err()
        {
            return bad("people.default_region must be an ISO 3166 region code such as US or DE");
        }
        let m = &self.media;
        if m.max_upload_bytes == 0
            || m.image_max_edge == 0
            || m.thumb_edge == 0
            || m.avatar_size == 0
            || m.avatar_thumb_size == 0
        {
            return bad("media.max_upload_bytes, media.image_max_edge, media.thumb_edge, media.avatar_size and media.avatar_thumb_size must be positive");
        }
        if m.video_max_height < 16
            || m.video_bitrate_kbps == 0
            || m.audio_bitrate_kbps < 6
            || m.video_cpu_used > 16
        {
            return bad("media.video_max_height (>= 16), media.video_bitrate_kbps (> 0), media.audio_bitrate_kbps (>= 6) or media.video_cpu_used (0-16) out of range");
        }
        if !(1..=100).contains(&m.jpeg_quality)
            || m.job_timeout_secs == 0
            || m.url_ttl_secs == 0
            || m.image_max_pixels == 0
            || m.upload_expiry_secs == 0
            || m.unattached_ttl_secs == 0
            || !(0..=19).contains(&m.worker_nice)
        {
            return bad("media.jpeg_quality must be 1-100; media.job_timeout_secs, media.url_ttl_secs, media.image_max_pixels, media.upload_expiry_secs and media.unattached_ttl_secs positive; media.worker_nice 0-19");
        }
        if self.ws.heartbeat_secs == 0 || self.ws.client_timeout_secs <= self.ws.heartbeat_secs {
            return bad("ws.client_timeout_secs must be longer than ws.heartbeat_secs (> 0)");
        }
        let push = &self.push;
        if !["very-low", "low", "normal", "high"].contains(&push.urgency.as_str()) {
            return bad("push.urgency must be very-low, low, normal or high");
        }
        if push.max_attempts == 0
            || push.concurrency == 0
            || push.request_timeout_ms == 0
            || push.coalesce_ms == 0
        {
            return bad("push.max_attempts, push.concurrency, push.request_timeout_ms and push.coalesce_ms must be positive");
        }
        if self.oauth.state_ttl_secs == 0 || self.oauth.request_timeout_ms == 0 {
            return bad("oauth.state_ttl_secs and oauth.request_timeout_ms must be positive");
        }
        if !(push.vapid_subject.starts_with("mailto:") || push.vapid_subject.starts_with("https:"))
        {
            return bad("push.vapid_subject must be a mailto: or https: URL");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A change to the default settings.
    type Tweak = Box<dyn Fn(&mut Settings)>;

    /// The message `validate` gives after `tweak`, or `None` if it accepts the settings.
    fn refusal(tweak: impl FnOnce(&mut Settings)) -> Option<String> {
        let mut s = Settings::default();
        tweak(&mut s);
        s.validate().err().map(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(refusal(|_| {}), None);
    }

    #[test]
    fn each_invalid_value_is_refused_naming_its_key() {
        let no_rate = Rate {
            burst: 0,
            period_ms: 1000,
        };
        let no_period = Rate {
            burst: 1,
            period_ms: 0,
        };
        // (key, a value of it that is refused), each applied to the valid defaults.
        let cases: Vec<(&str, Tweak)> = vec![
            (
                "server.bind",
                Box::new(|s| s.server.bind = "localhost".into()),
            ),
            (
                "database.url",
                Box::new(|s| s.database.url = "postgres://db/chat".into()),
            ),
            ("ws.max_frame_bytes", Box::new(|s| s.ws.max_frame_bytes = 0)),
            (
                "ws.hard_max_frame_bytes",
                Box::new(|s| s.ws.hard_max_frame_bytes = s.ws.max_frame_bytes - 1),
            ),
            ("ws.outbox_capacity", Box::new(|s| s.ws.outbox_capacity = 0)),
            ("ws.rate_per_sec", Box::new(|s| s.ws.rate_per_sec = 0.0)),
            ("ws.rate_burst", Box::new(|s| s.ws.rate_burst = 0.5)),
            ("ws.heartbeat_secs", Box::new(|s| s.ws.heartbeat_secs = 0)),
            (
                "ws.client_timeout_secs",
                Box::new(|s| s.ws.client_timeout_secs = s.ws.heartbeat_secs),
            ),
            (
                "redis.sync_interval_ms",
                Box::new(|s| s.redis.sync_interval_ms = 0),
            ),
            ("redis.sync_batch", Box::new(|s| s.redis.sync_batch = 0)),
            ("redis.max_attempts", Box::new(|s| s.redis.max_attempts = 0)),
            (
                "limits.login_per_address",
                Box::new(move |s| s.limits.login_per_address = no_rate),
            ),
            (
                "limits.login_per_address_account",
                Box::new(move |s| s.limits.login_per_address_account = no_period),
            ),
            (
                "limits.login_per_account",
                Box::new(move |s| s.limits.login_per_account = no_rate),
            ),
            (
                "limits.register_per_address",
                Box::new(move |s| s.limits.register_per_address = no_period),
            ),
            (
                "limits.uploads_per_user",
                Box::new(move |s| s.limits.uploads_per_user = no_rate),
            ),
            (
                "limits.push_subscriptions_per_user",
                Box::new(move |s| s.limits.push_subscriptions_per_user = no_period),
            ),
            (
                "limits.search_per_user",
                Box::new(move |s| s.limits.search_per_user = no_rate),
            ),
            (
                "limits.contact_match_per_user",
                Box::new(move |s| s.limits.contact_match_per_user = no_period),
            ),
            (
                "limits.socketio_handshakes_per_address",
                Box::new(move |s| s.limits.socketio_handshakes_per_address = no_rate),
            ),
            (
                "limits.exempt_addresses",
                Box::new(|s| s.limits.exempt_addresses = vec!["10.0.0.0/8".into()]),
            ),
            (
                "server.metrics_addresses",
                Box::new(|s| s.server.metrics_addresses.push("localhost".into())),
            ),
            (
                "search.commit_interval_ms",
                Box::new(|s| s.search.commit_interval_ms = 0),
            ),
            (
                "search.commit_interval_ms",
                Box::new(|s| s.search.commit_interval_ms = 1001),
            ),
            (
                "search.writer_memory_mb",
                Box::new(|s| s.search.writer_memory_mb = 14),
            ),
            (
                "search.writer_memory_mb",
                Box::new(|s| s.search.writer_memory_mb = 2001),
            ),
            (
                "search.indexer_nice",
                Box::new(|s| s.search.indexer_nice = 20),
            ),
            (
                "rooms.delivered_linger_ms",
                Box::new(|s| s.rooms.delivered_linger_ms = 1001),
            ),
            ("auth.hash_queue", Box::new(|s| s.auth.hash_queue = 0)),
            (
                "redis.url",
                Box::new(|s| {
                    s.cluster.enabled = true;
                    s.redis.url = " ".into();
                }),
            ),
            (
                "cluster.heartbeat_ms",
                Box::new(|s| s.cluster.heartbeat_ms = 0),
            ),
            (
                "cluster.node_ttl_ms",
                Box::new(|s| s.cluster.node_ttl_ms = s.cluster.heartbeat_ms),
            ),
            (
                "people.default_region",
                Box::new(|s| s.people.default_region = "Narnia".into()),
            ),
            (
                "media.max_upload_bytes",
                Box::new(|s| s.media.max_upload_bytes = 0),
            ),
            (
                "media.image_max_edge",
                Box::new(|s| s.media.image_max_edge = 0),
            ),
            ("media.thumb_edge", Box::new(|s| s.media.thumb_edge = 0)),
            ("media.avatar_size", Box::new(|s| s.media.avatar_size = 0)),
            (
                "media.avatar_thumb_size",
                Box::new(|s| s.media.avatar_thumb_size = 0),
            ),
            (
                "media.video_max_height",
                Box::new(|s| s.media.video_max_height = 15),
            ),
            (
                "media.video_bitrate_kbps",
                Box::new(|s| s.media.video_bitrate_kbps = 0),
            ),
            (
                "media.audio_bitrate_kbps",
                Box::new(|s| s.media.audio_bitrate_kbps = 5),
            ),
            (
                "media.video_cpu_used",
                Box::new(|s| s.media.video_cpu_used = 17),
            ),
            ("media.jpeg_quality", Box::new(|s| s.media.jpeg_quality = 0)),
            (
                "media.jpeg_quality",
                Box::new(|s| s.media.jpeg_quality = 101),
            ),
            (
                "media.job_timeout_secs",
                Box::new(|s| s.media.job_timeout_secs = 0),
            ),
            ("media.url_ttl_secs", Box::new(|s| s.media.url_ttl_secs = 0)),
            (
                "media.image_max_pixels",
                Box::new(|s| s.media.image_max_pixels = 0),
            ),
            (
                "media.upload_expiry_secs",
                Box::new(|s| s.media.upload_expiry_secs = 0),
            ),
            (
                "media.unattached_ttl_secs",
                Box::new(|s| s.media.unattached_ttl_secs = 0),
            ),
            ("media.worker_nice", Box::new(|s| s.media.worker_nice = -1)),
            ("media.worker_nice", Box::new(|s| s.media.worker_nice = 20)),
            (
                "push.urgency",
                Box::new(|s| s.push.urgency = "urgent".into()),
            ),
            ("push.max_attempts", Box::new(|s| s.push.max_attempts = 0)),
            ("push.concurrency", Box::new(|s| s.push.concurrency = 0)),
            (
                "push.request_timeout_ms",
                Box::new(|s| s.push.request_timeout_ms = 0),
            ),
            ("push.coalesce_ms", Box::new(|s| s.push.coalesce_ms = 0)),
            (
                "push.vapid_subject",
                Box::new(|s| s.push.vapid_subject = "http://x".into()),
            ),
            (
                "oauth.state_ttl_secs",
                Box::new(|s| s.oauth.state_ttl_secs = 0),
            ),
            (
                "oauth.request_timeout_ms",
                Box::new(|s| s.oauth.request_timeout_ms = 0),
            ),
        ];
        for (key, tweak) in cases {
            let msg = refusal(|s| tweak(s)).unwrap_or_else(|| panic!("{key}: accepted"));
            assert!(msg.contains(key), "{key}: {msg}");
        }
    }

    #[test]
    fn values_at_the_edge_of_their_range_are_accepted() {
        let cases: Vec<Tweak> = vec![
            Box::new(|s| s.search.commit_interval_ms = 1000),
            Box::new(|s| s.search.writer_memory_mb = 15),
            Box::new(|s| s.media.jpeg_quality = 100),
            Box::new(|s| s.media.worker_nice = 19),
            Box::new(|s| s.media.video_cpu_used = 16),
            Box::new(|s| s.limits.exempt_addresses = vec![" ::1 ".into()]),
            Box::new(|s| s.server.metrics_addresses = vec![]),
            Box::new(|s| s.push.vapid_subject = "https://example.com".into()),
        ];
        for (i, tweak) in cases.into_iter().enumerate() {
            assert_eq!(refusal(|s| tweak(s)), None, "case {i}");
        }
    }

    #[test]
    fn a_file_with_a_bad_value_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Settings::load(Some(&path))
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let msg = load("[ws]\nrate_burst = 0\n");
        assert!(msg.contains("ws.rate_burst"), "{msg}");
        let msg = load("[rooms]\nmax_members = \"many\"\n");
        assert!(msg.contains("max_members"), "{msg}");
        let missing = dir.path().join("nope.toml");
        let msg = Settings::load(Some(&missing))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nope.toml"), "{msg}");
    }
}
