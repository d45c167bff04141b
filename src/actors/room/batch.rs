//! The room's write path, its I/O half: `pump` has `plan` choose the next batch, hands it to
//! the Persister and, once it is durable, answers the senders and fans the frames out (or, in
//! cluster mode, leaves the fan-out to the bus: the room's `FanOut` decides, see
//! `crate::actors::fanout`). A failed batch is not counted; a batch that conflicts with stored
//! data is reconciled against the store.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::super::outbox::Deliver;
use super::super::persister::{Persist, PersistError};
use super::super::registry::{DeliverHere, MembershipChanged};
use super::plan::{self, Answer, Done, Job, Replies};
use super::Room;
use crate::cluster::bus::{BusItem, ChangeItem};
use crate::error::ChatError;
use crate::ids::{now_ms, UserId};
use crate::metrics;
use crate::protocol::{
    Ack, Deleted, Edited, MessageOut, ReactionOut, ReceiptKind, ReceiptOut, Role, RoomEventKind,
    RoomEventOut, ServerFrame, TypingOut,
};
use crate::store::buffer::Placed;
use crate::store::NewMessage;

pub(super) type Reply<T> = oneshot::Sender<Result<T, ChatError>>;

/// The room's callers wait on oneshot channels.
pub(super) struct Channels;

impl Replies for Channels {
    type Ack = Reply<Ack>;
    type Edit = Reply<i64>;
    type Done = Reply<()>;
}

/// A write waiting in the room's queue.
pub(super) type RoomJob = Job<Channels>;

/// Sends the answers; a caller that stopped waiting (its session closed) is no loss.
fn send_answers(answers: Vec<Answer<Channels>>) {
    for a in answers {
        match a {
            Answer::Ack(tx, res) => {
                // The sender's session may have closed; its resend gets the first ack.
                let _ = tx.send(res);
            }
            Answer::Edit(tx, res) => {
                // The editor's session may have closed; nothing to tell.
                let _ = tx.send(res);
            }
            Answer::Done(tx, res) => {
                // The caller may have stopped waiting; nothing to tell.
                let _ = tx.send(res);
            }
        }
    }
}

