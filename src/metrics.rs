//! Process-wide counters and gauges, rendered at `/metrics` in the Prometheus text format.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Open WebSocket sessions.
pub static CONNECTIONS: AtomicI64 = AtomicI64::new(0);
/// Room actors running.
pub static ACTIVE_ROOMS: AtomicI64 = AtomicI64::new(0);
/// Messages acked to their senders.
pub static MESSAGES_ACCEPTED: AtomicU64 = AtomicU64::new(0);
/// Frames delivered to sessions.
pub static FRAMES_DELIVERED: AtomicU64 = AtomicU64::new(0);
/// Sessions dropped because they did not read fast enough.
pub static SLOW_CONSUMERS_DROPPED: AtomicU64 = AtomicU64::new(0);
/// Write batches committed by the Persister.
pub static PERSIST_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Write batches that failed.
pub static PERSIST_FAILURES: AtomicU64 = AtomicU64::new(0);
/// Entries in the write buffer not yet in the SQL database (0 in embedded mode).
pub static WRITE_BUFFER_DEPTH: AtomicI64 = AtomicI64::new(0);
/// Age in milliseconds of the oldest entry not yet in the SQL database (0 in embedded mode).
pub static SYNC_LAG_MS: AtomicI64 = AtomicI64::new(0);
/// Sync rounds that committed a batch to SQL.
pub static SYNC_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Writes copied from the buffer into SQL.
pub static SYNC_ROWS: AtomicU64 = AtomicU64::new(0);
/// Entries in the dead-letter stream.
pub static DEAD_LETTERS: AtomicI64 = AtomicI64::new(0);
/// Media uploads waiting for or being processed by the MediaWorker pool.
pub static MEDIA_QUEUE: AtomicI64 = AtomicI64::new(0);
/// Client frames refused by the rate limiter.
pub static RATE_LIMITED: AtomicU64 = AtomicU64::new(0);
/// HTTP requests refused by a `[limits]` rate limit (429).
pub static HTTP_THROTTLED: AtomicU64 = AtomicU64::new(0);
/// Password hashing jobs refused because the hashing queue was full (503).
pub static PASSWORD_JOBS_SHED: AtomicU64 = AtomicU64::new(0);

/// Messages in this node's search index (at its last commit).
pub static SEARCH_DOCUMENTS: AtomicI64 = AtomicI64::new(0);
/// 1 while the search index is being rebuilt or caught up from the database.
pub static SEARCH_CATCHING_UP: AtomicI64 = AtomicI64::new(0);
/// Live changes the search indexer dropped because it was `search.max_backlog` behind (a
/// catch-up indexes their writes later).
pub static SEARCH_DROPPED: AtomicI64 = AtomicI64::new(0);
/// Message searches answered.
pub static SEARCHES: AtomicU64 = AtomicU64::new(0);

/// Push outcomes of one channel.
pub struct ChannelCounters {
    /// Accepted by the push service (or SMS gateway).
    pub sent: AtomicU64,
    /// Given up on (refused, or still failing after the last try).
    pub failed: AtomicU64,
    /// Subscriptions deleted because the service said they are gone.
    pub pruned: AtomicU64,
}

impl ChannelCounters {
    const fn new() -> Self {
        Self {
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
        }
    }
}

/// Web Push deliveries.
pub static PUSH_WEBPUSH: ChannelCounters = ChannelCounters::new();
/// FCM deliveries.
pub static PUSH_FCM: ChannelCounters = ChannelCounters::new();
/// SMS texts.
pub static PUSH_SMS: ChannelCounters = ChannelCounters::new();

