//! What a room knows that decides its writes: members and roles, blocks in a dm, the seq
//! counter, the recent client ids (idempotent resends) and the delivered marks. Plain data, no
//! actor: `plan` and `rules` read it, the actor changes it only through the methods here.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::cluster::bus::ChangeItem;
use crate::config::RoomSettings;
use crate::ids::{RoomId, UserId};
use crate::protocol::{Ack, Role};
use crate::store::rooms::RoomRecord;

/// See the module doc.
pub(super) struct RoomState {
    pub(super) id: RoomId,
    pub(super) kind: String,
    pub(super) members: HashMap<UserId, Role>,
    /// In a dm: (blocker, blocked).
    pub(super) blocked: HashSet<(UserId, UserId)>,
    /// The highest durable seq known (outside cluster mode, the last one this room gave out).
    pub(super) last_seq: i64,
    /// `[rooms]`: sizes and windows the rules use.
    pub(super) settings: RoomSettings,
    /// Cluster mode: Redis allocates the seqs, and frames come back over the bus.
    pub(super) clustered: bool,
    /// Recent (sender, client id) → ack, for idempotent resends.
    recent: HashMap<(UserId, String), Ack>,
    recent_order: VecDeque<(UserId, String)>,
    /// Highest seq known delivered to each member (to send each delivered receipt once).
    delivered: HashMap<UserId, i64>,
}

impl RoomState {
    pub(super) fn new(rec: RoomRecord, settings: RoomSettings, clustered: bool) -> Self {
        Self {
            id: rec.id,
            kind: rec.kind,
            members: rec.members,
            blocked: rec.blocked.into_iter().collect(),
            last_seq: rec.last_seq,
            settings,
            clustered,
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
    pub(super) fn recent_ack(&self, user: &UserId, client_id: &str) -> Option<&Ack> {
        self.recent.get(&(user.clone(), client_id.to_owned()))
    }

    /// Remembers an ack for resends, forgetting the oldest beyond `rooms.dedupe_window`.
    pub(super) fn remember(&mut self, user: UserId, ack: Ack) {
        let key = (user, ack.client_id.clone());
        if self.recent.insert(key.clone(), ack).is_none() {
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
