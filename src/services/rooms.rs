//! Rules about rooms that several routes share: who counts as a member, who manages a group.
//! (The live rules of a conversation — sending, editing, roles — are the Room actor's.)

use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::store::Store;

/// Not found unless `room` exists, not a member unless `user` is one of its members.
pub async fn require_member(store: &Store, room: &RoomId, user: &UserId) -> Result<(), ChatError> {
    match store.membership(room, user).await? {
        Some(_) => Ok(()),
        None if store.load_room(room).await?.is_none() => Err(ChatError::NotFound("room")),
        None => Err(ChatError::NotMember),
    }
}

/// As [`require_member`], and forbidden unless the room is a group that `user` owns or
/// administers. `action` finishes the refusal: "only owners and admins of a group {action}".
pub async fn require_group_manager(
    store: &Store,
    room: &RoomId,
    user: &UserId,
    action: &str,
) -> Result<(), ChatError> {
    let record = store
        .load_room(room)
        .await?
        .ok_or(ChatError::NotFound("room"))?;
    let role = record.members.get(user).ok_or(ChatError::NotMember)?;
    if record.kind.is_dm() || !role.manages() {
        return Err(ChatError::Forbidden(format!(
            "only owners and admins of a group {action}"
        )));
    }
    Ok(())
}
