//! The order in which a session writes the answers to its `send`s.
//!
//! The Room replies in seq order, but the replies are futures spawned on the session's context,
//! and actix polls those in no fixed order; without this a client could see the ack for seq 30
//! before seq 29. Each `send` takes a ticket per room, and an answer is written only after the
//! answers to every earlier ticket of that room.

use std::collections::{BTreeMap, HashMap};

use crate::ids::RoomId;
use crate::protocol::ServerFrame;

/// Per room, the `send`s still waiting for their answer to be written.
#[derive(Default)]
pub(super) struct AckOrders {
    rooms: HashMap<RoomId, AckOrder>,
}

/// The pending answers of one room.
#[derive(Default)]
struct AckOrder {
    /// Ticket of the next `send`.
    next: u64,
    /// Ticket whose answer is written next.
    written: u64,
    /// Answers that came before an earlier one.
    ready: BTreeMap<u64, ServerFrame>,
}

impl AckOrders {
    /// The ticket of a new `send` to `room`.
    pub(super) fn ticket(&mut self, room: &RoomId) -> u64 {
        let order = self.rooms.entry(room.clone()).or_default();
        let ticket = order.next;
        order.next += 1;
        ticket
    }

    /// `frame` answers the `send` holding `ticket` in `room`: the answers that are due now, in
    /// order (none while an earlier one is missing). An answer for a room with no `send` pending
    /// is due at once.
    pub(super) fn answer(
        &mut self,
        room: &RoomId,
        ticket: u64,
        frame: ServerFrame,
    ) -> Vec<ServerFrame> {
        let Some(order) = self.rooms.get_mut(room) else {
            return vec![frame];
        };
        order.ready.insert(ticket, frame);
        let mut due = Vec::new();
        while let Some(f) = order.ready.remove(&order.written) {
            due.push(f);
            order.written += 1;
        }
        if order.written == order.next {
            self.rooms.remove(room);
        }
        due
    }

    /// No `send` waits for its answer.
    pub(super) fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Pong;

    fn answer(n: u64) -> ServerFrame {
        ServerFrame::Pong(Pong {
            reference: Some(n.to_string()),
        })
    }

    fn refs(frames: &[ServerFrame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                ServerFrame::Pong(p) => p.reference.clone().unwrap_or_default(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn answers_are_written_in_the_order_of_their_sends_per_room() {
        let (r1, r2) = (RoomId::from("r1"), RoomId::from("r2"));
        let mut orders = AckOrders::default();
        let t: Vec<u64> = (0..3).map(|_| orders.ticket(&r1)).collect();
        let other = orders.ticket(&r2);
        assert!(refs(&orders.answer(&r1, t[2], answer(2))).is_empty());
        assert_eq!(
            refs(&orders.answer(&r2, other, answer(9))),
            ["9"],
            "rooms wait for nobody else"
        );
        assert!(refs(&orders.answer(&r1, t[1], answer(1))).is_empty());
        assert!(!orders.is_empty());
        assert_eq!(refs(&orders.answer(&r1, t[0], answer(0))), ["0", "1", "2"]);
        assert!(orders.is_empty(), "every send is answered");
    }

    #[test]
    fn an_answer_without_a_pending_send_is_due_at_once() {
        let mut orders = AckOrders::default();
        assert_eq!(
            refs(&orders.answer(&RoomId::from("r"), 5, answer(5))),
            ["5"]
        );
    }
}
