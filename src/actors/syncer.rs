//! The Syncer: on a timer, drains the Redis write buffer into SQL through SeaORM. Each round reads
//! a batch of stream entries through the consumer group (its own unfinished ones first, then
//! entries of dead consumers, then new ones), applies them in one transaction, and only after the
//! commit acks and deletes them. Applying is idempotent, so an entry delivered again after a crash
//! inserts nothing twice. An entry that keeps failing on its own while the database is healthy is
//! moved to the dead-letter stream instead of blocking the rest.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use crate::config::RedisSettings;
use crate::ids::RoomId;
use crate::metrics;
use crate::store::buffer::{Entry, RedisBuffer};
use crate::store::{Store, WriteOp};

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
}

impl Syncer {
    pub fn new(store: Store, buffer: RedisBuffer, settings: RedisSettings, consumer: String) -> Self {
        Self { store, buffer, settings, consumer, busy: false, attempts: HashMap::new() }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let store = self.store.clone();
        let buffer = self.buffer.clone();
        let consumer = self.consumer.clone();
        let settings = self.settings.clone();
        let mut attempts = std::mem::take(&mut self.attempts);
        let work = async move {
            let outcome = drain_once(&store, &buffer, &consumer, &settings, &mut attempts).await;
            if let Ok((len, age)) = buffer.backlog().await {
                metrics::WRITE_BUFFER_DEPTH.store(len, std::sync::atomic::Ordering::Relaxed);
                metrics::SYNC_LAG_MS.store(age, std::sync::atomic::Ordering::Relaxed);
            }
            if let Ok(n) = buffer.dead_letter_count().await {
                metrics::DEAD_LETTERS.store(n, std::sync::atomic::Ordering::Relaxed);
            }
            (outcome, attempts)
        };
        ctx.spawn(work.into_actor(self).map(|(outcome, attempts), act, ctx| {
            act.attempts = attempts;
            act.busy = false;
            match outcome {
                // A full batch means more is waiting: go again at once.
                Ok(n) if n >= act.settings.sync_batch => act.round(ctx),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sync round failed; will retry"),
            }
        }));
    }
}

/// One round; returns how many entries it handled.
async fn drain_once(
    store: &Store,
    buffer: &RedisBuffer,
    consumer: &str,
    settings: &RedisSettings,
    attempts: &mut HashMap<String, u32>,
) -> Result<usize, crate::store::StoreError> {
    let entries = buffer.read(consumer, settings.sync_batch, settings.claim_idle_ms).await?;
    if entries.is_empty() {
        return Ok(0);
    }
    let n = entries.len();
    let (good, bad): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|e| e.ops.is_ok());
    for e in bad {
        let why = e.ops.err().unwrap_or_default();
        tracing::error!(entry = %e.id, error = %why, "undecodable write-buffer entry moved to the dead-letter stream");
        buffer.dead_letter(&e.id, &[], &why).await?;
    }
    let all: Vec<WriteOp> = good.iter().flat_map(|e| e.ops.clone().unwrap_or_default()).collect();
    match store.apply_writes(&all).await {
        Ok(()) => {
            finish(buffer, settings, &good).await?;
            for e in &good {
                attempts.remove(&e.id);
            }
            metrics::inc(&metrics::SYNC_BATCHES);
            metrics::SYNC_ROWS.fetch_add(all.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
        Err(e) if !store.ping().await => {
            tracing::warn!(error = %e, "database unavailable; the backlog stays in Redis");
            Err(e)
        }
        Err(e) => {
            tracing::warn!(error = %e, entries = good.len(), "batch failed; applying entries one by one");
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
                            buffer.dead_letter(&entry.id, &RedisBuffer::payload_of(&ops), &err.to_string()).await?;
                            attempts.remove(&entry.id);
                        }
                    }
                }
            }
            Ok(n)
        }
    }
}

/// After the commit: the failpoint (tests), then ack, delete and drop unsynced copies.
async fn finish(buffer: &RedisBuffer, settings: &RedisSettings, entries: &[Entry]) -> Result<(), crate::store::StoreError> {
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
    let ops: Vec<WriteOp> = entries.iter().flat_map(|e| e.ops.clone().unwrap_or_default()).collect();
    buffer.finish(&ids, &synced, crate::store::buffer::overlays_of(&ops)).await?;
    Ok(())
}

impl Actor for Syncer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(consumer = %self.consumer, "syncer started");
        ctx.run_interval(Duration::from_millis(self.settings.sync_interval_ms), |act, ctx| act.round(ctx));
        self.round(ctx);
    }
}

impl Handler<SyncNow> for Syncer {
    type Result = ();

    fn handle(&mut self, _: SyncNow, ctx: &mut Context<Self>) {
        self.round(ctx);
    }
}
