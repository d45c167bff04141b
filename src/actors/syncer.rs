//! The Syncer: on a timer, drains the Redis write buffer into SQL through SeaORM. Each round reads
//! batches of stream entries through the consumer group (its own unfinished ones first when it may
//! have some, at start or after a failure, and dead consumers' entries now and then; otherwise
//! only new ones), applies each batch in one transaction of a constant number of statements
//! (`store::apply`) while the next batch is read, and only after the commit acks and deletes them. Applying is idempotent, so an entry delivered again after a crash
//! inserts nothing twice. An entry that keeps failing on its own while the database is healthy is
//! moved to the dead-letter stream instead of blocking the rest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::config::RedisSettings;
use crate::ids::RoomId;
use crate::metrics;
use crate::shutdown::Drain;
use crate::store::buffer::{Entry, Look, RedisBuffer};
use crate::store::{Store, WriteOp};

/// How soon a shutdown drain tries again after a failed round.
const DRAIN_RETRY: Duration = Duration::from_millis(200);

/// Runs one drain round now (tests use it to avoid waiting for the timer).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SyncNow;

/// See the module doc.
pub struct Syncer {
    store: Store,
    buffer: RedisBuffer,
    settings: RedisSettings,
    consumer: String,
    busy: bool,
    /// Failed tries per entry id while the database was healthy.
    attempts: HashMap<String, u32>,
    /// This consumer may hold unacked entries (at start, after a failed round): the next round
    /// looks for them (and for dead consumers' entries) before reading new ones.
    look_everywhere: bool,
    /// When dead consumers' entries were last looked for.
    last_claim: Instant,
    /// Rounds started so far.
    rounds: u64,
    /// Shutdown: each waiter is answered by the first round numbered at least this that finds
    /// nothing left (a round already running when it asked may have missed the last entries).
    drains: Vec<(u64, tokio::sync::oneshot::Sender<()>)>,
}

impl Syncer {
    pub fn new(
        store: Store,
        buffer: RedisBuffer,
        settings: RedisSettings,
        consumer: String,
    ) -> Self {
        Self {
            store,
            buffer,
            settings,
            consumer,
            busy: false,
            attempts: HashMap::new(),
            look_everywhere: true,
            last_claim: Instant::now(),
            rounds: 0,
            drains: Vec::new(),
        }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        self.rounds += 1;
        let this_round = self.rounds;
        // Dead consumers' entries wait `claim_idle_ms` before they may be claimed anyway.
        let claim_due =
            self.last_claim.elapsed() >= Duration::from_millis(self.settings.claim_idle_ms / 2);
        let look = if self.look_everywhere || claim_due {
            Look::Everywhere
        } else {
            Look::New
        };
        if look == Look::Everywhere {
            self.last_claim = Instant::now();
        }
        let store = self.store.clone();
        let buffer = self.buffer.clone();
        let consumer = self.consumer.clone();
        let settings = self.settings.clone();
        let mut attempts = std::mem::take(&mut self.attempts);
        let work = async move {
            // Measured before the round as well: a round can take long (a backlog after a
            // restart, entries of a dead consumer waiting to be claimed), and until then the
            // gauges would still say what the last round left, or 0 in a new process.
            if this_round == 1 {
                publish_backlog(&buffer).await;
            }
            let outcome = drain(&store, &buffer, &consumer, &settings, &mut attempts, look).await;
            publish_backlog(&buffer).await;
            (outcome, attempts)
        };
        ctx.spawn(
            work.into_actor(self)
                .map(move |(outcome, attempts), act, ctx| {
                    act.attempts = attempts;
                    act.busy = false;
                    act.round_done(this_round, outcome, ctx);
                }),
        );
    }

    fn round_done(
        &mut self,
        round: u64,
        outcome: Result<Drained, crate::store::StoreError>,
        ctx: &mut Context<Self>,
    ) {
        match outcome {
            Ok(d) => {
                self.look_everywhere = !d.clean;
                if d.clean && !d.more {
                    self.drained(round);
                }
                // More is waiting, or a drain waits for a round that finds nothing: go again at
                // once.
                if d.more || !self.drains.is_empty() {
                    self.round(ctx);
                }
            }
            Err(e) => {
                self.look_everywhere = true;
                tracing::warn!(error = %e, "sync round failed; will retry");
                if !self.drains.is_empty() {
                    ctx.run_later(DRAIN_RETRY, |act, ctx| act.round(ctx));
                }
            }
        }
    }

