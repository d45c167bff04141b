//! The Redis write buffer (production mode).
//!
//! Every chat-write batch becomes one entry of a Redis Stream (`{prefix}:writes`, field `ops`,
//! MessagePack of `Vec<WriteOp>`). A Lua script appends it atomically together with what reads
//! need before the Syncer has copied the entry into SQL:
//!
//! - `{prefix}:room:{room}:unsynced`: a sorted set of the room's buffered messages by seq, so
//!   history and sync show every acked message at once (read your writes);
//! - `{prefix}:room:{room}:seq`: the room's highest seq, which the script also checks (a seq at or
//!   below it is refused, so a stale room actor cannot reuse a seq);
//! - `{prefix}:cid:{room}:{sender}:{client_id}`: the ack of each message for a day or more, which
//!   the script also checks, so a resend can never be buffered twice.
//!
//! The Syncer reads the stream through a consumer group and removes entries (and their unsynced
//! copies) only after the SQL commit.

use std::collections::HashMap;

use deadpool_redis::{Pool, Runtime};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncConnectionConfig, Value};

use super::writes::{NewMessage, WriteOp};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// One of a room's latest messages as kept for unread counts: `seq|sender|mentioned,ids`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recent {
    pub seq: i64,
    pub sender: UserId,
    /// Comma-separated ids of the members the message mentions (empty: none).
    pub mentions: String,
}

impl Recent {
    /// Whether the message mentions `user`.
    pub fn mentions(&self, user: &UserId) -> bool {
        !self.mentions.is_empty() && self.mentions.split(',').any(|u| u == user.as_str())
    }
}

/// What the append scripts put after `seq|` in a room's list of latest messages (see `Recent`).
fn recent_entry(m: &NewMessage) -> String {
    if m.mentions.is_empty() {
        m.sender.0.clone()
    } else {
        let ids: Vec<&str> = m.mentions.iter().map(UserId::as_str).collect();
        format!("{}|{}", m.sender, ids.join(","))
    }
}

/// Field of `{prefix}:reacted` saying the hash holds every room with reactions in SQL.
const REACTED_SEEDED: &str = "_seeded";

/// Source of `RedisBuffer::serial`.
static NEXT_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// Each thread's connections, per buffer and slot (see `RedisBuffer::local`).
    static LOCAL_CONNS: std::cell::RefCell<Vec<(u64, usize, MultiplexedConnection)>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Which of its connections a thread uses next.
    static NEXT_LOCAL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Connections each thread keeps to Redis, used in turn. Redis reads at most 16 KiB from one
/// connection per event-loop turn (and fsyncs once per turn), so one connection carrying a whole
/// thread's appends would cap what one fsync covers; a few let one turn take more.
const CONNS_PER_THREAD: usize = 4;

/// A thread's connection (see `RedisBuffer::local`): forgets itself when a command on it fails
/// in a way that leaves it unusable.
pub(super) struct LocalConn {
    conn: MultiplexedConnection,
    serial: u64,
    slot: usize,
}

impl LocalConn {
    fn check<T>(&self, res: redis::RedisResult<T>) -> redis::RedisResult<T> {
        if let Err(e) = &res {
            if e.is_unrecoverable_error() || e.is_connection_dropped() || e.is_timeout() {
                let (serial, slot) = (self.serial, self.slot);
                LOCAL_CONNS.with(|l| {
                    l.borrow_mut()
                        .retain(|(s, k, _)| (*s, *k) != (serial, slot))
                });
            }
        }
        res
    }
}

impl redis::aio::ConnectionLike for LocalConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        Box::pin(async move {
            let res = self.conn.req_packed_command(cmd).await;
            self.check(res)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let res = self.conn.req_packed_commands(pipeline, offset, count).await;
            self.check(res)
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// Name of the consumer group of Syncers.
pub const GROUP: &str = "syncers";

/// Why a buffer call failed.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis pool: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("redis configuration: {0}")]
    Config(String),
    /// A message's seq or client id is already buffered.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("cannot encode or decode a buffered write: {0}")]
    Codec(String),
}

/// Where [`RedisBuffer::read`] looks for entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Only entries never delivered to a consumer.
    New,
    /// This consumer's unacked entries and dead consumers' first, then new ones.
    Everywhere,
}

/// An acked message remembered by client id: (id, seq, ts).
pub type CidAck = (MessageId, i64, i64);

/// One stream entry read by a Syncer.
#[derive(Debug)]
pub struct Entry {
    pub id: String,
    /// The decoded writes, or why they could not be decoded.
    pub ops: Result<Vec<WriteOp>, String>,
    /// How many times the group delivered it (when known).
    pub deliveries: usize,
}

/// The last part of both append scripts (`F`, `S`, `n`, `e` and `seqs` set by each): edit overlays,
/// read marks raised (never lowered), and each room's latest messages kept for unread counts (see
/// `RedisBuffer::with_recent`): `W` (list length, 0 = none) and the TTL, `r` read marks as
/// (hash, room, seq), then per message its list's key and sender.
macro_rules! append_tail {
    () => {
        r#"local o = F + n * S
for i = 0, e - 1 do
  local b = o + i * 3
  redis.call('HSET', ARGV[b], ARGV[b + 1], ARGV[b + 2])
end
local q = o + e * 3
local W = tonumber(ARGV[q])
local wttl = tonumber(ARGV[q + 1])
local r = tonumber(ARGV[q + 2])
for i = 0, r - 1 do
  local b = q + 3 + i * 3
  local cur = redis.call('HGET', ARGV[b], ARGV[b + 1])
  if not cur or tonumber(ARGV[b + 2]) > tonumber(cur) then redis.call('HSET', ARGV[b], ARGV[b + 1], ARGV[b + 2]) end
  redis.call('EXPIRE', ARGV[b], wttl)
end
if W > 0 then
  local wb = q + 3 + r * 3
  for i = 0, n - 1 do
    if seqs[i + 1] ~= '0' then
      local k = ARGV[wb + i * 2]
      redis.call('LPUSH', k, seqs[i + 1] .. '|' .. ARGV[wb + i * 2 + 1])
      redis.call('LTRIM', k, 0, W - 1)
      redis.call('EXPIRE', k, wttl)
    end
  end
end
"#
    };
}

