//! The RoomRegistry: starts a Room actor the first time a room is needed (loading its state from
//! the store), restarts one that died, lets idle ones stop, and keeps this node's one index of
//! live sessions per user (`live::LiveSessions`) so that a room starting later, or a membership
//! change, reaches every open session. It decides a user's first and last session here and tells
//! `Presence` (`SessionUp`, `SessionDown`), in the same handler that changes the index.
//!
//! Rooms run on a small pool of arbiters (threads) so fan-out uses every core.
//!
//! Its `FanOut` (see `crate::actors::fanout`) is the one it hands every room. In cluster mode
//! (`FanOut::Bus`) it also routes what arrives over the bus (`crate::cluster::bus`): a room's
//! events go to its actor here, which is started if one of its members has a session on this
//! node (the rooms of local users are in a `bus_index::BusIndex`, held in cluster mode only) and
//! otherwise dropped; frames for users, new rooms and logouts reach the local sessions
//! concerned. What is meant for users
//! (`DeliverToUsers`, `RoomCreated`, `CloseTokenSessions`) is published instead of delivered
//! locally, so it reaches their sessions on every node.

mod bus_index;
mod live;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::fanout::FanOut;
use super::notifier::Notifier;
use super::outbox::{CloseSession, Deliver, SessionHandle};
use super::persister::PersistHandle;
use super::presence::{Presence, SessionDown, SessionUp};
use super::room::{Join, Leave, Room, RoomBus, RoomDeps};
use crate::cluster::bus::{BusEvent, BusItem, BusResubscribed, ChangeItem, FromBus};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{RoomId, SessionId, UserId};
use crate::protocol::{RoomEventKind, RoomEventOut, ServerFrame};
use crate::shutdown::{Drain, DrainPresence};
use crate::store::rooms::RoomRecord;
use crate::store::Store;
use bus_index::BusIndex;
use live::LiveSessions;

/// The address of a room's actor, started if needed. `NotFound` if there is no such room.
#[derive(Message, Debug)]
#[rtype(result = "Result<Addr<Room>, ChatError>")]
pub struct GetRoom {
    pub room: RoomId,
}

/// The same for a session: a room started for it runs on `home`, the session's own thread, so
/// the room's work for that session (its sends, their acks, its frames) never crosses threads.
/// The first session to need a room decides where it runs (in a dm, usually the first to write).
#[derive(Message, Debug)]
#[rtype(result = "Result<Addr<Room>, ChatError>")]
pub struct OpenRoom {
    pub room: RoomId,
    pub home: ArbiterHandle,
}

/// A session opened: index it, attach it to the running rooms its user is in, and tell Presence.
/// Answered once Presence counted it (in cluster mode, in Redis) and, in cluster mode, once its
/// user's rooms are indexed: the session sends `hello` after.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SessionOpened {
    pub handle: SessionHandle,
}

/// Deliver frames to one session of `user`, in order with every `DeliverToUsers` sent before
/// (the presence snapshot of a new session: see `Presence`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct DeliverToSession {
    pub user: UserId,
    pub session: SessionId,
    pub frames: Vec<Deliver>,
}

/// How many live sessions `user` has on this node.
#[derive(Message, Debug)]
#[rtype(result = "usize")]
pub struct SessionCount {
    pub user: UserId,
}

/// A session closed: forget it everywhere, and tell Presence.
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

/// Deliver a frame to this node's sessions of these users only (in cluster mode the same frame
/// is being delivered by every node).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct DeliverHere {
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
    persister: PersistHandle,
    settings: Arc<Settings>,
    notifier: Option<Addr<Notifier>>,
    rooms: HashMap<RoomId, Addr<Room>>,
    /// Members of each running room, by user (to attach new sessions).
    running_by_user: HashMap<UserId, HashSet<RoomId>>,
    loading: HashMap<RoomId, Waiters>,
    /// Where a room being loaded will run, when a session asked for it first (see `OpenRoom`).
    homes: HashMap<RoomId, ArbiterHandle>,
    /// This node's live sessions (see `live`).
    sessions: LiveSessions,
    /// Told of each user's sessions here opening and closing; `None` in tests of rooms alone.
    presence: Option<Addr<Presence>>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    /// How rooms and frames for users reach the sessions (see the module doc).
    fanout: FanOut,
    /// Cluster mode only: which rooms this node's users are in, to route the bus (see
    /// `bus_index`).
    bus: Option<BusIndex>,
}

