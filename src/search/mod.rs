//! Message search: an embedded full-text index (tantivy) on each node, fed from the write path,
//! queried by `GET /api/search`.
//!
//! - [`tokenize`]: how text becomes terms (accent folding, words, CJK/Thai bigrams).
//! - [`query`]: a user's query text read as words, phrases and prefixes (never as engine syntax).
//! - [`schema`]: the index's fields and a message as a document.
//! - [`indexer`]: the thread that owns the index writer and commits in batches.
//! - [`catchup`]: rebuilding the index from SQL and the Redis buffer, and catching up after a
//!   restart.
//! - [`feed`]: what feeds the index: every durable write (embedded and single-node Redis modes,
//!   through `store::search::WriteObserver`), or the cluster bus (cluster mode).
//! - [`highlight`]: the `highlight` of a result.
//!
//! The index only says which messages match; a result shows the message as the store has it now
//! (see `Store::search_rows`), and only rooms the caller belongs to at query time are searched.

pub mod backlog;
pub mod catchup;
pub mod feed;
pub mod highlight;
pub mod indexer;
pub mod query;
pub mod schema;
pub mod tokenize;

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tantivy::collector::TopDocs;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, Order, ReloadPolicy, TantivyDocument};
use tokio::sync::oneshot;

use crate::config::{SearchSettings, Settings};
use crate::store::Store;
pub use feed::Feed;
use indexer::{Change, Command, Indexer, Payload};
use query::ParsedQuery;
use schema::{Fields, IndexedMessage, BODY_TOKENIZER, CHARS_TOKENIZER, SCHEMA_VERSION};

/// Why the index could not be opened or searched.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory {dir}: {source}")]
    Dir { dir: String, source: std::io::Error },
    #[error("search indexer thread: {0}")]
    Thread(std::io::Error),
}

/// Result order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (BM25).
    Relevance,
    /// Most recently sent first.
    Newest,
}

/// One search.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub query: ParsedQuery,
    /// Only messages of these rooms.
    pub rooms: Vec<String>,
    pub sort: Sort,
    /// Results to skip.
    pub offset: usize,
    /// Results wanted (at least 1).
    pub limit: usize,
}

/// What a search found.
#[derive(Clone, Debug)]
pub struct SearchPage {
    pub hits: Vec<IndexedMessage>,
    /// More results follow this page.
    pub more: bool,
}

/// Where the index was when it was opened: what a catch-up must start from.
#[derive(Clone, Copy, Debug)]
pub struct Opened {
    /// Every write durable before this (ms) was indexed; 0 = a new or rebuilt index.
    pub watermark: i64,
    /// The index already held documents.
    pub had_docs: bool,
}

/// The node's search index; cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    tx: Sender<Command>,
    backlog: Arc<backlog::Backlog>,
    dir: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

