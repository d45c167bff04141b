//! A Room: one actor per active conversation. It owns the member list, the seq counter and the
//! live sessions of its members. Writes (messages, membership changes, read marks) queue as jobs;
//! the room assigns seqs to a batch, hands it to the Persister, and only once the batch is durable
//! acks the senders and fans the frames out. One batch is in flight at a time, so seqs are
//! gap-free: a failed batch is not counted and its senders are told to retry.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::outbox::{Deliver, Offer, SessionHandle};
use super::persister::{Persist, PersistError, Persister};
use super::registry::{MembershipChanged, RoomIdle, RoomRegistry};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, MessageId, RoomId, SessionId, UserId};
use crate::metrics;
use crate::protocol::{
    Ack, MediaOut, MessageOut, ReceiptKind, ReceiptOut, RoomEventKind, RoomEventOut, SendFrame, ServerFrame, TypingOut,
    TypingState,
};
use crate::store::rooms::{Role, RoomRecord, KIND_DM};
use crate::store::{NewMessage, Store, WriteOp};

/// What a Room needs from the rest of the server.
#[derive(Clone)]
pub struct RoomDeps {
    pub store: Store,
    pub persister: Addr<Persister>,
    pub registry: Addr<RoomRegistry>,
    pub settings: Arc<Settings>,
}

/// Attach a live session (ignored unless its user is a member).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Join {
    pub handle: SessionHandle,
}

/// Detach a session.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Leave {
    pub session: SessionId,
}

/// Post a message; answered with the ack once it is durable.
#[derive(Message, Debug)]
#[rtype(result = "Result<Ack, ChatError>")]
pub struct Post {
    pub user: UserId,
    /// The sending session, which gets the ack instead of the `message` frame.
    pub session: Option<SessionId>,
    pub frame: SendFrame,
    pub reference: Option<String>,
}

/// Someone started or stopped typing.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Typing {
    pub user: UserId,
    pub state: TypingState,
}

/// `user` has read up to `seq`.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct MarkRead {
    pub user: UserId,
    pub seq: i64,
}

/// Add a member (owners and admins of groups only).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct AddMember {
    pub by: UserId,
    pub user: UserId,
}

/// Remove a member: owners and admins remove others, anyone removes themselves (leaving).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct RemoveMember {
    pub by: UserId,
    pub user: UserId,
}

/// The room's members and seq, for checks and tests.
#[derive(Message, Debug)]
#[rtype(result = "RoomSnapshot")]
pub struct Inspect;

/// Answer to `Inspect`.
#[derive(Debug, Clone)]
pub struct RoomSnapshot {
    pub last_seq: i64,
    pub members: HashMap<UserId, Role>,
    pub live_sessions: usize,
}

/// A write waiting for its batch.
enum Job {
    Send { user: UserId, session: Option<SessionId>, frame: SendFrame, reference: Option<String>, attempts: u8, reply: oneshot::Sender<Result<Ack, ChatError>> },
    Member { by: UserId, user: UserId, add: bool, reply: oneshot::Sender<Result<(), ChatError>> },
    Read { user: UserId, seq: i64 },
}

/// The writes of the batch in flight, with what to do once durable.
enum Done {
    Sent { msg: NewMessage, media: Vec<MediaOut>, session: Option<SessionId>, reference: Option<String>, attempts: u8, reply: oneshot::Sender<Result<Ack, ChatError>>, followers: Vec<(Option<String>, oneshot::Sender<Result<Ack, ChatError>>)> },
    Member { user: UserId, add: bool, reply: oneshot::Sender<Result<(), ChatError>> },
    Read { user: UserId, seq: i64 },
}

/// See the module doc.
pub struct Room {
    id: RoomId,
    kind: String,
    members: HashMap<UserId, Role>,
    last_seq: i64,
    sessions: HashMap<SessionId, SessionHandle>,
    jobs: VecDeque<Job>,
    in_flight: bool,
    /// Recent (sender, client id) → ack, for idempotent resends.
    recent: HashMap<(UserId, String), Ack>,
    recent_order: VecDeque<(UserId, String)>,
    typing: HashMap<UserId, SpawnHandle>,
    last_activity: Instant,
    deps: RoomDeps,
}

