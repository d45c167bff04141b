//! Presence: who is online (any open session) and since when they were last seen. When a user's
//! first session opens or last one closes, everyone who shares a dm or a group of at most
//! `rooms.presence_max_members` members with them is told (see `Store::presence_peers`).
//!
//! It keeps no sessions: the registry indexes them, decides a user's first and last session on
//! this node, and tells this actor (`SessionUp`, `SessionDown`) with the user's count of sessions
//! here, which is all it keeps. Where it learns who is online is its [`Directory`], chosen once
//! at startup: those counts, or in cluster mode the counts in Redis (`crate::cluster::presence`),
//! where a user is online while a session is open on any node; then this actor renews the node's
//! key every `cluster.heartbeat_ms` (registering the counts here again if it had expired) and
//! sweeps nodes whose key expired, announcing their users offline.

mod directory;

use std::collections::HashMap;

use actix::prelude::*;
use tokio::sync::oneshot;

pub use directory::Directory;
use directory::{Counted, Here, Online};

use crate::config::RoomSettings;
use crate::error::ChatError;

use super::outbox::{Deliver, SessionHandle};
use super::registry::{DeliverToSession, DeliverToUsers, RoomRegistry};
use crate::ids::{now_ms, UserId};
use crate::protocol::{PresenceOut, ServerFrame};
use crate::shutdown::Drain;
use crate::store::Store;

/// A session opened on this node (sent by the registry, which indexes sessions). The presence
/// of the people it hears about who are online now (see `Store::presence_peers`) is handed to
/// `handle` (the session writes it after `hello`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionUp {
    pub handle: SessionHandle,
    /// The user's sessions on this node with this one: 1 if it is their first here.
    pub here: usize,
    /// Answered once the session is counted (in cluster mode, once Redis counted it): the
    /// session sends `hello` after.
    pub counted: oneshot::Sender<()>,
}

/// A session of `user` closed on this node (sent by the registry).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionDown {
    pub user: UserId,
    /// The user's sessions left on this node: 0 if that was their last here.
    pub here: usize,
}

/// Who is online now among everyone who shares a room with `user` (for `GET /api/presence`),
/// leaving out those who blocked `user`. Fails, showing nobody, if a lookup fails.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<PresenceOut>, ChatError>")]
pub struct OnlineContacts {
    pub user: UserId,
}

/// See the module doc.
pub struct Presence {
    store: Store,
    registry: Addr<RoomRegistry>,
    /// How many sessions each user has on this node, as the registry last said.
    here: Here,
    /// Who is online: this node's sessions, or the cluster's counts (see the module doc).
    directory: Directory,
    /// Cluster mode: users a previous run of this node left online, announced offline at start.
    stale: Vec<UserId>,
    /// Presence is pushed within dms and groups up to this size (`rooms.presence_max_members`).
    max_members: usize,
    /// Lookups and `last_seen` writes under way.
    busy: usize,
    /// Shutdown: answered once nothing is under way.
    drains: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Presence {
    pub fn new(store: Store, registry: Addr<RoomRegistry>) -> Self {
        Self {
            store,
            registry,
            here: HashMap::new(),
            directory: Directory::Local,
            stale: Vec::new(),
            max_members: RoomSettings::default().presence_max_members,
            busy: 0,
            drains: Vec::new(),
        }
    }

    /// Counts `work` as under way until it is done (see [`Drain`]).
    fn track(
        &mut self,
        work: impl ActorFuture<Self, Output = ()> + 'static,
        ctx: &mut Context<Self>,
    ) {
        self.busy += 1;
        ctx.spawn(work.map(|(), act, _| {
            act.busy -= 1;
            if act.busy == 0 {
                for drained in act.drains.drain(..) {
                    // A drain whose caller gave up needs no answer.
                    let _ = drained.send(());
                }
            }
        }));
    }

    /// Pushes presence within dms and groups of at most `max` members.
    pub fn with_max_members(mut self, max: usize) -> Self {
        self.max_members = max;
        self
    }

    /// The online directory; `stale` are users a previous run of this node left online (in
    /// cluster mode, those `Cluster::sweep_own` found), announced offline at start.
    pub fn with_directory(mut self, directory: Directory, stale: Vec<UserId>) -> Self {
        self.directory = directory;
        self.stale = stale;
        self
    }

    /// Renews this node's presence in the directory (see `Directory::heartbeat`) and announces
    /// the users of dead nodes offline.
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let mine: Vec<(UserId, usize)> = self.here.iter().map(|(u, n)| (u.clone(), *n)).collect();
        let work = self.directory.clone().heartbeat(mine);
        ctx.spawn(work.into_actor(self).map(|res, act, ctx| match res {
            Ok(gone) => {
                let now = now_ms();
                for user in gone {
                    act.announce(user, false, Some(now), ctx);
                }
            }
            Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
        }));
    }

