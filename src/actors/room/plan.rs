//! The room's write path without its I/O: which queued jobs form the next batch, what they
//! write under which seqs, who is answered at once (refusals, resends of an acked message); and,
//! once the batch is durable or failed, what each caller is answered and what is fanned out.
//! No actor, store handle or clock here: `batch` calls these functions and does the sending,
//! persisting and fan-out.
//!
//! A batch is a run of messages, edits, reactions, deletes and receipts, or one change to the
//! room alone (so every message is fanned out to the members it was sent to). Seqs are given
//! out only to messages that pass the rules, so a refused job costs none; they count from
//! `RoomState::last_seq`, which moves only once the batch is durable (`commit`).

use std::collections::VecDeque;

use super::state::RoomState;
use super::Change;
use crate::cluster::bus::{BusItem, ChangeItem, RoomBatch};
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, SessionId, UserId};
use crate::protocol::{Ack, MediaOut, Quote, Role, SendFrame};
use crate::store::buffer::Placed;
use crate::store::messages::StoredAck;
use crate::store::{NewMessage, WriteOp};

/// Most writes in one batch.
pub(super) const MAX_BATCH: usize = 1000;

/// A message that conflicted with stored data more often than this is refused (`internal`).
const MAX_ATTEMPTS: u8 = 3;

/// Where the answer to a job goes: reply channels in the actor, plain tags in tests.
pub(super) trait Replies {
    /// Answered with the message's ack.
    type Ack;
    /// Answered with the edit's time.
    type Edit;
    /// Answered with success or an error.
    type Done;
}

/// An answer to send to a caller.
pub(super) enum Answer<R: Replies> {
    Ack(R::Ack, Result<Ack, ChatError>),
    Edit(R::Edit, Result<i64, ChatError>),
    Done(R::Done, Result<(), ChatError>),
}

