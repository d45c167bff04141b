//! Client requests that a session answers by asking other actors and the store, without needing
//! the session's own state: edit, delete, `send_many`, `history` and `sync`. Each is an async
//! function the session spawns; it returns the frame (or what the session sends) to answer with.

use std::collections::{BTreeSet, HashMap};

use actix::Addr;

use super::registry::{GetRoom, RoomCreated, RoomRegistry};
use super::room::{DeleteMessage, Draft, EditMessage, Post, React};
use super::session::SessionDeps;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, SessionId, UserId};
use crate::media::urls::UrlSigner;
use crate::protocol::{
    AckMany, DeleteFrame, EditFrame, ErrorBody, ErrorCode, ErrorOut, HistoryFrame, HistoryOut,
    MessageOut, ReactFrame, ReactionOut, SendFrame, SendManyFrame, SendResult, ServerFrame,
    SyncFrame, Synced,
};
use crate::store::Store;
use crate::views;

/// `edit {id, body}`: the room checks authorship and tells every member `edited`.
pub async fn edit(deps: SessionDeps, user: UserId, f: EditFrame) -> Result<(), ChatError> {
    let info = deps
        .store
        .locate_message(&f.id)
        .await?
        .ok_or(ChatError::NotFound("message"))?;
    if info.deleted {
        return Err(ChatError::NotFound("message"));
    }
    let named = deps.store.named_users(&f.body).await?;
    let room = deps.registry.send(GetRoom { room: info.room }).await??;
    room.send(EditMessage {
        user,
        id: f.id,
        author: info.author,
        body: f.body,
        named,
    })
    .await??;
    Ok(())
}

/// A message that exists, is not deleted, and is of `room` when one is named.
pub(super) async fn live_message(
    store: &Store,
    id: &MessageId,
    room: Option<&RoomId>,
) -> Result<RoomId, ChatError> {
    store
        .locate_message(id)
        .await?
        .filter(|m| !m.deleted && room.is_none_or(|r| *r == m.room))
        .map(|m| m.room)
        .ok_or(ChatError::NotFound("message"))
}

/// `react {room, id, emoji, on}`: one emoji on a message of that room that is not deleted; the
/// room checks membership and tells every member `reaction`. Answered with the `reaction` frame
/// itself (carrying the `ref`), which the reacting session does not get otherwise.
pub async fn react(
    deps: SessionDeps,
    user: UserId,
    session: SessionId,
    f: ReactFrame,
    reference: Option<String>,
) -> Result<ReactionOut, ChatError> {
    if !crate::protocol::emoji::is_one_emoji(&f.emoji) {
        return Err(ChatError::invalid("emoji must be exactly one emoji"));
    }
    let room = live_message(&deps.store, &f.id, Some(&f.room)).await?;
    let room = deps.registry.send(GetRoom { room }).await??;
    room.send(React {
        user: user.clone(),
        session: Some(session),
        id: f.id.clone(),
        emoji: f.emoji.clone(),
        on: f.on,
    })
    .await??;
    Ok(ReactionOut {
        room: f.room,
        id: f.id,
        user,
        emoji: f.emoji,
        on: f.on,
        reference,
    })
}

/// `delete {id}`: the room checks who may, and tells every member `deleted`.
pub async fn delete(deps: SessionDeps, user: UserId, f: DeleteFrame) -> Result<(), ChatError> {
    delete_message(&deps.store, &deps.registry, user, f.id, false).await?;
    Ok(())
}

/// Deletes message `id` for everyone through its room, as `user` (its author, or a server admin
/// with `server_admin`); a message already deleted is left as it is. Returns where it was.
pub async fn delete_message(
    store: &Store,
    registry: &Addr<RoomRegistry>,
    user: UserId,
    id: MessageId,
    server_admin: bool,
) -> Result<crate::store::messages::MessageInfo, ChatError> {
    let info = store
        .locate_message(&id)
        .await?
        .ok_or(ChatError::NotFound("message"))?;
    if info.deleted {
        return Ok(info);
    }
    let room = registry
        .send(GetRoom {
            room: info.room.clone(),
        })
        .await??;
    room.send(DeleteMessage {
        user,
        id,
        author: info.author.clone(),
        server_admin,
    })
    .await??;
    Ok(info)
}

