//! Client requests that a session answers by asking other actors and the store, without needing
//! the session's own state: edit, delete and `send_many`. Each is an async function the session
//! spawns; it returns the frame to answer with, if any.

use std::collections::BTreeSet;

use actix::Addr;

use super::registry::{GetRoom, RoomCreated, RoomRegistry};
use super::room::{DeleteMessage, Draft, EditMessage, Post, React};
use super::session::SessionDeps;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, SessionId, UserId};
use crate::protocol::{
    AckMany, DeleteFrame, EditFrame, ErrorBody, ReactFrame, ReactionOut, SendFrame, SendManyFrame,
    SendResult,
};
use crate::store::Store;

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
    let info = deps
        .store
        .locate_message(&f.id)
        .await?
        .ok_or(ChatError::NotFound("message"))?;
    if info.deleted {
        return Ok(());
    }
    let room = deps.registry.send(GetRoom { room: info.room }).await??;
    room.send(DeleteMessage {
        user,
        id: f.id,
        author: info.author,
        server_admin: false,
    })
    .await??;
    Ok(())
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
