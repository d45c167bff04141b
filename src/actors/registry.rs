//! The RoomRegistry: starts a Room actor the first time a room is needed (loading its state from
//! the store), restarts one that died, lets idle ones stop, and keeps the index of live sessions
//! per user so that a room starting later, or a membership change, reaches every open session.
//!
//! Rooms run on a small pool of arbiters (threads) so fan-out uses every core.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::notifier::Notifier;
use super::outbox::{CloseSession, Deliver, SessionHandle};
use super::persister::Persister;
use super::room::{Join, Leave, Room, RoomDeps};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{RoomId, SessionId, UserId};
use crate::protocol::{RoomEventKind, RoomEventOut, ServerFrame};
use crate::store::rooms::RoomRecord;
use crate::store::Store;

/// The address of a room's actor, started if needed. `NotFound` if there is no such room.
#[derive(Message, Debug)]
#[rtype(result = "Result<Addr<Room>, ChatError>")]
pub struct GetRoom {
    pub room: RoomId,
}

/// A session opened: index it and attach it to the running rooms its user is in.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionOpened {
    pub handle: SessionHandle,
}

/// A session closed: forget it everywhere.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub user: UserId,
    pub session: SessionId,
}

/// Deliver a frame to every live session of these users (except one session, if given).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct DeliverToUsers {
    pub users: Vec<UserId>,
    pub frame: Deliver,
    pub except: Option<SessionId>,
}

/// Close every session that authenticated with this token (logout).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct CloseTokenSessions {
    pub token_hash: String,
    pub close: CloseSession,
}

/// A room was created: tell its members' sessions.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RoomCreated {
    pub room: RoomId,
    pub members: Vec<UserId>,
}

/// Sent by a Room after a membership change was persisted.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct MembershipChanged {
    pub room: RoomId,
    pub user: UserId,
    pub joined: bool,
}

/// Sent by an idle Room: may it stop? The registry forgets it before answering `true`.
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct RoomIdle {
    pub room: RoomId,
    pub addr: Addr<Room>,
}

type Waiters = Vec<oneshot::Sender<Result<Addr<Room>, ChatError>>>;

/// See the module doc.
pub struct RoomRegistry {
    store: Store,
    persister: Addr<Persister>,
    settings: Arc<Settings>,
    notifier: Option<Addr<Notifier>>,
    rooms: HashMap<RoomId, Addr<Room>>,
    /// Members of each running room, by user (to attach new sessions).
    running_by_user: HashMap<UserId, HashSet<RoomId>>,
    loading: HashMap<RoomId, Waiters>,
    sessions: HashMap<UserId, HashMap<SessionId, SessionHandle>>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
}

impl RoomRegistry {
    pub fn new(store: Store, persister: Addr<Persister>, settings: Arc<Settings>) -> Self {
        Self {
            store,
            persister,
            settings,
            notifier: None,
            rooms: HashMap::new(),
            running_by_user: HashMap::new(),
            loading: HashMap::new(),
            sessions: HashMap::new(),
            arbiters: Vec::new(),
            next_arbiter: 0,
        }
    }

    /// Rooms started from now on ask `notifier` to push to members who are away.
    pub fn with_notifier(mut self, notifier: Addr<Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    fn sessions_of<'a>(&'a self, users: impl Iterator<Item = &'a UserId>) -> Vec<SessionHandle> {
        users.filter_map(|u| self.sessions.get(u)).flat_map(|m| m.values().cloned()).collect()
    }

    fn start_room(&mut self, rec: RoomRecord, ctx: &mut Context<Self>) -> Addr<Room> {
        let sessions = self.sessions_of(rec.members.keys());
        for user in rec.members.keys() {
            self.running_by_user.entry(user.clone()).or_default().insert(rec.id.clone());
        }
        let deps = RoomDeps {
            store: self.store.clone(),
            persister: self.persister.clone(),
            registry: ctx.address(),
            settings: self.settings.clone(),
            notifier: self.notifier.clone(),
        };
        let id = rec.id.clone();
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        let addr = Room::start_in_arbiter(arbiter, move |_| Room::new(rec, sessions, deps));
        self.rooms.insert(id, addr.clone());
        addr
    }

    fn forget_room(&mut self, room: &RoomId) {
        self.rooms.remove(room);
        for rooms in self.running_by_user.values_mut() {
            rooms.remove(room);
        }
        self.running_by_user.retain(|_, r| !r.is_empty());
    }

