//! The room's write path without its I/O: which queued jobs form the next batch, what they
//! write under which seqs, who is answered at once (refusals, resends of an acked message); and,
//! once the batch is durable or failed, what each caller is answered and what is fanned out.
//! No actor, store handle or clock here: `batch` calls these functions and does the sending,
//! persisting and fan-out.
//!
//! A batch is a run of messages, edits, reactions, deletes and receipts, or one change to the
//! room alone (so every message is fanned out to the members it was sent to). Seqs are given
//! out only to messages that pass the rules, so a refused job costs none. Who gives them out is
//! `RoomState::seqs` ([`SeqSource`]): the room counts from `RoomState::last_seq`, which moves only
//! once the batch is durable (`commit`); in cluster mode the store's append does, and messages
//! are planned with seq 0.

use std::collections::VecDeque;

use super::state::{RoomState, SeqSource};
use super::Change;
use super::Draft;
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
        draft: Draft,
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
        /// A server admin deletes it, member or not.
        server_admin: bool,
        reply: R::Done,
    },
    Read {
        user: UserId,
        seq: i64,
        share: bool,
        /// Answered once the mark is durable.
        reply: R::Done,
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
        reply: R::Done,
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
                draft,
                reference,
                attempts,
                reply,
            } => {
                if let Err(e) = state.check_send(&user, &draft) {
                    answers.push(Answer::Ack(reply, Err(e)));
                    continue;
                }
                if let Some(ack) = state.recent_ack(&user, &draft.frame.client_id) {
                    let ack = Ack { reference, ..ack };
                    answers.push(Answer::Ack(reply, Ok(ack)));
                    continue;
                }
                let dup = done.iter_mut().find_map(|d| match d {
                    Done::Sent { msg, followers, .. }
                        if msg.sender == user && msg.client_id == draft.frame.client_id =>
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
                let Draft {
                    frame,
                    media,
                    quote,
                    named,
                    forwarded,
                    ..
                } = draft;
                let media = media.unwrap_or_default();
                let mentions = state.members_among(named.unwrap_or_default());
                let msg = NewMessage {
                    id: MessageId::generate(),
                    room: state.id.clone(),
                    // In cluster mode Redis allocates it (0 until then).
                    seq: state.seqs.next(&mut seq),
                    sender: user,
                    client_id: frame.client_id,
                    body: frame.body,
                    attachments: frame.attachments,
                    reply_to: frame.reply_to,
                    ts: now,
                    mentions,
                    forwarded,
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
                server_admin,
                reply,
            } => match state.check_delete(&user, &author, server_admin) {
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
                reply,
            } => {
                // Nothing to write if the reader left meanwhile.
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
                        reply,
                    });
                } else {
                    answers.push(Answer::Done(reply, Ok(())));
                }
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
    match state.seqs {
        // The room counted them: the plan's last seq is the room's now.
        SeqSource::Room => state.last_seq = last_seq,
        // The store placed them: `placed` moves the counter, message by message, below.
        SeqSource::Store => {}
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
            Done::Read {
                user,
                seq,
                share,
                reply,
            } => {
                items.push(BusItem::Read { user, seq, share });
                answers.push(Answer::Done(reply, Ok(())));
            }
            Done::Changed { change, reply } => {
                let item = change_item(&change);
                match state.seqs {
                    // The frames follow over the bus; this node's checks see the change at once.
                    SeqSource::Store => state.apply_change(&item),
                    // The room's own fan-out of `items` applies it, with its frames.
                    SeqSource::Room => {}
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

/// The batch `done` failed with `err`: everyone waiting is told. No seq was used.
pub(super) fn fail<R: Replies>(done: Vec<Done<R>>, err: &ChatError) -> Vec<Answer<R>> {
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
            | Done::Reacted { reply, .. }
            | Done::Read { reply, .. } => answers.push(Answer::Done(reply, Err(err.clone()))),
            Done::Edited { reply, .. } => answers.push(Answer::Edit(reply, Err(err.clone()))),
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
                    };
                    // Checked when it was first sent.
                    let draft = Draft::checked(frame, media, quote, msg.mentions, msg.forwarded);
                    requeue.push(Job::Send {
                        user: msg.sender.clone(),
                        session,
                        draft: draft.clone(),
                        reference,
                        attempts: attempts + 1,
                        reply,
                    });
                    for (r, tx) in followers {
                        requeue.push(Job::Send {
                            user: msg.sender.clone(),
                            session: None,
                            draft: draft.clone(),
                            reference: r,
                            attempts: attempts + 1,
                            reply: tx,
                        });
                    }
                }
            }
            Done::Read {
                user,
                seq,
                share,
                reply,
            } => requeue.push(Job::Read {
                user,
                seq,
                share,
                reply,
            }),
            other => answers.extend(fail(
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
            Done::Read {
                user, seq, share, ..
            } => BusItem::Read {
                user: user.clone(),
                seq: *seq,
                share: *share,
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
        Change::Remove(user) | Change::Expel(user) => WriteOp::MemberRemoved {
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
        Change::Remove(user) | Change::Expel(user) => ChangeItem::Remove { user: user.clone() },
        Change::SetRole(user, role) => ChangeItem::SetRole {
            user: user.clone(),
            role: *role,
        },
        Change::Update { name, .. } => ChangeItem::Update { name: name.clone() },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::actors::room::state::tests::{ack, room};
    use crate::protocol::ErrorCode;
    use crate::store::rooms::RoomKind;

    /// Jobs are told apart by a name.
    struct Tags;

    impl Replies for Tags {
        type Ack = &'static str;
        type Edit = &'static str;
        type Done = &'static str;
    }

    /// What became of a named job in one plan.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        /// A message written under this seq, acked once durable.
        Seq(i64),
        /// Another write of the batch, answered once durable.
        Write,
        /// A resend within the batch, answered with the ack of the named job's message.
        Follows(&'static str),
        /// Answered at once with the ack of an earlier message, under this seq.
        Acked(i64),
        /// Answered at once: done, nothing to write.
        Noop,
        Refused(ErrorCode),
        /// Left queued for the next batch.
        Queued,
    }
    use Outcome::*;

    const ANN: &str = "ann";
    const BOB: &str = "bob";
    const CAT: &str = "cat";
    const EVE: &str = "eve";

    fn u(name: &str) -> UserId {
        UserId::from(name)
    }

    fn frame(client_id: &str, body: &str) -> SendFrame {
        SendFrame::new(RoomId::from("r1"), client_id.to_owned(), body.to_owned())
    }

    /// A send as the session hands it over: every lookup done, nothing found.
    fn draft(f: SendFrame) -> Draft {
        Draft {
            media: Some(vec![]),
            named: Some(vec![]),
            reply_checked: true,
            ..Draft::new(f)
        }
    }

    fn send_frame(tag: &'static str, user: &str, f: SendFrame) -> Job<Tags> {
        send_draft(tag, user, draft(f))
    }

    fn send_draft(tag: &'static str, user: &str, d: Draft) -> Job<Tags> {
        Job::Send {
            user: u(user),
            session: None,
            draft: d,
            reference: Some(tag.to_owned()),
            attempts: 0,
            reply: tag,
        }
    }

    fn send(tag: &'static str, user: &str, client_id: &str, body: &str) -> Job<Tags> {
        send_frame(tag, user, frame(client_id, body))
    }

    fn edit(tag: &'static str, user: &str, author: &str, body: &str) -> Job<Tags> {
        Job::Edit {
            user: u(user),
            id: MessageId::from("m1"),
            author: u(author),
            body: body.to_owned(),
            named: vec![],
            reply: tag,
        }
    }

    fn delete(tag: &'static str, user: &str, author: &str) -> Job<Tags> {
        Job::Delete {
            user: u(user),
            id: MessageId::from("m1"),
            author: u(author),
            server_admin: false,
            reply: tag,
        }
    }

    fn admin_delete(tag: &'static str, admin: &str, author: &str) -> Job<Tags> {
        Job::Delete {
            user: u(admin),
            id: MessageId::from("m1"),
            author: u(author),
            server_admin: true,
            reply: tag,
        }
    }

    fn react(tag: &'static str, user: &str) -> Job<Tags> {
        Job::React {
            user: u(user),
            session: None,
            id: MessageId::from("m1"),
            emoji: "👍".into(),
            on: true,
            reply: tag,
        }
    }

    fn change(tag: &'static str, by: &str, change: Change) -> Job<Tags> {
        Job::Change {
            by: u(by),
            change,
            reply: tag,
        }
    }

    fn read(user: &str, seq: i64) -> Job<Tags> {
        Job::Read {
            user: u(user),
            seq,
            share: true,
            reply: "read",
        }
    }

    /// A group of ann (owner), bob (admin) and cat (member) at seq 5.
    fn group() -> RoomState {
        room(
            RoomKind::Group,
            &[(ANN, Role::Owner), (BOB, Role::Admin), (CAT, Role::Member)],
            5,
        )
    }

    /// A dm of ann and bob at seq 5.
    fn dm() -> RoomState {
        room(RoomKind::Dm, &[(ANN, Role::Member), (BOB, Role::Member)], 5)
    }

    fn code<T>(r: &Result<T, ChatError>) -> Option<ErrorCode> {
        r.as_ref().err().map(ChatError::code)
    }

    fn tag_of_job(job: &Job<Tags>) -> Option<&'static str> {
        match job {
            Job::Send { reply, .. } => Some(reply),
            Job::Edit { reply, .. } => Some(reply),
            Job::Change { reply, .. } | Job::React { reply, .. } | Job::Delete { reply, .. } => {
                Some(reply)
            }
            Job::Read { .. } => None,
        }
    }

    /// What became of each named job.
    fn outcomes(plan: &Plan<Tags>, queue: &VecDeque<Job<Tags>>) -> BTreeMap<&'static str, Outcome> {
        let mut out = BTreeMap::new();
        for a in &plan.answers {
            let (tag, outcome) = match a {
                Answer::Ack(t, Ok(ack)) => {
                    assert_eq!(
                        ack.reference.as_deref(),
                        Some(*t),
                        "an ack carries its reference"
                    );
                    (*t, Acked(ack.seq))
                }
                Answer::Ack(t, r) => (*t, Refused(code(r).unwrap())),
                Answer::Edit(t, r) => (
                    *t,
                    Refused(code(r).expect("an edit is answered once durable")),
                ),
                Answer::Done(t, Ok(())) => (*t, Noop),
                Answer::Done(t, r) => (*t, Refused(code(r).unwrap())),
            };
            assert!(out.insert(tag, outcome).is_none(), "{tag} answered twice");
        }
        for d in &plan.done {
            match d {
                Done::Sent {
                    msg,
                    reply,
                    followers,
                    ..
                } => {
                    out.insert(*reply, Seq(msg.seq));
                    for (_, f) in followers {
                        out.insert(*f, Follows(reply));
                    }
                }
                Done::Edited { reply, .. } => {
                    out.insert(*reply, Write);
                }
                Done::Changed { reply, .. }
                | Done::Reacted { reply, .. }
                | Done::Deleted { reply, .. } => {
                    out.insert(*reply, Write);
                }
                Done::Read { .. } => {}
            }
        }
        for job in queue {
            if let Some(tag) = tag_of_job(job) {
                out.insert(tag, Queued);
            }
        }
        out
    }

    fn run(state: &RoomState, jobs: Vec<Job<Tags>>) -> (Plan<Tags>, VecDeque<Job<Tags>>) {
        let mut queue: VecDeque<Job<Tags>> = jobs.into();
        let plan = plan_batch(state, &mut queue, 1_000);
        (plan, queue)
    }

    struct Case {
        name: &'static str,
        state: fn() -> RoomState,
        jobs: Vec<Job<Tags>>,
        expect: Vec<(&'static str, Outcome)>,
    }

    fn case(
        name: &'static str,
        state: fn() -> RoomState,
        jobs: Vec<Job<Tags>>,
        expect: Vec<(&'static str, Outcome)>,
    ) -> Case {
        Case {
            name,
            state,
            jobs,
            expect,
        }
    }

    #[test]
    fn what_each_job_of_a_batch_becomes() {
        let long = "x".repeat(8001);
        let cid65 = "c".repeat(65);
        let cases = vec![
            case(
                "messages get the next seqs, without gaps",
                group,
                vec![
                    send("a", ANN, "1", "hi"),
                    send("b", BOB, "1", "hi"),
                    send("c", ANN, "2", "hi"),
                ],
                vec![("a", Seq(6)), ("b", Seq(7)), ("c", Seq(8))],
            ),
            case(
                "a refused message takes no seq",
                group,
                vec![
                    send("a", ANN, "1", "hi"),
                    send("eve", EVE, "1", "hi"),
                    send("empty", BOB, "2", "  \n"),
                    send("long", BOB, "3", &long),
                    send("b", BOB, "4", "hi"),
                ],
                vec![
                    ("a", Seq(6)),
                    ("eve", Refused(ErrorCode::NotMember)),
                    ("empty", Refused(ErrorCode::Invalid)),
                    ("long", Refused(ErrorCode::TooLarge)),
                    ("b", Seq(7)),
                ],
            ),
            case(
                "a resend within the batch follows the first, with no seq of its own",
                group,
                vec![
                    send("a", ANN, "1", "hi"),
                    send("again", ANN, "1", "hi"),
                    send("b", ANN, "2", "hi"),
                ],
                vec![("a", Seq(6)), ("again", Follows("a")), ("b", Seq(7))],
            ),
            case(
                "client ids are per sender",
                group,
                vec![send("a", ANN, "1", "hi"), send("b", BOB, "1", "hi")],
                vec![("a", Seq(6)), ("b", Seq(7))],
            ),
            case(
                "a resend of a recent message gets its first ack",
                || {
                    let mut s = group();
                    s.remember(u(ANN), ack("old", 3));
                    s
                },
                vec![
                    send("again", ANN, "old", "hi"),
                    send("bob", BOB, "old", "hi"),
                ],
                vec![("again", Acked(3)), ("bob", Seq(6))],
            ),
            case(
                "a resend from someone no longer a member is refused, not acked",
                || {
                    let mut s = group();
                    s.remember(u(EVE), ack("old", 3));
                    s
                },
                vec![send("again", EVE, "old", "hi")],
                vec![("again", Refused(ErrorCode::NotMember))],
            ),
            case(
                "client ids of 1 to 64 bytes",
                group,
                vec![
                    send("none", ANN, "", "hi"),
                    send("65", ANN, &cid65, "hi"),
                    send("64", ANN, &cid65[1..], "hi"),
                ],
                vec![
                    ("none", Refused(ErrorCode::Invalid)),
                    ("65", Refused(ErrorCode::Invalid)),
                    ("64", Seq(6)),
                ],
            ),
            case(
                "the body limit counts characters, not bytes",
                || {
                    let mut s = group();
                    s.settings.max_body_chars = 3;
                    s
                },
                vec![send("3", ANN, "1", "ééé"), send("4", ANN, "2", "éééé")],
                vec![("3", Seq(6)), ("4", Refused(ErrorCode::TooLarge))],
            ),
            case(
                "attachments must have been resolved by the session",
                group,
                vec![send_frame(
                    "raw",
                    ANN,
                    SendFrame {
                        attachments: vec!["media1".into()],
                        ..frame("1", "hi")
                    },
                )],
                vec![("raw", Refused(ErrorCode::Invalid))],
            ),
            case(
                "reply_to must look like a message id",
                group,
                vec![
                    send_frame(
                        "empty",
                        ANN,
                        SendFrame {
                            reply_to: Some(MessageId::from("")),
                            ..frame("1", "hi")
                        },
                    ),
                    send_frame(
                        "long",
                        ANN,
                        SendFrame {
                            reply_to: Some(MessageId::from("m".repeat(37))),
                            ..frame("2", "hi")
                        },
                    ),
                    send_frame(
                        "ok",
                        ANN,
                        SendFrame {
                            reply_to: Some(MessageId::from("m".repeat(36))),
                            ..frame("3", "hi")
                        },
                    ),
                ],
                vec![
                    ("empty", Refused(ErrorCode::Invalid)),
                    ("long", Refused(ErrorCode::Invalid)),
                    ("ok", Seq(6)),
                ],
            ),
            case(
                "a dm where either blocked the other takes no messages, from either",
                || {
                    let mut s = dm();
                    s.set_blocked(u(BOB), u(ANN), true);
                    s
                },
                vec![send("ann", ANN, "1", "hi"), send("bob", BOB, "1", "hi")],
                vec![
                    ("ann", Refused(ErrorCode::Forbidden)),
                    ("bob", Refused(ErrorCode::Forbidden)),
                ],
            ),
            case(
                "an unblocked dm takes messages again",
                || {
                    let mut s = dm();
                    s.set_blocked(u(BOB), u(ANN), true);
                    s.set_blocked(u(BOB), u(ANN), false);
                    s
                },
                vec![send("ann", ANN, "1", "hi")],
                vec![("ann", Seq(6))],
            ),
            case(
                "blocks do not matter in groups",
                || {
                    let mut s = group();
                    s.set_blocked(u(BOB), u(ANN), true);
                    s
                },
                vec![send("ann", ANN, "1", "hi")],
                vec![("ann", Seq(6))],
            ),
            case(
                "a message that kept conflicting is refused",
                group,
                vec![
                    Job::Send {
                        user: u(ANN),
                        session: None,
                        draft: draft(frame("1", "hi")),
                        reference: Some("fourth".into()),
                        attempts: 4,
                        reply: "fourth",
                    },
                    Job::Send {
                        user: u(ANN),
                        session: None,
                        draft: draft(frame("2", "hi")),
                        reference: None,
                        attempts: 3,
                        reply: "third",
                    },
                ],
                vec![("fourth", Refused(ErrorCode::Internal)), ("third", Seq(6))],
            ),
            case(
                "only the author edits, whatever their role",
                group,
                vec![
                    edit("own", CAT, CAT, "new"),
                    edit("admin", BOB, CAT, "new"),
                    edit("owner", ANN, CAT, "new"),
                    edit("outsider", EVE, EVE, "new"),
                    edit("empty", CAT, CAT, " "),
                    edit("long", CAT, CAT, &long),
                ],
                vec![
                    ("own", Write),
                    ("admin", Refused(ErrorCode::Forbidden)),
                    ("owner", Refused(ErrorCode::Forbidden)),
                    ("outsider", Refused(ErrorCode::NotMember)),
                    ("empty", Refused(ErrorCode::Invalid)),
                    ("long", Refused(ErrorCode::TooLarge)),
                ],
            ),
            case(
                "authors, owners and admins of a group delete; other members do not",
                group,
                vec![
                    delete("own", CAT, CAT),
                    delete("admin", BOB, CAT),
                    delete("owner", ANN, BOB),
                    delete("member", CAT, ANN),
                    delete("outsider", EVE, EVE),
                ],
                vec![
                    ("own", Write),
                    ("admin", Write),
                    ("owner", Write),
                    ("member", Refused(ErrorCode::Forbidden)),
                    ("outsider", Refused(ErrorCode::NotMember)),
                ],
            ),
            case(
                "in a dm only the author deletes",
                dm,
                vec![delete("own", ANN, ANN), delete("other", BOB, ANN)],
                vec![("own", Write), ("other", Refused(ErrorCode::Forbidden))],
            ),
            case(
                "a server admin deletes any message of a group or a dm, member or not",
                dm,
                vec![admin_delete("admin", EVE, ANN)],
                vec![("admin", Write)],
            ),
            case(
                "members react, others do not",
                group,
                vec![react("cat", CAT), react("eve", EVE)],
                vec![("cat", Write), ("eve", Refused(ErrorCode::NotMember))],
            ),
            case(
                "edits, deletes and reactions take no seq",
                group,
                vec![
                    send("a", ANN, "1", "hi"),
                    edit("e", ANN, ANN, "new"),
                    delete("d", ANN, ANN),
                    react("r", ANN),
                    send("b", ANN, "2", "hi"),
                ],
                vec![
                    ("a", Seq(6)),
                    ("e", Write),
                    ("d", Write),
                    ("r", Write),
                    ("b", Seq(7)),
                ],
            ),
            case(
                "a change to the room waits for the writes before it and goes alone",
                group,
                vec![
                    send("a", ANN, "1", "hi"),
                    change("add", ANN, Change::Add(u(EVE))),
                    send("b", ANN, "2", "hi"),
                ],
                vec![("a", Seq(6)), ("add", Queued), ("b", Queued)],
            ),
            case(
                "a change first in the queue is a batch of its own",
                group,
                vec![
                    change("add", ANN, Change::Add(u(EVE))),
                    send("a", ANN, "1", "hi"),
                ],
                vec![("add", Write), ("a", Queued)],
            ),
            case(
                "a refused or empty change does not end the batch",
                group,
                vec![
                    change("refused", CAT, Change::Add(u(EVE))),
                    change("noop", ANN, Change::Add(u(CAT))),
                    send("a", ANN, "1", "hi"),
                ],
                vec![
                    ("refused", Refused(ErrorCode::Forbidden)),
                    ("noop", Noop),
                    ("a", Seq(6)),
                ],
            ),
            case(
                "a dm cannot be changed",
                dm,
                vec![change("add", ANN, Change::Add(u(EVE)))],
                vec![("add", Refused(ErrorCode::Forbidden))],
            ),
        ];
        for c in cases {
            let state = (c.state)();
            let (plan, queue) = run(&state, c.jobs);
            let got = outcomes(&plan, &queue);
            let want: BTreeMap<_, _> = c.expect.into_iter().collect();
            assert_eq!(got, want, "{}", c.name);
            let written = plan
                .done
                .iter()
                .filter(|d| matches!(d, Done::Sent { .. }))
                .count() as i64;
            assert_eq!(
                plan.last_seq,
                state.last_seq + written,
                "{}: last seq",
                c.name
            );
            assert_eq!(
                plan.ops.len(),
                plan.done.len(),
                "{}: one write per done",
                c.name
            );
        }
    }

    #[test]
    fn a_message_is_written_as_planned() {
        let state = group();
        let d = Draft {
            named: Some(vec![u(CAT), u(EVE), u(CAT), u(BOB)]),
            forwarded: true,
            ..draft(frame("c1", "hi @cat"))
        };
        let (plan, _) = run(&state, vec![send_draft("a", ANN, d)]);
        let [WriteOp::Message(msg)] = plan.ops.as_slice() else {
            panic!("one message expected");
        };
        assert_eq!(msg.room, state.id);
        assert_eq!((msg.seq, msg.ts), (6, 1_000));
        assert_eq!(msg.sender, u(ANN));
        assert_eq!(
            (msg.client_id.as_str(), msg.body.as_str()),
            ("c1", "hi @cat")
        );
        assert!(msg.forwarded);
        // Members among the named, each once, in order.
        assert_eq!(msg.mentions, vec![u(CAT), u(BOB)]);
    }

    #[test]
    fn read_marks_of_members_are_written_and_answered_once_durable() {
        let mut state = group();
        let (plan, _) = run(&state, vec![read(CAT, 3), read(EVE, 3)]);
        // Eve is not a member: nothing to write, answered at once.
        assert_eq!(plan.answers.len(), 1);
        assert!(matches!(
            plan.ops.as_slice(),
            [WriteOp::Read { user, seq: 3, .. }] if *user == u(CAT)
        ));
        // Cat's answer waits for the batch: success once durable, the error if it failed.
        let done_again = plan.done.iter().map(clone_read).collect::<Vec<_>>();
        let committed = commit(&mut state, plan.done, plan.last_seq, vec![]);
        assert!(matches!(
            committed.answers.as_slice(),
            [Answer::Done("read", Ok(()))]
        ));
        let failed = fail(done_again, &ChatError::Internal);
        assert!(matches!(failed.as_slice(), [Answer::Done("read", Err(_))]));
    }

    fn clone_read(d: &Done<Tags>) -> Done<Tags> {
        match d {
            Done::Read {
                user,
                seq,
                share,
                reply,
            } => Done::Read {
                user: user.clone(),
                seq: *seq,
                share: *share,
                reply,
            },
            _ => panic!("a read expected"),
        }
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_writes() {
        let state = group();
        let jobs = (0..MAX_BATCH as i64 + 5)
            .map(|i| read(CAT, i + 1))
            .collect();
        let (plan, queue) = run(&state, jobs);
        assert_eq!(plan.ops.len(), MAX_BATCH);
        assert_eq!(queue.len(), 5);
    }

    #[test]
    fn nothing_to_write_makes_an_empty_plan() {
        let state = group();
        let (plan, queue) = run(&state, vec![send("eve", EVE, "1", "hi"), read(EVE, 1)]);
        assert!(plan.done.is_empty() && plan.ops.is_empty() && queue.is_empty());
        assert_eq!(plan.last_seq, 5);
        // The refused send and the read with nothing to write are both answered at once.
        assert_eq!(plan.answers.len(), 2);
    }

    #[test]
    fn in_cluster_mode_redis_gives_out_the_seqs() {
        let mut state = group();
        state.seqs = SeqSource::Store;
        let (plan, _) = run(
            &state,
            vec![send("a", ANN, "1", "hi"), send("b", ANN, "2", "hi")],
        );
        let got = outcomes(&plan, &VecDeque::new());
        assert_eq!(got.get("a"), Some(&Seq(0)));
        assert_eq!(got.get("b"), Some(&Seq(0)));
        assert_eq!(plan.last_seq, 5);
        let fanout = fanout_of(&state.id, &plan.done);
        assert_eq!(fanout.items.len(), 2);
    }

    /// The acks in `answers`, by name: (seq, reference) or the error code.
    fn acks(answers: Vec<Answer<Tags>>) -> BTreeMap<&'static str, Result<Ack, ErrorCode>> {
        answers
            .into_iter()
            .map(|a| match a {
                Answer::Ack(t, r) => (t, r.map_err(|e| e.code())),
                Answer::Edit(t, r) => (t, r.map(|at| ack("edit", at)).map_err(|e| e.code())),
                Answer::Done(t, r) => (t, r.map(|()| ack("done", 0)).map_err(|e| e.code())),
            })
            .collect()
    }

    #[test]
    fn a_durable_batch_acks_everyone_and_remembers_the_acks() {
        let mut state = group();
        let (plan, _) = run(
            &state,
            vec![
                send("a", ANN, "1", "hi"),
                send("again", ANN, "1", "hi"),
                edit("e", ANN, ANN, "new"),
                send("b", BOB, "1", "hi"),
            ],
        );
        let c = commit(&mut state, plan.done, plan.last_seq, vec![]);
        assert_eq!(state.last_seq, 7);
        let got = acks(c.answers);
        let (a, again) = (got["a"].as_ref().unwrap(), got["again"].as_ref().unwrap());
        assert_eq!((a.seq, a.reference.as_deref()), (6, Some("a")));
        assert_eq!((again.id.clone(), again.seq), (a.id.clone(), 6));
        assert_eq!(again.reference.as_deref(), Some("again"));
        assert_eq!(
            got["e"].as_ref().unwrap().seq,
            1_000,
            "an edit is answered with its time"
        );
        assert_eq!(got["b"].as_ref().unwrap().seq, 7);
        assert_eq!(
            c.fresh.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![6, 7]
        );
        assert_eq!(c.items.len(), 3);

        // A later resend is answered from memory, with its own reference.
        let (next, _) = run(&state, vec![send("later", ANN, "1", "hi")]);
        let got = outcomes(&next, &VecDeque::new());
        assert_eq!(got.get("later"), Some(&Acked(6)));
    }

    #[test]
    fn in_cluster_mode_a_message_sent_through_another_node_gets_its_first_ack() {
        let mut state = group();
        state.seqs = SeqSource::Store;
        let (plan, _) = run(
            &state,
            vec![send("dup", ANN, "1", "hi"), send("new", ANN, "2", "hi")],
        );
        let first = (MessageId::from("first"), 4, 77);
        let c = commit(
            &mut state,
            plan.done,
            plan.last_seq,
            vec![Placed::Duplicate(first), Placed::New(9)],
        );
        let got = acks(c.answers);
        let dup = got["dup"].as_ref().unwrap();
        assert_eq!((dup.id.as_str(), dup.seq, dup.ts), ("first", 4, 77));
        assert_eq!(got["new"].as_ref().unwrap().seq, 9);
        // Only the new message is fanned out and pushed.
        assert_eq!(c.fresh.len(), 1);
        assert_eq!(c.fresh[0].seq, 9);
        assert_eq!(c.items.len(), 1);
        assert_eq!(state.last_seq, 9);
        assert_eq!(state.recent_ack(&u(ANN), "1").map(|a| a.seq), Some(4));
    }

    #[test]
    fn a_durable_change_reaches_the_members_at_once_only_in_cluster_mode() {
        for (seqs, clustered) in [(SeqSource::Room, false), (SeqSource::Store, true)] {
            let mut state = group();
            state.seqs = seqs;
            let (plan, _) = run(&state, vec![change("add", ANN, Change::Add(u(EVE)))]);
            let c = commit(&mut state, plan.done, plan.last_seq, vec![]);
            assert!(matches!(
                c.items.as_slice(),
                [BusItem::Changed(ChangeItem::Add { user })] if *user == u(EVE)
            ));
            // Outside cluster mode the fan-out applies it, with its frames.
            assert_eq!(state.members.contains_key(&u(EVE)), clustered);
        }
    }

    #[test]
    fn the_seq_source_decides_the_planned_seqs_and_where_the_counter_moves() {
        /// Who gives out seqs, what the append answers, planned seqs, acked seqs, last seq.
        type Row = (SeqSource, Vec<Placed>, [i64; 2], [i64; 2], i64);
        let table: [Row; 2] = [
            (SeqSource::Room, vec![], [6, 7], [6, 7], 7),
            (
                SeqSource::Store,
                vec![Placed::New(12), Placed::New(13)],
                [0, 0],
                [12, 13],
                13,
            ),
        ];
        for (seqs, placed, planned, acked, last) in table {
            let mut state = group();
            state.seqs = seqs;
            let (plan, _) = run(
                &state,
                vec![send("a", ANN, "1", "hi"), send("b", BOB, "1", "hi")],
            );
            let got: Vec<i64> = plan
                .ops
                .iter()
                .filter_map(|o| match o {
                    WriteOp::Message(m) => Some(m.seq),
                    _ => None,
                })
                .collect();
            assert_eq!(got, planned, "{seqs:?}: planned seqs");
            // The room's counter moves only once the batch is durable.
            assert_eq!(state.last_seq, 5, "{seqs:?}");
            let c = commit(&mut state, plan.done, plan.last_seq, placed);
            let got = acks(c.answers);
            let seqs_acked = [
                got["a"].as_ref().unwrap().seq,
                got["b"].as_ref().unwrap().seq,
            ];
            assert_eq!(seqs_acked, acked, "{seqs:?}: acked seqs");
            assert_eq!(state.last_seq, last, "{seqs:?}: the counter");
        }
    }

    #[test]
    fn a_failed_batch_answers_everyone_and_its_seqs_are_given_out_again() {
        let state = group();
        let (plan1, _) = run(
            &state,
            vec![
                send("a", ANN, "1", "hi"),
                send("again", ANN, "1", "hi"),
                delete("d", ANN, ANN),
            ],
        );
        let err = ChatError::Unavailable("down".into());
        let got = acks(fail(plan1.done, &err));
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), ["a", "again", "d"]);
        assert!(got
            .values()
            .all(|r| r.as_ref().err() == Some(&ErrorCode::Unavailable)));
        assert_eq!(state.last_seq, 5);
        let (plan2, _) = run(&state, vec![send("b", BOB, "1", "hi")]);
        assert_eq!(plan2.last_seq, 6, "no gap after a failed batch");
    }

    #[test]
    fn a_conflicting_batch_answers_the_stored_messages_and_queues_the_rest() {
        let mut state = group();
        let (plan, _) = run(
            &state,
            vec![
                send("stored", ANN, "1", "hi"),
                send("stored again", ANN, "1", "hi"),
                send("fresh", BOB, "1", "hi"),
                send("fresh again", BOB, "1", "hi"),
                read(CAT, 2),
                edit("e", ANN, ANN, "new"),
            ],
        );
        let stored = [StoredAck {
            sender: u(ANN),
            client_id: "1".into(),
            id: MessageId::from("m3"),
            seq: 3,
            ts: 9,
        }];
        let (answers, requeue) = reconcile(&mut state, plan.done, &stored, 12);
        assert_eq!(state.last_seq, 12, "caught up with the store");
        let got = acks(answers);
        assert_eq!(got.len(), 3);
        for tag in ["stored", "stored again"] {
            let a = got[tag].as_ref().unwrap();
            assert_eq!(
                (a.id.as_str(), a.seq, a.reference.as_deref()),
                ("m3", 3, Some(tag))
            );
        }
        assert_eq!(got["e"].as_ref().err(), Some(&ErrorCode::Unavailable));
        assert_eq!(state.recent_ack(&u(ANN), "1").map(|a| a.seq), Some(3));
        let tags: Vec<_> = requeue.iter().map(tag_of_job).collect();
        assert_eq!(tags, vec![Some("fresh"), Some("fresh again"), None]);
        assert!(requeue.iter().all(|j| match j {
            Job::Send {
                attempts, draft, ..
            } => *attempts == 1 && draft.reply_checked,
            _ => true,
        }));

        // Queued again, they take seqs after the store's.
        let mut queue: VecDeque<_> = requeue.into();
        let next = plan_batch(&state, &mut queue, 2_000);
        let got = outcomes(&next, &queue);
        assert_eq!(got.get("fresh"), Some(&Seq(13)));
        assert_eq!(got.get("fresh again"), Some(&Follows("fresh")));
    }
}
