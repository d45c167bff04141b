//! The online directory: where Presence learns who is online, chosen once at startup.
//!
//! - [`Directory::Local`] (one node): this node's sessions are everyone's. A user's first session
//!   here makes them online and their last one offline, decided at once (by the registry, which
//!   indexes sessions); lookups read Presence's counts of sessions here when they are back on the
//!   actor, in order with every session change.
//! - [`Directory::Redis`] (cluster mode, see `crate::cluster::presence`): session counts per
//!   user and node in Redis. A user is online while a session is open on any node; opening and
//!   closing are counted there, and the count says whether it was the first or last anywhere.
//!   The node renews an expiring key on a heartbeat and sweeps nodes whose key expired.
//!
//! A closed enum like `actors::fanout::FanOut`, for the same reasons: its answers ([`Online`],
//! [`Counted`]) say what Presence does next, so the actor does not ask which mode it runs in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::cluster::{Cluster, ClusterError};
use crate::ids::UserId;

/// How many sessions each user with one has open on this node.
pub(super) type Here = HashMap<UserId, usize>;

/// See the module doc; cheap to clone.
#[derive(Clone, Debug, Default)]
pub enum Directory {
    /// One node: who is online is who has a session here.
    #[default]
    Local,
    /// Cluster mode: counts in Redis, across nodes.
    Redis(Arc<Cluster>),
}

/// Who of some users is online, as a lookup answered.
pub(super) enum Online {
    /// One node: read this node's sessions once the lookup is back on the actor.
    Here,
    /// Cluster mode: as Redis counted them, one answer per user asked.
    Known(Vec<bool>),
}

impl Online {
    /// One answer per user of `users` (the users the lookup asked about, in the same order).
    pub(super) fn of<'a>(self, users: impl Iterator<Item = &'a UserId>, here: &Here) -> Vec<bool> {
        match self {
            Online::Here => users.map(|u| here.contains_key(u)).collect(),
            Online::Known(known) => known,
        }
    }

    /// Whether `user`, the one user asked, is `online` as far as this answer and `here` say.
    pub(super) fn says(&self, user: &UserId, online: bool, here: &Here) -> bool {
        match self {
            Online::Here => here.contains_key(user) == online,
            Online::Known(known) => known.first() == Some(&online),
        }
    }

    /// Whether the answer is already known to differ from `online` for the one user asked (so
    /// an announcement of `online` is stale before any more work).
    pub(super) fn known_other_than(&self, online: bool) -> bool {
        match self {
            Online::Here => false,
            Online::Known(known) => known.first() != Some(&online),
        }
    }
}

/// How a session opening or closing was counted.
pub(super) enum Counted {
    /// One node: at once; `true` if it was the user's first (or last) session, here and so
    /// anywhere.
    Here(bool),
    /// Cluster mode: in Redis; answers whether it was the user's first (or last) session on any
    /// node. Awaited before the session says `hello`, so its user is counted online by then.
    Elsewhere(Counting),
}

/// A count under way in Redis: see [`Counted::Elsewhere`].
pub(super) type Counting = BoxFuture<'static, Result<bool, ClusterError>>;

impl Directory {
    /// How often this node must renew its presence (cluster mode); never on one node.
    pub fn heartbeat_every(&self) -> Option<Duration> {
        match self {
            Directory::Local => None,
            Directory::Redis(c) => Some(Duration::from_millis(c.settings.heartbeat_ms)),
        }
    }

    /// Renews this node's key (registering `mine`, its sessions per user, again if the node had
    /// been presumed dead), then sweeps dead nodes; answers the users they left offline.
    pub(super) async fn heartbeat(
        self,
        mine: Vec<(UserId, usize)>,
    ) -> Result<Vec<UserId>, ClusterError> {
        let Directory::Redis(cluster) = self else {
            return Ok(Vec::new());
        };
        if !cluster.heartbeat().await? && !mine.is_empty() {
            tracing::warn!("this node's presence key had expired; registering its sessions again");
            cluster.restore(&mine).await?;
        }
        cluster.sweep_dead().await
    }

    /// Which of `users` are online (see [`Online`]).
    pub(super) async fn lookup<'a>(
        &self,
        users: impl IntoIterator<Item = &'a UserId>,
    ) -> Result<Online, ClusterError> {
        match self {
            Directory::Local => Ok(Online::Here),
            Directory::Redis(c) => {
                let users: Vec<UserId> = users.into_iter().cloned().collect();
                Ok(Online::Known(c.online_among(&users).await?))
            }
        }
    }

    /// Counts a session of `user` opening (`up`) or closing; `changed_here` is whether it was
    /// their first (or last) session on this node.
    pub(super) fn count(&self, user: &UserId, up: bool, changed_here: bool) -> Counted {
        match self {
            Directory::Local => Counted::Here(changed_here),
            Directory::Redis(c) => {
                let (cluster, user) = (c.clone(), user.clone());
                Counted::Elsewhere(Box::pin(async move {
                    if up {
                        Ok(cluster.session_up(&user).await? == 1)
                    } else {
                        Ok(cluster.session_down(&user).await? == 0)
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::from(s)
    }

    #[actix::test]
    async fn on_one_node_the_directory_is_this_nodes_sessions_decided_at_once() {
        let dir = Directory::Local;
        assert_eq!(dir.heartbeat_every(), None);
        assert!(matches!(
            dir.count(&u("ann"), true, true),
            Counted::Here(true)
        ));
        assert!(matches!(
            dir.count(&u("ann"), false, false),
            Counted::Here(false)
        ));
        let here: Here = [(u("ann"), 1)].into();
        let asked = [u("ann"), u("bob")];
        let online = dir.lookup(&asked).await.ok();
        assert!(matches!(online, Some(Online::Here)));
        let online = online.map(|o| o.of(asked.iter(), &here));
        assert_eq!(online, Some(vec![true, false]));
        // Read from this node's sessions when back on the actor, never known before.
        assert!(!Online::Here.known_other_than(false));
        assert!(Online::Here.says(&u("ann"), true, &here));
        assert!(Online::Here.says(&u("bob"), false, &here));
    }

    #[test]
    fn a_count_from_redis_decides_what_is_announced() {
        let known = Online::Known(vec![false]);
        let here: Here = [(u("ann"), 1)].into();
        // The cluster's count wins over this node's sessions.
        assert!(known.known_other_than(true));
        assert!(known.says(&u("ann"), false, &here));
        assert_eq!(known.of([u("ann")].iter(), &here), vec![false]);
    }
}
