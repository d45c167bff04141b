//! Filling the index from what is stored: a rebuild (a new index, or one written by another
//! schema version or for another database: every message) or a catch-up after a restart (what
//! changed after the index's watermark, less `search.catchup_slack_ms` for clocks of other nodes
//! and writes that were in flight).
//!
//! In order:
//! 1. the indexer is told a catch-up starts, so live changes win over what is read here;
//! 2. the Redis buffer is read (every write not yet in SQL), before SQL, so a write the Syncer
//!    moves meanwhile is seen in one place or the other;
//! 3. SQL: messages created or edited after the starting point (deleted ones are deleted from the
//!    index), page by page;
//! 4. on a catch-up (not a rebuild), the ids of all deleted messages: a delete records no time,
//!    and a message deleted while this node was down must leave the index;
//! 5. the buffered writes, in order, on top;
//! 6. the indexer is told it is over, and commits with a new watermark.
//!
//! If reading fails (the database is down), it starts again after a pause; the watermark does not
//! move until a catch-up completes.

use std::time::{Duration, Instant};

use super::indexer::Change;
use super::{Opened, SearchIndex};
use crate::store::{Store, StoreError, WriteOp};

/// Rows read from SQL per query.
const PAGE: u64 = 2000;
/// Pause before trying again after a failed catch-up.
const RETRY: Duration = Duration::from_secs(5);

/// The index changes of durable writes (messages, edits, deletes; the rest is not searched).
pub fn changes_of(ops: &[WriteOp]) -> Vec<Change> {
    ops.iter()
        .filter_map(|op| match op {
            WriteOp::Message(m) => Some(Change::Upsert(m.into())),
            WriteOp::Edit { id, body, at, .. } => Some(Change::Edit {
                id: id.0.clone(),
                body: body.clone(),
                at: *at,
            }),
            WriteOp::Delete { id, .. } => Some(Change::Delete { id: id.0.clone() }),
            _ => None,
        })
        .collect()
}

/// Starts a catch-up from where `opened` says the index is, in the background.
pub fn spawn(index: SearchIndex, store: Store, opened: Opened, slack_ms: i64) {
    let since = match opened.watermark {
        0 => 0,
        w => (w - slack_ms).max(1),
    };
    actix::spawn(async move { run_until_done(&index, &store, since, opened.had_docs).await });
}

/// [`run`], started again `RETRY` after each failure (the database down) until it completes.
pub async fn run_until_done(index: &SearchIndex, store: &Store, since: i64, had_docs: bool) {
    while let Err(e) = run(index, store, since, had_docs).await {
        tracing::warn!(error = %e, "search index catch-up failed; trying again");
        tokio::time::sleep(RETRY).await;
    }
}

/// One catch-up from `since` (0: everything); see the module doc.
pub async fn run(
    index: &SearchIndex,
    store: &Store,
    since: i64,
    had_docs: bool,
) -> Result<(), StoreError> {
    let started = Instant::now();
    index.catch_up_started();
    let buffered = store.buffered_writes().await?;
    let mut after = String::new();
    let mut messages = 0usize;
    loop {
        let page = store.messages_changed_since(since, &after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        messages += page.len();
        let changes = page
            .into_iter()
            .map(|m| {
                if m.deleted {
                    Change::Delete { id: m.id }
                } else {
                    Change::Upsert(m.into())
                }
            })
            .collect();
        index.catch_up(changes).await;
    }
    let mut deletes = 0usize;
    if since > 0 && had_docs {
        let mut after = String::new();
        loop {
            let ids = store.deleted_message_ids(&after, PAGE * 5).await?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            deletes += ids.len();
            index
                .catch_up(ids.into_iter().map(|id| Change::Delete { id }).collect())
                .await;
        }
    }
    let buffered = changes_of(&buffered);
    let pending = buffered.len();
    for chunk in buffered.chunks(PAGE as usize) {
        index.catch_up(chunk.to_vec()).await;
    }
    index.catch_up_done();
    tracing::info!(
        since,
        messages,
        deletes,
        buffered = pending,
        ms = started.elapsed().as_millis() as u64,
        "search index caught up"
    );
    Ok(())
}