    /// Announces `user` online (`up`) or offline once `counting` (see `Counted::Elsewhere`) says
    /// that was their first or last session anywhere. The future ends once it was counted.
    fn counted(
        &mut self,
        user: UserId,
        up: bool,
        counting: directory::Counting,
    ) -> ResponseActFuture<Self, ()> {
        Box::pin(counting.into_actor(self).map(move |res, act, ctx| match res {
            Ok(true) if up => act.announce(user, true, None, ctx),
            Ok(true) => act.announce(user, false, Some(now_ms()), ctx),
            Ok(false) => {}
            Err(e) => tracing::warn!(user = %user, error = %e, "cannot count a session in the cluster presence"),
        }))
    }

    /// Tells `user`'s co-members; skipped if the state changed again before the lookup finished
    /// (the later change announces itself).
    fn announce(
        &mut self,
        user: UserId,
        online: bool,
        last_seen: Option<i64>,
        ctx: &mut Context<Self>,
    ) {
        let store = self.store.clone();
        let who = user.clone();
        let directory = self.directory.clone();
        let max_members = self.max_members;
        let work = async move {
            // Skipped if the state changed again meanwhile (the later change announces itself):
            // known at once from the cluster's counts; on one node, seen when back on the actor.
            let now = directory.lookup(std::iter::once(&who)).await?;
            if now.known_other_than(online) {
                return Ok((vec![], now));
            }
            if let Some(at) = last_seen {
                if let Err(e) = store.set_last_seen(&who, at).await {
                    tracing::warn!(user = %who, error = %e, "could not store last_seen");
                }
            }
            // People I blocked do not see my presence.
            let peers = store.presence_peers(&who, max_members).await?;
            let users: Vec<UserId> = peers
                .into_iter()
                .filter(|p| !p.hidden)
                .map(|p| p.user)
                .collect();
            Ok::<_, AnnounceError>((users, now))
        };
        let done = work.into_actor(self).map(move |res, act, _| match res {
            Ok((_, now)) if !now.says(&user, online, &act.here) => {}
            Ok((users, _)) if !users.is_empty() => {
                let frame = Deliver::new(ServerFrame::Presence(PresenceOut {
                    user,
                    online,
                    last_seen,
                }));
                act.registry.do_send(DeliverToUsers {
                    users,
                    frame,
                    except: None,
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not look up co-members for presence"),
        });
        self.track(done, ctx);
    }
}

/// Why a presence lookup failed (to announce a change, or to say who is online).
#[derive(Debug, thiserror::Error)]
enum AnnounceError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

impl Actor for Presence {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(every) = self.directory.heartbeat_every() {
            self.heartbeat(ctx);
            ctx.run_interval(every, |act, ctx| act.heartbeat(ctx));
        }
        let now = now_ms();
        for user in std::mem::take(&mut self.stale) {
            self.announce(user, false, Some(now), ctx);
        }
    }
}

impl Handler<SessionUp> for Presence {
    type Result = ();

    /// `counted` is answered at once on one node, in cluster mode once Redis counted the session.
    fn handle(&mut self, msg: SessionUp, ctx: &mut Context<Self>) {
        let user = msg.handle.user.clone();
        self.here.insert(user.clone(), msg.here);
        match self.directory.count(&user, true, msg.here == 1) {
            // The snapshot's lookup of the peers announces the user too.
            Counted::Here(first) => {
                self.snapshot(user, msg.handle, first, ctx);
                // The registry stopped waiting (shutdown): nobody to tell.
                let _ = msg.counted.send(());
            }
            Counted::Elsewhere(counting) => {
                self.snapshot(user.clone(), msg.handle, false, ctx);
                let counted = msg.counted;
                let work = self.counted(user, true, counting).map(move |(), _, _| {
                    // The registry stopped waiting (shutdown): nobody to tell.
                    let _ = counted.send(());
                });
                ctx.spawn(work);
            }
        }
    }
}

impl Presence {
    /// Hands a new session the presence of its user's online peers and, when `announce` (the
    /// user's first session, on one node), tells those peers the user is online: one lookup of
    /// the peers for both, the one a connect costs.
    fn snapshot(
        &mut self,
        user: UserId,
        handle: SessionHandle,
        announce: bool,
        ctx: &mut Context<Self>,
    ) {
        let store = self.store.clone();
        let directory = self.directory.clone();
        let max_members = self.max_members;
        let who = user.clone();
        let work = async move {
            let peers = store.presence_peers(&who, max_members).await?;
            let online = directory.lookup(peers.iter().map(|p| &p.user)).await?;
            Ok::<_, AnnounceError>((peers, online))
        };
        let done = work.into_actor(self).map(move |res, act, _| {
            let (peers, online) = match res {
                Ok(v) => v,
                Err(e) => return tracing::warn!(user = %user, error = %e, "could not look up presence peers"),
            };
            // Counted elsewhere (cluster mode), announcements reach the session over the bus, in
            // no order with this actor's: the snapshot goes to it directly.
            let direct = matches!(online, Online::Known(_));
            let here = online.of(peers.iter().map(|p| &p.user), &act.here);
            // Those who blocked the user are not shown to them.
            let frames: Vec<Deliver> = peers
                .iter()
                .zip(here)
                .filter(|(peer, on)| *on && !peer.blocked_me)
                .map(|(peer, _)| Deliver::new(ServerFrame::Presence(PresenceOut { user: peer.user.clone(), online: true, last_seen: None })))
                .collect();
            if direct {
                for f in &frames {
                    handle.offer(f);
                }
            } else if !frames.is_empty() {
                // Through the registry, after every announcement this actor sent before: an
                // older "offline" of a peer still on its way cannot overtake this "online".
                act.registry.do_send(DeliverToSession { user: user.clone(), session: handle.id.clone(), frames });
            }
            // Skipped if the user went offline again meanwhile (that change announces itself).
            if announce && act.here.contains_key(&user) {
                let users: Vec<UserId> = peers.into_iter().filter(|p| !p.hidden).map(|p| p.user).collect();
                if !users.is_empty() {
                    let frame = Deliver::new(ServerFrame::Presence(PresenceOut { user, online: true, last_seen: None }));
                    act.registry.do_send(DeliverToUsers { users, frame, except: None });
                }
            }
        });
        self.track(done, ctx);
    }
}

impl Handler<SessionDown> for Presence {
    type Result = ();

    fn handle(&mut self, msg: SessionDown, ctx: &mut Context<Self>) {
        let last = msg.here == 0;
        if last {
            self.here.remove(&msg.user);
        } else {
            self.here.insert(msg.user.clone(), msg.here);
        }
        match self.directory.count(&msg.user, false, last) {
            Counted::Here(true) => self.announce(msg.user, false, Some(now_ms()), ctx),
            Counted::Here(false) => {}
            Counted::Elsewhere(counting) => {
                let counted = self.counted(msg.user, false, counting);
                self.track(counted, ctx);
            }
        }
    }
}

impl Handler<Drain> for Presence {
    type Result = ResponseFuture<()>;

    /// Shutdown: answered once the announcements under way are done (the `last_seen` of
    /// everyone whose last session just closed is stored).
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        if self.busy == 0 {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.drains.push(tx);
        Box::pin(async move {
            // Answered when drained, or dropped when the actor stops: both mean done.
            let _ = rx.await;
        })
    }
}

impl Handler<OnlineContacts> for Presence {
    type Result = ResponseActFuture<Self, Result<Vec<PresenceOut>, ChatError>>;

    fn handle(&mut self, msg: OnlineContacts, _ctx: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        let directory = self.directory.clone();
        let who = msg.user.clone();
        // Every lookup must succeed: without the blockers, people who blocked the user would
        // be shown to them.
        let work = async move {
            let users = store.co_members(&who).await?;
            let blockers = store.blockers_of(&who).await?;
            let users: Vec<UserId> = users
                .into_iter()
                .filter(|u| !blockers.contains(u))
                .collect();
            let online = directory.lookup(&users).await?;
            Ok::<_, AnnounceError>((users, online))
        };
        Box::pin(work.into_actor(self).map(move |res, act, _| {
            let (users, online) = res.map_err(|e| {
                tracing::warn!(user = %msg.user, error = %e, "could not look up presence; none shown");
                ChatError::Unavailable("presence".into())
            })?;
            let here = online.of(users.iter(), &act.here);
            Ok(users
                .into_iter()
                .zip(here)
                .filter(|(_, on)| *on)
                .map(|(user, _)| PresenceOut {
                    user,
                    online: true,
                    last_seen: None,
                })
                .collect())
        }))
    }
}
