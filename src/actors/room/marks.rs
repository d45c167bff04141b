//! Delivered marks: written apart from the room's batches. Every message that reaches a live
//! session brings a mark ("messages up to seq N reached this member"); a batch of its own per
//! mark was half of the appends (and, with `appendfsync always`, of the fsyncs) of the everyday
//! path. So marks do not queue behind or ahead of messages: the room keeps the newest mark per
//! member and writes them lazily through the Persister's group commit (see
//! `crate::actors::persister`), one write of the room's marks in flight at a time; the
//! `delivered` receipts follow once they are durable. A mark is "up to", so a later one covers
//! an earlier one whose write failed (it is forgotten and written again at the next delivery).

use std::collections::HashMap;

use actix::prelude::*;

use super::super::persister::Persist;
use super::Room;
use crate::cluster::bus::{BusItem, RoomBatch};
use crate::ids::UserId;
use crate::store::WriteOp;

/// The room's marks not yet durable.
#[derive(Default)]
pub(super) struct Marks {
    /// Newest mark per member, waiting for the write in flight to end.
    pending: HashMap<UserId, i64>,
    /// A write of marks is in flight.
    in_flight: bool,
}

impl Marks {
    /// Nothing waiting and nothing in flight.
    pub(super) fn settled(&self) -> bool {
        self.pending.is_empty() && !self.in_flight
    }

    /// Keeps `seq` as `user`'s mark to write (the higher one if there is one already).
    fn note(&mut self, user: UserId, seq: i64) {
        let m = self.pending.entry(user).or_insert(seq);
        *m = (*m).max(seq);
    }

    /// The marks to write now, by member (none while a write is in flight).
    fn take(&mut self) -> Vec<(UserId, i64)> {
        if self.in_flight || self.pending.is_empty() {
            return Vec::new();
        }
        self.in_flight = true;
        let mut marks: Vec<(UserId, i64)> = self.pending.drain().collect();
        marks.sort();
        marks
    }
}

impl Room {
    /// Records that messages up to `seq` reached `user`; a `delivered` receipt follows once the
    /// mark is durable.
    pub(super) fn note_delivered(&mut self, user: UserId, seq: i64, ctx: &mut Context<Self>) {
        if self.state.note_delivered(&user, seq) {
            self.marks.note(user, seq);
            self.write_marks(ctx);
        }
    }

    /// Writes the marks pending, if no write of them is in flight.
    fn write_marks(&mut self, ctx: &mut Context<Self>) {
        let marks = self.marks.take();
        if marks.is_empty() {
            return;
        }
        let room = self.state.id.clone();
        let ops = marks
            .iter()
            .map(|(user, seq)| WriteOp::Delivered {
                room: room.clone(),
                user: user.clone(),
                seq: *seq,
            })
            .collect();
        let items: Vec<BusItem> = marks
            .iter()
            .map(|(user, seq)| BusItem::Delivered {
                user: user.clone(),
                seq: *seq,
            })
            .collect();
        let fanout = self.deps.fanout.bus_copy(|| RoomBatch {
            room,
            items: items.clone(),
        });
        let write =
            self.deps
                .persister
                .persist_lazy(Persist::new(ops, fanout, self.state.last_seq));
        ctx.spawn(write.into_actor(self).map(move |res, act, ctx| {
            act.marks.in_flight = false;
            match res {
                Ok(_) => {
                    if let Some(items) = act.deps.fanout.deliver_after_commit(items) {
                        act.fan_out(items, ctx);
                    }
                }
                Err(e) => {
                    tracing::warn!(room = %act.state.id, error = %e, "delivered marks not written; written again at the next delivery");
                    for (user, _) in &marks {
                        act.state.forget_delivered(user);
                    }
                }
            }
            act.write_marks(ctx);
            act.answer_drains();
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_write_at_a_time_and_the_newest_mark_per_member() {
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let mut m = Marks::default();
        assert!(m.settled());
        m.note(bob.clone(), 3);
        assert!(!m.settled());
        assert_eq!(m.take(), vec![(bob.clone(), 3)]);
        // While that write is in flight, later marks wait, and only the newest per member stays.
        m.note(bob.clone(), 5);
        m.note(ann.clone(), 2);
        m.note(bob.clone(), 4);
        assert!(m.take().is_empty(), "one write in flight at a time");
        m.in_flight = false;
        assert_eq!(m.take(), vec![(ann, 2), (bob, 5)]);
        m.in_flight = false;
        assert!(m.settled());
        assert!(m.take().is_empty());
    }
}