    /// Answers the drains that round `round` satisfies: it started after they asked and found
    /// nothing left to copy.
    fn drained(&mut self, round: u64) {
        let (done, waiting) = std::mem::take(&mut self.drains)
            .into_iter()
            .partition(|(from, _)| *from <= round);
        self.drains = waiting;
        for (_, tx) in done {
            // A drain whose caller stopped waiting has nobody to tell.
            let _ = tx.send(());
        }
    }
}

/// Batches one round applies at most before it updates the metrics and goes again.
const BATCHES_PER_ROUND: usize = 20;

/// What a round did.
struct Drained {
    /// Every entry this consumer read was acked (or dead-lettered).
    clean: bool,
    /// The last batch was full: more is waiting.
    more: bool,
}

/// One round: applies batches of entries until one comes back short (or `BATCHES_PER_ROUND`),
/// each in one transaction, while the next batch is read from Redis.
async fn drain(
    store: &Store,
    buffer: &RedisBuffer,
    consumer: &str,
    settings: &RedisSettings,
    attempts: &mut HashMap<String, u32>,
    look: Look,
) -> Result<Drained, crate::store::StoreError> {
    let mut batch = buffer
        .read(consumer, settings.sync_batch, settings.claim_idle_ms, look)
        .await?;
    let mut clean = true;
    for _ in 0..BATCHES_PER_ROUND {
        if batch.is_empty() {
            return Ok(Drained { clean, more: false });
        }
        let full = batch.len() >= settings.sync_batch;
        tracing::debug!(
            entries = batch.len(),
            "applying a batch of the write buffer"
        );
        let next = async {
            if full {
                buffer
                    .read(
                        consumer,
                        settings.sync_batch,
                        settings.claim_idle_ms,
                        Look::New,
                    )
                    .await
            } else {
                Ok(Vec::new())
            }
        };
        let applying = futures_util::future::join_all(lanes_of(batch).into_iter().map(|lane| {
            let mut tries: HashMap<String, u32> = lane
                .iter()
                .filter_map(|e| attempts.remove_entry(&e.id))
                .collect();
            async move {
                let applied = apply_batch(store, buffer, settings, &mut tries, lane).await;
                (applied, tries)
            }
        }));
        let (lanes, next) = tokio::join!(applying, next);
        let mut failed = None;
        for (applied, tries) in lanes {
            attempts.extend(tries);
            match applied {
                Ok(c) => clean &= c,
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        batch = next?;
    }
    // Read but not applied: the next round looks for them first.
    Ok(Drained {
        clean: clean && batch.is_empty(),
        more: true,
    })
}

/// Lanes a batch is applied in at once, each in its own transaction: MariaDB runs one
/// transaction on one core, so a single lane leaves the other idle while the backlog drains.
const LANES: usize = 2;

/// Splits a batch into lanes by room: every entry of a room goes to the same lane, so lanes
/// never write the same rows and a room's writes keep their order (an edit never runs before
/// the insert of its message). A batch with an entry of several rooms in different lanes (the
/// group commits of an older version) is applied as one lane.
fn lanes_of(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    use std::hash::{Hash, Hasher};
    let lane_of = |room: &crate::ids::RoomId| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        room.hash(&mut h);
        (h.finish() % LANES as u64) as usize
    };
    let mut assigned = Vec::with_capacity(entries.len());
    for e in &entries {
        let mut lanes = e.ops.iter().flatten().map(|op| lane_of(op.room()));
        let first = lanes.next().unwrap_or(0);
        if lanes.any(|l| l != first) {
            return vec![entries];
        }
        assigned.push(first);
    }
    let mut out: Vec<Vec<Entry>> = (0..LANES).map(|_| Vec::new()).collect();
    for (e, lane) in entries.into_iter().zip(assigned) {
        out[lane].push(e);
    }
    out.retain(|l| !l.is_empty());
    out
}

/// Applies `entries` in one transaction and acks them; returns whether none was left unacked.
async fn apply_batch(
    store: &Store,
    buffer: &RedisBuffer,
    settings: &RedisSettings,
    attempts: &mut HashMap<String, u32>,
    entries: Vec<Entry>,
) -> Result<bool, crate::store::StoreError> {
    let (good, bad): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|e| e.ops.is_ok());
    for e in bad {
        let why = e.ops.err().unwrap_or_default();
        tracing::error!(entry = %e.id, error = %why, "undecodable write-buffer entry moved to the dead-letter stream");
        buffer.dead_letter(&e.id, &[], &why).await?;
    }
    let all: Vec<WriteOp> = good
        .iter()
        .flat_map(|e| e.ops.clone().unwrap_or_default())
        .collect();
    match store.apply_writes(&all).await {
        Ok(()) => {
            finish(buffer, settings, &good).await?;
            for e in &good {
                attempts.remove(&e.id);
            }
            metrics::inc(&metrics::SYNC_BATCHES);
            metrics::SYNC_ROWS.fetch_add(all.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(true)
        }
        Err(e) if !store.ping().await => {
            tracing::warn!(error = %e, "database unavailable; the backlog stays in Redis");
            Err(e)
        }
        Err(e) => {
            tracing::warn!(error = %e, entries = good.len(), "batch failed; applying entries one by one");
            let mut clean = true;
            for entry in good {
                let ops = entry.ops.clone().unwrap_or_default();
                match store.apply_writes(&ops).await {
                    Ok(()) => {
                        finish(buffer, settings, std::slice::from_ref(&entry)).await?;
                        attempts.remove(&entry.id);
                    }
                    Err(err) => {
                        let tries = attempts.entry(entry.id.clone()).or_insert(0);
                        *tries += 1;
                        if *tries >= settings.max_attempts {
                            tracing::error!(entry = %entry.id, error = %err, tries = *tries, "write-buffer entry keeps failing; moved to the dead-letter stream");
                            buffer
                                .dead_letter(
                                    &entry.id,
                                    &RedisBuffer::payload_of(&ops),
                                    &err.to_string(),
                                )
                                .await?;
                            attempts.remove(&entry.id);
                        } else {
                            clean = false;
                        }
                    }
                }
            }
            Ok(clean)
        }
    }
}

/// After the commit: the failpoint (tests), then ack, delete and drop unsynced copies.
async fn finish(
    buffer: &RedisBuffer,
    settings: &RedisSettings,
    entries: &[Entry],
) -> Result<(), crate::store::StoreError> {
    if settings.debug_crash_after_commit {
        tracing::error!("failpoint redis.debug_crash_after_commit: aborting after the SQL commit");
        std::process::abort();
    }
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    let synced: Vec<(RoomId, i64)> = entries
        .iter()
        .flat_map(|e| e.ops.as_ref().map(|o| o.as_slice()).unwrap_or_default())
        .filter_map(|op| match op {
            WriteOp::Message(m) => Some((m.room.clone(), m.seq)),
            _ => None,
        })
        .collect();
    let ops: Vec<WriteOp> = entries
        .iter()
        .flat_map(|e| e.ops.clone().unwrap_or_default())
        .collect();
    let overlays = crate::store::buffer::overlays_of(&ops)?;
    buffer.finish(&ids, &synced, overlays).await?;
    Ok(())
}

impl Actor for Syncer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(consumer = %self.consumer, "syncer started");
        ctx.run_interval(
            Duration::from_millis(self.settings.sync_interval_ms),
            |act, ctx| act.round(ctx),
        );
        self.round(ctx);
    }
}

impl Handler<Drain> for Syncer {
    type Result = ResponseFuture<()>;

    /// Shutdown: answered once a round that started after this found the buffer empty, so
    /// every write acked before it is in SQL.
    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.drains.push((self.rounds + 1, tx));
        self.round(ctx);
        Box::pin(async move {
            // Dropped unanswered only when the Syncer stops, which ends the drain as well.
            let _ = rx.await;
        })
    }
}

impl Handler<SyncNow> for Syncer {
    type Result = ();

    fn handle(&mut self, _: SyncNow, ctx: &mut Context<Self>) {
        self.round(ctx);
    }
}

/// Sets the write-buffer gauges (depth, age of the oldest entry, dead letters) from Redis.
async fn publish_backlog(buffer: &RedisBuffer) {
    if let Ok((len, age, dead)) = buffer.backlog().await {
        metrics::WRITE_BUFFER_DEPTH.store(len, std::sync::atomic::Ordering::Relaxed);
        metrics::SYNC_LAG_MS.store(age, std::sync::atomic::Ordering::Relaxed);
        metrics::DEAD_LETTERS.store(dead, std::sync::atomic::Ordering::Relaxed);
    }
}
