//! The messages a Room handles.

use std::collections::HashMap;

use actix::Message;

use super::super::outbox::SessionHandle;
use crate::error::ChatError;
use crate::ids::{MessageId, SessionId, UserId};
use crate::protocol::{Ack, Role, TypingState};

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
    /// The message, every check done (see `Draft::next_check`).
    pub draft: super::Draft,
    pub reference: Option<String>,
}

/// Cluster mode: durable writes and typing of this room, as they came over the bus; their frames
/// go to this node's sessions.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RoomBus {
    pub items: Vec<crate::cluster::bus::BusItem>,
}

/// Someone started or stopped typing.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Typing {
    pub user: UserId,
    pub state: TypingState,
}

/// `user` has read up to `seq`; `share` = false stores the mark without telling others (the
/// user's "send read receipts" setting is off).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
/// Answered once the mark is durable.
pub struct MarkRead {
    pub user: UserId,
    pub seq: i64,
    pub share: bool,
}

/// Messages up to `seq` reached one of `user`'s devices (e.g. through `sync`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct MarkDelivered {
    pub user: UserId,
    pub seq: i64,
}

/// A change to the room itself; see `Change` for who may make which.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct ChangeRoom {
    pub by: UserId,
    pub change: Change,
}

/// What `ChangeRoom` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Owners and admins add members to groups.
    Add(UserId),
    /// Owners and admins remove others (not an owner); anyone removes themselves (leaving).
    Remove(UserId),
    /// Owners set roles; the last owner cannot step down.
    SetRole(UserId, Role),
    /// Owners and admins rename a group or set its avatar (`Some(None)` removes it).
    Update {
        name: Option<String>,
        avatar: Option<Option<String>>,
    },
    /// A server admin removes a member from any room, whatever its kind and their role (`by`
    /// need not be a member): how `DELETE /api/admin/rooms/{id}` closes a room. Members are
    /// told `member_removed`, as for a leave.
    Expel(UserId),
}

/// Add a member (owners and admins of groups only); shorthand for `ChangeRoom` with `Add`.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct AddMember {
    pub by: UserId,
    pub user: UserId,
}

/// Remove a member; shorthand for `ChangeRoom` with `Remove`.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct RemoveMember {
    pub by: UserId,
    pub user: UserId,
}

/// Edit a message (authors only); answered with the edit time.
#[derive(Message, Debug)]
#[rtype(result = "Result<i64, ChatError>")]
pub struct EditMessage {
    pub user: UserId,
    pub id: MessageId,
    /// The message's author, as stored.
    pub author: UserId,
    pub body: String,
    /// Users the new body names as `@username` (the room keeps its members among them).
    pub named: Vec<UserId>,
}

/// Add (`on`) or take back `user`'s reaction `emoji` (checked to be one emoji) to message `id`
/// of the room (checked to be there and not deleted); answered once durable.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct React {
    pub user: UserId,
    /// The reacting session, which gets the answer instead of the `reaction` frame.
    pub session: Option<SessionId>,
    pub id: MessageId,
    pub emoji: String,
    pub on: bool,
}

/// Delete a message (its author, or an owner or admin of a group; any message when
/// `server_admin`).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct DeleteMessage {
    pub user: UserId,
    pub id: MessageId,
    pub author: UserId,
    /// `user` is a server admin (`DELETE /api/admin/messages/{id}`), who need not be a member.
    pub server_admin: bool,
}

/// `blocker` blocked (`on`) or unblocked `blocked`; matters in dms.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SetBlocked {
    pub blocker: UserId,
    pub blocked: UserId,
    pub on: bool,
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