impl RoomRegistry {
    pub fn new(store: Store, persister: impl Into<PersistHandle>, settings: Arc<Settings>) -> Self {
        Self {
            store,
            persister: persister.into(),
            settings,
            notifier: None,
            rooms: HashMap::new(),
            running_by_user: HashMap::new(),
            loading: HashMap::new(),
            homes: HashMap::new(),
            sessions: LiveSessions::default(),
            presence: None,
            arbiters: Vec::new(),
            next_arbiter: 0,
            fanout: FanOut::Local,
            bus: None,
        }
    }

    /// The fan-out strategy; with `FanOut::Bus` (cluster mode) rooms get their frames from the
    /// bus, and frames for users are published.
    pub fn with_fanout(mut self, fanout: FanOut) -> Self {
        self.bus = fanout.routes_from_bus().then(BusIndex::default);
        self.fanout = fanout;
        self
    }

    /// Loads and starts `room` unless that is under way; waiters and queued bus events are served
    /// once it runs.
    fn ensure_loading(&mut self, room: RoomId, ctx: &mut Context<Self>) {
        if self.loading.contains_key(&room) {
            return;
        }
        self.loading.insert(room.clone(), Vec::new());
        let store = self.store.clone();
        let id = room.clone();
        let load = async move { store.load_room(&id).await };
        ctx.spawn(load.into_actor(self).map(move |res, act, ctx| {
            let waiters = act.loading.remove(&room).unwrap_or_default();
            if res.as_ref().map_or(true, |r| r.is_none()) {
                act.homes.remove(&room);
            }
            let outcome = match res {
                Ok(Some(rec)) => Ok(act.start_room(rec, ctx)),
                Ok(None) => Err(ChatError::NotFound("room")),
                Err(e) => Err(ChatError::from(e)),
            };
            let pending = act
                .bus
                .as_mut()
                .map(|bus| bus.take_held(&room))
                .unwrap_or_default();
            match &outcome {
                Ok(addr) => {
                    for items in pending {
                        addr.do_send(RoomBus { items });
                    }
                }
                Err(e) if !pending.is_empty() => tracing::warn!(room = %room, error = %e, "room could not start; its bus events are dropped here"),
                Err(_) => {}
            }
            for w in waiters {
                // A waiter that stopped waiting (its session closed) needs no answer.
                let _ = w.send(outcome.clone());
            }
        }));
    }

    /// A room's bus events: to its actor here, started if a local member needs it.
    fn route(&mut self, room: RoomId, items: Vec<BusItem>, ctx: &mut Context<Self>) {
        if let Some(bus) = &mut self.bus {
            for item in &items {
                if let BusItem::Changed(ChangeItem::Add { user }) = item {
                    if self.sessions.has(user) {
                        bus.index(user, &room);
                    }
                }
            }
        }
        if let Some(addr) = self.rooms.get(&room) {
            if addr.connected() {
                addr.do_send(RoomBus { items });
                return;
            }
            self.forget_room(&room);
        }
        let held = self.bus.as_mut().is_some_and(|bus| bus.hold(&room, items));
        if held {
            self.ensure_loading(room, ctx);
        }
    }

