//! Frames of protocol v1, as typed serde enums. Client frames are decoded by `codec::decode`;
//! server frames are wrapped in `codec::Outbound` so a frame fanned out to many sessions is
//! encoded once per format.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::ErrorCode;
use crate::ids::{MessageId, RoomId, SessionId, UserId};
use crate::RoomKind;

/// Every frame type a client may send, tagged by `"type"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Send(SendFrame),
    SendMany(SendManyFrame),
    Edit(EditFrame),
    Delete(DeleteFrame),
    Typing(TypingFrame),
    Read(ReadFrame),
    History(HistoryFrame),
    Sync(SyncFrame),
    React(ReactFrame),
    Pin(PinFrame),
    Star(StarFrame),
    Forward(ForwardFrame),
    Ping,
}

impl ClientFrame {
    /// The `type` names, for telling `unknown_type` from a malformed known frame.
    pub const TYPES: [&'static str; 13] = [
        "send",
        "send_many",
        "edit",
        "delete",
        "typing",
        "read",
        "history",
        "sync",
        "react",
        "pin",
        "star",
        "forward",
        "ping",
    ];
}

/// `send`: post a message to a room.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SendFrame {
    pub room: RoomId,
    /// Chosen by the client; a resend with the same value returns the same ack.
    pub client_id: String,
    pub body: String,
    #[serde(default)]
    pub attachments: Vec<String>,
    #[serde(default)]
    pub reply_to: Option<MessageId>,
}

impl SendFrame {
    /// A plain text message, as a client sends it (no attachments, not a reply).
    pub fn new(room: RoomId, client_id: String, body: String) -> Self {
        Self {
            room,
            client_id,
            body,
            attachments: Vec::new(),
            reply_to: None,
        }
    }
}

/// `send_many`: one message to several people, each in their own dm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SendManyFrame {
    pub client_id: String,
    #[serde(default)]
    pub to: Option<Vec<UserId>>,
    #[serde(default)]
    pub list: Option<String>,
    pub body: String,
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// `edit`: change the body of one's own message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EditFrame {
    pub id: MessageId,
    pub body: String,
}

/// `delete`: remove a message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteFrame {
    pub id: MessageId,
}

/// `react`: add (`on`) or take back one's reaction `emoji` to a message; idempotent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReactFrame {
    pub room: RoomId,
    pub id: MessageId,
    pub emoji: String,
    pub on: bool,
}

/// `pin`: pin (`on`) or unpin a message of `room` for every member (who may: the room's pin
/// policy).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinFrame {
    pub room: RoomId,
    pub id: MessageId,
    pub on: bool,
}

/// `star`: star (`on`) or unstar a message, privately.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StarFrame {
    pub id: MessageId,
    pub on: bool,
}

/// `forward`: send a copy of message `id` (body and attachments, marked `forwarded`) to each room
/// of `to`; `client_id` makes it idempotent per room.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardFrame {
    pub id: MessageId,
    pub to: Vec<RoomId>,
    pub client_id: String,
}

/// `typing` from a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TypingFrame {
    pub room: RoomId,
    pub state: TypingState,
}

/// Whether someone started or stopped typing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    Start,
    Stop,
}

/// `read`: everything up to `seq` in `room` has been read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadFrame {
    pub room: RoomId,
    pub seq: i64,
}

/// `history`: a page of messages before `before` (exclusive), newest page first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryFrame {
    pub room: RoomId,
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `sync`: everything after each room's last seen seq.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncFrame {
    pub cursors: HashMap<RoomId, i64>,
}

/// Every frame the server sends, tagged by `"type"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello(Hello),
    Message(MessageOut),
    Ack(Ack),
    AckMany(AckMany),
    History(HistoryOut),
    Synced(Synced),
    Pong(Pong),
    Edited(Edited),
    Deleted(Deleted),
    Typing(TypingOut),
    Presence(PresenceOut),
    Receipt(ReceiptOut),
    RoomEvent(RoomEventOut),
    Settings(SettingsOut),
    Media(super::MediaEvent),
    Reaction(ReactionOut),
    Pinned(PinnedOut),
    Starred(StarredOut),
    Forwarded(ForwardedOut),
    Profile(ProfileOut),
    Invitation(InvitationOut),
    Error(ErrorOut),
}

/// `invitation`: someone invited the user to a group (their `privacy.group_adds` did not let
/// the inviter add them directly). Only the group's id and name and the inviter are shown until
/// the user accepts (`POST /api/invitations/{id}/accept`) or declines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationOut {
    pub invitation: Invitation,
}

/// A pending invitation to a group, as the invitee sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub room: RoomId,
    pub room_name: Option<String>,
    pub inviter: UserOut,
    pub created_at: i64,
}

/// `profile`: a user changed their public profile; sent to everyone who shares a conversation
/// with them and to their own other sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileOut {
    pub user: UserId,
    pub username: String,
    pub display_name: String,
    pub about: Option<String>,
    /// Media id of the avatar (`GET /api/media/{id}` gives its URLs), or `null`.
    pub avatar: Option<String>,
}

