//! The Persister: the only writer of chat data. Writes that arrive while a commit is running are
//! grouped into the next commit (group commit), and each caller is answered only once its writes
//! are durable: committed to the SQL database in embedded mode, appended to the Redis stream
//! (AOF, fsync always) in production mode (see `Store::make_durable`).

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::metrics;
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

/// Make these writes durable, in order, all or nothing.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), PersistError>")]
pub struct Persist {
    pub ops: Vec<WriteOp>,
}

type Waiter = (Vec<WriteOp>, oneshot::Sender<Result<(), PersistError>>);

/// See the module doc.
pub struct Persister {
    store: Store,
    queue: Vec<Waiter>,
    flushing: bool,
}

impl Persister {
    pub fn new(store: Store) -> Self {
        Self { store, queue: Vec::new(), flushing: false }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing || self.queue.is_empty() {
            return;
        }
        self.flushing = true;
        let batch = std::mem::take(&mut self.queue);
        let store = self.store.clone();
        let work = async move {
            let results = commit_group(&store, &batch).await;
            (batch, results)
        };
        ctx.spawn(work.into_actor(self).map(|(batch, results), act, ctx| {
            for ((_, reply), result) in batch.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            act.flushing = false;
            act.flush(ctx);
        }));
    }
}

/// Commits every waiter's writes in one transaction; if that fails and there were several
/// waiters, each is retried alone so one bad write cannot fail the others.
async fn commit_group(store: &Store, batch: &[Waiter]) -> Vec<Result<(), PersistError>> {
    let all: Vec<WriteOp> = batch.iter().flat_map(|(ops, _)| ops.iter().cloned()).collect();
    match store.make_durable(&all).await {
        Ok(()) => {
            metrics::inc(&metrics::PERSIST_BATCHES);
            vec![Ok(()); batch.len()]
        }
        Err(e) if batch.len() == 1 => {
            metrics::inc(&metrics::PERSIST_FAILURES);
            vec![Err(to_persist_error(e))]
        }
        Err(_) => {
            let mut out = Vec::with_capacity(batch.len());
            for (ops, _) in batch {
                out.push(store.make_durable(ops).await.map_err(|e| {
                    metrics::inc(&metrics::PERSIST_FAILURES);
                    to_persist_error(e)
                }));
            }
            metrics::inc(&metrics::PERSIST_BATCHES);
            out
        }
    }
}

fn to_persist_error(e: StoreError) -> PersistError {
    match e {
        StoreError::Conflict(m) => PersistError::Conflict(m),
        StoreError::Buffer(crate::store::buffer::BufferError::Conflict(m)) => PersistError::Conflict(m),
        other => {
            tracing::error!(error = %other, "write failed");
            PersistError::Unavailable(other.to_string())
        }
    }
}

impl Actor for Persister {
    type Context = Context<Self>;
}

impl Handler<Persist> for Persister {
    type Result = ResponseFuture<Result<(), PersistError>>;

    fn handle(&mut self, msg: Persist, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.queue.push((msg.ops, tx));
        self.flush(ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(PersistError::Unavailable("persister stopped".into()))) })
    }
}
