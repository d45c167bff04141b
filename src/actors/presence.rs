//! Presence: who is online (any open session) and since when they were last seen. When a user's
//! first session opens or last one closes, everyone who shares a room with them is told.

use std::collections::HashMap;

use actix::prelude::*;

use super::outbox::Deliver;
use super::registry::{DeliverToUsers, RoomRegistry};
use crate::ids::{now_ms, SessionId, UserId};
use crate::protocol::{PresenceOut, ServerFrame};
use crate::store::Store;

/// A session of `user` opened.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionUp {
    pub user: UserId,
    pub session: SessionId,
}

/// A session of `user` closed.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionDown {
    pub user: UserId,
    pub session: SessionId,
}

/// The presence of everyone who shares a room with `user` and is online now.
#[derive(Message, Debug)]
#[rtype(result = "Vec<PresenceOut>")]
pub struct OnlineContacts {
    pub user: UserId,
}

/// Whether `user` has an open session (for push decisions and tests).
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct IsOnline {
    pub user: UserId,
}

/// See the module doc.
pub struct Presence {
    store: Store,
    registry: Addr<RoomRegistry>,
    online: HashMap<UserId, Vec<SessionId>>,
}

impl Presence {
    pub fn new(store: Store, registry: Addr<RoomRegistry>) -> Self {
        Self { store, registry, online: HashMap::new() }
    }

    /// Tells `user`'s co-members; skipped if the state changed again before the lookup finished
    /// (the later change announces itself).
    fn announce(&mut self, user: UserId, online: bool, last_seen: Option<i64>, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let who = user.clone();
        let work = async move {
            if let Some(at) = last_seen {
                if let Err(e) = store.set_last_seen(&who, at).await {
                    tracing::warn!(user = %who, error = %e, "could not store last_seen");
                }
            }
            // People I blocked do not see my presence.
            let hidden = store.blocked_by(&who).await?;
            let users = store.co_members(&who).await?;
            Ok::<_, crate::store::StoreError>(users.into_iter().filter(|u| !hidden.contains(u)).collect::<Vec<_>>())
        };
        ctx.spawn(work.into_actor(self).map(move |res, act, _| {
            if act.online.contains_key(&user) != online {
                return;
            }
            match res {
                Ok(users) if !users.is_empty() => {
                    let frame = Deliver::new(ServerFrame::Presence(PresenceOut { user, online, last_seen }));
                    act.registry.do_send(DeliverToUsers { users, frame, except: None });
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not look up co-members for presence"),
            }
        }));
    }
}

impl Actor for Presence {
    type Context = Context<Self>;
}

impl Handler<SessionUp> for Presence {
    type Result = ();

    fn handle(&mut self, msg: SessionUp, ctx: &mut Context<Self>) {
        let sessions = self.online.entry(msg.user.clone()).or_default();
        sessions.push(msg.session);
        if sessions.len() == 1 {
            self.announce(msg.user, true, None, ctx);
        }
    }
}

impl Handler<SessionDown> for Presence {
    type Result = ();

    fn handle(&mut self, msg: SessionDown, ctx: &mut Context<Self>) {
        let Some(sessions) = self.online.get_mut(&msg.user) else { return };
        sessions.retain(|s| *s != msg.session);
        if sessions.is_empty() {
            self.online.remove(&msg.user);
            self.announce(msg.user, false, Some(now_ms()), ctx);
        }
    }
}

impl Handler<OnlineContacts> for Presence {
    type Result = ResponseActFuture<Self, Vec<PresenceOut>>;

    fn handle(&mut self, msg: OnlineContacts, _ctx: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        let work = async move {
            let users = store.co_members(&msg.user).await.unwrap_or_default();
            let blockers = store.blockers_of(&msg.user).await.unwrap_or_default();
            users.into_iter().filter(|u| !blockers.contains(u)).collect::<Vec<_>>()
        };
        Box::pin(work.into_actor(self).map(
            |users, act, _| {
                users
                    .into_iter()
                    .filter(|u| act.online.contains_key(u))
                    .map(|user| PresenceOut { user, online: true, last_seen: None })
                    .collect()
            },
        ))
    }
}

impl Handler<IsOnline> for Presence {
    type Result = bool;

    fn handle(&mut self, msg: IsOnline, _ctx: &mut Context<Self>) -> bool {
        self.online.contains_key(&msg.user)
    }
}
