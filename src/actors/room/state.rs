//! What a room knows that decides its writes: members and roles, blocks in a dm, the seq
//! counter, the recent client ids (idempotent resends) and the delivered marks. Plain data, no
//! actor: `plan` and `rules` read it, the actor changes it only through the methods here.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::cluster::bus::ChangeItem;
use crate::config::RoomSettings;
use crate::ids::{MessageId, RoomId, UserId};
use crate::protocol::{Ack, Role};
use crate::store::rooms::{RoomKind, RoomRecord};

/// What a recent message's ack said, besides its room and client id.
struct Remembered {
    id: MessageId,
    seq: i64,
    ts: i64,
}

/// Who gives a room's messages their seqs; chosen once at startup with the fan-out strategy
/// (`FanOut::seq_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqSource {
    /// The room (one node): it counts on from its last seq, so a batch's seqs are known before
    /// the batch is durable, and the room delivers the batch itself once it is.
    Room,
    /// The store (cluster mode): the Redis append script counts, for the room's actors on every
    /// node at once. A message carries seq 0 until the append places it, and the batch comes
    /// back over the bus, from which every node delivers it.
    Store,
}

impl SeqSource {
    /// The seq of the next message of a batch, `counter` being the last one given out in it:
    /// the room counts on; the store's is not known until the append (0).
    pub(super) fn next(self, counter: &mut i64) -> i64 {
        match self {
            SeqSource::Room => {
                *counter += 1;
                *counter
            }
            SeqSource::Store => 0,
        }
    }
}

/// See the module doc.
pub(super) struct RoomState {
    pub(super) id: RoomId,
    pub(super) kind: RoomKind,
    pub(super) members: HashMap<UserId, Role>,
    /// In a dm: (blocker, blocked).
    pub(super) blocked: HashSet<(UserId, UserId)>,
    /// The highest durable seq known (outside cluster mode, the last one this room gave out).
    pub(super) last_seq: i64,
    /// `[rooms]`: sizes and windows the rules use.
    pub(super) settings: RoomSettings,
    /// Who gives out the seqs (the store in cluster mode, where frames come back over the bus).
    pub(super) seqs: SeqSource,
    /// Recent (sender, client id) → what its ack said, for idempotent resends; at most
    /// `rooms.dedupe_window` entries, the oldest forgotten first (`recent_order`). Kept compact
    /// (the room and client id are not stored twice): every active room holds a full window.
    recent: HashMap<(UserId, String), Remembered>,
    recent_order: VecDeque<(UserId, String)>,
    /// Highest seq known delivered to each member (to send each delivered receipt once).
    delivered: HashMap<UserId, i64>,
}

impl RoomState {
    pub(super) fn new(rec: RoomRecord, settings: RoomSettings, seqs: SeqSource) -> Self {
        Self {
            id: rec.id,
            kind: rec.kind,
            members: rec.members,
            blocked: rec.blocked.into_iter().collect(),
            last_seq: rec.last_seq,
            settings,
            seqs,
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            delivered: HashMap::new(),
        }
    }

    /// Receipts are exchanged only in rooms up to this size (a receipt per member per message
    /// does not scale to large groups).
    pub(super) fn receipts_enabled(&self) -> bool {
        self.members.len() <= self.settings.receipts_max_members
    }

    /// The ack of `user`'s message `client_id`, if it is among the recent ones.
    pub(super) fn recent_ack(&self, user: &UserId, client_id: &str) -> Option<Ack> {
        let r = self.recent.get(&(user.clone(), client_id.to_owned()))?;
        Some(Ack {
            client_id: client_id.to_owned(),
            room: self.id.clone(),
            id: r.id.clone(),
            seq: r.seq,
            ts: r.ts,
            reference: None,
        })
    }

