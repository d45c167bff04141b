//! What feeds the index as writes become durable.
//!
//! - Embedded and single-node Redis modes: the Persister tells the store's `WriteObserver` (this
//!   node's index) of every write it made durable.
//! - Cluster mode: writes made on other nodes never pass this node's Persister, but every node
//!   hears every room's committed batches on the bus (`crate::cluster::bus`), its own included.
//!   [`BusFeed`] subscribes to the bus beside the RoomRegistry and feeds the index from it; when
//!   the subscription was lost (events missed), it runs a catch-up.
//!
//! Which of the two is chosen once at startup, as a [`Feed`].

use std::sync::Arc;

use actix::prelude::*;

use super::catchup;
use super::indexer::Change;
use super::{Opened, SearchIndex};
use crate::cluster::bus::{BusEvent, BusItem, BusResubscribed, FromBus};
use crate::cluster::Cluster;
use crate::store::search::WriteObserver;
use crate::store::{Store, WriteOp};

/// What feeds this node's index (see the module doc), chosen once at startup like
/// `actors::fanout::FanOut`; cheap to clone.
#[derive(Clone, Debug, Default)]
pub enum Feed {
    /// One node: the store tells the index of every write it made durable.
    #[default]
    Writes,
    /// Cluster mode: the bus, which carries every node's writes (see [`BusFeed`]).
    Bus(Arc<Cluster>),
}

impl Feed {
    /// The node whose own index this is, in cluster mode (every node keeps one).
    pub fn node(&self) -> Option<&str> {
        match self {
            Feed::Writes => None,
            Feed::Bus(c) => Some(c.node()),
        }
    }

    /// Hooks `index` to the writes: as the store's write observer, or through a [`BusFeed`]
    /// subscribed to the bus (before the catch-up reads anything, so no write falls between).
    pub(super) async fn attach(&self, index: &SearchIndex, store: &mut Store, slack_ms: i64) {
        match self {
            Feed::Writes => *store = store.clone().with_observer(Arc::new(index.clone())),
            Feed::Bus(c) => {
                let feed = BusFeed::new(index.clone(), store.clone(), slack_ms).start();
                c.subscribe(feed.clone().recipient(), feed.recipient())
                    .await;
            }
        }
    }
}

impl WriteObserver for SearchIndex {
    fn durable(&self, ops: &[WriteOp]) {
        self.feed(catchup::changes_of(ops));
    }
}

/// The index changes a bus event carries.
pub fn changes_of_bus(event: &BusEvent) -> Vec<Change> {
    let BusEvent::Rooms(batches) = event else {
        return Vec::new();
    };
    batches
        .iter()
        .flat_map(|b| b.items.iter())
        .filter_map(|item| match item {
            BusItem::Message { msg, .. } => Some(Change::Upsert(msg.into())),
            BusItem::Edited { id, body, at, .. } => Some(Change::Edit {
                id: id.0.clone(),
                body: body.clone(),
                at: *at,
            }),
            BusItem::Deleted { id } => Some(Change::Delete { id: id.0.clone() }),
            _ => None,
        })
        .collect()
}

/// Feeds the index from the cluster bus (see the module doc).
pub struct BusFeed {
    index: SearchIndex,
    store: Store,
    slack_ms: i64,
}

impl BusFeed {
    pub fn new(index: SearchIndex, store: Store, slack_ms: i64) -> Self {
        Self {
            index,
            store,
            slack_ms,
        }
    }
}

impl Actor for BusFeed {
    type Context = Context<Self>;
}

impl Handler<FromBus> for BusFeed {
    type Result = ();

    fn handle(&mut self, msg: FromBus, _ctx: &mut Context<Self>) {
        self.index.feed(changes_of_bus(&msg.event));
    }
}

impl Handler<BusResubscribed> for BusFeed {
    type Result = ();

    /// Events published while the subscription was down are lost: catch up from the last
    /// commit's watermark.
    fn handle(&mut self, _: BusResubscribed, _ctx: &mut Context<Self>) {
        let opened = Opened {
            watermark: self.index.watermark(),
            had_docs: true,
        };
        catchup::spawn(
            self.index.clone(),
            self.store.clone(),
            opened,
            self.slack_ms,
        );
    }
}