    /// Rooms started from now on ask `notifier` to push to members who are away.
    pub fn with_notifier(mut self, notifier: Addr<Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Tells `presence` of each user's sessions here opening and closing (it may not run yet:
    /// see `Context::new`).
    pub fn with_presence(mut self, presence: Addr<Presence>) -> Self {
        self.presence = Some(presence);
        self
    }

    fn sessions_of<'a>(
        &'a self,
        users: impl Iterator<Item = &'a UserId> + 'a,
    ) -> Vec<SessionHandle> {
        self.sessions.of(users).cloned().collect()
    }

    fn start_room(&mut self, rec: RoomRecord, ctx: &mut Context<Self>) -> Addr<Room> {
        let sessions = self.sessions_of(rec.members.keys());
        for user in rec.members.keys() {
            self.running_by_user
                .entry(user.clone())
                .or_default()
                .insert(rec.id.clone());
        }
        let deps = RoomDeps {
            store: self.store.clone(),
            persister: self.persister.clone(),
            registry: ctx.address(),
            settings: self.settings.clone(),
            notifier: self.notifier.clone(),
            fanout: self.fanout.clone(),
        };
        let id = rec.id.clone();
        let addr = match self.homes.remove(&id) {
            Some(home) => Room::start_in_arbiter(&home, move |_| Room::new(rec, sessions, deps)),
            None => {
                let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
                self.next_arbiter = self.next_arbiter.wrapping_add(1);
                Room::start_in_arbiter(arbiter, move |_| Room::new(rec, sessions, deps))
            }
        };
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
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
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
        self.get_room(msg.room, None, ctx)
    }
}

impl Handler<OpenRoom> for RoomRegistry {
    type Result = ResponseFuture<Result<Addr<Room>, ChatError>>;

    fn handle(&mut self, msg: OpenRoom, ctx: &mut Context<Self>) -> Self::Result {
        self.get_room(msg.room, Some(msg.home), ctx)
    }
}

impl RoomRegistry {
    /// The room's running actor, or one started on `home` (else on the room threads).
    fn get_room(
        &mut self,
        room: RoomId,
        home: Option<ArbiterHandle>,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<Addr<Room>, ChatError>> {
        if let Some(addr) = self.rooms.get(&room) {
            if addr.connected() {
                let addr = addr.clone();
                return Box::pin(async move { Ok(addr) });
            }
            // The room's actor died (a panic ends its task): start it again from the store.
            tracing::warn!(room = %room, "room actor died; restarting it");
            self.forget_room(&room);
        }
        let (tx, rx) = oneshot::channel();
        if let Some(home) = home {
            if !self.loading.contains_key(&room) {
                self.homes.insert(room.clone(), home);
            }
        }
        self.ensure_loading(room.clone(), ctx);
        self.loading.entry(room).or_default().push(tx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ChatError::Unavailable("room registry".into())))
        })
    }
}

impl Handler<SessionOpened> for RoomRegistry {
    type Result = ResponseFuture<()>;

    /// The wait for Presence (and in cluster mode for the room lookup) runs as a plain task, not
    /// in the registry's context: the context polls every future spawned in it at each wake-up,
    /// so a reconnect storm of 2,000 sessions waiting there at once would slow every delivery
    /// the registry makes. In cluster mode the rooms found are indexed by `IndexRooms`, and
    /// the session is answered after that.
    fn handle(&mut self, msg: SessionOpened, ctx: &mut Context<Self>) -> Self::Result {
        let h = msg.handle;
        let user = h.user.clone();
        let counted = self.attach(h);
        let counted = async move {
            if let Some(counted) = counted {
                // Presence stopped (shutdown) without counting it: nothing to wait for.
                let _ = counted.await;
            }
        };
        if self.bus.is_none() {
            return Box::pin(counted);
        }
        let store = self.store.clone();
        let me = ctx.address();
        Box::pin(async move {
            let (rooms, ()) = tokio::join!(store.room_ids_of(&user), counted);
            match rooms {
                // A registry that stopped has nobody left to deliver to.
                Ok(rooms) => {
                    let _ = me.send(IndexRooms { user, rooms }).await;
                }
                Err(e) => {
                    tracing::warn!(user = %user, error = %e, "cannot index the rooms of a new session; it gets their events after a reconnect")
                }
            }
        })
    }
}

