//! A Room: one actor per active conversation. It owns the member list, the seq counter and the
//! live sessions of its members. Writes (messages, edits, deletes, read marks, changes to the
//! room) queue as jobs; the room assigns seqs to a batch, hands it to the Persister, and only once
//! the batch is durable acks the senders and fans the frames out (`batch`). One batch is in flight
//! at a time, so seqs are gap-free: a failed batch is not counted and its senders are told to
//! retry. Delivered marks are written apart, lazily, and hold back no batch (`marks`).
//!
//! The decisions are apart from the actor and its I/O, and unit-tested there: the room's state
//! (`state`), who may do what (`rules`), and what a batch writes and answers (`plan`).

mod batch;
mod draft;
mod marks;
mod messages;
mod plan;
mod rules;
mod state;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

pub use draft::{Check, Draft};
pub use messages::*;
pub use state::SeqSource;

use super::fanout::FanOut;
use super::notifier::Notifier;
use super::outbox::{Deliver, Offer, SessionHandle};
use super::persister::PersistHandle;
use super::registry::{RoomIdle, RoomRegistry};
use crate::cluster::bus::{BusEvent, BusItem, RoomBatch};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{SessionId, UserId};
use crate::metrics;
use crate::protocol::{Ack, ServerFrame, TypingState};
use crate::shutdown::Drain;
use crate::store::rooms::RoomRecord;
use crate::store::Store;
use batch::RoomJob;
use plan::Job;
use state::RoomState;

/// What a Room needs from the rest of the server.
#[derive(Clone)]
pub struct RoomDeps {
    pub store: Store,
    pub persister: PersistHandle,
    pub registry: Addr<RoomRegistry>,
    pub settings: Arc<Settings>,
    /// Pushes to members with no live session (none in tests that do not need it).
    pub notifier: Option<Addr<Notifier>>,
    /// How durable batches and events reach the recipients: this node's sessions directly, or
    /// the cluster bus (see `crate::actors::fanout`).
    pub fanout: FanOut,
}

/// See the module doc.
pub struct Room {
    state: RoomState,
    sessions: HashMap<SessionId, SessionHandle>,
    jobs: VecDeque<RoomJob>,
    in_flight: bool,
    /// Delivered marks not yet durable (written apart from the batches: see `marks`).
    marks: marks::Marks,
    typing: HashMap<UserId, SpawnHandle>,
    last_activity: Instant,
    deps: RoomDeps,
    /// Shutdown: answered once no job is queued and no batch is in flight.
    drains: Vec<oneshot::Sender<()>>,
}

impl Room {
    pub fn new(rec: RoomRecord, sessions: Vec<SessionHandle>, deps: RoomDeps) -> Self {
        let state = RoomState::new(rec, deps.settings.rooms.clone(), deps.fanout.seq_source());
        let sessions = sessions
            .into_iter()
            .filter(|s| state.members.contains_key(&s.user))
            .map(|s| (s.id.clone(), s))
            .collect();
        Self {
            state,
            sessions,
            jobs: VecDeque::new(),
            in_flight: false,
            marks: marks::Marks::default(),
            typing: HashMap::new(),
            last_activity: Instant::now(),
            deps,
            drains: Vec::new(),
        }
    }

    /// Sends `frame` to the live sessions selected by `to`, forgetting the ones that are gone.
    /// Returns the users at least one of whose sessions took it, in rooms with receipts (an
    /// empty set in the others, where nobody asks).
    fn broadcast(
        &mut self,
        frame: ServerFrame,
        to: impl Fn(&SessionHandle) -> bool,
    ) -> HashSet<UserId> {
        let d = Deliver::new(frame);
        let mut gone = Vec::new();
        let mut reached = HashSet::new();
        let track = self.state.receipts_enabled();
        for (id, s) in &self.sessions {
            if !to(s) {
                continue;
            }
            if s.offer(&d) == Offer::Sent {
                if track {
                    reached.insert(s.user.clone());
                }
            } else {
                gone.push(id.clone());
            }
        }
        for id in gone {
            self.sessions.remove(&id);
        }
        reached
    }

    /// No job queued, no batch in flight and no delivered mark unwritten.
    fn settled(&self) -> bool {
        self.jobs.is_empty() && !self.in_flight && self.marks.settled()
    }