/// A user as other people see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOut {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

/// One room in `hello` and in room listings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub last_seq: i64,
    pub unread: i64,
    /// How many of the unread messages mention the user.
    #[serde(default)]
    pub unread_mentions: i64,
}

/// First frame of every session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    pub user: UserOut,
    pub session: SessionId,
    pub server_time: i64,
    pub rooms: Vec<RoomSummary>,
}

/// A chat message as delivered live, in `history` and after `sync`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageOut {
    pub room: RoomId,
    pub id: MessageId,
    pub seq: i64,
    pub from: UserId,
    pub body: String,
    pub attachments: Vec<serde_json::Value>,
    pub reply_to: Option<MessageId>,
    pub client_id: String,
    pub ts: i64,
    pub edited_at: Option<i64>,
    /// The message was deleted; its body and attachments are gone.
    pub deleted: bool,
    /// Reactions: emoji → the users who reacted with it, earliest first (no empty keys).
    #[serde(default)]
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// The members the body names as `@username`.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// A short quote of the message `reply_to` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Forwarded from another conversation.
    #[serde(default)]
    pub forwarded: bool,
}

/// What a reply shows of the message it answers: its author and first line (at most
/// [`Quote::MAX_CHARS`] characters), or only `deleted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: MessageId,
    pub from: UserId,
    pub text: String,
    pub deleted: bool,
}

impl Quote {
    /// Longest quoted text, in characters.
    pub const MAX_CHARS: usize = 100;
}

/// A message was pinned (`on`) or unpinned in a room, by `user`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinnedOut {
    pub room: RoomId,
    pub id: MessageId,
    pub user: UserId,
    pub on: bool,
    /// Set only in the answer to the pinning session's own `pin`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The user starred (`on`) or unstarred a message (sent to their own devices only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StarredOut {
    pub room: RoomId,
    pub id: MessageId,
    pub on: bool,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Answer to `forward`: one result per room of `to`, in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardedOut {
    pub client_id: String,
    pub results: Vec<ForwardResult>,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One room's outcome in `forwarded`: the new message, or why not.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardResult {
    pub room: RoomId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Someone added (`on`) or took back a reaction to a message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReactionOut {
    pub room: RoomId,
    pub id: MessageId,
    pub user: UserId,
    pub emoji: String,
    pub on: bool,
    /// Set only in the answer to the reacting session's own `react`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Answer to `send`: the message is durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub client_id: String,
    pub room: RoomId,
    pub id: MessageId,
    pub seq: i64,
    pub ts: i64,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Answer to `send_many`: one result per recipient, in the order given.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AckMany {
    pub client_id: String,
    pub results: Vec<SendResult>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One recipient's outcome in `ack_many`: the dm and the stored message, or why not.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SendResult {
    pub to: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `{code, message}` inside another frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// The user's settings changed (on any device); sent to every device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SettingsOut {
    pub settings: super::settings::UserSettings,
}

/// Answer to `history`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryOut {
    pub room: RoomId,
    pub messages: Vec<MessageOut>,
    pub has_more: bool,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// End of a `sync` answer. `truncated` lists rooms that had more than one sync returns; the
/// client syncs again from the last seq it got.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Synced {
    pub truncated: Vec<RoomId>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Answer to `ping`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pong {
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A message's body changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Edited {
    pub room: RoomId,
    pub id: MessageId,
    pub body: String,
    pub edited_at: i64,
    /// The members the new body names as `@username`.
    #[serde(default)]
    pub mentions: Vec<UserId>,
}

/// A message was deleted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Deleted {
    pub room: RoomId,
    pub id: MessageId,
}

/// Someone in the room started or stopped typing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TypingOut {
    pub room: RoomId,
    pub user: UserId,
    pub state: TypingState,
}

/// Someone who shares a conversation came online or went offline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresenceOut {
    pub user: UserId,
    pub online: bool,
    pub last_seen: Option<i64>,
}

/// Someone received or read messages up to `seq`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptOut {
    pub room: RoomId,
    pub user: UserId,
    pub seq: i64,
    pub kind: ReceiptKind,
}

/// Kind of receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Delivered,
    Read,
}

/// A change to a room the client is (or was) in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomEventOut {
    pub room: RoomId,
    pub event: RoomEventKind,
    /// The member added, removed or given a new role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    /// The member's role, for `member_added` and role changes (`updated` with `user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The room's name, for `created` and `updated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What happened to the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomEventKind {
    Created,
    Updated,
    MemberAdded,
    MemberRemoved,
}

/// Something the client asked for failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorOut {
    pub code: ErrorCode,
    pub message: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A member's role in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Role {
        match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            _ => Role::Member,
        }
    }

    /// Owners and admins manage membership.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}