const APPEND: &str = concat!(
    r#"
local F = 5
local seqs = {}
local n = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local e = tonumber(ARGV[4])
local S = 8
for i = 0, n - 1 do
  local b = 5 + i * S
  if redis.call('EXISTS', ARGV[b + 2]) == 1 then return {'conflict', 'client_id ' .. ARGV[b + 2]} end
  local cur = tonumber(redis.call('GET', ARGV[b + 1]) or '0')
  if cur >= tonumber(ARGV[b + 3]) then return {'conflict', 'seq ' .. ARGV[b + 3] .. ' <= ' .. cur} end
end
for i = 0, n - 1 do
  local b = 5 + i * S
  redis.call('ZADD', ARGV[b], ARGV[b + 3], ARGV[b + 4])
  local cur = tonumber(redis.call('GET', ARGV[b + 1]) or '0')
  if tonumber(ARGV[b + 3]) > cur then redis.call('SET', ARGV[b + 1], ARGV[b + 3]) end
  redis.call('SET', ARGV[b + 2], ARGV[b + 5], 'EX', ttl)
  redis.call('SET', ARGV[b + 6], ARGV[b + 7], 'EX', ttl)
  seqs[#seqs + 1] = ARGV[b + 3]
end
"#,
    append_tail!(),
    r#"local id = redis.call('XADD', KEYS[1], '*', 'ops', ARGV[1])
return {'ok', id}
"#
);

/// The cluster form of `APPEND`: Redis allocates the seqs itself, so several nodes can write to
/// one room. Per message: a `client_id` already used is not appended again and answers with the
/// first ack (`d:id|seq|ts`); otherwise the room's counter is initialised from the store's
/// highest seq when missing, incremented, and the message buffered under that seq (`s:seq`).
/// The entry carries the allocated seqs in its `seqs` field (0 = a duplicate, dropped), since the
/// encoded ops were made before the seqs existed; the same list heads the fan-out event that the
/// script PUBLISHes, so every node sees a room's messages in seq order.
const APPEND_CLUSTER: &str = concat!(
    r#"
local F = 8
local n = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local e = tonumber(ARGV[4])
local others = tonumber(ARGV[5])
local S = 9
local seqs = {}
local out = {'ok'}
local fresh = 0
for i = 0, n - 1 do
  local b = 8 + i * S
  local prev = redis.call('GET', ARGV[b + 2])
  if prev then
    seqs[#seqs + 1] = '0'
    out[#out + 1] = 'd:' .. prev
  else
    if redis.call('EXISTS', ARGV[b + 1]) == 0 then redis.call('SET', ARGV[b + 1], ARGV[b + 3]) end
    local s = redis.call('INCR', ARGV[b + 1])
    redis.call('ZADD', ARGV[b], s, ARGV[b + 4])
    redis.call('SET', ARGV[b + 2], ARGV[b + 5] .. '|' .. s .. '|' .. ARGV[b + 6], 'EX', ttl)
    redis.call('SET', ARGV[b + 7], ARGV[b + 8], 'EX', ttl)
    seqs[#seqs + 1] = tostring(s)
    out[#out + 1] = 's:' .. s
    fresh = fresh + 1
  end
end
"#,
    append_tail!(),
    r#"local list = table.concat(seqs, ',')
if fresh > 0 or others > 0 then
  redis.call('XADD', KEYS[1], '*', 'ops', ARGV[1], 'seqs', list)
end
if ARGV[7] ~= '' then
  redis.call('PUBLISH', ARGV[6], list .. '\n' .. ARGV[7])
end
return out
"#
);

/// Where the cluster append put one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// Buffered under this seq.
    New(i64),
    /// Its client id was used before (through any node): the first ack.
    Duplicate(CidAck),
}

/// Raises read marks (pairs of room and seq after the TTL) in one user's hash; never lowers one.
const RAISE_READS: &str = r#"
for i = 2, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or tonumber(ARGV[i + 1]) > tonumber(cur) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"#;

/// Removes an edit overlay once SQL has it, unless a newer edit replaced it meanwhile.
const DROP_OVERLAY: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"#;

/// A buffered edit or delete of a message, applied over what reads return until the Syncer has
/// copied it into SQL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overlay {
    pub body: String,
    pub at: i64,
    pub deleted: bool,
    /// Members the edited body names (edits only).
    #[serde(default)]
    pub mentions: Vec<UserId>,
}

/// A buffered reaction (added or taken back at `at`), applied over what reads return until the
/// Syncer has copied it into SQL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReactionMark {
    pub at: i64,
    pub on: bool,
}

/// A buffered reaction as read back: message, user, emoji and the mark.
pub type BufferedReaction = (MessageId, UserId, String, ReactionMark);

/// Which of a room's overlay hashes an overlay goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayKind {
    /// `{prefix}:room:{room}:edits`, field = message id, value = [`Overlay`].
    Edits,
    /// `{prefix}:room:{room}:reacts`, field = `id|user|emoji`, value = [`ReactionMark`].
    Reactions,
    /// `{prefix}:reacted`, field = room id: the rooms whose reactions SQL may hold (kept, not
    /// dropped after the sync).
    ReactedRoom,
}

/// One overlay a batch puts in place: `field` of the room's `kind` hash set to `value` (encoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverlayWrite {
    pub room: RoomId,
    pub kind: OverlayKind,
    pub field: String,
    pub value: Vec<u8>,
}