impl Room {
    pub fn new(rec: RoomRecord, sessions: Vec<SessionHandle>, deps: RoomDeps) -> Self {
        let members = rec.members;
        let sessions = sessions.into_iter().filter(|s| members.contains_key(&s.user)).map(|s| (s.id.clone(), s)).collect();
        Self {
            id: rec.id,
            kind: rec.kind,
            members,
            last_seq: rec.last_seq,
            sessions,
            jobs: VecDeque::new(),
            in_flight: false,
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            typing: HashMap::new(),
            last_activity: Instant::now(),
            deps,
        }
    }

    fn remember(&mut self, user: UserId, ack: Ack) {
        let key = (user, ack.client_id.clone());
        if self.recent.insert(key.clone(), ack).is_none() {
            self.recent_order.push_back(key);
        }
        while self.recent_order.len() > self.deps.settings.rooms.dedupe_window.max(1) {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// Sends `frame` to the live sessions selected by `to`, forgetting the ones that are gone.
    fn broadcast(&mut self, frame: ServerFrame, to: impl Fn(&SessionHandle) -> bool) {
        let d = Deliver::new(frame);
        let mut gone = Vec::new();
        for (id, s) in &self.sessions {
            if to(s) && s.offer(&d) != Offer::Sent {
                gone.push(id.clone());
            }
        }
        for id in gone {
            self.sessions.remove(&id);
        }
    }

    fn check_send(&self, user: &UserId, f: &SendFrame) -> Result<(), ChatError> {
        if !self.members.contains_key(user) {
            return Err(ChatError::NotMember);
        }
        let limits = &self.deps.settings.rooms;
        if f.client_id.is_empty() || f.client_id.len() > 64 {
            return Err(ChatError::invalid("client_id must be 1 to 64 bytes"));
        }
        if f.body.chars().count() > limits.max_body_chars {
            return Err(ChatError::TooLarge(format!("body is longer than {} characters", limits.max_body_chars)));
        }
        if f.body.trim().is_empty() {
            return Err(ChatError::invalid("body must not be empty"));
        }
        // Media: the session checks attachments (ready, the sender's own) and fills `resolved`.
        if f.resolved.iter().map(|m| &m.id).ne(f.attachments.iter()) {
            return Err(ChatError::invalid("attachments were not checked"));
        }
        if f.reply_to.as_ref().is_some_and(|r| r.0.is_empty() || r.0.len() > 36) {
            return Err(ChatError::invalid("reply_to must be a message id"));
        }
        Ok(())
    }

    /// Starts the next batch if none is in flight: either a run of sends and read marks, or one
    /// membership change (so every message is fanned out to the members it was sent to).
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        let mut ops = Vec::new();
        let mut done: Vec<Done> = Vec::new();
        let mut seq = self.last_seq;
        let now = now_ms();
        while let Some(job) = self.jobs.pop_front() {
            match job {
                Job::Send { user, session, frame, reference, attempts, reply } => {
                    if let Err(e) = self.check_send(&user, &frame) {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                    let key = (user.clone(), frame.client_id.clone());
                    if let Some(ack) = self.recent.get(&key) {
                        let _ = reply.send(Ok(Ack { reference, ..ack.clone() }));
                        continue;
                    }
                    let dup = done.iter_mut().find_map(|d| match d {
                        Done::Sent { msg, followers, .. } if msg.sender == key.0 && msg.client_id == key.1 => Some(followers),
                        _ => None,
                    });
                    if let Some(followers) = dup {
                        followers.push((reference, reply));
                        continue;
                    }
                    if attempts > 3 {
                        tracing::error!(room = %self.id, "a message kept conflicting with stored data");
                        let _ = reply.send(Err(ChatError::Internal));
                        continue;
                    }
                    seq += 1;
                    let media = frame.resolved;
                    let msg = NewMessage {
                        id: MessageId::generate(),
                        room: self.id.clone(),
                        seq,
                        sender: user,
                        client_id: frame.client_id,
                        body: frame.body,
                        attachments: frame.attachments,
                        reply_to: frame.reply_to,
                        ts: now,
                    };
                    ops.push(WriteOp::Message(msg.clone()));
                    done.push(Done::Sent { msg, media, session, reference, attempts, reply, followers: Vec::new() });
                }
                Job::Read { user, seq: read } => {
                    if self.members.contains_key(&user) {
                        ops.push(WriteOp::Read { room: self.id.clone(), user: user.clone(), seq: read });
                        done.push(Done::Read { user, seq: read });
                    }
                }
                Job::Member { by, user, add, reply } => {
                    if !done.is_empty() {
                        self.jobs.push_front(Job::Member { by, user, add, reply });
                        break;
                    }
                    match self.check_member_change(&by, &user, add) {
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                        Ok(false) => {
                            let _ = reply.send(Ok(()));
                        }
                        Ok(true) => {
                            ops.push(if add {
                                WriteOp::MemberAdded { room: self.id.clone(), user: user.clone(), role: Role::Member, at: now }
                            } else {
                                WriteOp::MemberRemoved { room: self.id.clone(), user: user.clone() }
                            });
                            done.push(Done::Member { user, add, reply });
                            break;
                        }
                    }
                }
            }
            if ops.len() >= 1000 {
                break;
            }
        }
        if done.is_empty() {
            return;
        }
        self.in_flight = true;
        let persist = self.deps.persister.send(Persist { ops });
        ctx.spawn(persist.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            match res {
                Ok(Ok(())) => act.committed(done, seq),
                Ok(Err(PersistError::Conflict(m))) => {
                    tracing::warn!(room = %act.id, conflict = %m, "batch conflicts with stored data; reconciling");
                    act.reconcile(done, ctx);
                    return;
                }
                Ok(Err(PersistError::Unavailable(m))) => act.failed(done, ChatError::Unavailable(m)),
                Err(e) => act.failed(done, ChatError::from(e)),
            }
            act.pump(ctx);
        }));
    }