    fn deliver(&self, users: &[UserId], frame: &Deliver, except: Option<&SessionId>) {
        for s in self.sessions_of(users.iter()) {
            if Some(&s.id) != except {
                s.offer(frame);
            }
        }
    }
}

impl Actor for RoomRegistry {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        let n = match self.settings.server.room_threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        self.arbiters = (0..n).map(|_| Arbiter::new().handle()).collect();
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for a in &self.arbiters {
            a.stop();
        }
    }
}

impl Handler<GetRoom> for RoomRegistry {
    type Result = ResponseFuture<Result<Addr<Room>, ChatError>>;

    fn handle(&mut self, msg: GetRoom, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(&msg.room) {
            if addr.connected() {
                let addr = addr.clone();
                return Box::pin(async move { Ok(addr) });
            }
            // The room's actor died (a panic ends its task): start it again from the store.
            tracing::warn!(room = %msg.room, "room actor died; restarting it");
            self.forget_room(&msg.room);
        }
        let (tx, rx) = oneshot::channel();
        let first = !self.loading.contains_key(&msg.room);
        self.loading.entry(msg.room.clone()).or_default().push(tx);
        if first {
            let store = self.store.clone();
            let id = msg.room.clone();
            let load = async move { store.load_room(&id).await };
            ctx.spawn(load.into_actor(self).map(move |res, act, ctx| {
                let waiters = act.loading.remove(&msg.room).unwrap_or_default();
                let outcome = match res {
                    Ok(Some(rec)) => Ok(act.start_room(rec, ctx)),
                    Ok(None) => Err(ChatError::NotFound("room")),
                    Err(e) => Err(ChatError::from(e)),
                };
                for w in waiters {
                    let _ = w.send(outcome.clone());
                }
            }));
        }
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(ChatError::Unavailable("room registry".into()))) })
    }
}

impl Handler<SessionOpened> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: SessionOpened, _ctx: &mut Context<Self>) {
        let h = msg.handle;
        if let Some(rooms) = self.running_by_user.get(&h.user) {
            for room in rooms {
                if let Some(addr) = self.rooms.get(room) {
                    addr.do_send(Join { handle: h.clone() });
                }
            }
        }
        self.sessions.entry(h.user.clone()).or_default().insert(h.id.clone(), h);
    }
}

impl Handler<SessionClosed> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, _ctx: &mut Context<Self>) {
        if let Some(map) = self.sessions.get_mut(&msg.user) {
            map.remove(&msg.session);
            if map.is_empty() {
                self.sessions.remove(&msg.user);
            }
        }
        if let Some(rooms) = self.running_by_user.get(&msg.user) {
            for room in rooms {
                if let Some(addr) = self.rooms.get(room) {
                    addr.do_send(Leave { session: msg.session.clone() });
                }
            }
        }
    }
}

impl Handler<DeliverToUsers> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DeliverToUsers, _ctx: &mut Context<Self>) {
        self.deliver(&msg.users, &msg.frame, msg.except.as_ref());
    }
}

impl Handler<CloseTokenSessions> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: CloseTokenSessions, _ctx: &mut Context<Self>) {
        for s in self.sessions.values().flat_map(|m| m.values()) {
            if s.token_hash == msg.token_hash {
                s.close.do_send(msg.close.clone());
            }
        }
    }
}

impl Handler<RoomCreated> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: RoomCreated, _ctx: &mut Context<Self>) {
        let frame = Deliver::new(ServerFrame::RoomEvent(RoomEventOut {
            room: msg.room,
            event: RoomEventKind::Created,
            user: None,
            role: None,
            name: None,
        }));
        self.deliver(&msg.members, &frame, None);
    }
}

impl Handler<MembershipChanged> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: MembershipChanged, _ctx: &mut Context<Self>) {
        if msg.joined {
            self.running_by_user.entry(msg.user.clone()).or_default().insert(msg.room.clone());
            if let Some(addr) = self.rooms.get(&msg.room) {
                for h in self.sessions_of(std::iter::once(&msg.user)) {
                    addr.do_send(Join { handle: h });
                }
            }
        } else if let Some(rooms) = self.running_by_user.get_mut(&msg.user) {
            rooms.remove(&msg.room);
        }
    }
}

impl Handler<RoomIdle> for RoomRegistry {
    type Result = bool;

    fn handle(&mut self, msg: RoomIdle, _ctx: &mut Context<Self>) -> bool {
        if self.rooms.get(&msg.room) == Some(&msg.addr) {
            self.forget_room(&msg.room);
        }
        true
    }
}
