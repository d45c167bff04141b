//! The Persister: the only writer of chat data. Writes that arrive while a commit is running are
//! grouped into the next commit (group commit), and each caller is answered only once its writes
//! are durable: committed to the SQL database in embedded mode, appended to the Redis stream
//! (AOF, fsync always) in production mode (see `Store::make_durable`).
//!
//! Rooms reach it through a [`PersistHandle`]. With Redis the handle commits a room's batch
//! itself, on the room's thread, with one Redis round trip (no hop to this actor's thread and
//! back): Redis already groups the appends of all connections into one AOF fsync per event-loop
//! turn, and a room's batch already holds everything queued while its previous one was in flight.
//! The actor's group commit is kept for the SQL database of embedded mode, where one transaction
//! (one fsync) for the writes of many rooms is what makes it fast; it gets one group at a time.
//! Neither reorders anything: each room has one batch in flight, so two commits in flight never
//! hold writes of the same room.
//!
//! Delivered marks (one for every message that reaches a live session) are *lazy*
//! ([`PersistHandle::persist_lazy`]): they always go through the actor, which holds them up to
//! its linger (`rooms.delivered_linger_ms`) so that the marks of many rooms are written in one
//! append or transaction, or with the next group that is written anyway. With `appendfsync
//! always` every append is an fsync that the acks behind it wait for, and a mark of its own per
//! message was half of them. A room writes its marks apart from its batches (see
//! `crate::actors::room`), so a mark waiting here holds back no message.
//!
//! In cluster mode Redis allocates the messages' seqs (see `crate::cluster`): each caller gets
//! back where its messages went, and the fan-out event it handed in is published by the same
//! atomic append (or, for changes written through to SQL, right after the SQL commit).

use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::fanout::FanOut;
use crate::cluster::bus::{self, BusEvent, RoomBatch};
use crate::cluster::Cluster;
use crate::metrics;
use crate::shutdown::Drain;
use crate::store::buffer::Placed;
use crate::store::{Store, StoreError, WriteOp};

/// Why a write was not made durable. Nothing of a failed `Persist` was applied.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PersistError {
    /// A unique constraint refused the batch (a seq or client id already stored).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Make these writes durable, in order, all or nothing. Answered with where each message went
/// (in order; outside cluster mode always the seq it came with).
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<Placed>, PersistError>")]
pub struct Persist {
    pub ops: Vec<WriteOp>,
    /// Cluster mode: what the other nodes must hear of these writes (published once durable).
    pub fanout: Option<RoomBatch>,
    /// Cluster mode: the room's highest seq the caller knows (where Redis starts counting when it
    /// has no counter for the room).
    pub base_seq: i64,
    /// May wait up to the Persister's linger to be written with others: set only by
    /// [`PersistHandle::persist_lazy`] (see the module doc).
    lazy: bool,
}

impl Persist {
    /// These writes, to be made durable as soon as possible (see [`PersistHandle`] for lazy ones).
    pub fn new(ops: Vec<WriteOp>, fanout: Option<RoomBatch>, base_seq: i64) -> Self {
        Self {
            ops,
            fanout,
            base_seq,
            lazy: false,
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<Placed>, PersistError>>;

/// One caller's writes.
struct Waiter {
    batch: Persist,
    reply: Reply,
}

/// How a room makes its batches durable (see the module doc); cheap to clone.
#[derive(Clone)]
pub struct PersistHandle {
    /// The group commit: every batch in embedded mode, lazy writes in every mode.
    actor: Addr<Persister>,
    /// Redis and cluster modes: the room commits its own batches, one Redis round trip each.
    direct: Option<Box<Direct>>,
}

/// What a room needs to commit its own batches.
#[derive(Clone)]
pub struct Direct {
    store: Store,
    fanout: FanOut,
}

impl PersistHandle {
    /// The handle for this deployment: direct with a Redis buffer, else through `actor`.
    pub fn new(actor: Addr<Persister>, store: &Store, fanout: FanOut) -> Self {
        let direct = store.buffer.as_ref().map(|_| {
            Box::new(Direct {
                store: store.clone(),
                fanout,
            })
        });
        PersistHandle { actor, direct }
    }

    /// Makes `batch` durable; see [`Persist`].
    pub fn persist(
        &self,
        batch: Persist,
    ) -> impl std::future::Future<Output = Result<Vec<Placed>, PersistError>> + 'static {
        let this = self.clone();
        async move {
            match this.direct {
                Some(d) => commit_group(&d.store, &d.fanout, &[&batch])
                    .await
                    .pop()
                    .unwrap_or_else(|| Err(PersistError::Unavailable("nothing committed".into()))),
                None => through(&this.actor, batch).await,
            }
        }
    }

    /// Makes `batch` durable through the actor's group commit, which may hold it up to its
    /// linger to write it with others (see the module doc). For writes nobody waits on.
    pub fn persist_lazy(
        &self,
        batch: Persist,
    ) -> impl std::future::Future<Output = Result<Vec<Placed>, PersistError>> + 'static {
        through(
            &self.actor,
            Persist {
                lazy: true,
                ..batch
            },
        )
    }
}

/// Hands `batch` to the actor.
fn through(
    actor: &Addr<Persister>,
    batch: Persist,
) -> impl std::future::Future<Output = Result<Vec<Placed>, PersistError>> + 'static {
    let sent = actor.send(batch);
    async move {
        sent.await
            .unwrap_or_else(|_| Err(PersistError::Unavailable("persister stopped".into())))
    }
}

