//! The invitations domain (issue 19, finding 6): adding someone whose `privacy.group_adds` does
//! not let the adder add them invites them instead; they see the group's name and the inviter
//! only, and accept (added as the inviter would have added them) or decline. Pending invitations
//! are capped per group and per inviter (`rooms.max_pending_invitations_per_group`,
//! `..._per_inviter`).

use actix::Addr;

use crate::actors::outbox::Deliver;
use crate::actors::registry::{DeliverToUsers, GetRoom, RoomRegistry};
use crate::actors::room::AddMember;
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::protocol::api::rooms::RoomOut;
use crate::protocol::{Invitation, InvitationOut, ServerFrame};
use crate::store::invitations::Invited;
use crate::store::Store;
use crate::views;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Invitations<'a> {
    pub store: &'a Store,
    pub registry: &'a Addr<RoomRegistry>,
    pub settings: &'a Settings,
}

impl Invitations<'_> {
    /// Invites `invitee` to `room` for `inviter` (who may add members there) and tells the
    /// invitee's sessions; 409 when a cap of pending invitations is reached.
    pub async fn invite(
        &self,
        room: &RoomId,
        inviter: &UserId,
        invitee: &UserId,
    ) -> Result<Invitation, ChatError> {
        let rooms = &self.settings.rooms;
        let stored = match self
            .store
            .invite_to_group(
                room,
                invitee,
                inviter,
                rooms.max_pending_invitations_per_group,
                rooms.max_pending_invitations_per_inviter,
            )
            .await?
        {
            Invited::Pending(m) => m,
            Invited::TooMany(whose) => {
                return Err(ChatError::Conflict(format!(
                    "too many pending invitations for this {whose}; wait until some are answered"
                )))
            }
        };
        let invitation = self
            .store
            .invitation_view(&stored)
            .await?
            .map(views::invitation)
            .ok_or(ChatError::NotFound("room"))?;
        self.registry.do_send(DeliverToUsers {
            users: vec![invitee.clone()],
            frame: Deliver::new(ServerFrame::Invitation(InvitationOut {
                invitation: invitation.clone(),
            })),
            except: None,
        });
        tracing::info!(room = %room, inviter = %inviter, invitee = %invitee, "invited to a group");
        Ok(invitation)
    }

    /// The pending invitations of `me`, oldest first.
    pub async fn list(&self, me: &UserId) -> Result<Vec<Invitation>, ChatError> {
        let pending = self.store.invitations_for(me).await?;
        Ok(pending.into_iter().map(views::invitation).collect())
    }

    /// `me` accepts invitation `id` and joins the group as the inviter would have added them
    /// (the members get `room_event` `member_added`); not found unless it is a pending
    /// invitation of theirs, forbidden if the inviter may no longer add them (a block since, or
    /// no longer an owner or admin). The invitation ends either way.
    pub async fn accept(&self, me: &UserId, id: &str) -> Result<RoomOut, ChatError> {
        let taken = self
            .store
            .take_invitation(id, me)
            .await?
            .ok_or(ChatError::NotFound("invitation"))?;
        let inviter = UserId(taken.inviter_id);
        let room = RoomId(taken.room_id);
        let adds = self
            .store
            .group_adds(&inviter, std::slice::from_ref(me))
            .await?;
        if !adds.refused.is_empty() {
            return Err(ChatError::Forbidden(
                "this invitation can no longer be accepted".into(),
            ));
        }
        let addr = self.registry.send(GetRoom { room: room.clone() }).await??;
        addr.send(AddMember {
            by: inviter,
            user: me.clone(),
        })
        .await??;
        tracing::info!(room = %room, user = %me, "invitation accepted");
        super::rooms::details(self.store, &room).await
    }

    /// `me` declines invitation `id`; not found unless it is a pending invitation of theirs.
    pub async fn decline(&self, me: &UserId, id: &str) -> Result<(), ChatError> {
        self.store
            .take_invitation(id, me)
            .await?
            .ok_or(ChatError::NotFound("invitation"))?;
        Ok(())
    }
}
