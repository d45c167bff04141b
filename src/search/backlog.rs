//! The indexer's backlog: live changes sent to the indexer thread and not applied yet.
//!
//! The indexer runs at a low priority (`search.indexer_nice`), so under a load that keeps every
//! core busy it falls behind, and the write path must never wait for it. Past
//! `search.max_backlog` queued changes, live changes are dropped instead of queued; the index
//! then misses those writes until a catch-up (the same one that runs after a restart, from SQL
//! and the Redis buffer) reads them back once the indexer is idle again ([`recover`]).
//!
//! The commit watermark ("every write durable before this time is in the index") must not pass
//! a dropped write: [`Backlog::clamp_watermark`] keeps it below the earliest drop until a
//! catch-up that started after that drop has finished.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::catchup;
use super::SearchIndex;
use crate::ids::now_ms;
use crate::store::Store;

/// How often the recovery loop looks for dropped changes.
const RECOVERY_CHECK: Duration = Duration::from_secs(1);

/// Dropped live changes not yet read back by a catch-up, and whether one runs.
#[derive(Debug, Default)]
struct Dropped {
    /// A catch-up (the start-up one or a recovery) is under way.
    catching_up: bool,
    /// When the earliest of them was dropped (ms).
    earliest: Option<i64>,
    /// Counts drops, so that a catch-up knows whether more came while it ran.
    generation: u64,
}

/// See the module doc; shared by the feeders and the indexer thread.
#[derive(Debug)]
pub struct Backlog {
    queued: AtomicUsize,
    max: usize,
    dropped: Mutex<Dropped>,
}

impl Backlog {
    pub fn new(max: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            max,
            dropped: Mutex::new(Dropped::default()),
        }
    }

    fn dropped(&self) -> std::sync::MutexGuard<'_, Dropped> {
        self.dropped.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` more changes into the queue, or records them as dropped (false) when the queue
    /// is full.
    pub fn admit(&self, n: usize) -> bool {
        let admitted = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q + n <= self.max).then_some(q + n)
            })
            .is_ok();
        if !admitted {
            let mut d = self.dropped();
            if d.earliest.is_none() {
                tracing::warn!(
                    max = self.max,
                    "search indexer is behind by search.max_backlog changes; new writes are indexed by a catch-up once it is idle"
                );
            }
            d.earliest.get_or_insert_with(now_ms);
            d.generation += 1;
            crate::metrics::SEARCH_DROPPED.fetch_add(n as i64, Ordering::Relaxed);
        }
        admitted
    }

    /// `n` queued changes were applied.
    pub fn applied(&self, n: usize) {
        // `fetch_update` fails only when the closure declines, which this one never does.
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            });
    }

    /// The watermark a commit may record instead of `w`: below the earliest dropped change.
    pub fn clamp_watermark(&self, w: i64) -> i64 {
        match self.dropped().earliest {
            Some(t) => w.min(t - 1),
            None => w,
        }
    }

    /// A catch-up starts: the generation of drops it covers.
    pub fn catch_up_started(&self) -> u64 {
        let mut d = self.dropped();
        d.catching_up = true;
        d.generation
    }

    /// A catch-up that started at `generation` finished: the drops it covered are indexed,
    /// unless more came while it ran (the next catch-up covers those).
    pub fn catch_up_done(&self, generation: u64) {
        let mut d = self.dropped();
        d.catching_up = false;
        if d.generation == generation {
            d.earliest = None;
        }
    }

    /// Changes were dropped, the queue has drained and no catch-up runs (the start-up one covers
    /// everything up to its end): time for a catch-up.
    fn wants_recovery(&self) -> bool {
        let d = self.dropped();
        !d.catching_up && d.earliest.is_some() && self.queued.load(Ordering::Acquire) == 0
    }
}

/// Runs, for as long as the server runs, the catch-up that reads back dropped changes (see the
/// module doc).
pub fn recover(index: SearchIndex, store: Store, slack_ms: i64) {
    actix::spawn(async move {
        let mut tick = tokio::time::interval(RECOVERY_CHECK);
        loop {
            tick.tick().await;
            if !index.backlog().wants_recovery() {
                continue;
            }
            let since = (index.watermark() - slack_ms).max(1);
            tracing::info!(since, "search index: reading back the writes it dropped");
            catchup::run_until_done(&index, &store, since, true).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_cap_changes_are_dropped_and_hold_the_watermark_until_a_catch_up_covers_them() {
        let b = Backlog::new(3);
        assert!(b.admit(2));
        assert!(!b.admit(2), "2 + 2 > 3");
        assert!(b.admit(1));
        let w = b.clamp_watermark(i64::MAX);
        assert!(w < now_ms(), "held below the drop: {w}");
        assert!(!b.wants_recovery(), "the queue has not drained");
        b.applied(3);
        assert!(b.wants_recovery());
        // A drop while the catch-up runs: the watermark stays held after it.
        let started = b.catch_up_started();
        assert!(!b.admit(4));
        b.catch_up_done(started);
        assert_eq!(b.clamp_watermark(i64::MAX), w, "still the earliest drop");
        let again = b.catch_up_started();
        b.catch_up_done(again);
        assert_eq!(b.clamp_watermark(7), 7);
        assert!(!b.wants_recovery());
    }
}