    /// Answers the drains waiting, if the room is settled.
    fn answer_drains(&mut self) {
        if !self.settled() {
            return;
        }
        for drained in self.drains.drain(..) {
            // A drain whose caller gave up needs no answer.
            let _ = drained.send(());
        }
    }

    /// Queues a job and starts a batch if none is in flight.
    fn enqueue(&mut self, job: RoomJob, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        self.jobs.push_back(job);
        self.pump(ctx);
    }

    fn check_idle(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_secs(self.deps.settings.rooms.idle_secs);
        if !self.sessions.is_empty() || !self.settled() || self.last_activity.elapsed() < idle {
            return;
        }
        let ask = self.deps.registry.send(RoomIdle {
            room: self.state.id.clone(),
            addr: ctx.address(),
        });
        // Wait: nothing else is handled until the registry has forgotten this room, so no
        // message is accepted that a newer incarnation would not see.
        ctx.wait(ask.into_actor(self).map(|res, act, ctx| {
            if res.unwrap_or(false) && act.jobs.is_empty() {
                tracing::debug!(room = %act.state.id, "room idle, stopping");
                ctx.stop();
            }
        }));
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::ACTIVE_ROOMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let every = Duration::from_secs((self.deps.settings.rooms.idle_secs / 2).clamp(1, 60));
        ctx.run_interval(every, |act, ctx| act.check_idle(ctx));
        // The idempotency window starts empty: a resend of a message acked before this actor
        // started is refused by the store (the client id is unique there and in the Redis
        // buffer), and `reconcile` answers it with the first ack. Loading the window here cost
        // every room start a query of up to `rooms.dedupe_window` rows, before its first message.
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        metrics::ACTIVE_ROOMS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Handler<Join> for Room {
    type Result = ();

    fn handle(&mut self, msg: Join, _ctx: &mut Context<Self>) {
        if self.state.members.contains_key(&msg.handle.user) {
            self.sessions.insert(msg.handle.id.clone(), msg.handle);
        }
    }
}

impl Handler<Leave> for Room {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Context<Self>) {
        self.sessions.remove(&msg.session);
    }
}

/// A reply channel and the future a handler returns for it.
type ReplyPair<T> = (
    oneshot::Sender<Result<T, ChatError>>,
    ResponseFuture<Result<T, ChatError>>,
);

/// A reply channel and the future the handler returns for it.
fn reply_pair<T: Send + 'static>() -> ReplyPair<T> {
    let (tx, rx) = oneshot::channel();
    let fut = Box::pin(async move {
        rx.await.unwrap_or(Err(ChatError::Unavailable(
            "room restarted, try again".into(),
        )))
    });
    (tx, fut)
}

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<Ack, ChatError>>;

    fn handle(&mut self, msg: Post, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, fut) = reply_pair();
        let job = Job::Send {
            user: msg.user,
            session: msg.session,
            draft: msg.draft,
            reference: msg.reference,
            attempts: 0,
            reply,
        };
        self.enqueue(job, ctx);
        fut
    }
}

impl Room {
    /// Tells the room's sessions that `user` is typing or stopped; in cluster mode through the
    /// bus, so the sessions on every node hear it (see `FanOut::publish_or_keep`).
    fn announce_typing(&mut self, user: UserId, state: TypingState, ctx: &mut Context<Self>) {
        let items = vec![BusItem::Typing { user, state }];
        let room = &self.state.id;
        let here = self.deps.fanout.publish_or_keep(items, |items| {
            BusEvent::Rooms(vec![RoomBatch {
                room: room.clone(),
                items,
            }])
        });
        if let Some(items) = here {
            self.fan_out(items, ctx);
        }
    }
}

impl Handler<Typing> for Room {
    type Result = Result<(), ChatError>;

    fn handle(&mut self, msg: Typing, ctx: &mut Context<Self>) -> Self::Result {
        self.state.role_of(&msg.user)?;
        self.last_activity = Instant::now();
        if let Some(h) = self.typing.remove(&msg.user) {
            ctx.cancel_future(h);
        }
        if msg.state == TypingState::Start {
            let user = msg.user.clone();
            let ttl = Duration::from_secs(self.deps.settings.rooms.typing_ttl_secs.max(1));
            let h = ctx.run_later(ttl, move |act, ctx| {
                act.typing.remove(&user);
                act.announce_typing(user, TypingState::Stop, ctx);
            });
            self.typing.insert(msg.user.clone(), h);
        }
        self.announce_typing(msg.user, msg.state, ctx);
        Ok(())
    }
}