/// Handle on the buffer; cheap to clone.
#[derive(Clone)]
pub struct RedisBuffer {
    pool: Pool,
    /// For the append path's connections (see `local_conn`).
    client: redis::Client,
    /// Tells this buffer's connections apart from other buffers' in the same thread.
    serial: u64,
    prefix: String,
    cid_ttl_secs: u64,
    append: std::sync::Arc<redis::Script>,
    append_cluster: std::sync::Arc<redis::Script>,
    /// Latest messages kept per room for unread counts (0: none kept; see `with_recent`).
    recent: usize,
    /// Life (s) of those lists and of the read marks kept beside them, renewed by each write.
    recent_ttl: u64,
}

impl std::fmt::Debug for RedisBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBuffer")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, BufferError> {
    rmp_serde::to_vec_named(v).map_err(|e| BufferError::Codec(e.to_string()))
}

impl RedisBuffer {
    /// Connects, checks that Redis will not evict or silently lose acked writes (unless
    /// `allow_unsafe`), and creates the consumer group.
    pub async fn connect(
        url: &str,
        prefix: &str,
        cid_ttl_secs: u64,
        allow_unsafe: bool,
    ) -> Result<Self, BufferError> {
        let mut cfg = deadpool_redis::Config::from_url(url);
        let mut pool_cfg = deadpool_redis::PoolConfig::new(32);
        pool_cfg.timeouts.wait = Some(std::time::Duration::from_secs(5));
        pool_cfg.timeouts.create = Some(std::time::Duration::from_secs(3));
        pool_cfg.timeouts.recycle = Some(std::time::Duration::from_secs(2));
        cfg.pool = Some(pool_cfg);
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| BufferError::Config(e.to_string()))?;
        let client = redis::Client::open(url)?;
        let buf = Self {
            pool,
            client,
            serial: NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            prefix: prefix.to_owned(),
            cid_ttl_secs: cid_ttl_secs.max(60),
            append: std::sync::Arc::new(redis::Script::new(APPEND)),
            append_cluster: std::sync::Arc::new(redis::Script::new(APPEND_CLUSTER)),
            recent: 0,
            recent_ttl: 0,
        };
        buf.check_durability(allow_unsafe).await?;
        buf.create_group().await?;
        Ok(buf)
    }

    /// The same buffer, also keeping the `size` latest messages of each room (seq and sender) and
    /// every user's read marks, each for `ttl_secs` after its last write: what `hello`'s unread
    /// counts are computed from without SQL (see `Store::rooms_for_user`). `size` 0 keeps none.
    pub fn with_recent(mut self, size: usize, ttl_secs: u64) -> Self {
        self.recent = if ttl_secs == 0 { 0 } else { size };
        self.recent_ttl = ttl_secs.max(1);
        self
    }

    /// How many latest messages per room are kept (0: none).
    pub fn recent_size(&self) -> usize {
        self.recent
    }

    /// A pooled connection (the cluster module runs its own commands on the same Redis).
    pub async fn conn(&self) -> Result<deadpool_redis::Connection, BufferError> {
        Ok(self.pool.get().await?)
    }

    /// This thread's connection, opened on first use: what the write path and the reads use.
    /// Its I/O runs on the calling thread (a room's, a session's), so a command makes no hop to
    /// another thread and back, and the commands of every actor on a thread are pipelined on one
    /// socket (Redis then fsyncs the appends together). There is no pool checkout, and no PING
    /// before each use as a pooled connection has. A connection that fails is forgotten, and the
    /// next command opens another.
    pub(super) async fn local(&self) -> Result<LocalConn, BufferError> {
        let slot = NEXT_LOCAL.with(|n| {
            let k = n.get();
            n.set(k.wrapping_add(1));
            k % CONNS_PER_THREAD
        });
        let found = LOCAL_CONNS.with(|l| {
            l.borrow()
                .iter()
                .find(|(s, k, _)| (*s, *k) == (self.serial, slot))
                .map(|(_, _, c)| c.clone())
        });
        let conn = match found {
            Some(c) => c,
            None => {
                let cfg = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(std::time::Duration::from_secs(3)))
                    .set_response_timeout(Some(std::time::Duration::from_secs(5)));
                let c = self
                    .client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await?;
                LOCAL_CONNS.with(|l| l.borrow_mut().push((self.serial, slot, c.clone())));
                c
            }
        };
        Ok(LocalConn {
            conn,
            serial: self.serial,
            slot,
        })
    }

    /// Runs an append script on this thread's connection.
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
    ) -> Result<T, BufferError> {
        let mut c = self.local().await?;
        Ok(inv.invoke_async(&mut c).await?)
    }

    async fn config_get(&self, key: &str) -> Result<String, BufferError> {
        let mut c = self.conn().await?;
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(key)
            .query_async(&mut c)
            .await?;
        Ok(v.get(1).cloned().unwrap_or_default())
    }

    async fn check_durability(&self, allow_unsafe: bool) -> Result<(), BufferError> {
        let policy = self.config_get("maxmemory-policy").await;
        let aof = self.config_get("appendonly").await;
        let fsync = self.config_get("appendfsync").await;
        let problems: Vec<String> = match (policy, aof, fsync) {
            (Ok(p), Ok(a), Ok(f)) => {
                let mut v = Vec::new();
                if p != "noeviction" {
                    v.push(format!(
                        "maxmemory-policy is {p}: Redis may evict buffered writes (set noeviction)"
                    ));
                }
                if a != "yes" || f != "always" {
                    v.push(format!("appendonly={a} appendfsync={f}: acked writes could be lost (set appendonly yes, appendfsync always)"));
                }
                v
            }
            _ => vec![
                "CONFIG GET is not allowed, so eviction and persistence settings cannot be checked"
                    .into(),
            ],
        };
        if problems.is_empty() {
            return Ok(());
        }
        if allow_unsafe {
            for p in &problems {
                tracing::warn!(problem = %p, "redis is not configured for durable writes (redis.allow_unsafe)");
            }
            return Ok(());
        }
        Err(BufferError::Config(format!(
            "refusing to start: {}",
            problems.join("; ")
        )))
    }

    async fn create_group(&self) -> Result<(), BufferError> {
        let mut c = self.conn().await?;
        let res: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.stream())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `PREFIX:suffix`: a key of this deployment.
    pub(super) fn key(&self, suffix: &str) -> String {
        format!("{}:{}", self.prefix, suffix)
    }

    pub fn stream(&self) -> String {
        format!("{}:writes", self.prefix)
    }

    pub fn dead_letters(&self) -> String {
        format!("{}:dead", self.prefix)
    }

    fn unsynced_key(&self, room: &RoomId) -> String {
        format!("{}:room:{}:unsynced", self.prefix, room)
    }

    fn seq_key(&self, room: &RoomId) -> String {
        format!("{}:room:{}:seq", self.prefix, room)
    }

    fn msg_key(&self, id: &MessageId) -> String {
        format!("{}:msg:{}", self.prefix, id)
    }

    fn overlay_key(&self, room: &RoomId) -> String {
        format!("{}:room:{}:edits", self.prefix, room)
    }

    fn reactions_key(&self, room: &RoomId) -> String {
        format!("{}:room:{}:reacts", self.prefix, room)
    }

    fn reacted_key(&self) -> String {
        format!("{}:reacted", self.prefix)
    }

    fn overlay_hash(&self, o: &OverlayWrite) -> String {
        match o.kind {
            OverlayKind::Edits => self.overlay_key(&o.room),
            OverlayKind::Reactions => self.reactions_key(&o.room),
            OverlayKind::ReactedRoom => self.reacted_key(),
        }
    }

    fn recent_key(&self, room: &RoomId) -> String {
        format!("{}:room:{}:recent", self.prefix, room)
    }

    fn reads_key(&self, user: &UserId) -> String {
        format!("{}:reads:{}", self.prefix, user)
    }

    /// The arguments of the append scripts' last part: the recent-message lists and read marks
    /// (see `with_recent`).
    fn recent_args(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        ops: &[WriteOp],
        msgs: &[&NewMessage],
    ) {
        let reads: Vec<(&RoomId, &UserId, i64)> = if self.recent == 0 {
            Vec::new()
        } else {
            ops.iter()
                .filter_map(|op| match op {
                    WriteOp::Read { room, user, seq } => Some((room, user, *seq)),
                    _ => None,
                })
                .collect()
        };
        inv.arg(self.recent).arg(self.recent_ttl).arg(reads.len());
        for (room, user, seq) in reads {
            inv.arg(self.reads_key(user)).arg(room.as_str()).arg(seq);
        }
        if self.recent > 0 {
            for m in msgs {
                inv.arg(self.recent_key(&m.room)).arg(recent_entry(m));
            }
        }
    }

    fn cid_key(&self, room: &RoomId, sender: &UserId, client_id: &str) -> String {
        format!("{}:cid:{}:{}:{}", self.prefix, room, sender, client_id)
    }

    /// Appends a batch as one stream entry; returns once Redis answered (with `appendfsync
    /// always`, after the write is on disk).
    pub async fn append(&self, ops: &[WriteOp]) -> Result<(), BufferError> {
        let payload = encode(&ops)?;
        let msgs = messages_of(ops);
        let overlays = overlays_of(ops)?;
        let mut inv = self.append.key(self.stream());
        inv.arg(payload)
            .arg(msgs.len())
            .arg(self.cid_ttl_secs)
            .arg(overlays.len());
        for m in &msgs {
            let cid_value = format!("{}|{}|{}", m.id, m.seq, m.ts);
            inv.arg(self.unsynced_key(&m.room))
                .arg(self.seq_key(&m.room))
                .arg(self.cid_key(&m.room, &m.sender, &m.client_id))
                .arg(m.seq)
                .arg(encode(m)?)
                .arg(cid_value)
                .arg(self.msg_key(&m.id))
                .arg(format!("{}|{}", m.room, m.sender));
        }
        for o in &overlays {
            inv.arg(self.overlay_hash(o))
                .arg(o.field.as_str())
                .arg(o.value.as_slice());
        }
        self.recent_args(&mut inv, ops, &msgs);
        let (status, detail): (String, String) = self.invoke(&inv).await?;
        if status == "conflict" {
            return Err(BufferError::Conflict(detail));
        }
        Ok(())
    }

    /// Cluster mode: appends a batch whose messages carry no seq yet; Redis allocates them (see
    /// `APPEND_CLUSTER`) and publishes `fanout` on `channel` headed by the seqs, in the same atomic
    /// step. `bases` holds, per message, the room's highest seq known to the store (the counter's
    /// start when Redis has none). Returns where each message went, in order.
    pub async fn append_cluster(
        &self,
        ops: &[WriteOp],
        bases: &[i64],
        channel: &str,
        fanout: &[u8],
    ) -> Result<Vec<Placed>, BufferError> {
        let payload = encode(&ops)?;
        let msgs = messages_of(ops);
        if msgs.len() != bases.len() {
            return Err(BufferError::Codec(
                "one base seq per message expected".into(),
            ));
        }
        let overlays = overlays_of(ops)?;
        let others = ops.len() - msgs.len();
        let mut inv = self.append_cluster.key(self.stream());
        inv.arg(payload)
            .arg(msgs.len())
            .arg(self.cid_ttl_secs)
            .arg(overlays.len())
            .arg(others)
            .arg(channel)
            .arg(fanout);
        for (m, base) in msgs.iter().zip(bases) {
            inv.arg(self.unsynced_key(&m.room))
                .arg(self.seq_key(&m.room))
                .arg(self.cid_key(&m.room, &m.sender, &m.client_id))
                .arg(*base)
                .arg(encode(m)?)
                .arg(m.id.as_str())
                .arg(m.ts)
                .arg(self.msg_key(&m.id))
                .arg(format!("{}|{}", m.room, m.sender));
        }
        for o in &overlays {
            inv.arg(self.overlay_hash(o))
                .arg(o.field.as_str())
                .arg(o.value.as_slice());
        }
        self.recent_args(&mut inv, ops, &msgs);
        let out: Vec<String> = self.invoke(&inv).await?;
        out.iter()
            .skip(1)
            .map(|r| {
                parse_placed(r)
                    .ok_or_else(|| BufferError::Codec(format!("unexpected append answer {r}")))
            })
            .collect()
    }

    /// Publishes `payload` on `channel` (cluster fan-out of what is not appended to the stream).
    pub async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), BufferError> {
        let mut c = self.local().await?;
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut c)
            .await?;
        Ok(())
    }

    /// The room's highest buffered seq (0 if none).
    pub async fn room_seq(&self, room: &RoomId) -> Result<i64, BufferError> {
        let mut c = self.local().await?;
        let v: Option<i64> = redis::cmd("GET")
            .arg(self.seq_key(room))
            .query_async(&mut c)
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Highest buffered seq of several rooms at once.
    pub async fn room_seqs(&self, rooms: &[RoomId]) -> Result<Vec<i64>, BufferError> {
        if rooms.is_empty() {
            return Ok(vec![]);
        }
        let mut c = self.local().await?;
        let mut cmd = redis::cmd("MGET");
        for r in rooms {
            cmd.arg(self.seq_key(r));
        }
        let v: Vec<Option<i64>> = cmd.query_async(&mut c).await?;
        Ok(v.into_iter().map(|x| x.unwrap_or(0)).collect())
    }

    /// For `user`'s rooms: each room's highest buffered seq (0 if none) and `user`'s read mark
    /// kept in Redis (`None` when not kept; see `with_recent`), in one round trip.
    pub async fn connect_marks(
        &self,
        user: &UserId,
        rooms: &[RoomId],
    ) -> Result<(Vec<i64>, Vec<Option<i64>>), BufferError> {
        if rooms.is_empty() {
            return Ok((vec![], vec![]));
        }
        let mut c = self.local().await?;
        let mut seqs = redis::cmd("MGET");
        let mut reads = redis::cmd("HMGET");
        reads.arg(self.reads_key(user));
        for r in rooms {
            seqs.arg(self.seq_key(r));
            reads.arg(r.as_str());
        }
        let (s, r): (Vec<Option<i64>>, Vec<Option<i64>>) = redis::pipe()
            .add_command(seqs)
            .add_command(reads)
            .query_async(&mut c)
            .await?;
        Ok((s.into_iter().map(|x| x.unwrap_or(0)).collect(), r))
    }

    /// Raises `user`'s read marks kept in Redis to at least these (never lowers one).
    pub async fn raise_reads(
        &self,
        user: &UserId,
        marks: &[(RoomId, i64)],
    ) -> Result<(), BufferError> {
        if marks.is_empty() || self.recent == 0 {
            return Ok(());
        }
        let script = redis::Script::new(RAISE_READS);
        let mut inv = script.key(self.reads_key(user));
        inv.arg(self.recent_ttl);
        for (room, seq) in marks {
            inv.arg(room.as_str()).arg(*seq);
        }
        let _: i64 = self.invoke(&inv).await?;
        Ok(())
    }

    /// The latest `n` messages kept for each room (see `with_recent`), newest first, as (seq,
    /// sender); one round trip.
    pub async fn recent(
        &self,
        wanted: &[(RoomId, usize)],
    ) -> Result<Vec<Vec<Recent>>, BufferError> {
        if wanted.is_empty() {
            return Ok(vec![]);
        }
        let mut c = self.local().await?;
        let mut pipe = redis::pipe();
        for (room, n) in wanted {
            pipe.cmd("LRANGE")
                .arg(self.recent_key(room))
                .arg(0)
                .arg(n.saturating_sub(1));
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut c).await?;
        Ok(lists
            .into_iter()
            .map(|l| {
                l.iter()
                    .filter_map(|e| {
                        let mut parts = e.splitn(3, '|');
                        let seq = parts.next()?.parse().ok()?;
                        let sender = UserId(parts.next()?.to_owned());
                        let mentions = parts.next().unwrap_or("").to_owned();
                        Some(Recent {
                            seq,
                            sender,
                            mentions,
                        })
                    })
                    .collect()
            })
            .collect())
    }

    /// Room and author of a buffered message (remembered as long as client ids).
    pub async fn locate(&self, id: &MessageId) -> Result<Option<(RoomId, UserId)>, BufferError> {
        let mut c = self.local().await?;
        let v: Option<String> = redis::cmd("GET")
            .arg(self.msg_key(id))
            .query_async(&mut c)
            .await?;
        Ok(v.and_then(|v| {
            v.split_once('|')
                .map(|(r, u)| (RoomId(r.to_owned()), UserId(u.to_owned())))
        }))
    }

    /// Buffered edits and deletes of a room's messages, by message id. One that cannot be decoded
    /// fails the read: skipping it would show a deleted message's text again.
    pub async fn overlays(&self, room: &RoomId) -> Result<HashMap<String, Overlay>, BufferError> {
        let mut c = self.local().await?;
        let raw: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.overlay_key(room))
            .query_async(&mut c)
            .await?;
        decode_overlays(raw)
    }

    /// Buffered reactions of the messages of each of `rooms` (not yet in SQL), and whether SQL
    /// may hold some of that room's reactions too: false only when the set of rooms ever reacted
    /// in is known (seeded, see `seed_reacted_rooms`) and the room is not in it. One pipeline
    /// (one round trip) for all the rooms.
    pub async fn reactions(
        &self,
        rooms: &[&RoomId],
    ) -> Result<Vec<(Vec<BufferedReaction>, bool)>, BufferError> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.local().await?;
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.cmd("HGETALL").arg(self.reactions_key(room));
        }
        pipe.cmd("HMGET")
            .arg(self.reacted_key())
            .arg(REACTED_SEEDED);
        for room in rooms {
            pipe.arg(room.as_str());
        }
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut c).await?;
        let flags: Vec<Option<String>> = match replies.pop() {
            Some(v) => redis::from_redis_value(v).map_err(|e| BufferError::Codec(e.to_string()))?,
            None => Vec::new(),
        };
        let seeded = flags.first().is_some_and(Option::is_some);
        let mut out = Vec::with_capacity(rooms.len());
        for (i, raw) in replies.into_iter().enumerate() {
            let raw: HashMap<String, Vec<u8>> =
                redis::from_redis_value(raw).map_err(|e| BufferError::Codec(e.to_string()))?;
            let in_sql = !seeded || flags.get(i + 1).is_some_and(Option::is_some);
            let marks = raw
                .into_iter()
                .filter_map(|(k, v)| {
                    let mut parts = k.splitn(3, '|');
                    let id = MessageId(parts.next()?.to_owned());
                    let user = UserId(parts.next()?.to_owned());
                    let emoji = parts.next()?.to_owned();
                    let mark = rmp_serde::from_slice(&v).ok()?;
                    Some((id, user, emoji, mark))
                })
                .collect();
            out.push((marks, in_sql));
        }
        Ok(out)
    }

    /// Records the rooms SQL holds reactions of (read from SQL at start when not known yet), so
    /// reads of the other rooms skip the reactions query.
    pub async fn seed_reacted_rooms(&self, rooms: &[String]) -> Result<(), BufferError> {
        let mut c = self.local().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for chunk in rooms.chunks(500) {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.reacted_key());
            for r in chunk {
                cmd.arg(r.as_str()).arg("1");
            }
            pipe.add_command(cmd).ignore();
        }
        pipe.cmd("HSET")
            .arg(self.reacted_key())
            .arg(REACTED_SEEDED)
            .arg("1")
            .ignore();
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Whether the rooms with reactions were recorded (see `seed_reacted_rooms`).
    pub async fn reacted_rooms_seeded(&self) -> Result<bool, BufferError> {
        let mut c = self.local().await?;
        Ok(redis::cmd("HEXISTS")
            .arg(self.reacted_key())
            .arg(REACTED_SEEDED)
            .query_async(&mut c)
            .await?)
    }

    /// Buffered (not yet synced) messages of a room with `lo < seq < hi`, in seq order.
    pub async fn unsynced(
        &self,
        room: &RoomId,
        lo: i64,
        hi: Option<i64>,
    ) -> Result<Vec<NewMessage>, BufferError> {
        let mut c = self.local().await?;
        let max = hi.map(|h| format!("({h}")).unwrap_or_else(|| "+inf".into());
        let raw: Vec<(Vec<u8>, i64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.unsynced_key(room))
            .arg(format!("({lo}"))
            .arg(max)
            .arg("WITHSCORES")
            .query_async(&mut c)
            .await?;
        // The score is the seq (in cluster mode the encoded message was made before Redis
        // allocated its seq).
        raw.iter()
            .map(|(b, seq)| {
                let mut m = rmp_serde::from_slice::<NewMessage>(b)
                    .map_err(|e| BufferError::Codec(e.to_string()))?;
                m.seq = *seq;
                Ok(m)
            })
            .collect()
    }

    /// Acks remembered for these (sender, client id) pairs.
    pub async fn acks_by_client_ids(
        &self,
        room: &RoomId,
        keys: &[(UserId, String)],
    ) -> Result<Vec<(UserId, String, CidAck)>, BufferError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let mut c = self.local().await?;
        let mut cmd = redis::cmd("MGET");
        for (u, cid) in keys {
            cmd.arg(self.cid_key(room, u, cid));
        }
        let vals: Vec<Option<String>> = cmd.query_async(&mut c).await?;
        Ok(keys
            .iter()
            .zip(vals)
            .filter_map(|((u, cid), v)| {
                let v = v?;
                let mut parts = v.split('|');
                let id = MessageId(parts.next()?.to_owned());
                let seq = parts.next()?.parse().ok()?;
                let ts = parts.next()?.parse().ok()?;
                Some((u.clone(), cid.clone(), (id, seq, ts)))
            })
            .collect())
    }

    /// Reads up to `count` entries for `consumer`. With `Look::Everywhere`: its own unacked ones
    /// first (after a restart or a failed round), then entries idle longer than `claim_idle_ms`
    /// in other consumers (dead nodes), then new ones; with `Look::New`, only new ones (one round
    /// trip).
    pub async fn read(
        &self,
        consumer: &str,
        count: usize,
        claim_idle_ms: u64,
        look: Look,
    ) -> Result<Vec<Entry>, BufferError> {
        let mut c = self.local().await?;
        if look == Look::New {
            return self.read_new(&mut c, consumer, count).await;
        }
        let own: StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(self.stream())
            .arg("0")
            .query_async(&mut c)
            .await?;
        let own = flatten(own);
        if !own.is_empty() {
            return Ok(own.into_iter().map(|e| to_entry(e, 2)).collect());
        }
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(self.stream())
            .arg(GROUP)
            .arg(consumer)
            .arg(claim_idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut c)
            .await?;
        if !claimed.claimed.is_empty() {
            tracing::warn!(
                entries = claimed.claimed.len(),
                "claimed write-buffer entries from a dead consumer"
            );
            return Ok(claimed
                .claimed
                .into_iter()
                .map(|e| to_entry(e, 2))
                .collect());
        }
        self.read_new(&mut c, consumer, count).await
    }

    async fn read_new(
        &self,
        c: &mut LocalConn,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<Entry>, BufferError> {
        let fresh: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(self.stream())
            .arg(">")
            .query_async(c)
            .await?;
        Ok(fresh
            .map(flatten)
            .unwrap_or_default()
            .into_iter()
            .map(|e| to_entry(e, 1))
            .collect())
    }

    /// After the SQL commit: acks and deletes the entries and drops their unsynced copies and
    /// edit overlays.
    pub async fn finish(
        &self,
        ids: &[String],
        synced: &[(RoomId, i64)],
        overlays: Vec<OverlayWrite>,
    ) -> Result<(), BufferError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("XACK")
            .arg(self.stream())
            .arg(GROUP)
            .arg(ids)
            .ignore();
        pipe.cmd("XDEL").arg(self.stream()).arg(ids).ignore();
        for (room, seq) in synced {
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(self.unsynced_key(room))
                .arg(*seq)
                .arg(*seq)
                .ignore();
        }
        let mut c = self.local().await?;
        pipe.query_async::<()>(&mut c).await?;
        for o in overlays
            .into_iter()
            .filter(|o| o.kind != OverlayKind::ReactedRoom)
        {
            let script = redis::Script::new(DROP_OVERLAY);
            let _: i64 = script
                .key(self.overlay_hash(&o))
                .arg(o.field.as_str())
                .arg(o.value.as_slice())
                .invoke_async(&mut c)
                .await?;
        }
        Ok(())
    }

    /// Moves an entry that keeps failing to the dead-letter stream, with the error.
    pub async fn dead_letter(
        &self,
        entry_id: &str,
        payload: &[u8],
        error: &str,
    ) -> Result<(), BufferError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("XADD")
            .arg(self.dead_letters())
            .arg("*")
            .arg("entry")
            .arg(entry_id)
            .arg("ops")
            .arg(payload)
            .arg("error")
            .arg(error)
            .ignore();
        pipe.cmd("XACK")
            .arg(self.stream())
            .arg(GROUP)
            .arg(entry_id)
            .ignore();
        pipe.cmd("XDEL").arg(self.stream()).arg(entry_id).ignore();
        let mut c = self.local().await?;
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// The newest `limit` dead letters: the stream id, the buffer entry it was, the error and
    /// when it was dead-lettered (ms, from the id).
    pub async fn dead_letter_list(&self, limit: usize) -> Result<Vec<DeadLetter>, BufferError> {
        let mut c = self.local().await?;
        let reply: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.dead_letters())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut c)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|e| {
                let text = |k: &str| -> String {
                    e.map
                        .get(k)
                        .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                        .unwrap_or_default()
                };
                let at =
                    e.id.split('-')
                        .next()
                        .and_then(|ms| ms.parse().ok())
                        .unwrap_or(0);
                DeadLetter {
                    entry: text("entry"),
                    error: text("error"),
                    at,
                    id: e.id,
                }
            })
            .collect())
    }

    /// (entries waiting, age in ms of the oldest, dead letters) for the metrics, in one round trip.
    pub async fn backlog(&self) -> Result<(i64, i64, i64), BufferError> {
        let mut c = self.local().await?;
        let (len, first, dead): (i64, redis::streams::StreamRangeReply, i64) = redis::pipe()
            .cmd("XLEN")
            .arg(self.stream())
            .cmd("XRANGE")
            .arg(self.stream())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("XLEN")
            .arg(self.dead_letters())
            .query_async(&mut c)
            .await?;
        let age = first
            .ids
            .first()
            .and_then(|e| e.id.split('-').next()?.parse::<i64>().ok())
            .map(|ms| (chat_protocol::ids::now_ms() - ms).max(0))
            .unwrap_or(0);
        Ok((len, age, dead))
    }

    /// The raw payload of an entry as read (for dead-lettering).
    pub fn payload_of(ops: &[WriteOp]) -> Vec<u8> {
        encode(&ops).unwrap_or_default()
    }
}