/// A write waiting for its batch.
// `Send` is the common case; boxing it would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job<R: Replies> {
    Send {
        user: UserId,
        session: Option<SessionId>,
        frame: SendFrame,
        reference: Option<String>,
        /// How many times it came back from a batch that conflicted with stored data.
        attempts: u8,
        reply: R::Ack,
    },
    Change {
        by: UserId,
        change: Change,
        reply: R::Done,
    },
    Edit {
        user: UserId,
        id: MessageId,
        author: UserId,
        body: String,
        named: Vec<UserId>,
        reply: R::Edit,
    },
    React {
        user: UserId,
        session: Option<SessionId>,
        id: MessageId,
        emoji: String,
        on: bool,
        reply: R::Done,
    },
    Delete {
        user: UserId,
        id: MessageId,
        author: UserId,
        reply: R::Done,
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
pub(super) enum Done<R: Replies> {
    Sent {
        msg: NewMessage,
        media: Vec<MediaOut>,
        quote: Option<Quote>,
        session: Option<SessionId>,
        reference: Option<String>,
        attempts: u8,
        reply: R::Ack,
        /// Resends of the same client id within the batch: answered with the same ack.
        followers: Vec<(Option<String>, R::Ack)>,
    },
    Changed {
        change: Change,
        reply: R::Done,
    },
    Edited {
        id: MessageId,
        body: String,
        at: i64,
        mentions: Vec<UserId>,
        reply: R::Edit,
    },
    Reacted {
        user: UserId,
        session: Option<SessionId>,
        id: MessageId,
        emoji: String,
        on: bool,
        reply: R::Done,
    },
    Deleted {
        id: MessageId,
        reply: R::Done,
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

/// The next batch: see `plan_batch`.
pub(super) struct Plan<R: Replies> {
    /// The writes to persist, in order.
    pub(super) ops: Vec<WriteOp>,
    /// What to do for each write once the batch is durable or failed.
    pub(super) done: Vec<Done<R>>,
    /// Answers due now: refusals, resends of a recently acked message, no-op changes.
    pub(super) answers: Vec<Answer<R>>,
    /// The room's last seq once the batch is durable (outside cluster mode).
    pub(super) last_seq: i64,
}

/// Takes the next batch off the front of `jobs` (the rest stay queued) at time `now` (ms).
/// An empty `done` means there is nothing to persist.
pub(super) fn plan_batch<R: Replies>(
    state: &RoomState,
    jobs: &mut VecDeque<Job<R>>,
    now: i64,
) -> Plan<R> {
    let mut ops = Vec::new();
    let mut done: Vec<Done<R>> = Vec::new();
    let mut answers = Vec::new();
    let mut seq = state.last_seq;
    while let Some(job) = jobs.pop_front() {
        match job {
            Job::Send {
                user,
                session,
                frame,
                reference,
                attempts,
                reply,
            } => {
                if let Err(e) = state.check_send(&user, &frame) {
                    answers.push(Answer::Ack(reply, Err(e)));
                    continue;
                }
                if let Some(ack) = state.recent_ack(&user, &frame.client_id) {
                    let ack = Ack {
                        reference,
                        ..ack.clone()
                    };
                    answers.push(Answer::Ack(reply, Ok(ack)));
                    continue;
                }
                let dup = done.iter_mut().find_map(|d| match d {
                    Done::Sent { msg, followers, .. }
                        if msg.sender == user && msg.client_id == frame.client_id =>
                    {
                        Some(followers)
                    }
                    _ => None,
                });
                if let Some(followers) = dup {
                    followers.push((reference, reply));
                    continue;
                }
                if attempts > MAX_ATTEMPTS {
                    tracing::error!(room = %state.id, "a message kept conflicting with stored data");
                    answers.push(Answer::Ack(reply, Err(ChatError::Internal)));
                    continue;
                }
                // In cluster mode Redis allocates the seq (0 until then).
                if !state.clustered {
                    seq += 1;
                }
                let media = frame.resolved;
                let quote = frame.quote;
                let mentions = state.members_among(frame.named.unwrap_or_default());
                let msg = NewMessage {
                    id: MessageId::generate(),
                    room: state.id.clone(),
                    seq: if state.clustered { 0 } else { seq },
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
            } => match state.check_edit(&user, &author, &body) {
                Err(e) => answers.push(Answer::Edit(reply, Err(e))),
                Ok(()) => {
                    let mentions = state.members_among(named);
                    ops.push(WriteOp::Edit {
                        room: state.id.clone(),
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
            } => match state.role_of(&user) {
                Err(e) => answers.push(Answer::Done(reply, Err(e))),
                Ok(_) => {
                    ops.push(WriteOp::React {
                        room: state.id.clone(),
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
            } => match state.check_delete(&user, &author) {
                Err(e) => answers.push(Answer::Done(reply, Err(e))),
                Ok(()) => {
                    ops.push(WriteOp::Delete {
                        room: state.id.clone(),
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
                // Dropped if the reader left meanwhile.
                if state.members.contains_key(&user) {
                    ops.push(WriteOp::Read {
                        room: state.id.clone(),
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
                    room: state.id.clone(),
                    user: user.clone(),
                    seq: upto,
                });
                done.push(Done::Delivered { user, seq: upto });
            }
            Job::Change { by, change, reply } => {
                if !done.is_empty() {
                    jobs.push_front(Job::Change { by, change, reply });
                    break;
                }
                match state.check_change(&by, &change) {
                    Err(e) => answers.push(Answer::Done(reply, Err(e))),
                    Ok(false) => answers.push(Answer::Done(reply, Ok(()))),
                    Ok(true) => {
                        ops.push(change_op(&state.id, &change, now));
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
    Plan {
        ops,
        done,
        answers,
        last_seq: seq,
    }
}

/// What a durable batch leads to: see `commit`.
pub(super) struct Committed<R: Replies> {
    pub(super) answers: Vec<Answer<R>>,
    /// The frames' contents, in batch order (sent from here outside cluster mode; in cluster
    /// mode every node sends them when the batch comes back over the bus).
    pub(super) items: Vec<BusItem>,
    /// The messages stored by this batch (not resends stored before), for pushes.
    pub(super) fresh: Vec<NewMessage>,
}

/// The batch `done` is durable; `last_seq` is the plan's, `placed` the cluster append's answer
/// (one per message; empty outside cluster mode). Moves the seq, remembers the acks for
/// resends and, in cluster mode, applies a change to the members at once (outside it, the
/// fan-out of `items` does).
pub(super) fn commit<R: Replies>(
    state: &mut RoomState,
    done: Vec<Done<R>>,
    last_seq: i64,
    placed: Vec<Placed>,
) -> Committed<R> {
    if !state.clustered {
        state.last_seq = last_seq;
    }
    let mut placed = placed.into_iter();
    let mut answers = Vec::new();
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
                let ack = match placed.next().unwrap_or(Placed::New(msg.seq)) {
                    Placed::New(seq) => {
                        msg.seq = seq;
                        state.last_seq = state.last_seq.max(seq);
                        Ack {
                            client_id: msg.client_id.clone(),
                            room: state.id.clone(),
                            id: msg.id.clone(),
                            seq,
                            ts: msg.ts,
                            reference: None,
                        }
                    }
                    // Sent before through another node: the first ack, and nothing new to fan out.
                    Placed::Duplicate((id, seq, ts)) => Ack {
                        client_id: msg.client_id.clone(),
                        room: state.id.clone(),
                        id,
                        seq,
                        ts,
                        reference: None,
                    },
                };
                state.remember(msg.sender.clone(), ack.clone());
                answer_all(&mut answers, &ack, reference, reply, followers);
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
                answers.push(Answer::Edit(reply, Ok(at)));
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
                answers.push(Answer::Done(reply, Ok(())));
            }
            Done::Deleted { id, reply } => {
                items.push(BusItem::Deleted { id });
                answers.push(Answer::Done(reply, Ok(())));
            }
            Done::Read { user, seq, share } => items.push(BusItem::Read { user, seq, share }),
            Done::Delivered { user, seq } => items.push(BusItem::Delivered { user, seq }),
            Done::Changed { change, reply } => {
                let item = change_item(&change);
                // This node's checks see the change at once; the frames follow over the bus.
                if state.clustered {
                    state.apply_change(&item);
                }
                items.push(BusItem::Changed(item));
                answers.push(Answer::Done(reply, Ok(())));
            }
        }
    }
    Committed {
        answers,
        items,
        fresh,
    }
}

/// The batch `done` failed with `err`: everyone waiting is told, and its delivered marks are
/// forgotten so that a later delivery writes them again. No seq was used.
pub(super) fn fail<R: Replies>(
    state: &mut RoomState,
    done: Vec<Done<R>>,
    err: &ChatError,
) -> Vec<Answer<R>> {
    let mut answers = Vec::new();
    for d in done {
        match d {
            Done::Sent {
                reply, followers, ..
            } => {
                answers.push(Answer::Ack(reply, Err(err.clone())));
                for (_, tx) in followers {
                    answers.push(Answer::Ack(tx, Err(err.clone())));
                }
            }
            Done::Changed { reply, .. }
            | Done::Deleted { reply, .. }
            | Done::Reacted { reply, .. } => answers.push(Answer::Done(reply, Err(err.clone()))),
            Done::Edited { reply, .. } => answers.push(Answer::Edit(reply, Err(err.clone()))),
            Done::Delivered { user, .. } => state.forget_delivered(&user),
            Done::Read { .. } => {}
        }
    }
    answers
}

/// The batch `done` hit a unique constraint: some of its messages were stored before (a resend
/// whose first ack was lost across a restart; `stored` are their stored acks), or the seq is
/// behind the store (`max_seq`, its highest). Answers the stored ones with their original ack
/// and catches the seq up; returns those answers and the jobs to queue again, first, in order
/// (the other messages and the receipts). Edits, reactions, deletes and changes are refused
/// with `unavailable` (the caller tries again).
pub(super) fn reconcile<R: Replies>(
    state: &mut RoomState,
    done: Vec<Done<R>>,
    stored: &[StoredAck],
    max_seq: i64,
) -> (Vec<Answer<R>>, Vec<Job<R>>) {
    state.last_seq = state.last_seq.max(max_seq);
    let mut answers = Vec::new();
    let mut requeue = Vec::new();
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
                        room: state.id.clone(),
                        id: m.id.clone(),
                        seq: m.seq,
                        ts: m.ts,
                        reference: None,
                    };
                    state.remember(msg.sender.clone(), ack.clone());
                    answer_all(&mut answers, &ack, reference, reply, followers);
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
            other => answers.extend(fail(
                state,
                vec![other],
                &ChatError::Unavailable("conflict, try again".into()),
            )),
        }
    }
    (answers, requeue)
}

/// Answers a message's sender and its resends in the batch with `ack`, each with its reference.
fn answer_all<R: Replies>(
    answers: &mut Vec<Answer<R>>,
    ack: &Ack,
    reference: Option<String>,
    reply: R::Ack,
    followers: Vec<(Option<String>, R::Ack)>,
) {
    answers.push(Answer::Ack(
        reply,
        Ok(Ack {
            reference,
            ..ack.clone()
        }),
    ));
    for (r, tx) in followers {
        answers.push(Answer::Ack(
            tx,
            Ok(Ack {
                reference: r,
                ..ack.clone()
            }),
        ));
    }
}

/// What the other nodes must hear of a batch (cluster mode): its writes as bus items.
pub(super) fn fanout_of<R: Replies>(room: &RoomId, done: &[Done<R>]) -> RoomBatch {
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
        room: room.clone(),
        items,
    }
}

/// The write of a change to the room.
fn change_op(room: &RoomId, change: &Change, now: i64) -> WriteOp {
    let room = room.clone();
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
