//! The indexer: one thread that owns the index's `IndexWriter`, applies the changes it is sent
//! in order and commits them in batches (every `search.commit_interval_ms` while there is
//! something to commit), after which the reader sees them. It runs on a thread of its own, not
//! on an actor, because everything it does blocks (tokenizing, writing segments, fsync).
//!
//! Two kinds of changes arrive: live ones, from the write path as each write becomes durable,
//! and catch-up ones, read back from SQL and the Redis buffer (`catchup`). While a catch-up runs
//! both arrive interleaved, and a catch-up change may be older than a live one about the same
//! message (it was read before the live write happened). So, during a catch-up, the indexer
//! remembers the messages that live changes wrote or deleted, and a catch-up change about one
//! of them is dropped; a live edit of a message it has not indexed yet is kept aside and applied
//! to the catch-up's copy if newer.
//!
//! The commit payload records the schema version, which database the index mirrors and a
//! watermark: the time up to which every durable write was applied (see `catchup`). During a
//! catch-up the watermark does not move, so a crash in the middle starts it again.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexReader, IndexWriter, TantivyDocument};
use tokio::sync::oneshot;

use super::backlog::Backlog;
use super::schema::{Fields, IndexedMessage};
use crate::ids::now_ms;
use crate::metrics;

/// How long the indexer waits, with nothing to do after a commit, before handing the memory it
/// freed back to the system (see `run`).
const RELEASE_WHEN_IDLE: Duration = Duration::from_secs(2);

/// Longest wait for a commit while a catch-up runs.
const CATCH_UP_COMMIT_EVERY: Duration = Duration::from_secs(1);

/// A change to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Index this message (replacing what the index has for its id).
    Upsert(IndexedMessage),
    /// The message's text is now `body` (edited at `at`).
    Edit { id: String, body: String, at: i64 },
    /// The message was deleted.
    Delete { id: String },
}

/// What the indexer thread is sent.
#[derive(Debug)]
pub enum Command {
    /// Changes from the write path.
    Live(Vec<Change>),
    /// A catch-up starts: from now on, live changes win over catch-up ones. It covers the drops
    /// of this generation (see `backlog`), counted before it read anything.
    CatchUpStarted(u64),
    /// Changes read by the catch-up; answered once applied (so a catch-up never queues more than
    /// a page ahead of the indexer).
    CatchUp(Vec<Change>, oneshot::Sender<()>),
    /// The catch-up is over; the watermark may move again.
    CatchUpDone,
    /// Commit now; answered once the reader sees everything sent before.
    Flush(oneshot::Sender<()>),
}

/// The commit payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// `SCHEMA_VERSION` of the index.
    pub v: u32,
    /// Which database the index mirrors (see `SearchIndex::open`).
    pub db: String,
    /// Every write durable before this time (ms) is in the index.
    pub watermark: i64,
}

/// Live changes seen during a catch-up (see the module doc).
#[derive(Default)]
struct CatchUpGuard {
    /// Messages a live change wrote in full or deleted.
    live: HashSet<String>,
    /// Live edits of messages not indexed yet: (body, at).
    late_edits: HashMap<String, (String, i64)>,
}

/// The thread's state.
pub struct Indexer {
    pub writer: IndexWriter<TantivyDocument>,
    pub reader: IndexReader,
    pub fields: Fields,
    pub payload: Payload,
    pub commit_every: Duration,
    /// Messages written since the last commit (an edit needs the whole document).
    pending: HashMap<String, IndexedMessage>,
    /// Messages deleted since the last commit (the reader still has them).
    deleted: HashSet<String>,
    guard: Option<CatchUpGuard>,
    /// Since when there is something to commit.
    dirty_since: Option<Instant>,
    /// The watermark to commit (now, unless a catch-up runs).
    watermark_at_commit: Option<i64>,
    /// Queued and dropped live changes.
    backlog: Arc<Backlog>,
    /// The drops the running catch-up covers (see `backlog`).
    catch_up_covers: u64,
}