/// The read overlays that edits, deletes and reactions in `ops` put in place.
pub fn overlays_of(ops: &[WriteOp]) -> Result<Vec<OverlayWrite>, BufferError> {
    let mut out = Vec::new();
    for op in ops {
        let (room, kind, field, value) = match op {
            WriteOp::Edit {
                room,
                id,
                body,
                at,
                mentions,
            } => (
                room,
                OverlayKind::Edits,
                id.0.clone(),
                encode(&Overlay {
                    body: body.clone(),
                    at: *at,
                    deleted: false,
                    mentions: mentions.clone(),
                })?,
            ),
            WriteOp::Delete { room, id, at } => (
                room,
                OverlayKind::Edits,
                id.0.clone(),
                encode(&Overlay {
                    body: String::new(),
                    at: *at,
                    deleted: true,
                    mentions: Vec::new(),
                })?,
            ),
            WriteOp::React {
                room,
                id,
                user,
                emoji,
                on,
                at,
            } => (
                room,
                OverlayKind::Reactions,
                format!("{id}|{user}|{emoji}"),
                encode(&ReactionMark { at: *at, on: *on })?,
            ),
            _ => continue,
        };
        if kind == OverlayKind::Reactions {
            out.push(OverlayWrite {
                room: room.clone(),
                kind: OverlayKind::ReactedRoom,
                field: room.0.clone(),
                value: b"1".to_vec(),
            });
        }
        out.push(OverlayWrite {
            room: room.clone(),
            kind,
            field,
            value,
        });
    }
    Ok(out)
}