/// Cluster mode: the rooms of a new session's user, to route their bus events to it (see
/// `SessionOpened`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
struct IndexRooms {
    user: UserId,
    rooms: Vec<RoomId>,
}

impl Handler<IndexRooms> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: IndexRooms, _ctx: &mut Context<Self>) {
        // The session may have closed meanwhile: then its user is not indexed again.
        if !self.sessions.has(&msg.user) {
            return;
        }
        if let Some(bus) = &mut self.bus {
            for room in msg.rooms {
                bus.index(&msg.user, &room);
            }
        }
    }
}

impl RoomRegistry {
    /// Indexes a new session, attaches it to its user's running rooms and tells Presence;
    /// answers what resolves once Presence counted it (`None` without Presence).
    fn attach(&mut self, h: SessionHandle) -> Option<oneshot::Receiver<()>> {
        if let Some(rooms) = self.running_by_user.get(&h.user) {
            for room in rooms {
                if let Some(addr) = self.rooms.get(room) {
                    addr.do_send(Join { handle: h.clone() });
                }
            }
        }
        let here = self.sessions.open(h.clone());
        let presence = self.presence.as_ref()?;
        let (counted, rx) = oneshot::channel();
        // `do_send`, never `send`: `send` to a full mailbox is queued later, and a later
        // `SessionDown` of the same user could then overtake it.
        presence.do_send(SessionUp {
            handle: h,
            here,
            counted,
        });
        Some(rx)
    }
}

impl Handler<SessionCount> for RoomRegistry {
    type Result = usize;

    fn handle(&mut self, msg: SessionCount, _ctx: &mut Context<Self>) -> usize {
        self.sessions.count(&msg.user)
    }
}

impl Handler<SessionClosed> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, _ctx: &mut Context<Self>) {
        if let Some(here) = self.sessions.close(&msg.user, &msg.session) {
            match &mut self.bus {
                Some(bus) if here == 0 => bus.forget_user(&msg.user),
                _ => {}
            }
            if let Some(presence) = &self.presence {
                presence.do_send(SessionDown {
                    user: msg.user.clone(),
                    here,
                });
            }
        }
        if let Some(rooms) = self.running_by_user.get(&msg.user) {
            for room in rooms {
                if let Some(addr) = self.rooms.get(room) {
                    addr.do_send(Leave {
                        session: msg.session.clone(),
                    });
                }
            }
        }
    }
}

impl Handler<DeliverToUsers> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DeliverToUsers, _ctx: &mut Context<Self>) {
        let here = self.fanout.publish_or_keep(msg, |msg| BusEvent::ToUsers {
            users: msg.users,
            frame: Box::new(msg.frame.frame.frame.clone()),
            except: msg.except,
        });
        if let Some(msg) = here {
            self.deliver(&msg.users, &msg.frame, msg.except.as_ref());
        }
    }
}

impl Handler<DeliverToSession> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DeliverToSession, _ctx: &mut Context<Self>) {
        if let Some(h) = self.sessions.get(&msg.user, &msg.session) {
            for f in &msg.frames {
                h.offer(f);
            }
        }
    }
}

impl Handler<DeliverHere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DeliverHere, _ctx: &mut Context<Self>) {
        self.deliver(&msg.users, &msg.frame, msg.except.as_ref());
    }
}

impl Handler<FromBus> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: FromBus, ctx: &mut Context<Self>) {
        match msg.event {
            BusEvent::Rooms(batches) => {
                for b in batches {
                    self.route(b.room, b.items, ctx);
                }
            }
            BusEvent::RoomCreated { room, members } => {
                if let Some(bus) = &mut self.bus {
                    for m in members.iter().filter(|m| self.sessions.has(m)) {
                        bus.index(m, &room);
                    }
                }
                self.deliver(&members, &created_frame(room), None);
            }
            BusEvent::ToUsers {
                users,
                frame,
                except,
            } => self.deliver(&users, &Deliver::new(*frame), except.as_ref()),
            BusEvent::CloseToken {
                token_hash,
                code,
                reason,
            } => self.close_token(&token_hash, &CloseSession { code, reason }),
        }
    }
}