/// Adds one to a counter.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Renders every metric in the Prometheus text exposition format.
pub fn render() -> String {
    let g = |a: &AtomicI64| a.load(Ordering::Relaxed);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let rows: [(&str, &str, &str, String); 16] = [
        (
            "chat_http_throttled_total",
            "counter",
            "HTTP requests refused by a rate limit",
            c(&HTTP_THROTTLED).to_string(),
        ),
        (
            "chat_password_jobs_shed_total",
            "counter",
            "Logins and sign-ups refused because password hashing was saturated",
            c(&PASSWORD_JOBS_SHED).to_string(),
        ),
        (
            "chat_connections",
            "gauge",
            "Open WebSocket sessions",
            g(&CONNECTIONS).to_string(),
        ),
        (
            "chat_active_rooms",
            "gauge",
            "Room actors running",
            g(&ACTIVE_ROOMS).to_string(),
        ),
        (
            "chat_messages_accepted_total",
            "counter",
            "Messages acked to senders",
            c(&MESSAGES_ACCEPTED).to_string(),
        ),
        (
            "chat_frames_delivered_total",
            "counter",
            "Frames delivered to sessions",
            c(&FRAMES_DELIVERED).to_string(),
        ),
        (
            "chat_slow_consumers_dropped_total",
            "counter",
            "Sessions dropped for not reading",
            c(&SLOW_CONSUMERS_DROPPED).to_string(),
        ),
        (
            "chat_persist_batches_total",
            "counter",
            "Write batches committed",
            c(&PERSIST_BATCHES).to_string(),
        ),
        (
            "chat_persist_failures_total",
            "counter",
            "Write batches that failed",
            c(&PERSIST_FAILURES).to_string(),
        ),
        (
            "chat_write_buffer_depth",
            "gauge",
            "Writes buffered and not yet in SQL",
            g(&WRITE_BUFFER_DEPTH).to_string(),
        ),
        (
            "chat_sync_lag_seconds",
            "gauge",
            "Age of the oldest write not yet in SQL",
            format!("{:.3}", g(&SYNC_LAG_MS) as f64 / 1000.0),
        ),
        (
            "chat_sync_batches_total",
            "counter",
            "Buffer batches committed to SQL",
            c(&SYNC_BATCHES).to_string(),
        ),
        (
            "chat_sync_rows_total",
            "counter",
            "Writes copied from the buffer into SQL",
            c(&SYNC_ROWS).to_string(),
        ),
        (
            "chat_dead_letters",
            "gauge",
            "Entries in the dead-letter stream",
            g(&DEAD_LETTERS).to_string(),
        ),
        (
            "chat_media_queue",
            "gauge",
            "Media uploads queued or processing",
            g(&MEDIA_QUEUE).to_string(),
        ),
        (
            "chat_rate_limited_total",
            "counter",
            "Client frames refused by the rate limiter",
            c(&RATE_LIMITED).to_string(),
        ),
    ];
    let mut out = String::with_capacity(2048);
    for (name, kind, help, value) in rows {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    push_counter(
        &mut out,
        "chat_push_sent_total",
        "Pushes accepted by the push service, per channel",
        |c| &c.sent,
    );
    push_counter(
        &mut out,
        "chat_push_failed_total",
        "Pushes given up on, per channel",
        |c| &c.failed,
    );
    push_counter(
        &mut out,
        "chat_push_pruned_total",
        "Subscriptions deleted as gone, per channel",
        |c| &c.pruned,
    );
    search_rows(&mut out);
    out
}

/// The search index's rows.
fn search_rows(out: &mut String) {
    for (name, kind, help, value) in [
        (
            "chat_search_documents",
            "gauge",
            "Messages in this node's search index",
            SEARCH_DOCUMENTS.load(Ordering::Relaxed).to_string(),
        ),
        (
            "chat_search_catching_up",
            "gauge",
            "1 while the search index is rebuilt or caught up from the database",
            SEARCH_CATCHING_UP.load(Ordering::Relaxed).to_string(),
        ),
        (
            "chat_search_dropped_total",
            "counter",
            "Live changes the search indexer dropped past search.max_backlog (indexed later by a catch-up)",
            SEARCH_DROPPED.load(Ordering::Relaxed).to_string(),
        ),
        (
            "chat_searches_total",
            "counter",
            "Message searches answered",
            SEARCHES.load(Ordering::Relaxed).to_string(),
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
}

/// One push counter, labelled by channel.
fn push_counter(
    out: &mut String,
    name: &str,
    help: &str,
    field: fn(&ChannelCounters) -> &AtomicU64,
) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
    for (channel, counters) in [
        ("webpush", &PUSH_WEBPUSH),
        ("fcm", &PUSH_FCM),
        ("sms", &PUSH_SMS),
    ] {
        out.push_str(&format!(
            "{name}{{channel=\"{channel}\"}} {}\n",
            field(counters).load(Ordering::Relaxed)
        ));
    }
}