impl Room {
    /// Starts the next batch (see `plan::plan_batch`) if none is in flight.
    pub(super) fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        let plan = plan::plan_batch(&self.state, &mut self.jobs, now_ms());
        send_answers(plan.answers);
        if plan.done.is_empty() {
            // Nothing queued and nothing in flight.
            self.answer_drains();
            return;
        }
        self.in_flight = true;
        let (done, seq) = (plan.done, plan.last_seq);
        let fanout = self
            .deps
            .fanout
            .bus_copy(|| plan::fanout_of(&self.state.id, &done));
        let persist =
            self.deps
                .persister
                .persist(Persist::new(plan.ops, fanout, self.state.last_seq));
        ctx.spawn(persist.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            match res {
                Ok(placed) => act.committed(done, seq, placed, ctx),
                Err(PersistError::Conflict(m)) => {
                    tracing::warn!(room = %act.state.id, conflict = %m, "batch conflicts with stored data; reconciling");
                    act.reconcile(done, ctx);
                    return;
                }
                Err(PersistError::Unavailable(m)) => act.failed(done, ChatError::Unavailable(m)),
            }
            act.pump(ctx);
        }));
    }

    fn room_event(
        &self,
        event: RoomEventKind,
        user: Option<UserId>,
        role: Option<Role>,
        name: Option<String>,
    ) -> ServerFrame {
        ServerFrame::RoomEvent(RoomEventOut {
            room: self.state.id.clone(),
            event,
            user,
            role,
            name,
        })
    }

    /// The batch is durable: answer the callers. Outside cluster mode the frames go out from
    /// here too; in cluster mode every node (this one included) sends them when the batch comes
    /// back over the bus (`RoomBus`), so all nodes deliver a room's messages in seq order.
    fn committed(
        &mut self,
        done: Vec<Done<Channels>>,
        seq: i64,
        placed: Vec<Placed>,
        ctx: &mut Context<Self>,
    ) {
        let c = plan::commit(&mut self.state, done, seq, placed);
        metrics::MESSAGES_ACCEPTED
            .fetch_add(c.fresh.len() as u64, std::sync::atomic::Ordering::Relaxed);
        send_answers(c.answers);
        if let Some(items) = self.deps.fanout.deliver_after_commit(c.items) {
            self.fan_out(items, ctx);
        }
        // After the fan-out, so sessions found gone count as away.
        for msg in c.fresh {
            self.notify_away(msg);
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
                    self.state.last_seq = self.state.last_seq.max(msg.seq);
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
                            room: self.state.id.clone(),
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
                        room: self.state.id.clone(),
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
                            room: self.state.id.clone(),
                            id,
                        }),
                        |_| true,
                    );
                }
                BusItem::Read { user, seq, share } => {
                    let share = share && self.state.receipts_enabled();
                    let frame = ServerFrame::Receipt(ReceiptOut {
                        room: self.state.id.clone(),
                        user: user.clone(),
                        seq,
                        kind: ReceiptKind::Read,
                    });
                    // The reader's own devices always hear of it (their unread counts).
                    self.broadcast(frame, |s| share || s.user == user);
                }
                BusItem::Delivered { user, seq } => {
                    let frame = ServerFrame::Receipt(ReceiptOut {
                        room: self.state.id.clone(),
                        user,
                        seq,
                        kind: ReceiptKind::Delivered,
                    });
                    self.broadcast(frame, |_| true);
                }
                BusItem::Typing { user, state } => {
                    let frame = ServerFrame::Typing(TypingOut {
                        room: self.state.id.clone(),
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
                } => self.state.set_blocked(blocker, blocked, on),
            }
        }
        for (user, seq) in reached {
            self.note_delivered(user, seq, ctx);
        }
    }

    /// Applies a durable change to the room's state and tells everyone concerned on this node.
    fn apply_change(&mut self, change: ChangeItem) {
        self.state.apply_change(&change);
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
                    room: self.state.id.clone(),
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
                    room: self.state.id.clone(),
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

    /// Asks the Notifier to push `msg` to the members who are away (who that is, the fan-out
    /// strategy says: see `FanOut::notify_away`); never to the sender.
    fn notify_away(&self, msg: NewMessage) {
        let Some(notifier) = &self.deps.notifier else {
            return;
        };
        self.deps.fanout.notify_away(
            notifier,
            (&self.state.id, self.state.kind.is_dm()),
            msg,
            self.state.members.keys(),
            || self.sessions.values().map(|s| &s.user).collect(),
        );
    }

    pub(super) fn failed(&mut self, done: Vec<Done<Channels>>, err: ChatError) {
        send_answers(plan::fail(done, &err));
    }

    /// A batch hit a unique constraint: looks up what of it the store holds and has
    /// `plan::reconcile` answer or queue each write again.
    fn reconcile(&mut self, done: Vec<Done<Channels>>, ctx: &mut Context<Self>) {
        self.in_flight = true;
        let keys: Vec<(UserId, String)> = done
            .iter()
            .filter_map(|d| match d {
                Done::Sent { msg, .. } => Some((msg.sender.clone(), msg.client_id.clone())),
                _ => None,
            })
            .collect();
        let store = self.deps.store.clone();
        let room = self.state.id.clone();
        let lookup = async move {
            let stored = store.acks_by_client_ids(&room, &keys).await?;
            let max = store.max_seq(&room).await?;
            Ok::<_, crate::store::StoreError>((stored, max))
        };
        ctx.spawn(lookup.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            match res {
                Ok((stored, max)) => {
                    let (answers, requeue) = plan::reconcile(&mut act.state, done, &stored, max);
                    send_answers(answers);
                    for job in requeue.into_iter().rev() {
                        act.jobs.push_front(job);
                    }
                }
                Err(e) => act.failed(done, ChatError::from(e)),
            }
            act.pump(ctx);
        }));
    }
}
