//! The rooms domain: creating groups and opening dms, listing, details, history, membership and
//! roles, group name and avatar, earlier versions of a message; and the access rules that the
//! room, invitation and pin routes share (who counts as a member, who manages a group). Answers
//! in the API's types (`chat_protocol::api::rooms`). The live rules of a conversation (sending,
//! editing, who may change which role) are the Room actor's: membership and room changes go
//! through it, so that live sessions and the persisted state agree.

use std::collections::BTreeSet;

use actix::Addr;

use crate::actors::registry::{GetRoom, RoomCreated, RoomRegistry};
use crate::actors::room::{AddMember, Change, ChangeRoom, RemoveMember};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::media::urls::UrlSigner;
use crate::protocol::api::rooms::{
    CreateGroup, CreatedGroup, MemberOut, MessagesBody, Page, RoomOut, RoomPatch, Version,
};
use crate::protocol::{Invitation, Role, RoomSummary};
use crate::services::invitations::Invitations;
use crate::store::rooms::{MemberDetails, RoomDetails};
use crate::store::Store;
use crate::views;

/// Most characters of a group's name.
const MAX_NAME_CHARS: usize = 100;
/// Messages of a history page unless `limit` says otherwise.
const DEFAULT_PAGE: u64 = 50;
/// Most messages of a history page.
const MAX_PAGE: u64 = 100;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Rooms<'a> {
    pub store: &'a Store,
    /// Signs the media URLs of history pages.
    pub media_urls: &'a UrlSigner,
    pub registry: &'a Addr<RoomRegistry>,
    pub settings: &'a Settings,
}

/// What adding someone to a group did.
#[derive(Debug)]
pub enum Added {
    /// They are a member now; the room as it is after.
    Member(RoomOut),
    /// Their `privacy.group_adds` does not let the caller add them: they were invited instead.
    Invited(Invitation),
}

/// The API's view of a room the store read.
pub fn room_out(d: RoomDetails) -> RoomOut {
    RoomOut {
        id: d.id,
        kind: d.kind,
        name: d.name,
        created_at: d.created_at,
        last_seq: d.last_seq,
        avatar: d.avatar,
        members: d.members.into_iter().map(member_out).collect(),
    }
}

fn member_out(m: MemberDetails) -> MemberOut {
    MemberOut {
        id: m.id,
        username: m.username,
        display_name: m.display_name,
        role: m.role,
        last_read_seq: m.last_read_seq,
        delivered_seq: m.delivered_seq,
        avatar: m.avatar,
    }
}

/// A room with its members; not found if there is no such room.
pub async fn details(store: &Store, room: &RoomId) -> Result<RoomOut, ChatError> {
    store
        .room_details(room)
        .await?
        .map(room_out)
        .ok_or(ChatError::NotFound("room"))
}

/// A group's name, trimmed: 1 to 100 characters.
fn group_name(name: &str) -> Result<&str, ChatError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ChatError::invalid("name: 1 to 100 characters"));
    }
    Ok(name)
}

/// The members to add to a new group of `creator`: each once, the creator left out; invalid
/// when the group would have more than `max_members` (the creator included).
fn new_members(
    creator: &UserId,
    members: Vec<UserId>,
    max_members: usize,
) -> Result<Vec<UserId>, ChatError> {
    let members: BTreeSet<UserId> = members.into_iter().filter(|m| m != creator).collect();
    if members.len() + 1 > max_members {
        return Err(ChatError::invalid(format!(
            "members: at most {max_members}"
        )));
    }
    Ok(members.into_iter().collect())
}

/// How many messages a history page holds.
fn page_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// 403 naming those of `users` whom `adder` may not add to a group at all (blocks either way,
/// deleted accounts); otherwise those whose `privacy.group_adds` asks to be invited instead (see
/// `Store::group_adds`).
async fn checked_adds(
    store: &Store,
    adder: &UserId,
    users: &[UserId],
) -> Result<Vec<UserId>, ChatError> {
    let adds = store.group_adds(adder, users).await?;
    if adds.refused.is_empty() {
        return Ok(adds.invite);
    }
    let names: Vec<&str> = adds.refused.iter().map(|u| u.0.as_str()).collect();
    Err(ChatError::Forbidden(format!(
        "these people do not accept being added by you: {}",
        names.join(", ")
    )))
}