impl From<Addr<Persister>> for PersistHandle {
    fn from(actor: Addr<Persister>) -> Self {
        PersistHandle {
            actor,
            direct: None,
        }
    }
}

/// See the module doc.
pub struct Persister {
    store: Store,
    fanout: FanOut,
    queue: Vec<Waiter>,
    /// A group is being committed.
    in_flight: bool,
    /// How long a lazy write may wait for others (`rooms.delivered_linger_ms`).
    linger: Duration,
    /// When the oldest lazy write queued arrived, while only lazy writes are queued.
    lazy_since: Option<Instant>,
    /// The flush of the lazy writes queued is scheduled.
    timer: Option<SpawnHandle>,
    /// Shutdown: answered once nothing is queued or being committed.
    drains: Vec<oneshot::Sender<()>>,
}

impl Persister {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            fanout: FanOut::Local,
            queue: Vec::new(),
            in_flight: false,
            linger: Duration::ZERO,
            lazy_since: None,
            timer: None,
            drains: Vec::new(),
        }
    }

    /// How long a lazy write may wait to be written with others (zero: not at all).
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Commits what is queued now, unless it is only lazy writes younger than the linger (then
    /// a timer comes back for them) or a group is in flight (its end comes back).
    fn flush_due(&mut self, ctx: &mut Context<Self>) {
        if let Some(since) = self.lazy_since {
            let left = self.linger.saturating_sub(since.elapsed());
            if !left.is_zero() && self.queue.iter().all(|w| w.batch.lazy) {
                if self.timer.is_none() {
                    self.timer = Some(ctx.run_later(left, |act, ctx| {
                        act.timer = None;
                        act.flush_due(ctx);
                    }));
                }
                return;
            }
        }
        self.flush(ctx);
    }

    /// The fan-out strategy; with `FanOut::Bus` (cluster mode) seqs are allocated by Redis and
    /// batches published on the bus.
    pub fn with_fanout(mut self, fanout: FanOut) -> Self {
        self.fanout = fanout;
        self
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        if self.queue.is_empty() {
            for drained in self.drains.drain(..) {
                // A drain whose caller gave up needs no answer.
                let _ = drained.send(());
            }
            return;
        }
        self.in_flight = true;
        self.lazy_since = None;
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        let batch = std::mem::take(&mut self.queue);
        let store = self.store.clone();
        let fanout = self.fanout.clone();
        let work = async move {
            let refs: Vec<&Persist> = batch.iter().map(|w| &w.batch).collect();
            let results = commit_group(&store, &fanout, &refs).await;
            (batch, results)
        };
        ctx.spawn(work.into_actor(self).map(|(batch, results), act, ctx| {
            for (w, result) in batch.into_iter().zip(results) {
                // The room may have stopped waiting; its batch is durable or failed all the same.
                let _ = w.reply.send(result);
            }
            act.in_flight = false;
            act.flush_due(ctx);
        }));
    }
}

/// Commits every waiter's writes in one go; if that fails and there were several waiters, each
/// is retried alone so one bad write cannot fail the others. Retrying is safe in cluster mode
/// too: a message appended by the failed try is found by its client id.
async fn commit_group(
    store: &Store,
    fanout: &FanOut,
    batch: &[&Persist],
) -> Vec<Result<Vec<Placed>, PersistError>> {
    match commit(store, fanout, batch).await {
        Ok(placed) => {
            metrics::inc(&metrics::PERSIST_BATCHES);
            placed.into_iter().map(Ok).collect()
        }
        Err(e) if batch.len() == 1 => {
            metrics::inc(&metrics::PERSIST_FAILURES);
            vec![Err(to_persist_error(e))]
        }
        Err(_) => {
            let mut out = Vec::with_capacity(batch.len());
            for w in batch {
                let one = commit(store, fanout, &[*w]).await;
                out.push(one.map(|mut p| p.pop().unwrap_or_default()).map_err(|e| {
                    metrics::inc(&metrics::PERSIST_FAILURES);
                    to_persist_error(e)
                }));
            }
            metrics::inc(&metrics::PERSIST_BATCHES);
            out
        }
    }
}