fn flatten(reply: StreamReadReply) -> Vec<StreamId> {
    reply.keys.into_iter().flat_map(|k| k.ids).collect()
}

fn to_entry(e: StreamId, deliveries: usize) -> Entry {
    let ops = match e.map.get("ops") {
        Some(Value::BulkString(b)) => {
            rmp_serde::from_slice::<Vec<WriteOp>>(b).map_err(|err| err.to_string())
        }
        _ => Err("entry has no ops field".to_owned()),
    };
    let ops = match (ops, e.map.get("seqs")) {
        (Ok(ops), Some(Value::BulkString(list))) => with_seqs(ops, &String::from_utf8_lossy(list)),
        (ops, _) => ops,
    };
    Entry {
        id: e.id,
        ops,
        deliveries: e.delivered_count.unwrap_or(deliveries),
    }
}

/// Puts the seqs Redis allocated (cluster mode, comma-separated, one per message in order) into
/// the messages, dropping those marked 0 (duplicates that were not appended).
pub fn with_seqs(ops: Vec<WriteOp>, list: &str) -> Result<Vec<WriteOp>, String> {
    let seqs: Vec<i64> = if list.is_empty() {
        vec![]
    } else {
        list.split(',')
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|e| format!("bad seq list {list:?}: {e}"))
            })
            .collect::<Result<_, _>>()?
    };
    let mut next = seqs.into_iter();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            WriteOp::Message(mut m) => {
                let seq = next
                    .next()
                    .ok_or_else(|| format!("seq list {list:?} shorter than the messages"))?;
                if seq > 0 {
                    m.seq = seq;
                    out.push(WriteOp::Message(m));
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The overlays of a room as stored (message id → MessagePack), all or an error.
fn decode_overlays(raw: HashMap<String, Vec<u8>>) -> Result<HashMap<String, Overlay>, BufferError> {
    raw.into_iter()
        .map(|(k, v)| match rmp_serde::from_slice(&v) {
            Ok(o) => Ok((k, o)),
            Err(e) => Err(BufferError::Codec(format!("overlay of message {k}: {e}"))),
        })
        .collect()
}

fn parse_placed(r: &str) -> Option<Placed> {
    if let Some(seq) = r.strip_prefix("s:") {
        return seq.parse().ok().map(Placed::New);
    }
    let mut parts = r.strip_prefix("d:")?.split('|');
    let id = MessageId(parts.next()?.to_owned());
    let seq = parts.next()?.parse().ok()?;
    let ts = parts.next()?.parse().ok()?;
    Some(Placed::Duplicate((id, seq, ts)))
}

/// The new messages of a batch, in order.
fn messages_of(ops: &[WriteOp]) -> Vec<&NewMessage> {
    ops.iter()
        .filter_map(|o| match o {
            WriteOp::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// A write-buffer entry the Syncer gave up on (`GET /api/admin/dead-letters`).
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// Its id in the dead-letter stream.
    pub id: String,
    /// The buffer entry it was.
    pub entry: String,
    /// Why applying it failed.
    pub error: String,
    /// When it was dead-lettered (ms).
    pub at: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Before issue 20 an overlay that did not decode was skipped, and a message deleted but
    /// not yet synced showed its text again.
    #[test]
    fn an_undecodable_overlay_fails_the_read() {
        let deleted = Overlay {
            body: String::new(),
            at: 5,
            deleted: true,
            mentions: vec![],
        };
        let good = HashMap::from([("m1".to_owned(), encode(&deleted).unwrap())]);
        assert_eq!(decode_overlays(good).unwrap()["m1"], deleted);
        let bad = HashMap::from([
            ("m1".to_owned(), encode(&deleted).unwrap()),
            ("m2".to_owned(), b"\xc1not msgpack".to_vec()),
        ]);
        assert!(matches!(decode_overlays(bad), Err(BufferError::Codec(_))));
    }
}