impl Rooms<'_> {
    fn invitations(&self) -> Invitations<'_> {
        Invitations {
            store: self.store,
            registry: self.registry,
            settings: self.settings,
        }
    }

    /// The caller's rooms, with their unread counts.
    pub async fn list(&self, me: &UserId) -> Result<Vec<RoomSummary>, ChatError> {
        let rooms = self
            .store
            .rooms_for_user(me, self.settings.rooms.unread_count_max)
            .await?;
        Ok(views::room_summaries(rooms))
    }

    /// Creates a group owned by `me` with the members given (all must exist; each checked as
    /// for adding: refused people make it fail, people who ask to be invited are invited
    /// instead, as far as the caps of pending invitations allow) and tells the members' sessions.
    pub async fn create_group(
        &self,
        me: &UserId,
        body: CreateGroup,
    ) -> Result<CreatedGroup, ChatError> {
        let name = group_name(&body.name)?;
        let members = new_members(me, body.members, self.settings.rooms.max_members)?;
        let found = self.store.users_by_ids(&members).await?;
        if found.len() != members.len() {
            return Err(ChatError::invalid("members: unknown user id"));
        }
        let to_invite = checked_adds(self.store, me, &members).await?;
        let members: Vec<UserId> = members
            .into_iter()
            .filter(|m| !to_invite.contains(m))
            .collect();
        let room = self.store.create_group(me, name, &members).await?;
        let mut everyone = members;
        everyone.push(me.clone());
        self.registry.do_send(RoomCreated {
            room: room.clone(),
            members: everyone,
        });
        let mut invited = Vec::new();
        let mut not_invited = Vec::new();
        for user in to_invite {
            match self.invitations().invite(&room, me, &user).await {
                Ok(_) => invited.push(user),
                Err(ChatError::Conflict(_)) => not_invited.push(user),
                Err(e) => return Err(e),
            }
        }
        Ok(CreatedGroup {
            room: details(self.store, &room).await?,
            invited,
            not_invited,
        })
    }

    /// The dm of `me` and `other`, opened if needed; `true` when it was created now.
    pub async fn open_dm(&self, me: &UserId, other: &UserId) -> Result<(RoomOut, bool), ChatError> {
        let (room, created) =
            crate::actors::requests::open_dm(self.store, self.registry, me, other).await?;
        Ok((details(self.store, &room).await?, created))
    }

    /// A room of the caller's, with its members.
    pub async fn get(&self, me: &UserId, room: &RoomId) -> Result<RoomOut, ChatError> {
        require_member(self.store, room, me).await?;
        details(self.store, room).await
    }

    /// A page of a room's history, oldest first; members only.
    pub async fn messages(
        &self,
        me: &UserId,
        room: &RoomId,
        page: Page,
    ) -> Result<MessagesBody, ChatError> {
        require_member(self.store, room, me).await?;
        let (rows, has_more) = self
            .store
            .history(room, page.before, page_limit(page.limit))
            .await?;
        let messages = self.store.read_messages(rows).await?;
        Ok(MessagesBody {
            messages: views::messages(messages, self.media_urls),
            has_more,
        })
    }

    /// Adds `user` to a group (the Room actor checks that `me` may), or invites them when their
    /// `privacy.group_adds` does not let `me` add them (then `me` must manage the group, and
    /// they must not be a member already).
    pub async fn add_member(
        &self,
        me: &UserId,
        room: &RoomId,
        user: UserId,
    ) -> Result<Added, ChatError> {
        if self.store.user_by_id(&user).await?.is_none() {
            return Err(ChatError::NotFound("user"));
        }
        if !checked_adds(self.store, me, std::slice::from_ref(&user))
            .await?
            .is_empty()
        {
            require_group_manager(self.store, room, me, "add members").await?;
            if self.store.membership(room, &user).await?.is_some() {
                return Err(ChatError::Conflict("already a member".into()));
            }
            let invitation = self.invitations().invite(room, me, &user).await?;
            return Ok(Added::Invited(invitation));
        }
        self.room(room)
            .await?
            .send(AddMember {
                by: me.clone(),
                user,
            })
            .await??;
        Ok(Added::Member(details(self.store, room).await?))
    }

    /// Removes `user` from a room (the Room actor checks that `me` may: owners and admins
    /// remove others, never an owner).
    pub async fn remove_member(
        &self,
        me: &UserId,
        room: &RoomId,
        user: UserId,
    ) -> Result<(), ChatError> {
        self.room(room)
            .await?
            .send(RemoveMember {
                by: me.clone(),
                user,
            })
            .await??;
        Ok(())
    }

    /// `me` leaves a room.
    pub async fn leave(&self, me: &UserId, room: &RoomId) -> Result<(), ChatError> {
        self.remove_member(me, room, me.clone()).await
    }

    /// Renames a group or changes its avatar (an image of the caller's; `Some(None)` removes
    /// it); the Room actor checks that `me` manages the group and tells the members.
    pub async fn update(
        &self,
        me: &UserId,
        room: &RoomId,
        patch: RoomPatch,
    ) -> Result<RoomOut, ChatError> {
        let name = patch
            .name
            .map(|n| crate::validate::text("name", &n, 1, MAX_NAME_CHARS))
            .transpose()?;
        if let Some(Some(a)) = &patch.avatar {
            self.store.check_avatar(a, me).await?;
        }
        self.room(room)
            .await?
            .send(ChangeRoom {
                by: me.clone(),
                change: Change::Update {
                    name,
                    avatar: patch.avatar,
                },
            })
            .await??;
        details(self.store, room).await
    }

    /// Gives `user` a role in a group (the Room actor checks that `me` is an owner).
    pub async fn set_role(
        &self,
        me: &UserId,
        room: &RoomId,
        user: UserId,
        role: Role,
    ) -> Result<RoomOut, ChatError> {
        self.room(room)
            .await?
            .send(ChangeRoom {
                by: me.clone(),
                change: Change::SetRole(user, role),
            })
            .await??;
        details(self.store, room).await
    }

    /// The earlier bodies of a message, oldest first; members of its room only; none for a
    /// deleted message.
    pub async fn versions(&self, me: &UserId, id: &MessageId) -> Result<Vec<Version>, ChatError> {
        let info = self
            .store
            .locate_message(id)
            .await?
            .ok_or(ChatError::NotFound("message"))?;
        require_member(self.store, &info.room, me).await?;
        if info.deleted {
            // A deleted message's earlier bodies are gone with it, even before the Syncer has
            // copied the delete (which removes them from SQL).
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .message_versions(id)
            .await?
            .into_iter()
            .map(|(body, replaced_at)| Version { body, replaced_at })
            .collect())
    }

    /// The room's actor, started if needed.
    async fn room(&self, room: &RoomId) -> Result<Addr<crate::actors::room::Room>, ChatError> {
        self.registry.send(GetRoom { room: room.clone() }).await?
    }
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<UserId> {
        ids.iter().map(|i| UserId((*i).into())).collect()
    }

    #[test]
    fn a_group_name_is_trimmed_and_1_to_100_characters() {
        assert_eq!(group_name("  Team ").unwrap(), "Team");
        assert!(group_name("   ").is_err());
        assert!(group_name(&"é".repeat(100)).is_ok());
        assert!(group_name(&"é".repeat(101)).is_err());
    }

    #[test]
    fn new_members_are_each_once_without_the_creator_and_capped() {
        let me = UserId("me".into());
        let m = new_members(&me, ids(&["b", "me", "a", "b"]), 3).unwrap();
        assert_eq!(m, ids(&["a", "b"]));
        assert!(new_members(&me, ids(&["a", "b", "c"]), 3).is_err());
        assert!(new_members(&me, ids(&["a", "b", "me"]), 3).is_ok());
    }

    #[test]
    fn a_history_page_holds_1_to_100_messages() {
        assert_eq!(page_limit(None), 50);
        assert_eq!(page_limit(Some(0)), 1);
        assert_eq!(page_limit(Some(7)), 7);
        assert_eq!(page_limit(Some(1000)), 100);
    }
}
