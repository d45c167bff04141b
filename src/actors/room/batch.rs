//! The room's write path: jobs are taken from the queue in order, validated, turned into one
//! batch of `WriteOp`s with seqs assigned, and handed to the Persister. Only when the batch is
//! durable are senders acked and frames fanned out; a failed batch is not counted.

use std::collections::HashSet;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::super::notifier::NotifyAway;
use super::super::outbox::Deliver;
use super::super::persister::{Persist, PersistError};
use super::super::registry::{DeliverHere, MembershipChanged};
use super::{Change, Room};
use crate::cluster::bus::{BusItem, ChangeItem, RoomBatch};
use crate::error::ChatError;
use crate::ids::{now_ms, MessageId, SessionId, UserId};
use crate::metrics;
use crate::protocol::{
    Ack, Deleted, Edited, MediaOut, MessageOut, Quote, ReactionOut, ReceiptKind, ReceiptOut, Role,
    RoomEventKind, RoomEventOut, SendFrame, ServerFrame, TypingOut,
};
use crate::store::buffer::Placed;
use crate::store::rooms::KIND_DM;
use crate::store::{NewMessage, WriteOp};

type Reply<T> = oneshot::Sender<Result<T, ChatError>>;

/// Most writes in one batch.
const MAX_BATCH: usize = 1000;

/// A write waiting for its batch.
// `Send` is the common case; boxing it would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job {
    Send {
        user: UserId,
        session: Option<SessionId>,
        frame: SendFrame,
        reference: Option<String>,
        attempts: u8,
        reply: Reply<Ack>,
    },
    Change {
        by: UserId,
        change: Change,
        reply: Reply<()>,
    },
    Edit {
        user: UserId,
        id: MessageId,
        author: UserId,
        body: String,
        named: Vec<UserId>,
        reply: Reply<i64>,
    },
    React {
        user: UserId,
        session: Option<SessionId>,
        id: MessageId,
        emoji: String,
        on: bool,
        reply: Reply<()>,
    },
    Delete {
        user: UserId,
        id: MessageId,
        author: UserId,
        reply: Reply<()>,
    },
    Read {
        user: UserId,
        seq: i64,
        share: bool,
    },
    Delivered {
        user: UserId,
        seq: i64,
    },
}

/// A write of the batch in flight, with what to do once it is durable.
// `Sent` is the common case; boxing it would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(super) enum Done {
    Sent {
        msg: NewMessage,
        media: Vec<MediaOut>,
        quote: Option<Quote>,
        session: Option<SessionId>,
        reference: Option<String>,
        attempts: u8,
        reply: Reply<Ack>,
        followers: Vec<(Option<String>, Reply<Ack>)>,
    },
    Changed {
        change: Change,
        reply: Reply<()>,
    },
    Edited {
        id: MessageId,
        body: String,
        at: i64,
        mentions: Vec<UserId>,
        reply: Reply<i64>,
    },
    Reacted {
        user: UserId,
        session: Option<SessionId>,
        id: MessageId,
        emoji: String,
        on: bool,
        reply: Reply<()>,
    },
    Deleted {
        id: MessageId,
        reply: Reply<()>,
    },
    Read {
        user: UserId,
        seq: i64,
        share: bool,
    },
    Delivered {
        user: UserId,
        seq: i64,
    },
}

impl Room {
    /// Receipts are exchanged only in rooms up to this size (a receipt per member per message
    /// does not scale to large groups).
    pub(super) fn receipts_enabled(&self) -> bool {
        self.members.len() <= self.deps.settings.rooms.receipts_max_members
    }

    /// Records that messages up to `seq` reached `user`; a `delivered` receipt follows once the
    /// mark is durable. Does not start a batch by itself.
    pub(super) fn note_delivered(&mut self, user: UserId, seq: i64, ctx: &mut Context<Self>) {
        if seq < 1 || !self.receipts_enabled() || !self.members.contains_key(&user) {
            return;
        }
        let known = self.delivered.entry(user.clone()).or_insert(0);
        if *known >= seq {
            return;
        }
        *known = seq;
        self.jobs.push_back(Job::Delivered { user, seq });
        self.pump(ctx);
    }