/// `send_many`: the same message to each recipient in their own dm with the sender (created if
/// needed), each with its own seq and receipts. Idempotent per dm through the `client_id`.
pub async fn send_many(
    deps: SessionDeps,
    user: UserId,
    session: SessionId,
    f: SendManyFrame,
    reference: Option<String>,
) -> Result<AckMany, ChatError> {
    let recipients: Vec<UserId> = match (&f.to, &f.list) {
        (Some(to), None) => to
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        (None, Some(list)) => {
            deps.store
                .list(&user, list)
                .await?
                .ok_or(ChatError::NotFound("list"))?
                .members
        }
        _ => return Err(ChatError::invalid("send_many needs either to or list")),
    };
    let max = deps.settings.people.max_broadcast;
    if recipients.is_empty() || recipients.len() > max {
        return Err(ChatError::invalid(format!("recipients: 1 to {max}")));
    }
    let mut results = Vec::with_capacity(recipients.len());
    for to in recipients {
        let outcome = send_one(&deps, &user, &session, &to, &f, reference.clone()).await;
        results.push(match outcome {
            Ok(ack) => SendResult {
                to,
                room: Some(ack.room),
                id: Some(ack.id),
                seq: Some(ack.seq),
                error: None,
            },
            Err(e) => SendResult {
                to,
                room: None,
                id: None,
                seq: None,
                error: Some(ErrorBody {
                    code: e.code(),
                    message: e.to_string(),
                }),
            },
        });
    }
    Ok(AckMany {
        client_id: f.client_id,
        results,
        reference,
    })
}

/// The dm of `me` and `other`, created (and announced to both) if needed; `true` when created
/// now. `not_found` for an unknown or deleted user, `forbidden` if `other` blocked `me`.
pub async fn open_dm(
    store: &Store,
    registry: &Addr<RoomRegistry>,
    me: &UserId,
    other: &UserId,
) -> Result<(RoomId, bool), ChatError> {
    store
        .user_by_id(other)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(ChatError::NotFound("user"))?;
    if store.is_blocked(other, me).await? {
        return Err(ChatError::Forbidden(
            "this person does not accept messages from you".into(),
        ));
    }
    let (room, created) = store.get_or_create_dm(me, other).await?;
    if created {
        registry.do_send(RoomCreated {
            room: room.clone(),
            members: vec![me.clone(), other.clone()],
        });
    }
    Ok((room, created))
}

async fn send_one(
    deps: &SessionDeps,
    user: &UserId,
    session: &SessionId,
    to: &UserId,
    f: &SendManyFrame,
    reference: Option<String>,
) -> Result<crate::protocol::Ack, ChatError> {
    if to == user {
        return Err(ChatError::invalid("cannot send to yourself"));
    }
    let (room, _) = open_dm(&deps.store, &deps.registry, user, to).await?;
    let named = deps.store.named_users(&f.body).await?;
    let addr = deps.registry.send(GetRoom { room: room.clone() }).await??;
    let resolved = deps
        .store
        .resolve_attachments(
            user,
            &room,
            &f.attachments,
            deps.settings.media.max_attachments,
        )
        .await?;
    let resolved = crate::views::media_list(&resolved, &deps.media_urls);
    let frame = SendFrame {
        room,
        client_id: f.client_id.clone(),
        body: f.body.clone(),
        attachments: f.attachments.clone(),
        reply_to: None,
    };
    addr.send(Post {
        user: user.clone(),
        session: Some(session.clone()),
        draft: Draft::checked(frame, resolved, None, named, false),
        reference,
    })
    .await?
}

/// Most messages in one `history` answer.
const HISTORY_MAX: u64 = 100;
/// Messages in a `history` answer that names no limit.
const HISTORY_DEFAULT: u64 = 50;

/// `history {room, before?, limit?}`: a page of the room's messages before `before`, newest
/// last; `not_member` unless `user` is in the room.
pub async fn history(
    store: Store,
    urls: UrlSigner,
    user: UserId,
    f: HistoryFrame,
) -> Result<HistoryOut, ChatError> {
    let limit = f.limit.unwrap_or(HISTORY_DEFAULT).clamp(1, HISTORY_MAX);
    store
        .membership(&f.room, &user)
        .await?
        .ok_or(ChatError::NotMember)?;
    let (rows, has_more) = store.history(&f.room, f.before, limit).await?;
    Ok(HistoryOut {
        room: f.room,
        messages: views::messages(store.read_messages(rows).await?, &urls),
        has_more,
        reference: None,
    })
}

/// What a `sync` hands the session to send.
pub struct SyncAnswer {
    /// Every message after each cursor, room by room (in room id order), each room in seq order.
    pub messages: Vec<MessageOut>,
    /// Rooms cut short at `rooms.sync_max_per_room` messages.
    pub truncated: Vec<RoomId>,
    /// Rooms named by a cursor that `user` is not in (each gets a `not_member` error).
    pub refused: Vec<RoomId>,
}

