//! Who may do what in a room, and what a valid message looks like.

use super::state::RoomState;
use super::Change;
use super::Draft;
use crate::error::ChatError;
use crate::ids::UserId;
use crate::protocol::Role;

impl RoomState {
    pub(super) fn role_of(&self, user: &UserId) -> Result<Role, ChatError> {
        self.members.get(user).copied().ok_or(ChatError::NotMember)
    }

    /// The members among `named` (people named as `@username`), in order, each once.
    pub(super) fn members_among(&self, named: Vec<UserId>) -> Vec<UserId> {
        let mut out: Vec<UserId> = Vec::new();
        for u in named {
            if self.members.contains_key(&u) && !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }

    /// A dm where either member blocked the other takes no messages.
    fn check_not_blocked(&self, user: &UserId) -> Result<(), ChatError> {
        if self.kind.is_dm() && self.blocked.iter().any(|(a, b)| a == user || b == user) {
            return Err(ChatError::Forbidden(
                "messages between you and this person are blocked".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn check_body(&self, body: &str) -> Result<(), ChatError> {
        let max = self.settings.max_body_chars;
        if body.chars().count() > max {
            return Err(ChatError::TooLarge(format!(
                "body is longer than {max} characters"
            )));
        }
        if body.trim().is_empty() {
            return Err(ChatError::invalid("body must not be empty"));
        }
        Ok(())
    }

    pub(super) fn check_send(&self, user: &UserId, d: &Draft) -> Result<(), ChatError> {
        let f = &d.frame;
        self.role_of(user)?;
        self.check_not_blocked(user)?;
        if f.client_id.is_empty() || f.client_id.len() > 64 {
            return Err(ChatError::invalid("client_id must be 1 to 64 bytes"));
        }
        self.check_body(&f.body)?;
        // The session checks attachments (ready, the sender's own) and fills `media`.
        let checked = d.media.as_deref().unwrap_or_default();
        if checked.iter().map(|m| &m.id).ne(f.attachments.iter()) {
            return Err(ChatError::invalid("attachments were not checked"));
        }
        if f.reply_to
            .as_ref()
            .is_some_and(|r| r.0.is_empty() || r.0.len() > 36)
        {
            return Err(ChatError::invalid("reply_to must be a message id"));
        }
        Ok(())
    }

    /// The read mark to store for `user` having read up to `seq` (at most the last seq);
    /// `None` while the room has no message.
    pub(super) fn read_mark(&self, user: &UserId, seq: i64) -> Result<Option<i64>, ChatError> {
        self.role_of(user)?;
        if seq < 1 {
            return Err(ChatError::invalid("seq must be at least 1"));
        }
        let seq = seq.min(self.last_seq);
        Ok((seq >= 1).then_some(seq))
    }

    /// Authors edit their own messages.
    pub(super) fn check_edit(
        &self,
        user: &UserId,
        author: &UserId,
        body: &str,
    ) -> Result<(), ChatError> {
        self.role_of(user)?;
        if user != author {
            return Err(ChatError::Forbidden(
                "only the author edits a message".into(),
            ));
        }
        self.check_body(body)
    }

    /// Authors delete their own messages; owners and admins of groups delete any, and so do
    /// server admins (`server_admin`) in any room.
    pub(super) fn check_delete(
        &self,
        user: &UserId,
        author: &UserId,
        server_admin: bool,
    ) -> Result<(), ChatError> {
        if server_admin {
            return Ok(());
        }
        let role = self.role_of(user)?;
        if user == author || (!self.kind.is_dm() && role.manages()) {
            Ok(())
        } else {
            Err(ChatError::Forbidden(
                "only the author, or an owner or admin of the group, deletes a message".into(),
            ))
        }
    }

    /// `Ok(true)` if the change must be written, `Ok(false)` if there is nothing to do.
    pub(super) fn check_change(&self, by: &UserId, change: &Change) -> Result<bool, ChatError> {
        if let Change::Expel(user) = change {
            // The server admin's say, checked by the HTTP handler; nothing to do for a non-member.
            return Ok(self.members.contains_key(user));
        }
        let by_role = self.role_of(by)?;
        if self.kind.is_dm() {
            return Err(ChatError::Forbidden("a dm cannot be changed".into()));
        }
        match change {
            Change::Add(user) => {
                if !by_role.manages() {
                    return Err(ChatError::Forbidden(
                        "only owners and admins add members".into(),
                    ));
                }
                if self.members.len() >= self.settings.max_members
                    && !self.members.contains_key(user)
                {
                    return Err(ChatError::invalid("the room is full"));
                }
                Ok(!self.members.contains_key(user))
            }
            Change::Remove(user) => {
                let Some(target) = self.members.get(user).copied() else {
                    return Ok(false);
                };
                if by != user && (!by_role.manages() || target == Role::Owner) {
                    return Err(ChatError::Forbidden(
                        "only owners and admins remove others, and not an owner".into(),
                    ));
                }
                if by == user
                    && target == Role::Owner
                    && self.owners() == 1
                    && self.members.len() > 1
                {
                    return Err(ChatError::Forbidden(
                        "the last owner must make someone else owner before leaving".into(),
                    ));
                }
                Ok(true)
            }
            Change::SetRole(user, role) => {
                if by_role != Role::Owner {
                    return Err(ChatError::Forbidden("only owners change roles".into()));
                }
                let current = self
                    .members
                    .get(user)
                    .copied()
                    .ok_or_else(|| ChatError::invalid("user: not a member"))?;
                if current == Role::Owner && *role != Role::Owner && self.owners() == 1 {
                    return Err(ChatError::Forbidden(
                        "the last owner cannot step down".into(),
                    ));
                }
                Ok(current != *role)
            }
            Change::Update { name, avatar } => {
                if !by_role.manages() {
                    return Err(ChatError::Forbidden(
                        "only owners and admins change the group".into(),
                    ));
                }
                Ok(name.is_some() || avatar.is_some())
            }
            Change::Expel(_) => Ok(false),
        }
    }

    fn owners(&self) -> usize {
        self.members.values().filter(|r| **r == Role::Owner).count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::actors::room::state::tests::room;
    use crate::protocol::ErrorCode;
    use crate::store::rooms::RoomKind;

    fn u(name: &str) -> UserId {
        UserId::from(name)
    }

    /// `Ok(true)`: written; `Ok(false)`: nothing to do; `Err`: refused with this code.
    fn outcome(r: Result<bool, ChatError>) -> Result<bool, ErrorCode> {
        r.map_err(|e| e.code())
    }

    /// (what, members, by, change, outcome)
    type Case = (
        &'static str,
        &'static [(&'static str, Role)],
        &'static str,
        Change,
        Result<bool, ErrorCode>,
    );

    #[test]
    fn who_may_change_a_group() {
        use ErrorCode::{Forbidden, Invalid, NotMember};
        let update = |name: Option<&str>| Change::Update {
            name: name.map(str::to_owned),
            avatar: None,
        };
        let full = &[
            ("own", Role::Owner),
            ("adm", Role::Admin),
            ("mem", Role::Member),
        ][..];
        let two_owners = &[
            ("own", Role::Owner),
            ("own2", Role::Owner),
            ("mem", Role::Member),
        ][..];
        let alone = &[("own", Role::Owner)][..];
        let cases: Vec<Case> = vec![
            ("owners add", full, "own", Change::Add(u("new")), Ok(true)),
            ("admins add", full, "adm", Change::Add(u("new")), Ok(true)),
            (
                "members do not add",
                full,
                "mem",
                Change::Add(u("new")),
                Err(Forbidden),
            ),
            (
                "outsiders change nothing",
                full,
                "eve",
                Change::Add(u("new")),
                Err(NotMember),
            ),
            (
                "adding a member again does nothing",
                full,
                "own",
                Change::Add(u("mem")),
                Ok(false),
            ),
            (
                "admins remove members",
                full,
                "adm",
                Change::Remove(u("mem")),
                Ok(true),
            ),
            (
                "admins remove admins",
                full,
                "adm",
                Change::Remove(u("adm")),
                Ok(true),
            ),
            (
                "nobody removes an owner",
                full,
                "adm",
                Change::Remove(u("own")),
                Err(Forbidden),
            ),
            (
                "even another owner",
                two_owners,
                "own2",
                Change::Remove(u("own")),
                Err(Forbidden),
            ),
            (
                "members do not remove others",
                full,
                "mem",
                Change::Remove(u("adm")),
                Err(Forbidden),
            ),
            (
                "anyone leaves",
                full,
                "mem",
                Change::Remove(u("mem")),
                Ok(true),
            ),
            (
                "removing a non-member does nothing",
                full,
                "mem",
                Change::Remove(u("eve")),
                Ok(false),
            ),
            (
                "the last owner does not leave others behind",
                full,
                "own",
                Change::Remove(u("own")),
                Err(Forbidden),
            ),
            (
                "an owner leaves when another stays",
                two_owners,
                "own",
                Change::Remove(u("own")),
                Ok(true),
            ),
            (
                "the last owner leaves an empty group",
                alone,
                "own",
                Change::Remove(u("own")),
                Ok(true),
            ),
            (
                "owners set roles",
                full,
                "own",
                Change::SetRole(u("mem"), Role::Admin),
                Ok(true),
            ),
            (
                "admins do not set roles",
                full,
                "adm",
                Change::SetRole(u("mem"), Role::Admin),
                Err(Forbidden),
            ),
            (
                "roles only of members",
                full,
                "own",
                Change::SetRole(u("eve"), Role::Admin),
                Err(Invalid),
            ),
            (
                "the same role does nothing",
                full,
                "own",
                Change::SetRole(u("adm"), Role::Admin),
                Ok(false),
            ),
            (
                "the last owner does not step down",
                full,
                "own",
                Change::SetRole(u("own"), Role::Admin),
                Err(Forbidden),
            ),
            (
                "an owner steps down when another stays",
                two_owners,
                "own",
                Change::SetRole(u("own"), Role::Member),
                Ok(true),
            ),
            ("admins rename", full, "adm", update(Some("x")), Ok(true)),
            (
                "members do not rename",
                full,
                "mem",
                update(Some("x")),
                Err(Forbidden),
            ),
            (
                "an empty update does nothing",
                full,
                "own",
                update(None),
                Ok(false),
            ),
        ];
        for (what, members, by, change, want) in cases {
            let state = room(RoomKind::Group, members, 0);
            assert_eq!(outcome(state.check_change(&u(by), &change)), want, "{what}");
        }
    }

    #[test]
    fn a_server_admin_expels_anyone_from_any_room() {
        let members = [("own", Role::Owner), ("mem", Role::Member)];
        for kind in [RoomKind::Group, RoomKind::Dm] {
            let state = room(kind, &members, 0);
            let expel = |who: &str| outcome(state.check_change(&u("eve"), &Change::Expel(u(who))));
            assert_eq!(expel("own"), Ok(true), "{kind}: even the last owner");
            assert_eq!(expel("mem"), Ok(true), "{kind}");
            assert_eq!(
                expel("nobody"),
                Ok(false),
                "{kind}: no member, nothing to do"
            );
        }
    }

    #[test]
    fn a_full_group_takes_no_new_member() {
        let mut state = room(
            RoomKind::Group,
            &[("own", Role::Owner), ("mem", Role::Member)],
            0,
        );
        state.settings.max_members = 2;
        let add = |who: &str| outcome(state.check_change(&u("own"), &Change::Add(u(who))));
        assert_eq!(add("new"), Err(ErrorCode::Invalid));
        assert_eq!(add("mem"), Ok(false), "a member already in is no news");
    }

    #[test]
    fn read_marks() {
        let state = room(RoomKind::Group, &[("mem", Role::Member)], 7);
        let empty = room(RoomKind::Group, &[("mem", Role::Member)], 0);
        // (what, room, user, seq, mark)
        let cases = [
            ("up to the seq read", &state, "mem", 3, Ok(Some(3))),
            ("at most the last seq", &state, "mem", 99, Ok(Some(7))),
            ("from 1", &state, "mem", 0, Err(ErrorCode::Invalid)),
            ("members only", &state, "eve", 3, Err(ErrorCode::NotMember)),
            (
                "nothing while the room is empty",
                &empty,
                "mem",
                3,
                Ok(None),
            ),
        ];
        for (what, room, user, seq, want) in cases {
            let got = room.read_mark(&u(user), seq).map_err(|e| e.code());
            assert_eq!(got, want, "{what}");
        }
    }
}