    /// Starts the next batch if none is in flight: a run of messages, edits, deletes and
    /// receipts, or one change to the room alone (so every message is fanned out to the members
    /// it was sent to).
    pub(super) fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        let mut ops = Vec::new();
        let mut done: Vec<Done> = Vec::new();
        let mut seq = self.last_seq;
        let now = now_ms();
        while let Some(job) = self.jobs.pop_front() {
            match job {
                Job::Send {
                    user,
                    session,
                    frame,
                    reference,
                    attempts,
                    reply,
                } => {
                    if let Err(e) = self.check_send(&user, &frame) {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                    let key = (user.clone(), frame.client_id.clone());
                    if let Some(ack) = self.recent.get(&key) {
                        let _ = reply.send(Ok(Ack {
                            reference,
                            ..ack.clone()
                        }));
                        continue;
                    }
                    let dup = done.iter_mut().find_map(|d| match d {
                        Done::Sent { msg, followers, .. }
                            if msg.sender == key.0 && msg.client_id == key.1 =>
                        {
                            Some(followers)
                        }
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
                    // In cluster mode Redis allocates the seq (0 until then).
                    if self.deps.cluster.is_none() {
                        seq += 1;
                    }
                    let media = frame.resolved;
                    let quote = frame.quote;
                    let mentions = self.members_among(frame.named.unwrap_or_default());
                    let msg = NewMessage {
                        id: MessageId::generate(),
                        room: self.id.clone(),
                        seq: if self.deps.cluster.is_none() { seq } else { 0 },
                        sender: user,
                        client_id: frame.client_id,
                        body: frame.body,
                        attachments: frame.attachments,
                        reply_to: frame.reply_to,
                        ts: now,
                        mentions,
                        forwarded: frame.forwarded,
                    };
                    ops.push(WriteOp::Message(msg.clone()));
                    done.push(Done::Sent {
                        msg,
                        media,
                        quote,
                        session,
                        reference,
                        attempts,
                        reply,
                        followers: Vec::new(),
                    });
                }
                Job::Edit {
                    user,
                    id,
                    author,
                    body,
                    named,
                    reply,
                } => match self.check_edit(&user, &author, &body) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(()) => {
                        let mentions = self.members_among(named);
                        ops.push(WriteOp::Edit {
                            room: self.id.clone(),
                            id: id.clone(),
                            body: body.clone(),
                            at: now,
                            mentions: mentions.clone(),
                        });
                        done.push(Done::Edited {
                            id,
                            body,
                            at: now,
                            mentions,
                            reply,
                        });
                    }
                },
                Job::React {
                    user,
                    session,
                    id,
                    emoji,
                    on,
                    reply,
                } => match self.role_of(&user) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(_) => {
                        ops.push(WriteOp::React {
                            room: self.id.clone(),
                            id: id.clone(),
                            user: user.clone(),
                            emoji: emoji.clone(),
                            on,
                            at: now,
                        });
                        done.push(Done::Reacted {
                            user,
                            session,
                            id,
                            emoji,
                            on,
                            reply,
                        });
                    }
                },
                Job::Delete {
                    user,
                    id,
                    author,
                    reply,
                } => match self.check_delete(&user, &author) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(()) => {
                        ops.push(WriteOp::Delete {
                            room: self.id.clone(),
                            id: id.clone(),
                            at: now,
                        });
                        done.push(Done::Deleted { id, reply });
                    }
                },
                Job::Read {
                    user,
                    seq: read,
                    share,
                } => {
                    if self.members.contains_key(&user) {
                        ops.push(WriteOp::Read {
                            room: self.id.clone(),
                            user: user.clone(),
                            seq: read,
                        });
                        done.push(Done::Read {
                            user,
                            seq: read,
                            share,
                        });
                    }
                }
                Job::Delivered { user, seq: upto } => {
                    ops.push(WriteOp::Delivered {
                        room: self.id.clone(),
                        user: user.clone(),
                        seq: upto,
                    });
                    done.push(Done::Delivered { user, seq: upto });
                }
                Job::Change { by, change, reply } => {
                    if !done.is_empty() {
                        self.jobs.push_front(Job::Change { by, change, reply });
                        break;
                    }
                    match self.check_change(&by, &change) {
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                        Ok(false) => {
                            let _ = reply.send(Ok(()));
                        }
                        Ok(true) => {
                            ops.push(self.change_op(&change, now));
                            done.push(Done::Changed { change, reply });
                            break;
                        }
                    }
                }
            }
            if ops.len() >= MAX_BATCH {
                break;
            }
        }
        if done.is_empty() {
            // Nothing queued and nothing in flight.
            for drained in self.drains.drain(..) {
                let _ = drained.send(());
            }
            return;
        }
        self.in_flight = true;
        let fanout = self.deps.cluster.is_some().then(|| self.fanout_of(&done));
        let persist = self.deps.persister.persist(Persist {
            ops,
            fanout,
            base_seq: self.last_seq,
        });
        ctx.spawn(persist.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            match res {
                Ok(placed) => act.committed(done, seq, placed, ctx),
                Err(PersistError::Conflict(m)) => {
                    tracing::warn!(room = %act.id, conflict = %m, "batch conflicts with stored data; reconciling");
                    act.reconcile(done, ctx);
                    return;
                }
                Err(PersistError::Unavailable(m)) => act.failed(done, ChatError::Unavailable(m)),
            }
            act.pump(ctx);
        }));
    }

    fn change_op(&self, change: &Change, now: i64) -> WriteOp {
        let room = self.id.clone();
        match change {
            Change::Add(user) => WriteOp::MemberAdded {
                room,
                user: user.clone(),
                role: Role::Member,
                at: now,
            },
            Change::Remove(user) => WriteOp::MemberRemoved {
                room,
                user: user.clone(),
            },
            Change::SetRole(user, role) => WriteOp::RoleChanged {
                room,
                user: user.clone(),
                role: *role,
            },
            Change::Update { name, avatar } => WriteOp::RoomUpdated {
                room,
                name: name.clone(),
                avatar: avatar.clone(),
            },
        }
    }

    fn room_event(
        &self,
        event: RoomEventKind,
        user: Option<UserId>,
        role: Option<Role>,
        name: Option<String>,
    ) -> ServerFrame {
        ServerFrame::RoomEvent(RoomEventOut {
            room: self.id.clone(),
            event,
            user,
            role,
            name,
        })
    }

    /// What the other nodes must hear of a batch (cluster mode): its writes as bus items.
    fn fanout_of(&self, done: &[Done]) -> RoomBatch {
        let items = done
            .iter()
            .map(|d| match d {
                Done::Sent {
                    msg,
                    media,
                    quote,
                    session,
                    ..
                } => BusItem::Message {
                    msg: msg.clone(),
                    attachments: attachments_of(media),
                    session: session.clone(),
                    quote: quote.clone(),
                },
                Done::Edited {
                    id,
                    body,
                    at,
                    mentions,
                    ..
                } => BusItem::Edited {
                    id: id.clone(),
                    body: body.clone(),
                    at: *at,
                    mentions: mentions.clone(),
                },
                Done::Reacted {
                    user,
                    session,
                    id,
                    emoji,
                    on,
                    ..
                } => BusItem::Reacted {
                    user: user.clone(),
                    session: session.clone(),
                    id: id.clone(),
                    emoji: emoji.clone(),
                    on: *on,
                },
                Done::Deleted { id, .. } => BusItem::Deleted { id: id.clone() },
                Done::Read { user, seq, share } => BusItem::Read {
                    user: user.clone(),
                    seq: *seq,
                    share: *share,
                },
                Done::Delivered { user, seq } => BusItem::Delivered {
                    user: user.clone(),
                    seq: *seq,
                },
                Done::Changed { change, .. } => BusItem::Changed(change_item(change)),
            })
            .collect();
        RoomBatch {
            room: self.id.clone(),
            items,
        }
    }

    /// The batch is durable: answer the callers. Outside cluster mode the frames go out from
    /// here too; in cluster mode every node (this one included) sends them when the batch comes
    /// back over the bus (`RoomBus`), so all nodes deliver a room's messages in seq order.
    fn committed(
        &mut self,
        done: Vec<Done>,
        seq: i64,
        placed: Vec<Placed>,
        ctx: &mut Context<Self>,
    ) {
        let clustered = self.deps.cluster.is_some();
        if !clustered {
            self.last_seq = seq;
        }
        let mut placed = placed.into_iter();
        let mut items = Vec::new();
        let mut fresh = Vec::new();
        for d in done {
            match d {
                Done::Sent {
                    mut msg,
                    media,
                    quote,
                    session,
                    reference,
                    reply,
                    followers,
                    ..
                } => {
                    let place = placed.next().unwrap_or(Placed::New(msg.seq));
                    let ack = match place {
                        Placed::New(seq) => {
                            metrics::MESSAGES_ACCEPTED
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            msg.seq = seq;
                            self.last_seq = self.last_seq.max(seq);
                            Ack {
                                client_id: msg.client_id.clone(),
                                room: self.id.clone(),
                                id: msg.id.clone(),
                                seq,
                                ts: msg.ts,
                                reference: None,
                            }
                        }
                        // Sent before through another node: the first ack, and nothing new to fan out.
                        Placed::Duplicate((id, seq, ts)) => Ack {
                            client_id: msg.client_id.clone(),
                            room: self.id.clone(),
                            id,
                            seq,
                            ts,
                            reference: None,
                        },
                    };
                    self.remember(msg.sender.clone(), ack.clone());
                    let _ = reply.send(Ok(Ack {
                        reference,
                        ..ack.clone()
                    }));
                    for (r, tx) in followers {
                        let _ = tx.send(Ok(Ack {
                            reference: r,
                            ..ack.clone()
                        }));
                    }
                    if ack.id == msg.id {
                        fresh.push(msg.clone());
                        items.push(BusItem::Message {
                            msg,
                            attachments: attachments_of(&media),
                            session,
                            quote,
                        });
                    }
                }
                Done::Edited {
                    id,
                    body,
                    at,
                    mentions,
                    reply,
                } => {
                    items.push(BusItem::Edited {
                        id,
                        body,
                        at,
                        mentions,
                    });
                    let _ = reply.send(Ok(at));
                }
                Done::Reacted {
                    user,
                    session,
                    id,
                    emoji,
                    on,
                    reply,
                } => {
                    items.push(BusItem::Reacted {
                        user,
                        session,
                        id,
                        emoji,
                        on,
                    });
                    let _ = reply.send(Ok(()));
                }
                Done::Deleted { id, reply } => {
                    items.push(BusItem::Deleted { id });
                    let _ = reply.send(Ok(()));
                }
                Done::Read { user, seq, share } => items.push(BusItem::Read { user, seq, share }),
                Done::Delivered { user, seq } => items.push(BusItem::Delivered { user, seq }),
                Done::Changed { change, reply } => {
                    let item = change_item(&change);
                    // This node's checks see the change at once; the frames follow over the bus.
                    if clustered {
                        self.apply_state(&item);
                    }
                    items.push(BusItem::Changed(item));
                    let _ = reply.send(Ok(()));
                }
            }
        }
        if clustered {
            for msg in fresh {
                self.notify_away_cluster(msg);
            }
        } else {
            self.fan_out(items, ctx);
            // After the fan-out, so sessions found gone count as away.
            for msg in fresh {
                self.notify_away(msg);
            }
        }
    }

    /// Sends the frames of durable writes to this node's sessions of the room.
    pub(super) fn fan_out(&mut self, items: Vec<BusItem>, ctx: &mut Context<Self>) {
        let mut reached: Vec<(UserId, i64)> = Vec::new();
        for item in items {
            match item {
                BusItem::Message {
                    msg,
                    attachments,
                    session,
                    quote,
                } => {
                    self.last_seq = self.last_seq.max(msg.seq);
                    let (sender, seq) = (msg.sender.clone(), msg.seq);
                    let out = ServerFrame::Message(MessageOut {
                        room: msg.room,
                        id: msg.id,
                        seq: msg.seq,
                        from: msg.sender,
                        body: msg.body,
                        attachments,
                        reply_to: msg.reply_to,
                        client_id: msg.client_id,
                        ts: msg.ts,
                        edited_at: None,
                        deleted: false,
                        reactions: Default::default(),
                        mentions: msg.mentions,
                        quote,
                        forwarded: msg.forwarded,
                    });
                    let got = self.broadcast(out, |s| Some(&s.id) != session.as_ref());
                    reached.extend(got.into_iter().filter(|u| *u != sender).map(|u| (u, seq)));
                }
                BusItem::Edited {
                    id,
                    body,
                    at,
                    mentions,
                } => {
                    self.broadcast(
                        ServerFrame::Edited(Edited {
                            room: self.id.clone(),
                            id,
                            body,
                            edited_at: at,
                            mentions,
                        }),
                        |_| true,
                    );
                }
                BusItem::Reacted {
                    user,
                    session,
                    id,
                    emoji,
                    on,
                } => {
                    let frame = ServerFrame::Reaction(ReactionOut {
                        room: self.id.clone(),
                        id,
                        user,
                        emoji,
                        on,
                        reference: None,
                    });
                    self.broadcast(frame, |s| Some(&s.id) != session.as_ref());
                }
                BusItem::Deleted { id } => {
                    self.broadcast(
                        ServerFrame::Deleted(Deleted {
                            room: self.id.clone(),
                            id,
                        }),
                        |_| true,
                    );
                }
                BusItem::Read { user, seq, share } => {
                    let share = share && self.receipts_enabled();
                    let frame = ServerFrame::Receipt(ReceiptOut {
                        room: self.id.clone(),
                        user: user.clone(),
                        seq,
                        kind: ReceiptKind::Read,
                    });
                    // The reader's own devices always hear of it (their unread counts).
                    self.broadcast(frame, |s| share || s.user == user);
                }
                BusItem::Delivered { user, seq } => {
                    let frame = ServerFrame::Receipt(ReceiptOut {
                        room: self.id.clone(),
                        user,
                        seq,
                        kind: ReceiptKind::Delivered,
                    });
                    self.broadcast(frame, |_| true);
                }
                BusItem::Typing { user, state } => {
                    let frame = ServerFrame::Typing(TypingOut {
                        room: self.id.clone(),
                        user: user.clone(),
                        state,
                    });
                    self.broadcast(frame, |s| s.user != user);
                }
                BusItem::Changed(change) => self.apply_change(change),
                BusItem::Blocked {
                    blocker,
                    blocked,
                    on,
                } => self.set_blocked(blocker, blocked, on),
            }
        }
        for (user, seq) in reached {
            self.note_delivered(user, seq, ctx);
        }
    }

    /// Applies a durable change to the members (no frames).
    fn apply_state(&mut self, change: &ChangeItem) {
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

    /// Applies a durable change to the room's state and tells everyone concerned on this node.
    fn apply_change(&mut self, change: ChangeItem) {
        self.apply_state(&change);
        match change {
            ChangeItem::Add { user } => {
                let frame = self.room_event(
                    RoomEventKind::MemberAdded,
                    Some(user.clone()),
                    Some(Role::Member),
                    None,
                );
                let attached = self.sessions.values().any(|s| s.user == user);
                self.broadcast(frame.clone(), |_| true);
                // The new member's sessions are attached by the registry, after this.
                if !attached {
                    self.deps.registry.do_send(DeliverHere {
                        users: vec![user.clone()],
                        frame: Deliver::new(frame),
                        except: None,
                    });
                }
                self.deps.registry.do_send(MembershipChanged {
                    room: self.id.clone(),
                    user,
                    joined: true,
                });
            }
            ChangeItem::Remove { user } => {
                let frame =
                    self.room_event(RoomEventKind::MemberRemoved, Some(user.clone()), None, None);
                let attached = self.sessions.values().any(|s| s.user == user);
                self.broadcast(frame.clone(), |_| true);
                if !attached {
                    self.deps.registry.do_send(DeliverHere {
                        users: vec![user.clone()],
                        frame: Deliver::new(frame),
                        except: None,
                    });
                }
                self.sessions.retain(|_, s| s.user != user);
                self.deps.registry.do_send(MembershipChanged {
                    room: self.id.clone(),
                    user,
                    joined: false,
                });
            }
            ChangeItem::SetRole { user, role } => {
                let frame = self.room_event(RoomEventKind::Updated, Some(user), Some(role), None);
                self.broadcast(frame, |_| true);
            }
            ChangeItem::Update { name } => {
                let frame = self.room_event(RoomEventKind::Updated, None, None, name);
                self.broadcast(frame, |_| true);
            }
        }
    }

    /// Asks the Notifier to push `msg` to the members with no live session in this room (after
    /// the fan-out, so sessions found gone count as away); never to the sender. If the
    /// Notifier's mailbox is full the pushes are dropped rather than the room waiting.
    fn notify_away(&self, msg: NewMessage) {
        let live: HashSet<&UserId> = self.sessions.values().map(|s| &s.user).collect();
        let users: Vec<UserId> = self
            .members
            .keys()
            .filter(|u| **u != msg.sender && !live.contains(u))
            .cloned()
            .collect();
        self.send_notice(msg, users);
    }

    /// Cluster mode: the same, for the members with no session on any node (cluster presence).
    /// Only the node that committed the message asks, so a push is never sent twice.
    fn notify_away_cluster(&self, msg: NewMessage) {
        let (Some(notifier), Some(cluster)) =
            (self.deps.notifier.clone(), self.deps.cluster.clone())
        else {
            return;
        };
        let users: Vec<UserId> = self
            .members
            .keys()
            .filter(|u| **u != msg.sender)
            .cloned()
            .collect();
        if users.is_empty() {
            return;
        }
        let (room, dm) = (self.id.clone(), self.kind == KIND_DM);
        actix::spawn(async move {
            let online = match cluster.online_among(&users).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(room = %room, error = %e, "cannot read presence; pushes for this message dropped");
                    return;
                }
            };
            let away: Vec<UserId> = users
                .into_iter()
                .zip(online)
                .filter(|(_, on)| !on)
                .map(|(u, _)| u)
                .collect();
            if away.is_empty() {
                return;
            }
            let notice = NotifyAway {
                room,
                dm,
                message: msg.id,
                seq: msg.seq,
                from: msg.sender,
                body: msg.body,
                ts: msg.ts,
                users: away,
                mentions: msg.mentions,
            };
            if notifier.try_send(notice).is_err() {
                tracing::warn!("notifier busy or gone; pushes for a message dropped");
            }
        });
    }

    fn send_notice(&self, msg: NewMessage, users: Vec<UserId>) {
        let Some(notifier) = &self.deps.notifier else {
            return;
        };
        if users.is_empty() {
            return;
        }
        let notice = NotifyAway {
            room: self.id.clone(),
            dm: self.kind == KIND_DM,
            message: msg.id,
            seq: msg.seq,
            from: msg.sender,
            body: msg.body,
            ts: msg.ts,
            users,
            mentions: msg.mentions,
        };
        if notifier.try_send(notice).is_err() {
            tracing::warn!(room = %self.id, seq = msg.seq, "notifier busy or gone; pushes for this message dropped");
        }
    }

    pub(super) fn failed(&mut self, done: Vec<Done>, err: ChatError) {
        for d in done {
            match d {
                Done::Sent {
                    reply, followers, ..
                } => {
                    let _ = reply.send(Err(err.clone()));
                    for (_, tx) in followers {
                        let _ = tx.send(Err(err.clone()));
                    }
                }
                Done::Changed { reply, .. } | Done::Deleted { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Done::Edited { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Done::Reacted { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Done::Delivered { user, .. } => {
                    // Forget the mark so a later delivery writes it again.
                    self.delivered.remove(&user);
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
            let mut answered = HashSet::new();
            for d in done {
                match d {
                    Done::Sent {
                        msg,
                        media,
                        quote,
                        session,
                        reference,
                        attempts,
                        reply,
                        followers,
                    } => {
                        if let Some(m) = stored
                            .iter()
                            .find(|m| m.sender == msg.sender && m.client_id == msg.client_id)
                        {
                            let ack = Ack {
                                client_id: m.client_id.clone(),
                                room: act.id.clone(),
                                id: m.id.clone(),
                                seq: m.seq,
                                ts: m.ts,
                                reference: None,
                            };
                            act.remember(msg.sender.clone(), ack.clone());
                            answered.insert(m.id.clone());
                            let _ = reply.send(Ok(Ack {
                                reference,
                                ..ack.clone()
                            }));
                            for (r, tx) in followers {
                                let _ = tx.send(Ok(Ack {
                                    reference: r,
                                    ..ack.clone()
                                }));
                            }
                        } else {
                            let frame = SendFrame {
                                room: msg.room,
                                client_id: msg.client_id,
                                body: msg.body,
                                attachments: msg.attachments,
                                reply_to: msg.reply_to,
                                resolved: media,
                                // Checked when it was first sent.
                                reply_checked: true,
                                quote,
                                named: Some(msg.mentions),
                                forwarded: msg.forwarded,
                            };
                            requeue.push(Job::Send {
                                user: msg.sender.clone(),
                                session,
                                frame: frame.clone(),
                                reference,
                                attempts: attempts + 1,
                                reply,
                            });
                            for (r, tx) in followers {
                                requeue.push(Job::Send {
                                    user: msg.sender.clone(),
                                    session: None,
                                    frame: frame.clone(),
                                    reference: r,
                                    attempts: attempts + 1,
                                    reply: tx,
                                });
                            }
                        }
                    }
                    Done::Read { user, seq, share } => requeue.push(Job::Read { user, seq, share }),
                    Done::Delivered { user, seq } => requeue.push(Job::Delivered { user, seq }),
                    other => act.failed(
                        vec![other],
                        ChatError::Unavailable("conflict, try again".into()),
                    ),
                }
            }
            for job in requeue.into_iter().rev() {
                act.jobs.push_front(job);
            }
            act.pump(ctx);
        }));
    }
}

/// The `attachments` of a `message` frame.
fn attachments_of(media: &[MediaOut]) -> Vec<serde_json::Value> {
    media
        .iter()
        .map(|m| serde_json::to_value(m).unwrap_or_default())
        .collect()
}

/// A change as it travels on the bus.
fn change_item(change: &Change) -> ChangeItem {
    match change {
        Change::Add(user) => ChangeItem::Add { user: user.clone() },
        Change::Remove(user) => ChangeItem::Remove { user: user.clone() },
        Change::SetRole(user, role) => ChangeItem::SetRole {
            user: user.clone(),
            role: *role,
        },
        Change::Update { name, .. } => ChangeItem::Update { name: name.clone() },
    }
}