impl Handler<RoomBus> for Room {
    type Result = ();

    fn handle(&mut self, msg: RoomBus, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        self.fan_out(msg.items, ctx);
    }
}

impl Handler<MarkRead> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    /// Answered once the mark is durable (at once when there is nothing to move).
    fn handle(&mut self, msg: MarkRead, ctx: &mut Context<Self>) -> Self::Result {
        let seq = match self.state.read_mark(&msg.user, msg.seq) {
            Ok(Some(seq)) => seq,
            Ok(None) => return Box::pin(async { Ok(()) }),
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let (reply, fut) = reply_pair();
        self.enqueue(
            Job::Read {
                user: msg.user,
                seq,
                share: msg.share,
                reply,
            },
            ctx,
        );
        fut
    }
}

impl Handler<MarkDelivered> for Room {
    type Result = ();

    fn handle(&mut self, msg: MarkDelivered, ctx: &mut Context<Self>) {
        self.note_delivered(msg.user, msg.seq.min(self.state.last_seq), ctx);
    }
}

impl Handler<ChangeRoom> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: ChangeRoom, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, fut) = reply_pair();
        self.enqueue(
            Job::Change {
                by: msg.by,
                change: msg.change,
                reply,
            },
            ctx,
        );
        fut
    }
}

impl Handler<AddMember> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: AddMember, ctx: &mut Context<Self>) -> Self::Result {
        self.handle(
            ChangeRoom {
                by: msg.by,
                change: Change::Add(msg.user),
            },
            ctx,
        )
    }
}

impl Handler<RemoveMember> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: RemoveMember, ctx: &mut Context<Self>) -> Self::Result {
        self.handle(
            ChangeRoom {
                by: msg.by,
                change: Change::Remove(msg.user),
            },
            ctx,
        )
    }
}

impl Handler<EditMessage> for Room {
    type Result = ResponseFuture<Result<i64, ChatError>>;

    fn handle(&mut self, msg: EditMessage, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, fut) = reply_pair();
        self.enqueue(
            Job::Edit {
                user: msg.user,
                id: msg.id,
                author: msg.author,
                body: msg.body,
                named: msg.named,
                reply,
            },
            ctx,
        );
        fut
    }
}

impl Handler<React> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: React, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, fut) = reply_pair();
        self.enqueue(
            Job::React {
                user: msg.user,
                session: msg.session,
                id: msg.id,
                emoji: msg.emoji,
                on: msg.on,
                reply,
            },
            ctx,
        );
        fut
    }
}

impl Handler<DeleteMessage> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: DeleteMessage, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, fut) = reply_pair();
        self.enqueue(
            Job::Delete {
                user: msg.user,
                id: msg.id,
                author: msg.author,
                server_admin: msg.server_admin,
                reply,
            },
            ctx,
        );
        fut
    }
}

impl Handler<SetBlocked> for Room {
    type Result = ();

    fn handle(&mut self, msg: SetBlocked, _ctx: &mut Context<Self>) {
        // This dm's actors on other nodes must refuse messages too.
        self.deps.fanout.tell_other_nodes(|| RoomBatch {
            room: self.state.id.clone(),
            items: vec![BusItem::Blocked {
                blocker: msg.blocker.clone(),
                blocked: msg.blocked.clone(),
                on: msg.on,
            }],
        });
        self.state.set_blocked(msg.blocker, msg.blocked, msg.on);
    }
}

impl Handler<Drain> for Room {
    type Result = ResponseFuture<()>;

    /// Answered once the jobs queued now (and any that follow them) are answered.
    fn handle(&mut self, _: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        if self.settled() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.drains.push(tx);
        Box::pin(async move {
            // Answered when the room is drained, or dropped when it stops: both mean done.
            let _ = rx.await;
        })
    }
}

impl Handler<Inspect> for Room {
    type Result = MessageResult<Inspect>;

    fn handle(&mut self, _msg: Inspect, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(RoomSnapshot {
            last_seq: self.state.last_seq,
            members: self.state.members.clone(),
            live_sessions: self.sessions.len(),
        })
    }
}