impl Handler<BusResubscribed> for RoomRegistry {
    type Result = ();

    /// Events published while the subscription was down are lost: every session here is closed
    /// (1012, service restart) so its client reconnects and catches up with `sync`.
    fn handle(&mut self, _: BusResubscribed, _ctx: &mut Context<Self>) {
        tracing::warn!("bus subscription was lost; closing this node's sessions so clients resync");
        for s in self.sessions.all() {
            s.close.do_send(CloseSession {
                code: crate::protocol::close::SERVICE_RESTART,
                reason: "reconnect and sync".into(),
            });
        }
    }
}

impl Handler<CloseTokenSessions> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: CloseTokenSessions, _ctx: &mut Context<Self>) {
        let here = self
            .fanout
            .publish_or_keep(msg, |msg| BusEvent::CloseToken {
                token_hash: msg.token_hash,
                code: msg.close.code,
                reason: msg.close.reason,
            });
        if let Some(msg) = here {
            self.close_token(&msg.token_hash, &msg.close);
        }
    }
}

impl RoomRegistry {
    fn close_token(&self, token_hash: &str, close: &CloseSession) {
        for s in self.sessions.all() {
            if s.token_hash == token_hash {
                s.close.do_send(close.clone());
            }
        }
    }
}

/// The `room_event` `created` of `room`.
fn created_frame(room: RoomId) -> Deliver {
    Deliver::new(ServerFrame::RoomEvent(RoomEventOut {
        room,
        event: RoomEventKind::Created,
        user: None,
        role: None,
        name: None,
    }))
}

impl Handler<RoomCreated> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: RoomCreated, _ctx: &mut Context<Self>) {
        let here = self
            .fanout
            .publish_or_keep(msg, |msg| BusEvent::RoomCreated {
                room: msg.room,
                members: msg.members,
            });
        if let Some(msg) = here {
            self.deliver(&msg.members, &created_frame(msg.room), None);
        }
    }
}

impl Handler<MembershipChanged> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: MembershipChanged, _ctx: &mut Context<Self>) {
        match &mut self.bus {
            Some(bus) if self.sessions.has(&msg.user) && msg.joined => {
                bus.index(&msg.user, &msg.room);
            }
            Some(bus) if self.sessions.has(&msg.user) => bus.unindex(&msg.user, &msg.room),
            _ => {}
        }
        if msg.joined {
            self.running_by_user
                .entry(msg.user.clone())
                .or_default()
                .insert(msg.room.clone());
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

impl Handler<Drain> for RoomRegistry {
    type Result = ResponseFuture<()>;

    /// Shutdown: answered once every running room has finished the batches it holds.
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        let rooms: Vec<Addr<Room>> = self
            .rooms
            .values()
            .filter(|r| r.connected())
            .cloned()
            .collect();
        tracing::info!(rooms = rooms.len(), "draining the running rooms");
        Box::pin(async move {
            futures_util::future::join_all(rooms.iter().map(|r| r.send(Drain))).await;
        })
    }
}

impl Handler<DrainPresence> for RoomRegistry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: DrainPresence, _ctx: &mut Context<Self>) -> Self::Result {
        // In Presence's mailbox behind every `SessionDown` sent before: `send` to a full mailbox
        // queues it later, never earlier.
        let drained = self.presence.as_ref().map(|p| p.send(Drain));
        Box::pin(async move {
            if let Some(drained) = drained {
                // A Presence that stopped has nothing left to store.
                let _ = drained.await;
            }
        })
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
