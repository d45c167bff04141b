//! Several server processes on one Redis and one SQL database (`[cluster] enabled`). No cluster
//! protocol of our own: Redis does the coordination.
//!
//! - Seqs: the append script allocates each room's seqs (`INCR` on the room's counter, started
//!   from the store's highest seq when missing) and checks `client_id`s in the same atomic step,
//!   so seqs stay gap-free and unique and a resend through any node gets the first ack
//!   (`store::buffer::APPEND_CLUSTER`).
//! - Fan-out: the same script publishes the committed batch on the bus (`bus`), and every node,
//!   the sender's included, delivers to its own sessions from there, so every session sees a
//!   room's messages in seq order.
//! - Presence: session counts per user and node in Redis plus an expiring key per node, renewed by
//!   a heartbeat; live nodes sweep the entries of a node whose key expired (`presence`).
//! - The Syncers of all nodes already share the write stream's consumer group; a dead node's
//!   pending entries are claimed after `redis.claim_idle_ms`.
//!
//! The actors do not ask whether they run in a cluster: startup hands them the cluster's
//! strategies, `actors::fanout::FanOut::Bus` (fan-out and seqs) and
//! `actors::presence::Directory::Redis` (presence), which make the calls below.

pub mod bus;
pub mod presence;

use actix::Recipient;

use crate::config::ClusterSettings;
use crate::store::buffer::{BufferError, RedisBuffer};
use bus::{BusError, BusEvent, BusResubscribed, FromBus};

/// Why a cluster call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Handle on the shared engines for one node; cheap to clone.
#[derive(Clone, Debug)]
pub struct Cluster {
    buffer: RedisBuffer,
    url: String,
    prefix: String,
    node: String,
    pub settings: ClusterSettings,
}

impl Cluster {
    pub fn new(
        buffer: RedisBuffer,
        url: &str,
        prefix: &str,
        node: String,
        settings: ClusterSettings,
    ) -> Self {
        Self {
            buffer,
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            node,
            settings,
        }
    }

    /// This node's name (unique per node, stable across restarts).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The write buffer (the append script also publishes on the bus).
    pub fn buffer(&self) -> &RedisBuffer {
        &self.buffer
    }

    /// The bus channel.
    pub fn channel(&self) -> String {
        format!("{}:bus", self.prefix)
    }

    /// Publishes an event without seqs.
    pub async fn publish(&self, event: &BusEvent) -> Result<(), ClusterError> {
        let payload = bus::encode_plain(event)?;
        self.buffer.publish(&self.channel(), &payload).await?;
        Ok(())
    }

    /// Publishes in the background; a failure is logged (the event is lost, as when Redis is down,
    /// and clients catch up with `sync`).
    pub fn publish_later(&self, event: BusEvent) {
        let this = self.clone();
        actix::spawn(async move {
            if let Err(e) = this.publish(&event).await {
                tracing::warn!(error = %e, "could not publish a bus event");
            }
        });
    }

    /// Subscribes this node to the bus (see `bus::spawn_subscriber`); returns once subscribed,
    /// or after 5 s (the subscriber keeps trying, and closes sessions when it gets through).
    pub async fn subscribe(&self, to: Recipient<FromBus>, lost: Recipient<BusResubscribed>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        bus::spawn_subscriber(self.url.clone(), self.channel(), to, lost, tx);
        if tokio::time::timeout(std::time::Duration::from_secs(5), rx)
            .await
            .is_err()
        {
            tracing::warn!("not yet subscribed to the bus; serving anyway");
        }
    }
}