impl Indexer {
    pub fn new(
        writer: IndexWriter<TantivyDocument>,
        reader: IndexReader,
        fields: Fields,
        payload: Payload,
        commit_every: Duration,
        backlog: Arc<Backlog>,
    ) -> Self {
        Self {
            writer,
            reader,
            fields,
            payload,
            commit_every,
            pending: HashMap::new(),
            deleted: HashSet::new(),
            guard: None,
            dirty_since: None,
            watermark_at_commit: None,
            backlog,
            catch_up_covers: 0,
        }
    }

    /// How long changes may wait for a commit: longer during a catch-up, whose many small
    /// commits would otherwise make many small segments to merge (live changes still show
    /// within a second).
    fn commit_delay(&self) -> Duration {
        match self.guard {
            Some(_) => self.commit_every.max(CATCH_UP_COMMIT_EVERY),
            None => self.commit_every,
        }
    }

    /// Runs until every sender is gone, then commits what is left. Once nothing has arrived for
    /// `RELEASE_WHEN_IDLE` after a commit, the memory indexing freed (the writer's arena, a
    /// catch-up's pages and guard, a backlog) is handed back to the system.
    pub fn run(mut self, rx: Receiver<Command>) {
        let mut released = true;
        loop {
            let wait = match self.dirty_since {
                Some(t) => self.commit_delay().saturating_sub(t.elapsed()),
                None if !released => RELEASE_WHEN_IDLE,
                None => Duration::from_secs(3600),
            };
            match rx.recv_timeout(wait) {
                Ok(cmd) => {
                    self.handle(cmd);
                    released = false;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.dirty_since.is_none() && !released {
                        crate::threads::release_freed_memory();
                        released = true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit();
                    return;
                }
            }
            if self
                .dirty_since
                .is_some_and(|t| t.elapsed() >= self.commit_delay())
            {
                self.commit();
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Live(changes) => {
                // Everything durable up to now is being applied.
                self.watermark_at_commit = Some(now_ms());
                let n = changes.len();
                for c in changes {
                    self.live(c);
                }
                self.backlog.applied(n);
            }
            Command::CatchUpStarted(generation) => {
                // A retried catch-up keeps what live changes were seen so far.
                if self.guard.is_none() {
                    self.catch_up_covers = generation;
                }
                self.guard.get_or_insert_with(CatchUpGuard::default);
                metrics::SEARCH_CATCHING_UP.store(1, std::sync::atomic::Ordering::Relaxed);
            }
            Command::CatchUp(changes, done) => {
                for c in changes {
                    self.catch_up(c);
                }
                // A caller that stopped waiting needs no answer.
                let _ = done.send(());
            }
            Command::CatchUpDone => {
                self.guard = None;
                self.backlog.catch_up_done(self.catch_up_covers);
                self.watermark_at_commit = Some(now_ms());
                self.touch();
                self.commit();
                metrics::SEARCH_CATCHING_UP.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            Command::Flush(done) => {
                self.commit();
                // A caller that stopped waiting needs no answer.
                let _ = done.send(());
            }
        }
    }

    fn touch(&mut self) {
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    fn live(&mut self, c: Change) {
        match c {
            Change::Upsert(m) => {
                // A new message is not in the index yet: no delete to queue (each one is looked
                // up in every segment at the next commit), unless a catch-up may have added it.
                let replace = self.pending.contains_key(&m.id);
                let replace = match &mut self.guard {
                    Some(g) => {
                        g.live.insert(m.id.clone());
                        true
                    }
                    None => replace,
                };
                self.upsert(m, replace);
            }
            Change::Edit { id, body, at } => {
                if self.edit(&id, body.clone(), at) {
                    if let Some(g) = &mut self.guard {
                        g.live.insert(id);
                    }
                } else if let Some(g) = &mut self.guard {
                    let e = g.late_edits.entry(id).or_insert((body.clone(), at));
                    if at > e.1 {
                        *e = (body, at);
                    }
                }
            }
            Change::Delete { id } => {
                if let Some(g) = &mut self.guard {
                    g.live.insert(id.clone());
                }
                self.delete(id);
            }
        }
    }

    fn catch_up(&mut self, c: Change) {
        let id = match &c {
            Change::Upsert(m) => &m.id,
            Change::Edit { id, .. } | Change::Delete { id } => id,
        };
        if self.guard.as_ref().is_some_and(|g| g.live.contains(id)) {
            return;
        }
        match c {
            Change::Upsert(mut m) => {
                if let Some((body, at)) =
                    self.guard.as_mut().and_then(|g| g.late_edits.remove(&m.id))
                {
                    if m.edited_at.is_none_or(|e| e < at) {
                        m.body = body;
                        m.edited_at = Some(at);
                    }
                }
                self.upsert(m, true);
            }
            Change::Edit { id, body, at } => {
                self.edit(&id, body, at);
            }
            Change::Delete { id } => self.delete(id),
        }
    }

    fn id_term(&self, id: &str) -> tantivy::Term {
        tantivy::Term::from_field_text(self.fields.id, id)
    }

    /// Indexes `m`; with `replace`, whatever the index has for its id first.
    fn upsert(&mut self, m: IndexedMessage, replace: bool) {
        if replace {
            self.writer.delete_term(self.id_term(&m.id));
        }
        if let Err(e) = self.writer.add_document(m.to_doc(&self.fields)) {
            tracing::error!(error = %e, id = %m.id, "could not index a message");
            return;
        }
        self.deleted.remove(&m.id);
        self.pending.insert(m.id.clone(), m);
        self.touch();
    }

    fn delete(&mut self, id: String) {
        self.writer.delete_term(self.id_term(&id));
        self.pending.remove(&id);
        self.deleted.insert(id);
        self.touch();
    }

    /// Re-indexes a known message with its new text; `false` if the index does not have it.
    fn edit(&mut self, id: &str, body: String, at: i64) -> bool {
        if self.deleted.contains(id) {
            return true;
        }
        let Some(mut m) = self.pending.get(id).cloned().or_else(|| self.committed(id)) else {
            return false;
        };
        // A replayed edit older than what the index has.
        if m.edited_at.is_some_and(|e| e >= at) {
            return true;
        }
        m.body = body;
        m.edited_at = Some(at);
        self.upsert(m, true);
        true
    }

    /// The committed document of a message, if any.
    fn committed(&self, id: &str) -> Option<IndexedMessage> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let hits = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .ok()?;
        let (_, addr) = hits.into_iter().next()?;
        let doc: TantivyDocument = searcher.doc(addr).ok()?;
        IndexedMessage::from_doc(&doc, &self.fields)
    }

    fn commit(&mut self) {
        if self.dirty_since.is_none() {
            return;
        }
        let mut payload = self.payload.clone();
        if self.guard.is_none() {
            if let Some(w) = self.watermark_at_commit.take() {
                payload.watermark = payload.watermark.max(self.backlog.clamp_watermark(w));
            }
        }
        let json = serde_json::to_string(&payload).unwrap_or_default();
        let mut prepared = match self.writer.prepare_commit() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "search index commit failed");
                return;
            }
        };
        prepared.set_payload(&json);
        if let Err(e) = prepared.commit() {
            tracing::error!(error = %e, "search index commit failed");
            return;
        }
        self.payload = payload;
        self.dirty_since = None;
        if let Err(e) = self.reader.reload() {
            tracing::error!(error = %e, "search index reader could not reload");
        }
        self.pending.clear();
        self.deleted.clear();
        metrics::SEARCH_DOCUMENTS.store(
            self.reader.searcher().num_docs() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}
