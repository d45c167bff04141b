//! Cluster mode only (`FanOut::Bus`): which rooms this node's users are in, so that a room's
//! events arriving over the bus start its actor here only if one of its members has a session
//! on this node, and the events for a room being started wait for it in arrival order.

use std::collections::{HashMap, HashSet};

use crate::cluster::bus::BusItem;
use crate::ids::{RoomId, UserId};

/// See the module doc. Held by the registry only in cluster mode.
#[derive(Default)]
pub(super) struct BusIndex {
    /// The rooms of each user with a session here...
    member_rooms: HashMap<UserId, HashSet<RoomId>>,
    /// ...and the reverse: per room, its members with a session here.
    room_locals: HashMap<RoomId, HashSet<UserId>>,
    /// Bus events for rooms being started, in arrival order.
    pending: HashMap<RoomId, Vec<Vec<BusItem>>>,
}

impl BusIndex {
    /// `user`, who has a session here, is a member of `room`.
    pub(super) fn index(&mut self, user: &UserId, room: &RoomId) {
        self.member_rooms
            .entry(user.clone())
            .or_default()
            .insert(room.clone());
        self.room_locals
            .entry(room.clone())
            .or_default()
            .insert(user.clone());
    }

    /// `user` is no longer a member of `room`.
    pub(super) fn unindex(&mut self, user: &UserId, room: &RoomId) {
        if let Some(rooms) = self.member_rooms.get_mut(user) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.member_rooms.remove(user);
            }
        }
        if let Some(users) = self.room_locals.get_mut(room) {
            users.remove(user);
            if users.is_empty() {
                self.room_locals.remove(room);
            }
        }
    }

    /// `user`'s last session here closed: their rooms no longer concern this node for them.
    pub(super) fn forget_user(&mut self, user: &UserId) {
        for room in self.member_rooms.remove(user).unwrap_or_default() {
            self.unindex(user, &room);
        }
    }

    /// Holds `items` for `room` until its actor runs, if one of its members has a session here;
    /// answers whether it did (the room must then be started).
    pub(super) fn hold(&mut self, room: &RoomId, items: Vec<BusItem>) -> bool {
        if !self.room_locals.contains_key(room) {
            return false;
        }
        self.pending.entry(room.clone()).or_default().push(items);
        true
    }

    /// The events held for `room`, in arrival order (see [`BusIndex::hold`]).
    pub(super) fn take_held(&mut self, room: &RoomId) -> Vec<Vec<BusItem>> {
        self.pending.remove(room).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rooms_events_are_held_only_while_a_member_has_a_session_here() {
        let (ann, bob) = (UserId::from("ann"), UserId::from("bob"));
        let (r1, r2) = (RoomId::from("r1"), RoomId::from("r2"));
        let mut bus = BusIndex::default();
        assert!(!bus.hold(&r1, vec![]), "nobody here is in r1");

        bus.index(&ann, &r1);
        bus.index(&ann, &r2);
        bus.index(&bob, &r1);
        assert!(bus.hold(&r1, vec![]));
        assert!(bus.hold(&r1, vec![]));
        assert_eq!(bus.take_held(&r1).len(), 2);
        assert!(bus.take_held(&r1).is_empty(), "handed over once");

        bus.unindex(&ann, &r2);
        assert!(!bus.hold(&r2, vec![]), "ann left r2");
        bus.forget_user(&ann);
        assert!(bus.hold(&r1, vec![]), "bob is still here");
        bus.forget_user(&bob);
        assert!(!bus.hold(&r1, vec![]), "nobody here is in r1 any more");
        assert!(bus.member_rooms.is_empty() && bus.room_locals.is_empty());
    }
}