/// Makes the waiters' writes durable together; returns each waiter's placements. Outside cluster
/// mode every message keeps the seq it came with.
async fn commit(
    store: &Store,
    fanout: &FanOut,
    batch: &[&Persist],
) -> Result<Vec<Vec<Placed>>, StoreError> {
    match fanout {
        FanOut::Local => commit_local(store, batch).await,
        FanOut::Bus(cluster) => commit_cluster(store, cluster, batch).await,
    }
}

/// One node: the writes as they are, each message with the seq its room gave it.
async fn commit_local(store: &Store, batch: &[&Persist]) -> Result<Vec<Vec<Placed>>, StoreError> {
    let all: Vec<WriteOp> = batch.iter().flat_map(|w| w.ops.iter().cloned()).collect();
    store.make_durable(&all).await?;
    store.observe(&all);
    Ok(batch.iter().map(|w| as_given(&w.ops)).collect())
}

/// The placements of messages whose seqs the caller assigned.
fn as_given(ops: &[WriteOp]) -> Vec<Placed> {
    ops.iter()
        .filter_map(|o| match o {
            WriteOp::Message(m) => Some(Placed::New(m.seq)),
            _ => None,
        })
        .collect()
}

/// Writes control changes through to SQL (then publishes their fan-out) and appends the rest with
/// one call of the cluster append script; returns each waiter's placements.
async fn commit_cluster(
    store: &Store,
    cluster: &Cluster,
    batch: &[&Persist],
) -> Result<Vec<Vec<Placed>>, StoreError> {
    let control: Vec<WriteOp> = batch
        .iter()
        .flat_map(|w| w.ops.iter().filter(|o| o.is_control()).cloned())
        .collect();
    if !control.is_empty() {
        store.apply_writes(&control).await?;
    }
    let mut rest = Vec::new();
    let mut bases = Vec::new();
    let mut fanout = Vec::new();
    for w in batch {
        let buffered: Vec<WriteOp> = w.ops.iter().filter(|o| !o.is_control()).cloned().collect();
        bases.extend(
            buffered
                .iter()
                .filter(|o| matches!(o, WriteOp::Message(_)))
                .map(|_| w.base_seq),
        );
        match &w.fanout {
            Some(f) if !buffered.is_empty() => fanout.push(f.clone()),
            // Awaited, so the room's next batch is published after it.
            Some(f) => {
                if let Err(e) = cluster.publish(&BusEvent::Rooms(vec![f.clone()])).await {
                    tracing::warn!(room = %f.room, error = %e, "change stored but not announced to other nodes");
                }
            }
            None => {}
        }
        rest.extend(buffered);
    }
    let mut placed = Vec::new();
    if !rest.is_empty() {
        let payload = if fanout.is_empty() {
            Vec::new()
        } else {
            bus::encode(&BusEvent::Rooms(fanout)).map_err(|e| {
                StoreError::Buffer(crate::store::buffer::BufferError::Codec(e.to_string()))
            })?
        };
        placed = cluster
            .buffer()
            .append_cluster(&rest, &bases, &cluster.channel(), &payload)
            .await?;
    }
    let mut placed = placed.into_iter();
    Ok(batch
        .iter()
        .map(|w| {
            let n = w
                .ops
                .iter()
                .filter(|o| matches!(o, WriteOp::Message(_)))
                .count();
            placed.by_ref().take(n).collect()
        })
        .collect())
}

fn to_persist_error(e: StoreError) -> PersistError {
    match e {
        StoreError::Conflict(m) => PersistError::Conflict(m),
        StoreError::Buffer(crate::store::buffer::BufferError::Conflict(m)) => {
            PersistError::Conflict(m)
        }
        other => {
            tracing::error!(error = %other, "write failed");
            PersistError::Unavailable(other.to_string())
        }
    }
}

impl Actor for Persister {
    type Context = Context<Self>;
}

impl Handler<Drain> for Persister {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.drains.push(tx);
        self.flush(ctx);
        Box::pin(async move {
            // Answered when drained, or dropped when the actor stops: both mean done.
            let _ = rx.await;
        })
    }
}

impl Handler<Persist> for Persister {
    type Result = ResponseFuture<Result<Vec<Placed>, PersistError>>;

    fn handle(&mut self, msg: Persist, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if msg.lazy && self.queue.is_empty() {
            self.lazy_since = Some(Instant::now());
        }
        self.queue.push(Waiter {
            batch: msg,
            reply: tx,
        });
        self.flush_due(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(PersistError::Unavailable("persister stopped".into())))
        })
    }
}