/// `sync {cursors}`: at most `max_per_room` messages after each cursor of a room `user` is in.
pub async fn sync(
    store: Store,
    urls: UrlSigner,
    user: UserId,
    f: SyncFrame,
    max_per_room: u64,
) -> Result<SyncAnswer, ChatError> {
    let max = max_per_room.max(1);
    let mine: std::collections::HashSet<RoomId> =
        store.room_ids_of(&user).await?.into_iter().collect();
    let mut answer = SyncAnswer {
        messages: Vec::new(),
        truncated: Vec::new(),
        refused: Vec::new(),
    };
    let mut cursors: Vec<(RoomId, i64)> = f.cursors.into_iter().collect();
    cursors.sort();
    for (room, after) in cursors {
        if !mine.contains(&room) {
            answer.refused.push(room);
            continue;
        }
        let rows = store.messages_after(&room, after.max(0), max).await?;
        if rows.len() as u64 >= max {
            answer.truncated.push(room.clone());
        }
        let found = store.read_messages(rows).await?;
        answer.messages.extend(views::messages(found, &urls));
    }
    Ok(answer)
}

impl SyncAnswer {
    /// The frames that answer the `sync` carrying `reference`, in the order they are written: a
    /// `not_member` error per refused room, every message, then `synced`. With them, the highest
    /// seq per room that handing them to `me`'s device marks delivered (see
    /// [`newest_from_others`]).
    pub fn into_frames(
        self,
        reference: Option<String>,
        me: &UserId,
    ) -> (Vec<ServerFrame>, HashMap<RoomId, i64>) {
        let delivered = newest_from_others(&self.messages, me);
        let mut frames = Vec::with_capacity(self.refused.len() + self.messages.len() + 1);
        frames.extend(self.refused.into_iter().map(|room| {
            ServerFrame::Error(ErrorOut {
                code: ErrorCode::NotMember,
                message: format!("not a member of room {room}"),
                reference: reference.clone(),
                client_id: None,
            })
        }));
        frames.extend(self.messages.into_iter().map(ServerFrame::Message));
        frames.push(ServerFrame::Synced(Synced {
            truncated: self.truncated,
            reference,
        }));
        (frames, delivered)
    }
}

/// The highest seq per room among `messages` that others sent: what handing them to `me`'s
/// device marks delivered (one's own messages need no delivered receipt).
pub fn newest_from_others(messages: &[MessageOut], me: &UserId) -> HashMap<RoomId, i64> {
    let mut newest: HashMap<RoomId, i64> = HashMap::new();
    for m in messages.iter().filter(|m| &m.from != me) {
        let top = newest.entry(m.room.clone()).or_insert(0);
        *top = (*top).max(m.seq);
    }
    newest
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(room: &str, seq: i64, from: &str) -> MessageOut {
        MessageOut {
            room: RoomId::from(room),
            id: MessageId::from(format!("{room}-{seq}")),
            seq,
            from: UserId::from(from),
            body: String::new(),
            attachments: Vec::new(),
            reply_to: None,
            client_id: format!("c{seq}"),
            ts: 0,
            edited_at: None,
            deleted: false,
            reactions: Default::default(),
            mentions: Vec::new(),
            quote: None,
            forwarded: false,
        }
    }

    #[test]
    fn a_sync_marks_delivered_up_to_the_newest_message_of_others_per_room() {
        let me = UserId::from("ann");
        let messages = [
            msg("r1", 1, "ben"),
            msg("r1", 2, "ben"),
            msg("r1", 3, "ann"),
            msg("r2", 7, "ann"),
            msg("r3", 4, "cy"),
            msg("r3", 5, "ann"),
        ];
        let newest = newest_from_others(&messages, &me);
        let mut got: Vec<(&str, i64)> = newest.iter().map(|(r, s)| (r.0.as_str(), *s)).collect();
        got.sort();
        // r2 holds only her own messages: nothing to mark there.
        assert_eq!(got, [("r1", 2), ("r3", 4)]);
    }

    #[test]
    fn a_sync_answers_refusals_then_messages_then_synced() {
        let answer = SyncAnswer {
            messages: vec![msg("r1", 1, "ben"), msg("r1", 2, "ann")],
            truncated: vec![RoomId::from("r1")],
            refused: vec![RoomId::from("r9")],
        };
        let (frames, delivered) = answer.into_frames(Some("s1".into()), &UserId::from("ann"));
        let json: Vec<serde_json::Value> = frames
            .iter()
            .map(|f| serde_json::to_value(f).unwrap())
            .collect();
        let types: Vec<&str> = json.iter().map(|f| f["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["error", "message", "message", "synced"]);
        assert_eq!(json[0]["code"], "not_member");
        assert_eq!(json[0]["message"], "not a member of room r9");
        assert_eq!(json[0]["ref"], "s1");
        assert_eq!(json[3]["truncated"], serde_json::json!(["r1"]));
        assert_eq!(json[3]["ref"], "s1");
        assert_eq!(delivered.get(&RoomId::from("r1")), Some(&1));
    }
}
