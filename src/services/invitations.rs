//! The invitations domain (issue 19, finding 6): adding someone whose `privacy.group_adds` does
//! not let the adder add them invites them instead; they see the group's name and the inviter
//! only, and accept (added as the inviter would have added them) or decline. Pending invitations
//! are capped per group and per inviter (`rooms.max_pending_invitations_per_group`,
//! `..._per_inviter`).

use actix::Addr;

use crate::actors::outbox::Deliver;
use crate::actors::registry::{DeliverToUsers, RoomRegistry};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::protocol::{Invitation, InvitationOut, ServerFrame};
use crate::store::invitations::Invited;
use crate::store::Store;

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
}