/// Opens this node's index when `search.enabled`, hooks it to the write path as `feed` says
/// (the store's write observer, or the cluster bus) and starts its rebuild or catch-up in the
/// background.
pub async fn start(
    settings: &Settings,
    store: &mut Store,
    feed: &Feed,
) -> Result<Option<SearchIndex>, SearchError> {
    if !settings.search.enabled {
        return Ok(None);
    }
    let dir = index_dir(&settings.search, &settings.media.dir, feed.node());
    let db = database_identity(&settings.database.url);
    let (index, opened) = match SearchIndex::open(&settings.search, &dir, &db) {
        Ok(open) => open,
        // Another server (process) writes this directory: this one serves without search
        // rather than not at all.
        Err(SearchError::Index(tantivy::TantivyError::LockFailure(..))) => {
            tracing::error!(dir = %dir.display(), "search index directory is in use by another server; search is off here (give each server its own search.dir)");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let slack = i64::try_from(settings.search.catchup_slack_ms).unwrap_or(i64::MAX);
    feed.attach(&index, store, slack).await;
    catchup::spawn(index.clone(), store.clone(), opened, slack);
    backlog::recover(index.clone(), store.clone(), slack);
    Ok(Some(index))
}

/// What identifies the database an index mirrors: its URL without credentials, hashed.
pub fn database_identity(url: &str) -> String {
    let without_credentials = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    };
    let digest = Sha256::digest(without_credentials.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The index directory of these settings: `search.dir`, or `search` beside `media.dir`
/// (`search-NODE` for cluster node `NODE`, since every node keeps its own index).
pub fn index_dir(search: &SearchSettings, media_dir: &str, node: Option<&str>) -> PathBuf {
    if !search.dir.trim().is_empty() {
        return PathBuf::from(search.dir.trim());
    }
    let data = Path::new(media_dir)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match node {
        Some(n) => {
            let safe: String = n
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            data.join(format!("search-{safe}"))
        }
        None => data.join("search"),
    }
}

fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(BODY_TOKENIZER, TextAnalyzer::from(tokenize::ChatTokenizer));
    index.tokenizers().register(
        CHARS_TOKENIZER,
        TextAnalyzer::from(tokenize::UnigramTokenizer),
    );
}

/// Opens the index in `dir` if it was written by this schema for this database, else starts a
/// new one there (the old one is removed); the catch-up then fills it.
fn open_or_create(dir: &Path, db: &str) -> Result<(Index, Payload, bool), SearchError> {
    let io = |source| SearchError::Dir {
        dir: dir.display().to_string(),
        source,
    };
    let (schema, _) = Fields::schema();
    if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir) {
            Ok(index) => {
                let payload: Option<Payload> = index
                    .load_metas()
                    .ok()
                    .and_then(|m| m.payload)
                    .and_then(|p| serde_json::from_str(&p).ok());
                let fits = index.schema() == schema;
                match payload {
                    Some(p) if fits && p.v == SCHEMA_VERSION && p.db == db => {
                        return Ok((index, p, true));
                    }
                    _ => {
                        tracing::warn!(dir = %dir.display(), "search index is from another version or database; rebuilding it")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "search index cannot be opened; rebuilding it")
            }
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let index = Index::create_in_dir(dir, schema)?;
    let payload = Payload {
        v: SCHEMA_VERSION,
        db: db.to_owned(),
        watermark: 0,
    };
    Ok((index, payload, false))
}

impl SearchIndex {
    /// Opens (or creates) the index in `dir` for the database `db` (see [`database_identity`])
    /// and starts its indexer thread.
    pub fn open(
        settings: &SearchSettings,
        dir: &Path,
        db: &str,
    ) -> Result<(Self, Opened), SearchError> {
        let (index, payload, existed) = open_or_create(dir, db)?;
        register_tokenizers(&index);
        let (_, fields) = Fields::schema();
        // Tantivy's indexing and merge threads start with the writer and inherit the nice value
        // of the thread that creates it: one at `search.indexer_nice`.
        let memory = settings.writer_memory_mb.max(15) << 20;
        let nice = settings.indexer_nice;
        let writer = std::thread::scope(|s| {
            s.spawn(|| {
                crate::threads::lower_priority(nice, "search indexer");
                index.writer_with_num_threads(1, memory)
            })
            .join()
        })
        .map_err(|_| SearchError::Thread(std::io::Error::other("the index writer panicked")))??;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let num_docs = reader.searcher().num_docs();
        crate::metrics::SEARCH_DOCUMENTS
            .store(num_docs as i64, std::sync::atomic::Ordering::Relaxed);
        let opened = Opened {
            watermark: payload.watermark,
            had_docs: existed && num_docs > 0,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let backlog = Arc::new(backlog::Backlog::new(settings.max_backlog));
        let indexer = Indexer::new(
            writer,
            reader.clone(),
            fields,
            payload,
            Duration::from_millis(settings.commit_interval_ms.max(1)),
            backlog.clone(),
        );
        std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || {
                crate::threads::lower_priority(nice, "search indexer");
                indexer.run(rx)
            })
            .map_err(SearchError::Thread)?;
        tracing::info!(dir = %dir.display(), documents = num_docs, watermark = opened.watermark, "search index open");
        Ok((
            Self {
                inner: Arc::new(Inner {
                    index,
                    reader,
                    fields,
                    tx,
                    backlog,
                    dir: dir.to_owned(),
                }),
            },
            opened,
        ))
    }

    fn send(&self, cmd: Command) {
        if self.inner.tx.send(cmd).is_err() {
            tracing::error!("search indexer thread is gone; the index is not being updated");
        }
    }

    /// Applies changes from the write path (see `indexer`), or drops them when the indexer is
    /// `search.max_backlog` behind (see `backlog`).
    pub fn feed(&self, changes: Vec<Change>) {
        if !changes.is_empty() && self.inner.backlog.admit(changes.len()) {
            self.send(Command::Live(changes));
        }
    }

    fn backlog(&self) -> &backlog::Backlog {
        &self.inner.backlog
    }

    /// A catch-up starts (see `indexer`).
    pub fn catch_up_started(&self) {
        self.send(Command::CatchUpStarted(
            self.inner.backlog.catch_up_started(),
        ));
    }

    /// The catch-up finished: the watermark may move again.
    pub fn catch_up_done(&self) {
        self.send(Command::CatchUpDone);
    }

    /// Applies changes read by a catch-up; returns once they are applied.
    pub async fn catch_up(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.send(Command::CatchUp(changes, tx));
        // Unanswered only when the indexer thread is gone; there is nothing left to wait for.
        let _ = rx.await;
    }

    /// Commits what was sent so far; returns once searches see it.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Flush(tx));
        // Unanswered only when the indexer thread is gone; there is nothing left to wait for.
        let _ = rx.await;
    }

    /// The watermark of the last commit (see `indexer::Payload`).
    pub fn watermark(&self) -> i64 {
        self.inner
            .index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
            .map_or(0, |p| p.watermark)
    }

    /// Runs a search (blocking: call it off the async workers).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchPage, SearchError> {
        let f = &self.inner.fields;
        if req.rooms.is_empty() {
            return Ok(SearchPage {
                hits: Vec::new(),
                more: false,
            });
        }
        let query = req.query.to_query(f, &req.rooms);
        let searcher = self.inner.reader.searcher();
        let want = TopDocs::with_limit(req.limit.max(1) + 1).and_offset(req.offset);
        let addrs: Vec<tantivy::DocAddress> = match req.sort {
            Sort::Relevance => searcher
                .search(&query, &want.order_by_score())?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
            Sort::Newest => searcher
                .search(&query, &want.order_by_fast_field::<i64>("ts", Order::Desc))?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
        };
        let more = addrs.len() > req.limit;
        let mut hits: Vec<IndexedMessage> = Vec::with_capacity(req.limit);
        for a in addrs.into_iter().take(req.limit) {
            let doc: TantivyDocument = searcher.doc(a)?;
            // A message indexed twice (a live write racing a catch-up) is shown once.
            if let Some(m) =
                IndexedMessage::from_doc(&doc, f).filter(|m| hits.iter().all(|h| h.id != m.id))
            {
                hits.push(m);
            }
        }
        Ok(SearchPage { hits, more })
    }
}
