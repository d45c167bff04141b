//! How what happens in a room reaches its recipients: the fan-out strategy, chosen once at
//! startup and held by the rooms, their `PersistHandle`, the Persister and the `RoomRegistry`.
//!
//! - [`FanOut::Local`] (one node, embedded or Redis mode): a room delivers a durable batch to its
//!   own live sessions as soon as it is durable, and the registry delivers frames for users to
//!   the sessions it indexes. A member is away when no session of theirs is live in the room.
//! - [`FanOut::Bus`] (cluster mode, see `crate::cluster`): a room's durable batch is published on
//!   the bus by the same atomic append that makes it durable, and every node, this one included,
//!   delivers it to its own sessions from there; typing, blocks and frames for users are
//!   published too. A member is away when the cluster presence in Redis counts no session of
//!   theirs on any node.
//!
//! A closed enum rather than a trait object: a `Box<dyn Trait>` would need its async calls
//! boxed (one allocation per batch on the message path), and a type parameter on `Room` would
//! spread to every `Addr<Room>` in the server. One `match` per batch or event costs nothing
//! measurable, and adding a mode means adding a variant the compiler then asks for everywhere.
//! The room keeps the delivery itself (its sessions and state are its own); the strategy answers
//! whether it delivers now or the bus does, and makes the bus calls.

use std::collections::HashSet;
use std::sync::Arc;

use actix::Addr;

use super::notifier::{Notifier, NotifyAway};
use super::room::SeqSource;
use crate::cluster::bus::{BusEvent, RoomBatch};
use crate::cluster::Cluster;
use crate::ids::{RoomId, UserId};
use crate::store::NewMessage;

/// See the module doc; cheap to clone.
#[derive(Clone, Debug, Default)]
pub enum FanOut {
    /// One node: rooms and the registry deliver to this node's sessions directly.
    #[default]
    Local,
    /// Cluster mode: through the bus, from which every node delivers to its own sessions.
    /// Shared: every room holds a copy of the strategy.
    Bus(Arc<Cluster>),
}

impl FanOut {
    /// Who gives out the rooms' seqs: the room itself on one node; in cluster mode the append
    /// script in Redis, since the room's actors on every node write into one sequence.
    pub fn seq_source(&self) -> SeqSource {
        match self {
            FanOut::Local => SeqSource::Room,
            FanOut::Bus(_) => SeqSource::Store,
        }
    }

    /// Whether rooms' events reach this node over the bus, so the registry must know which
    /// rooms its users are in to route them (see `RoomRegistry`).
    pub fn routes_from_bus(&self) -> bool {
        matches!(self, FanOut::Bus(_))
    }

    /// The bus copy of a batch about to be made durable (`make` builds it), handed to the
    /// Persister, which publishes it with the append; none when the room delivers it itself.
    pub fn bus_copy(&self, make: impl FnOnce() -> RoomBatch) -> Option<RoomBatch> {
        match self {
            FanOut::Local => None,
            FanOut::Bus(_) => Some(make()),
        }
    }

    /// The frames' contents of a durable batch that the room must deliver now: all of them on
    /// one node; none in cluster mode, where they come back over the bus (already published
    /// by the append) and every node delivers them in seq order.
    pub fn deliver_after_commit<T>(&self, items: T) -> Option<T> {
        match self {
            FanOut::Local => Some(items),
            FanOut::Bus(_) => None,
        }
    }

    /// Something to tell the recipients that needs no durable write (typing, frames for users,
    /// a logout): on one node `what` is handed back for the caller to deliver here; in cluster
    /// mode the event `to_bus` makes of it is published in the background (every node, this
    /// one included, delivers it from the bus) and nothing is handed back.
    pub fn publish_or_keep<T>(&self, what: T, to_bus: impl FnOnce(T) -> BusEvent) -> Option<T> {
        match self {
            FanOut::Local => Some(what),
            FanOut::Bus(cluster) => {
                cluster.publish_later(to_bus(what));
                None
            }
        }
    }

    /// A change of a room's state that other nodes' actors of the room must hear of too (a block
    /// in a dm); the caller applies it here itself. Nothing to do on one node.
    pub fn tell_other_nodes(&self, batch: impl FnOnce() -> RoomBatch) {
        if let FanOut::Bus(cluster) = self {
            cluster.publish_later(BusEvent::Rooms(vec![batch()]));
        }
    }

    /// Asks `notifier` to push the committed `msg` to the members of `room` who are away, never
    /// to its sender. On one node, away means no live session in the room (`live_here`, asked
    /// after the fan-out so sessions found gone count as away). In cluster mode, no session on
    /// any node (the cluster presence, asked in the background); only the node that committed
    /// the message asks, so a push is never sent twice. If the Notifier's mailbox is full the
    /// pushes are dropped rather than the room waiting.
    pub fn notify_away<'a>(
        &self,
        notifier: &Addr<Notifier>,
        room: (&RoomId, bool),
        msg: NewMessage,
        members: impl Iterator<Item = &'a UserId>,
        live_here: impl FnOnce() -> HashSet<&'a UserId>,
    ) {
        let (room, dm) = room;
        match self {
            FanOut::Local => {
                let live = live_here();
                let users: Vec<UserId> = members
                    .filter(|u| **u != msg.sender && !live.contains(u))
                    .cloned()
                    .collect();
                if users.is_empty() {
                    return;
                }
                let seq = msg.seq;
                if notifier
                    .try_send(away_notice(room.clone(), dm, msg, users))
                    .is_err()
                {
                    tracing::warn!(room = %room, seq, "notifier busy or gone; pushes for this message dropped");
                }
            }
            FanOut::Bus(cluster) => {
                let users: Vec<UserId> = members.filter(|u| **u != msg.sender).cloned().collect();
                if users.is_empty() {
                    return;
                }
                let (notifier, cluster, room) = (notifier.clone(), cluster.clone(), room.clone());
                actix::spawn(async move {
                    let online = match cluster.online_among(&users).await {
                        Ok(o) => o,
                        Err(e) => {
                            tracing::warn!(room = %room, error = %e, "cannot read presence; pushes for this message dropped");
                            return;
                        }
                    };
                    let away: Vec<UserId> = users
                        .into_iter()
                        .zip(online)
                        .filter(|(_, on)| !on)
                        .map(|(u, _)| u)
                        .collect();
                    if away.is_empty() {
                        return;
                    }
                    if notifier.try_send(away_notice(room, dm, msg, away)).is_err() {
                        tracing::warn!("notifier busy or gone; pushes for a message dropped");
                    }
                });
            }
        }
    }
}

/// The Notifier's request to push `msg` of `room` to `users`.
fn away_notice(room: RoomId, dm: bool, msg: NewMessage, users: Vec<UserId>) -> NotifyAway {
    NotifyAway {
        room,
        dm,
        message: msg.id,
        seq: msg.seq,
        from: msg.sender,
        body: msg.body,
        ts: msg.ts,
        users,
        mentions: msg.mentions,
    }
}
