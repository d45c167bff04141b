//! Invitations to groups (issue 19, finding 6): adding someone whose `privacy.group_adds` does
//! not let the adder add them stores an invitation instead; the invitee accepts (and is added as
//! usual) or declines. Pending ones are capped per group and per inviter.

use entities::{group_invitation as inv, room, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{Store, StoreError};
use chat_protocol::ids::{now_ms, RoomId, UserId};

/// Most invitations one listing returns.
const LIST_MAX: u64 = 200;

/// How the invitee sees an invitation: the group's id and name and who invited them, no more
/// (the server sends it as an `Invitation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationView {
    pub id: String,
    pub room: RoomId,
    pub room_name: Option<String>,
    pub inviter: UserId,
    pub inviter_username: String,
    pub inviter_display_name: String,
    pub created_at: i64,
}

/// What an invitation attempt came to.
#[derive(Debug)]
pub enum Invited {
    /// Stored (or already pending: the same one).
    Pending(inv::Model),
    /// The cap of pending invitations for the group (`"group"`) or the inviter (`"inviter"`).
    TooMany(&'static str),
}

impl Store {
    /// Invites `invitee` to `room` on behalf of `inviter`, unless the caps are reached; an
    /// invitation already pending for this group and person is returned as it is.
    pub async fn invite_to_group(
        &self,
        room: &RoomId,
        invitee: &UserId,
        inviter: &UserId,
        per_group: u64,
        per_inviter: u64,
    ) -> Result<Invited, StoreError> {
        let pending = || {
            inv::Entity::find()
                .filter(inv::Column::RoomId.eq(room.0.clone()))
                .filter(inv::Column::InviteeId.eq(invitee.0.clone()))
        };
        if let Some(existing) = pending().one(&self.db).await? {
            return Ok(Invited::Pending(existing));
        }
        let in_group = inv::Entity::find()
            .filter(inv::Column::RoomId.eq(room.0.clone()))
            .count(&self.db)
            .await?;
        if in_group >= per_group {
            return Ok(Invited::TooMany("group"));
        }
        let by_inviter = inv::Entity::find()
            .filter(inv::Column::InviterId.eq(inviter.0.clone()))
            .count(&self.db)
            .await?;
        if by_inviter >= per_inviter {
            return Ok(Invited::TooMany("inviter"));
        }
        let model = inv::ActiveModel {
            id: Set(uuid::Uuid::new_v4().simple().to_string()),
            room_id: Set(room.0.clone()),
            invitee_id: Set(invitee.0.clone()),
            inviter_id: Set(inviter.0.clone()),
            created_at: Set(now_ms()),
        };
        match model.insert(&self.db).await.map_err(StoreError::classify) {
            Ok(m) => Ok(Invited::Pending(m)),
            // Two invitations raced: the unique (room, invitee) index kept the first.
            Err(StoreError::Conflict(_)) => match pending().one(&self.db).await? {
                Some(m) => Ok(Invited::Pending(m)),
                None => Err(StoreError::Conflict("invitation".into())),
            },
            Err(e) => Err(e),
        }
    }

    /// How the invitee sees an invitation; `None` when the group or the inviter is gone.
    pub async fn invitation_view(
        &self,
        m: &inv::Model,
    ) -> Result<Option<InvitationView>, StoreError> {
        let Some(room) = room::Entity::find_by_id(m.room_id.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let inviter = user::Entity::find_by_id(m.inviter_id.clone())
            .one(&self.db)
            .await?;
        let Some(inviter) = inviter else {
            return Ok(None);
        };
        Ok(Some(InvitationView {
            id: m.id.clone(),
            room: RoomId(room.id),
            room_name: room.name,
            inviter: UserId(inviter.id),
            inviter_username: inviter.username,
            inviter_display_name: inviter.display_name,
            created_at: m.created_at,
        }))
    }

    /// `invitee`'s pending invitations, oldest first.
    pub async fn invitations_for(
        &self,
        invitee: &UserId,
    ) -> Result<Vec<InvitationView>, StoreError> {
        let rows = inv::Entity::find()
            .filter(inv::Column::InviteeId.eq(invitee.0.clone()))
            .order_by_asc(inv::Column::CreatedAt)
            .limit(LIST_MAX)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for m in &rows {
            if let Some(v) = self.invitation_view(m).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Takes out `invitee`'s invitation `id` (accepting or declining ends it); `None` if there is
    /// no such pending invitation of theirs.
    pub async fn take_invitation(
        &self,
        id: &str,
        invitee: &UserId,
    ) -> Result<Option<inv::Model>, StoreError> {
        let Some(m) = inv::Entity::find_by_id(id.to_owned())
            .filter(inv::Column::InviteeId.eq(invitee.0.clone()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let gone = inv::Entity::delete_by_id(m.id.clone())
            .exec(&self.db)
            .await?
            .rows_affected;
        // Another request took it between the read and the delete.
        Ok((gone == 1).then_some(m))
    }
}
