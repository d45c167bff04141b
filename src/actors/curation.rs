//! Pins, stars and forwarding: requests a session answers by asking the store and the rooms,
//! without the session's own state. Pins and stars are written straight to SQL (rare, and not
//! part of a room's seq order) and their events go out through the registry; a forward posts a
//! copy of the message to each target room like any `send`.

use std::collections::BTreeSet;

use super::outbox::Deliver;
use super::registry::{DeliverToUsers, GetRoom};
use super::requests::live_message;
use super::room::{Draft, Post};
use super::session::SessionDeps;
use crate::error::ChatError;
use crate::ids::{now_ms, RoomId, SessionId, UserId};
use crate::protocol::{
    ErrorBody, ForwardFrame, ForwardResult, ForwardedOut, PinFrame, PinnedOut, SendFrame,
    ServerFrame, StarFrame, StarredOut,
};
use crate::store::pins::{PinOutcome, PinPolicy, MAX_PINS};
use crate::store::writes::attachments_of_column;

/// Most rooms one `forward` goes to.
pub const MAX_FORWARD_ROOMS: usize = 10;

/// `pin {room, id, on}`: members pin (only owners and admins where the room's policy says so; in
/// a dm both members); every member's other sessions get `pinned`, the pinning session gets it
/// as the answer. Idempotent; at most [`MAX_PINS`] per room.
pub async fn pin(
    deps: SessionDeps,
    user: UserId,
    session: SessionId,
    f: PinFrame,
    reference: Option<String>,
) -> Result<PinnedOut, ChatError> {
    let store = &deps.store;
    live_message(store, &f.id, Some(&f.room)).await?;
    let rec = store
        .load_room(&f.room)
        .await?
        .ok_or(ChatError::NotFound("room"))?;
    let role = *rec.members.get(&user).ok_or(ChatError::NotMember)?;
    if !rec.kind.is_dm() && !role.manages() && store.pin_policy(&f.room).await? == PinPolicy::Admins
    {
        return Err(ChatError::Forbidden(
            "only owners and admins pin messages in this room".into(),
        ));
    }
    let out = PinnedOut {
        room: f.room.clone(),
        id: f.id.clone(),
        user: user.clone(),
        on: f.on,
        reference: None,
    };
    match store.set_pin(&f.room, &f.id, &user, f.on, now_ms()).await? {
        PinOutcome::Full => {
            return Err(ChatError::invalid(format!(
                "at most {MAX_PINS} pinned messages per room"
            )))
        }
        PinOutcome::Changed => deps.registry.do_send(DeliverToUsers {
            users: rec.members.keys().cloned().collect(),
            frame: Deliver::new(ServerFrame::Pinned(out.clone())),
            except: Some(session),
        }),
        PinOutcome::Unchanged => {}
    }
    Ok(PinnedOut { reference, ..out })
}

/// `star {id, on}`: a member stars a message for themselves; their other sessions get `starred`.
pub async fn star(
    deps: SessionDeps,
    user: UserId,
    session: SessionId,
    f: StarFrame,
    reference: Option<String>,
) -> Result<StarredOut, ChatError> {
    let store = &deps.store;
    let room = live_message(store, &f.id, None).await?;
    store
        .membership(&room, &user)
        .await?
        .ok_or(ChatError::NotMember)?;
    let out = StarredOut {
        room: room.clone(),
        id: f.id.clone(),
        on: f.on,
        reference: None,
    };
    if store.set_star(&user, &f.id, &room, f.on, now_ms()).await? {
        deps.registry.do_send(DeliverToUsers {
            users: vec![user],
            frame: Deliver::new(ServerFrame::Starred(out.clone())),
            except: Some(session),
        });
    }
    Ok(StarredOut { reference, ..out })
}

/// `forward {id, to, client_id}`: a copy of a message the sender can read (body, attachments,
/// marked `forwarded`; no reply) to each room of `to` they are a member of, each with its own
/// seq and ack; idempotent per room through `client_id`.
pub async fn forward(
    deps: SessionDeps,
    user: UserId,
    session: SessionId,
    f: ForwardFrame,
    reference: Option<String>,
) -> Result<ForwardedOut, ChatError> {
    let targets: BTreeSet<RoomId> = f.to.iter().cloned().collect();
    if targets.is_empty() || targets.len() > MAX_FORWARD_ROOMS || targets.len() != f.to.len() {
        return Err(ChatError::invalid(format!(
            "to: 1 to {MAX_FORWARD_ROOMS} different rooms"
        )));
    }
    let store = &deps.store;
    let source = live_message(store, &f.id, None).await?;
    store
        .membership(&source, &user)
        .await?
        .ok_or(ChatError::NotMember)?;
    let original = store
        .messages_by_ids(&source, &[f.id.as_str()])
        .await?
        .into_iter()
        .find(|m| !m.deleted)
        .ok_or(ChatError::NotFound("message"))?;
    // An unreadable list is refused rather than read as empty: a copy without its attachments
    // is not the message the sender chose to forward.
    let attachments = attachments_of_column(original.attachments.as_deref()).map_err(|e| {
        tracing::error!(message = %f.id, error = %e, "unreadable attachments column; not forwarded");
        ChatError::Internal
    })?;
    let named = store.named_users(&original.body).await?;
    let mut results = Vec::with_capacity(f.to.len());
    for room in &f.to {
        let sent = forward_one(
            &deps,
            &user,
            &session,
            &source,
            room,
            &f.client_id,
            &original.body,
            &attachments,
            &named,
        )
        .await;
        results.push(match sent {
            Ok(ack) => ForwardResult {
                room: room.clone(),
                id: Some(ack.id),
                seq: Some(ack.seq),
                error: None,
            },
            Err(e) => ForwardResult {
                room: room.clone(),
                id: None,
                seq: None,
                error: Some(ErrorBody {
                    code: e.code(),
                    message: e.to_string(),
                }),
            },
        });
    }
    Ok(ForwardedOut {
        client_id: f.client_id,
        results,
        reference,
    })
}

#[allow(clippy::too_many_arguments)]
async fn forward_one(
    deps: &SessionDeps,
    user: &UserId,
    session: &SessionId,
    source: &RoomId,
    room: &RoomId,
    client_id: &str,
    body: &str,
    attachments: &[String],
    named: &[UserId],
) -> Result<crate::protocol::Ack, ChatError> {
    let resolved = deps
        .store
        .resolve_forwarded(user, source, room, attachments)
        .await?;
    let resolved = crate::views::media_list(&resolved, &deps.media_urls);
    let addr = deps.registry.send(GetRoom { room: room.clone() }).await??;
    let frame = SendFrame {
        room: room.clone(),
        client_id: client_id.to_owned(),
        body: body.to_owned(),
        attachments: attachments.to_vec(),
        reply_to: None,
    };
    addr.send(Post {
        user: user.clone(),
        session: Some(session.clone()),
        draft: Draft::checked(frame, resolved, None, named.to_vec(), true),
        reference: None,
    })
    .await?
}