    /// Remembers an ack for resends, forgetting the oldest beyond `rooms.dedupe_window`.
    pub(super) fn remember(&mut self, user: UserId, ack: Ack) {
        let key = (user, ack.client_id);
        let entry = Remembered {
            id: ack.id,
            seq: ack.seq,
            ts: ack.ts,
        };
        if self.recent.insert(key.clone(), entry).is_none() {
            self.recent_order.push_back(key);
        }
        while self.recent_order.len() > self.settings.dedupe_window.max(1) {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// Records that messages up to `seq` reached `user`; true if that is news worth a
    /// `delivered` receipt (the room takes receipts and `user` is a member).
    pub(super) fn note_delivered(&mut self, user: &UserId, seq: i64) -> bool {
        if seq < 1 || !self.receipts_enabled() || !self.members.contains_key(user) {
            return false;
        }
        let known = self.delivered.entry(user.clone()).or_insert(0);
        if *known >= seq {
            return false;
        }
        *known = seq;
        true
    }

    /// Forgets `user`'s delivered mark (its write failed), so a later delivery writes it again.
    pub(super) fn forget_delivered(&mut self, user: &UserId) {
        self.delivered.remove(user);
    }

    pub(super) fn set_blocked(&mut self, blocker: UserId, blocked: UserId, on: bool) {
        let pair = (blocker, blocked);
        if on {
            self.blocked.insert(pair);
        } else {
            self.blocked.remove(&pair);
        }
    }

    /// Applies a durable change to the members (no frames).
    pub(super) fn apply_change(&mut self, change: &ChangeItem) {
        match change {
            ChangeItem::Add { user } => {
                self.members.entry(user.clone()).or_insert(Role::Member);
            }
            ChangeItem::Remove { user } => {
                self.members.remove(user);
            }
            ChangeItem::SetRole { user, role } => {
                self.members.insert(user.clone(), *role);
            }
            ChangeItem::Update { .. } => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) mod tests {
    use super::*;
    use crate::ids::MessageId;

    /// A room of `kind` with these members, seq at `last_seq`, default `[rooms]` settings.
    pub(in crate::actors::room) fn room(
        kind: RoomKind,
        members: &[(&str, Role)],
        last_seq: i64,
    ) -> RoomState {
        let rec = RoomRecord {
            id: RoomId::from("r1"),
            kind,
            name: None,
            created_at: 0,
            last_seq,
            members: members
                .iter()
                .map(|(u, r)| (UserId::from(*u), *r))
                .collect(),
            avatar: None,
            blocked: vec![],
        };
        RoomState::new(rec, RoomSettings::default(), SeqSource::Room)
    }

    pub(in crate::actors::room) fn ack(client_id: &str, seq: i64) -> Ack {
        Ack {
            client_id: client_id.to_owned(),
            room: RoomId::from("r1"),
            id: MessageId::from(format!("m{seq}")),
            seq,
            ts: 1,
            reference: None,
        }
    }

    #[test]
    fn the_dedupe_window_forgets_the_oldest_ack_first() {
        let mut s = room(RoomKind::Group, &[("ann", Role::Owner)], 0);
        s.settings.dedupe_window = 2;
        let ann = UserId::from("ann");
        for (i, cid) in ["a", "b", "c"].into_iter().enumerate() {
            s.remember(ann.clone(), ack(cid, i as i64 + 1));
        }
        assert!(s.recent_ack(&ann, "a").is_none());
        assert_eq!(s.recent_ack(&ann, "b").map(|a| a.seq), Some(2));
        assert_eq!(s.recent_ack(&ann, "c").map(|a| a.seq), Some(3));
        // Client ids are per sender.
        assert!(s.recent_ack(&UserId::from("bob"), "c").is_none());
    }

    #[test]
    fn remembering_the_same_client_id_again_takes_no_extra_room() {
        let mut s = room(RoomKind::Group, &[("ann", Role::Owner)], 0);
        s.settings.dedupe_window = 2;
        let ann = UserId::from("ann");
        s.remember(ann.clone(), ack("a", 1));
        s.remember(ann.clone(), ack("b", 2));
        s.remember(ann.clone(), ack("b", 2));
        assert!(s.recent_ack(&ann, "a").is_some());
        assert!(s.recent_ack(&ann, "b").is_some());
    }

    #[test]
    fn a_delivered_mark_is_news_once_per_higher_seq() {
        let mut s = room(
            RoomKind::Dm,
            &[("ann", Role::Member), ("bob", Role::Member)],
            9,
        );
        let bob = UserId::from("bob");
        // (seq, news?) in order.
        let steps = [(0, false), (3, true), (3, false), (2, false), (5, true)];
        for (seq, news) in steps {
            assert_eq!(s.note_delivered(&bob, seq), news, "seq {seq}");
        }
        s.forget_delivered(&bob);
        assert!(
            s.note_delivered(&bob, 5),
            "a forgotten mark is written again"
        );
        assert!(
            !s.note_delivered(&UserId::from("eve"), 7),
            "not for non-members"
        );
    }

    #[test]
    fn large_rooms_take_no_delivered_receipts() {
        let mut s = room(
            RoomKind::Group,
            &[("ann", Role::Owner), ("bob", Role::Member)],
            9,
        );
        s.settings.receipts_max_members = 1;
        assert!(!s.receipts_enabled());
        assert!(!s.note_delivered(&UserId::from("bob"), 3));
    }

    #[test]
    fn durable_changes_update_the_members() {
        let mut s = room(RoomKind::Group, &[("ann", Role::Owner)], 0);
        let bob = UserId::from("bob");
        s.apply_change(&ChangeItem::Add { user: bob.clone() });
        assert_eq!(s.members.get(&bob), Some(&Role::Member));
        s.apply_change(&ChangeItem::SetRole {
            user: bob.clone(),
            role: Role::Admin,
        });
        // Adding an existing member keeps its role.
        s.apply_change(&ChangeItem::Add { user: bob.clone() });
        assert_eq!(s.members.get(&bob), Some(&Role::Admin));
        s.apply_change(&ChangeItem::Update {
            name: Some("x".into()),
        });
        assert_eq!(s.members.len(), 2);
        s.apply_change(&ChangeItem::Remove { user: bob.clone() });
        assert!(!s.members.contains_key(&bob));
    }
}