    /// `Ok(true)` if the change must be written, `Ok(false)` if there is nothing to do.
    fn check_member_change(&self, by: &UserId, user: &UserId, add: bool) -> Result<bool, ChatError> {
        let by_role = self.members.get(by).copied().ok_or(ChatError::NotMember)?;
        if self.kind == KIND_DM {
            return Err(ChatError::Forbidden("the members of a dm cannot change".into()));
        }
        if add {
            if !by_role.manages() {
                return Err(ChatError::Forbidden("only owners and admins add members".into()));
            }
            if self.members.len() >= self.deps.settings.rooms.max_members && !self.members.contains_key(user) {
                return Err(ChatError::invalid("the room is full"));
            }
            return Ok(!self.members.contains_key(user));
        }
        let Some(target_role) = self.members.get(user).copied() else { return Ok(false) };
        if by != user && (!by_role.manages() || target_role == Role::Owner) {
            return Err(ChatError::Forbidden("only owners and admins remove others, and not an owner".into()));
        }
        Ok(true)
    }

    fn committed(&mut self, done: Vec<Done>, seq: i64) {
        self.last_seq = seq;
        self.last_activity = Instant::now();
        for d in done {
            match d {
                Done::Sent { msg, media, session, reference, reply, followers, .. } => {
                    metrics::MESSAGES_ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let ack = Ack {
                        client_id: msg.client_id.clone(),
                        room: self.id.clone(),
                        id: msg.id.clone(),
                        seq: msg.seq,
                        ts: msg.ts,
                        reference: None,
                    };
                    self.remember(msg.sender.clone(), ack.clone());
                    let _ = reply.send(Ok(Ack { reference, ..ack.clone() }));
                    for (r, tx) in followers {
                        let _ = tx.send(Ok(Ack { reference: r, ..ack.clone() }));
                    }
                    let out = ServerFrame::Message(MessageOut {
                        room: msg.room,
                        id: msg.id,
                        seq: msg.seq,
                        from: msg.sender,
                        body: msg.body,
                        attachments: media.iter().map(|m| serde_json::to_value(m).unwrap_or_default()).collect(),
                        reply_to: msg.reply_to,
                        client_id: msg.client_id,
                        ts: msg.ts,
                        edited_at: None,
                    });
                    self.broadcast(out, |s| Some(&s.id) != session.as_ref());
                }
                Done::Read { user, seq } => {
                    let frame = ServerFrame::Receipt(ReceiptOut { room: self.id.clone(), user, seq, kind: ReceiptKind::Read });
                    self.broadcast(frame, |_| true);
                }
                Done::Member { user, add, reply } => {
                    let event = if add { RoomEventKind::MemberAdded } else { RoomEventKind::MemberRemoved };
                    let frame = ServerFrame::RoomEvent(RoomEventOut { room: self.id.clone(), event, user: Some(user.clone()) });
                    if add {
                        self.members.insert(user.clone(), Role::Member);
                        self.broadcast(frame.clone(), |_| true);
                        // The new member's sessions are attached by the registry, after this.
                        self.deps.registry.do_send(super::registry::DeliverToUsers {
                            users: vec![user.clone()],
                            frame: Deliver::new(frame),
                            except: None,
                        });
                    } else {
                        self.broadcast(frame, |_| true);
                        self.members.remove(&user);
                        self.sessions.retain(|_, s| s.user != user);
                    }
                    self.deps.registry.do_send(MembershipChanged { room: self.id.clone(), user, joined: add });
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn failed(&mut self, done: Vec<Done>, err: ChatError) {
        for d in done {
            match d {
                Done::Sent { reply, followers, .. } => {
                    let _ = reply.send(Err(err.clone()));
                    for (_, tx) in followers {
                        let _ = tx.send(Err(err.clone()));
                    }
                }
                Done::Member { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Done::Read { .. } => {}
            }
        }
    }

    /// A batch hit a unique constraint: some of its messages were stored before (a resend whose
    /// first ack was lost across a restart), or our seq is behind the store. Answer the stored
    /// ones with their original ack, catch the seq up, and queue the rest again.
    fn reconcile(&mut self, done: Vec<Done>, ctx: &mut Context<Self>) {
        self.in_flight = true;
        let keys: Vec<(UserId, String)> = done
            .iter()
            .filter_map(|d| match d {
                Done::Sent { msg, .. } => Some((msg.sender.clone(), msg.client_id.clone())),
                _ => None,
            })
            .collect();
        let store = self.deps.store.clone();
        let room = self.id.clone();
        let lookup = async move {
            let stored = store.acks_by_client_ids(&room, &keys).await?;
            let max = store.max_seq(&room).await?;
            Ok::<_, crate::store::StoreError>((stored, max))
        };
        ctx.spawn(lookup.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            let (stored, max) = match res {
                Ok(v) => v,
                Err(e) => {
                    act.failed(done, ChatError::from(e));
                    act.pump(ctx);
                    return;
                }
            };
            act.last_seq = act.last_seq.max(max);
            let mut requeue = Vec::new();
            for d in done {
                match d {
                    Done::Sent { msg, media, session, reference, attempts, reply, followers } => {
                        if let Some(m) = stored.iter().find(|m| m.sender == msg.sender && m.client_id == msg.client_id) {
                            let ack = Ack { client_id: m.client_id.clone(), room: act.id.clone(), id: m.id.clone(), seq: m.seq, ts: m.ts, reference: None };
                            act.remember(msg.sender.clone(), ack.clone());
                            let _ = reply.send(Ok(Ack { reference, ..ack.clone() }));
                            for (r, tx) in followers {
                                let _ = tx.send(Ok(Ack { reference: r, ..ack.clone() }));
                            }
                        } else {
                            let frame = SendFrame { room: msg.room, client_id: msg.client_id, body: msg.body, attachments: msg.attachments, reply_to: msg.reply_to, resolved: media };
                            requeue.push(Job::Send { user: msg.sender.clone(), session, frame: frame.clone(), reference, attempts: attempts + 1, reply });
                            for (r, tx) in followers {
                                requeue.push(Job::Send { user: msg.sender.clone(), session: None, frame: frame.clone(), reference: r, attempts: attempts + 1, reply: tx });
                            }
                        }
                    }
                    Done::Member { reply, .. } => {
                        let _ = reply.send(Err(ChatError::Unavailable("membership change conflicted, retry".into())));
                    }
                    Done::Read { user, seq } => requeue.push(Job::Read { user, seq }),
                }
            }
            for job in requeue.into_iter().rev() {
                act.jobs.push_front(job);
            }
            act.pump(ctx);
        }));
    }

    fn check_idle(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_secs(self.deps.settings.rooms.idle_secs);
        if !self.sessions.is_empty() || !self.jobs.is_empty() || self.in_flight || self.last_activity.elapsed() < idle {
            return;
        }
        let ask = self.deps.registry.send(RoomIdle { room: self.id.clone(), addr: ctx.address() });
        // Wait: nothing else is handled until the registry has forgotten this room, so no
        // message is accepted that a newer incarnation would not see.
        ctx.wait(ask.into_actor(self).map(|res, act, ctx| {
            if res.unwrap_or(false) && act.jobs.is_empty() {
                tracing::debug!(room = %act.id, "room idle, stopping");
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
        // Load the idempotency window before handling anything.
        let store = self.deps.store.clone();
        let room = self.id.clone();
        let n = self.deps.settings.rooms.dedupe_window as u64;
        ctx.wait(async move { store.recent_messages(&room, n).await }.into_actor(self).map(|res, act, _| match res {
            Ok(rows) => {
                for m in rows.into_iter().rev() {
                    let ack = Ack { client_id: m.client_id, room: act.id.clone(), id: MessageId(m.id), seq: m.seq, ts: m.created_at, reference: None };
                    act.remember(UserId(m.sender_id), ack);
                }
            }
            Err(e) => tracing::warn!(room = %act.id, error = %e, "could not load recent client ids; the store will catch duplicates"),
        }));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        metrics::ACTIVE_ROOMS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Handler<Join> for Room {
    type Result = ();

    fn handle(&mut self, msg: Join, _ctx: &mut Context<Self>) {
        if self.members.contains_key(&msg.handle.user) {
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

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<Ack, ChatError>>;

    fn handle(&mut self, msg: Post, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.last_activity = Instant::now();
        self.jobs.push_back(Job::Send { user: msg.user, session: msg.session, frame: msg.frame, reference: msg.reference, attempts: 0, reply });
        self.pump(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(ChatError::Unavailable("room restarted, resend".into()))) })
    }
}

impl Handler<Typing> for Room {
    type Result = Result<(), ChatError>;

    fn handle(&mut self, msg: Typing, ctx: &mut Context<Self>) -> Self::Result {
        if !self.members.contains_key(&msg.user) {
            return Err(ChatError::NotMember);
        }
        self.last_activity = Instant::now();
        if let Some(h) = self.typing.remove(&msg.user) {
            ctx.cancel_future(h);
        }
        if msg.state == TypingState::Start {
            let user = msg.user.clone();
            let ttl = Duration::from_secs(self.deps.settings.rooms.typing_ttl_secs.max(1));
            let h = ctx.run_later(ttl, move |act, _| {
                act.typing.remove(&user);
                let frame = ServerFrame::Typing(TypingOut { room: act.id.clone(), user: user.clone(), state: TypingState::Stop });
                act.broadcast(frame, |s| s.user != user);
            });
            self.typing.insert(msg.user.clone(), h);
        }
        let frame = ServerFrame::Typing(TypingOut { room: self.id.clone(), user: msg.user.clone(), state: msg.state });
        self.broadcast(frame, |s| s.user != msg.user);
        Ok(())
    }
}

impl Handler<MarkRead> for Room {
    type Result = Result<(), ChatError>;

    fn handle(&mut self, msg: MarkRead, ctx: &mut Context<Self>) -> Self::Result {
        if !self.members.contains_key(&msg.user) {
            return Err(ChatError::NotMember);
        }
        if msg.seq < 1 {
            return Err(ChatError::invalid("seq must be at least 1"));
        }
        let seq = msg.seq.min(self.last_seq);
        if seq >= 1 {
            self.jobs.push_back(Job::Read { user: msg.user, seq });
            self.pump(ctx);
        }
        Ok(())
    }
}

impl Handler<AddMember> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: AddMember, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.jobs.push_back(Job::Member { by: msg.by, user: msg.user, add: true, reply });
        self.pump(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(ChatError::Unavailable("room restarted".into()))) })
    }
}

impl Handler<RemoveMember> for Room {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: RemoveMember, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.jobs.push_back(Job::Member { by: msg.by, user: msg.user, add: false, reply });
        self.pump(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(ChatError::Unavailable("room restarted".into()))) })
    }
}

impl Handler<Inspect> for Room {
    type Result = MessageResult<Inspect>;

    fn handle(&mut self, _msg: Inspect, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(RoomSnapshot { last_seq: self.last_seq, members: self.members.clone(), live_sessions: self.sessions.len() })
    }
}
