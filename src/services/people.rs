//! The people domain: my profile and account, public profiles and user search, settings,
//! password and sessions, account deletion, contacts and address-book matching, blocks,
//! broadcast lists. Answers in the API's types (`chat_protocol::api::people`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use actix::Addr;
use entities::user;
use serde_json::Value;

use crate::actors::outbox::{CloseSession, Deliver};
use crate::actors::registry::{CloseTokenSessions, DeliverToUsers, GetRoom, RoomRegistry};
use crate::actors::room::{Change, ChangeRoom, RemoveMember, SetBlocked};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::limits::{Limits, UserAction};
use crate::passwords::PasswordPool;
use crate::protocol::api::people::{
    AccountDeletion, AddressBook, BroadcastList, ContactMatch, ContactOut, ListPatch, MyProfile,
    PasswordChange, ProfilePatch, PublicProfile, SessionOut,
};
use crate::protocol::close;
use crate::protocol::settings::UserSettings;
use crate::protocol::{ProfileOut, Role, ServerFrame, SettingsOut};
use crate::store::people::{ListRow, ProfileChange};
use crate::store::verify::ContactKind;
use crate::store::Store;
use crate::validate::{display_name, normalize_email, normalize_phone, text, username};

/// Most entries of one address book sent to be matched.
pub const MAX_ADDRESS_BOOK: usize = 5000;

/// Results of one user search.
const SEARCH_LIMIT: u64 = 20;

/// Who calls: the signed-in account and the session (token) the request came with.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub user: &'a user::Model,
    /// SHA-256 (hex) of the token.
    pub token_hash: &'a str,
    /// The address the request came from (login-like throttling of password checks).
    pub peer: Option<IpAddr>,
}

impl Caller<'_> {
    pub fn id(&self) -> UserId {
        UserId(self.user.id.clone())
    }
}

/// The service; cheap to make for each request (it borrows what it uses).
pub struct People<'a> {
    pub store: &'a Store,
    pub registry: &'a Addr<RoomRegistry>,
    pub settings: &'a Settings,
    pub passwords: &'a PasswordPool,
    pub limits: &'a Limits,
}

/// What anyone signed in sees of a user.
pub fn public_profile(u: &user::Model) -> PublicProfile {
    PublicProfile {
        id: UserId(u.id.clone()),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        about: u.about.clone(),
        avatar: u.avatar_media.clone(),
        deleted: u.deleted_at.is_some(),
    }
}

fn list_out(l: ListRow) -> BroadcastList {
    BroadcastList {
        id: l.id,
        name: l.name,
        members: l.members,
        created_at: l.created_at,
    }
}

/// Closes every socket opened with these tokens (code 4001).
pub fn close_tokens(registry: &Addr<RoomRegistry>, hashes: Vec<String>, reason: &str) {
    for token_hash in hashes {
        registry.do_send(CloseTokenSessions {
            token_hash,
            close: CloseSession {
                code: close::LOGGED_OUT,
                reason: reason.into(),
            },
        });
    }
}

impl People<'_> {
    // --- profiles -------------------------------------------------------------------------------

    /// My profile, with e-mail and phone and whether each is verified.
    pub async fn me(&self, me: &UserId) -> Result<MyProfile, ChatError> {
        let u = self
            .store
            .user_by_id(me)
            .await?
            .ok_or(ChatError::Unauthorized)?;
        self.my_profile(&u).await
    }

    async fn my_profile(&self, u: &user::Model) -> Result<MyProfile, ChatError> {
        let verified = self.store.verified_of(&UserId(u.id.clone())).await?;
        let is_verified = |kind: ContactKind, v: &Option<String>| {
            v.as_ref()
                .is_some_and(|v| verified.contains(&(kind, v.clone())))
        };
        Ok(MyProfile {
            public: public_profile(u),
            email: u.email.clone(),
            email_verified: is_verified(ContactKind::Email, &u.email),
            phone: u.phone.clone(),
            phone_verified: is_verified(ContactKind::Phone, &u.phone),
            is_admin: u.is_admin,
        })
    }

    /// Applies a profile patch (each field checked as at registration; a taken username is a
    /// conflict) and tells everyone who shares a conversation with me of what they see changing.
    pub async fn update_profile(
        &self,
        caller: Caller<'_>,
        p: ProfilePatch,
    ) -> Result<MyProfile, ChatError> {
        let region = &self.settings.people.default_region;
        let mut change = ProfileChange::default();
        if let Some(u) = p.username {
            let u = username(&u)?;
            if self
                .store
                .user_by_username(&u)
                .await?
                .is_some_and(|other| other.id != caller.user.id)
            {
                return Err(ChatError::Conflict("username is taken".into()));
            }
            change.username = Some(u);
        }
        if let Some(d) = p.display_name {
            change.display_name = Some(display_name(&d)?);
        }
        if let Some(a) = p.about {
            change.about = Some(
                a.map(|a| text("about", &a, 0, 500))
                    .transpose()?
                    .filter(|a| !a.is_empty()),
            );
        }
        if let Some(e) = p.email {
            change.email = Some(
                e.map(|e| {
                    normalize_email(&e)
                        .ok_or_else(|| ChatError::invalid("email: not an e-mail address"))
                })
                .transpose()?,
            );
        }
        if let Some(ph) = p.phone {
            let norm = ph.map(|ph| {
                normalize_phone(&ph, region).ok_or_else(|| {
                    ChatError::invalid("phone: not a valid phone number (use +country code)")
                })
            });
            change.phone = Some(norm.transpose()?);
        }
        if let Some(a) = p.avatar {
            if let Some(id) = &a {
                self.store.check_avatar(id, &caller.id()).await?;
            }
            change.avatar_media = Some(a);
        }
        let u = self.store.update_profile(&caller.id(), change).await?;
        self.announce_profile(caller.user, &u).await?;
        self.my_profile(&u).await
    }

    /// When what others see of `after` differs from `before`, sends a `profile` frame to everyone
    /// who shares a conversation with the user and to the user's own sessions (their other
    /// devices).
    async fn announce_profile(
        &self,
        before: &user::Model,
        after: &user::Model,
    ) -> Result<(), ChatError> {
        let public = |u: &user::Model| {
            (
                u.username.clone(),
                u.display_name.clone(),
                u.about.clone(),
                u.avatar_media.clone(),
            )
        };
        if public(before) == public(after) {
            return Ok(());
        }
        let id = UserId(after.id.clone());
        let mut users = self.store.co_members(&id).await?;
        users.push(id.clone());
        let frame = ServerFrame::Profile(ProfileOut {
            user: id,
            username: after.username.clone(),
            display_name: after.display_name.clone(),
            about: after.about.clone(),
            avatar: after.avatar_media.clone(),
        });
        self.registry.do_send(DeliverToUsers {
            users,
            frame: Deliver::new(frame),
            except: None,
        });
        Ok(())
    }

    /// Anyone's public profile.
    pub async fn profile(&self, id: &UserId) -> Result<PublicProfile, ChatError> {
        let u = self
            .store
            .user_by_id(id)
            .await?
            .ok_or(ChatError::NotFound("user"))?;
        Ok(public_profile(&u))
    }

    /// Anyone's public profile, by username (any case).
    pub async fn by_name(&self, name: &str) -> Result<PublicProfile, ChatError> {
        let name = name.trim().to_lowercase();
        let u = self
            .store
            .user_by_username(&name)
            .await?
            .ok_or(ChatError::NotFound("user"))?;
        Ok(public_profile(&u))
    }

    /// Users whose username or display name starts with `q` (1 to 64 characters); rate limited
    /// per user.
    pub async fn search(&self, me: &UserId, q: &str) -> Result<Vec<PublicProfile>, ChatError> {
        self.limits.user_action(UserAction::Search, me)?;
        let q = q.trim();
        if q.is_empty() || q.chars().count() > 64 {
            return Err(ChatError::invalid("q: 1 to 64 characters"));
        }
        Ok(self
            .store
            .search_users(q, SEARCH_LIMIT)
            .await?
            .iter()
            .map(public_profile)
            .collect())
    }

    // --- settings, password, sessions, the account -----------------------------------------------

    pub async fn settings(&self, me: &UserId) -> Result<UserSettings, ChatError> {
        Ok(self.store.settings(me).await?)
    }

    /// Merges a partial settings object into mine; every device of mine gets a `settings` frame.
    pub async fn update_settings(
        &self,
        me: &UserId,
        patch: &Value,
    ) -> Result<UserSettings, ChatError> {
        let current = self.store.settings(me).await?;
        let next = current
            .merged(patch)
            .map_err(|e| ChatError::invalid(e.to_string()))?;
        self.store.save_settings(me, &next).await?;
        let frame = Deliver::new(ServerFrame::Settings(SettingsOut {
            settings: next.clone(),
        }));
        self.registry.do_send(DeliverToUsers {
            users: vec![me.clone()],
            frame,
            except: None,
        });
        Ok(next)
    }

    /// Checks `password` against the account's, throttled like a login (a stolen token must not
    /// become a way to guess the password). `field` names it in the error.
    async fn check_password(
        &self,
        caller: Caller<'_>,
        field: &str,
        password: &str,
    ) -> Result<(), ChatError> {
        self.limits
            .login_attempt(caller.peer, &caller.user.username)?;
        if self
            .passwords
            .verify(password, &caller.user.password_hash)
            .await?
        {
            Ok(())
        } else {
            Err(ChatError::Forbidden(format!("{field}: wrong password")))
        }
    }

    /// Sets a new password (the old one is needed if the account has one); every other session of
    /// the user is revoked (its sockets close with 4001), the caller's stays.
    pub async fn change_password(
        &self,
        caller: Caller<'_>,
        body: PasswordChange,
    ) -> Result<(), ChatError> {
        if !caller.user.password_hash.is_empty() {
            let old = body.old_password.as_deref().unwrap_or_default();
            self.check_password(caller, "old_password", old).await?;
        }
        let min = self.settings.auth.min_password_len;
        let n = body.new_password.chars().count();
        if n < min || n > 1024 {
            return Err(ChatError::invalid(format!(
                "new_password: {min} to 1024 characters"
            )));
        }
        let hash = self.passwords.hash(body.new_password).await?;
        self.store.set_password_hash(&caller.id(), &hash).await?;
        // Whoever knew the old password may hold a token: every other session ends.
        let hashes = self
            .store
            .revoke_tokens(&caller.id(), Some(caller.token_hash))
            .await?;
        close_tokens(self.registry, hashes, "password changed");
        tracing::info!(user = %caller.user.id, "password changed; other sessions revoked");
        Ok(())
    }

    /// My sessions, newest first, the caller's marked `current`.
    pub async fn sessions(&self, caller: Caller<'_>) -> Result<Vec<SessionOut>, ChatError> {
        Ok(self
            .store
            .sessions_of(&caller.id())
            .await?
            .into_iter()
            .map(|(hash, row)| SessionOut {
                id: row.id,
                created_at: row.created_at,
                expires_at: row.expires_at,
                user_agent: row.user_agent,
                last_used_at: row.last_used_at,
                current: hash == caller.token_hash,
            })
            .collect())
    }

    /// Ends one of my sessions: its token stops working, its sockets close.
    pub async fn revoke_session(&self, me: &UserId, id: &str) -> Result<(), ChatError> {
        let Some((hash, _)) = self
            .store
            .sessions_of(me)
            .await?
            .into_iter()
            .find(|(_, r)| r.id == id)
        else {
            return Err(ChatError::NotFound("session"));
        };
        self.store.delete_token(&hash).await?;
        close_tokens(self.registry, vec![hash], "session revoked");
        Ok(())
    }

    /// Ends every other session of mine, or all of them.
    pub async fn revoke_all(
        &self,
        caller: Caller<'_>,
        include_current: bool,
    ) -> Result<(), ChatError> {
        let keep = (!include_current).then_some(caller.token_hash);
        let hashes = self.store.revoke_tokens(&caller.id(), keep).await?;
        close_tokens(self.registry, hashes, "session revoked");
        Ok(())
    }

    /// Deletes my account once confirmed (with the password, or the username for an account
    /// without one): sessions closed, profile and push data removed, groups left, messages kept
    /// as from a deleted user.
    pub async fn delete_account(
        &self,
        caller: Caller<'_>,
        confirm: AccountDeletion,
    ) -> Result<(), ChatError> {
        if caller.user.password_hash.is_empty() {
            // Made through a provider sign-in: nothing secret to ask, so a deliberate act.
            let typed = confirm.username.unwrap_or_default().trim().to_lowercase();
            if typed != caller.user.username {
                return Err(ChatError::Forbidden(
                    "username: type your username to confirm".into(),
                ));
            }
        } else {
            let password = confirm.password.unwrap_or_default();
            self.check_password(caller, "password", &password).await?;
        }
        let hashes = self.store.delete_account(&caller.id()).await?;
        close_tokens(self.registry, hashes, "account deleted");
        self.leave_groups(&caller.id()).await;
        tracing::info!(user = %caller.user.id, "account deleted");
        Ok(())
    }

    /// A deleted account leaves its groups through their Room actors (members get `room_event`
    /// `member_removed`, as for any leave); a last owner first hands ownership to an admin, else
    /// to the first other member by username. Its dms stay: they are the other person's history,
    /// and a deleted account is never pushed to. Best effort: a group it could not leave is
    /// logged.
    async fn leave_groups(&self, user: &UserId) {
        let rooms = match self.store.room_ids_of(user).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(user = %user, error = %e, "deleted account: its rooms could not be listed");
                return;
            }
        };
        for room in rooms {
            if let Err(e) = self.leave_group(user, &room).await {
                tracing::warn!(user = %user, room = %room, error = %e, "deleted account could not leave a group");
            }
        }
    }

    async fn leave_group(&self, user: &UserId, room: &RoomId) -> Result<(), ChatError> {
        let Some(view) = self.store.room_details(room).await? else {
            return Ok(());
        };
        if view.kind.is_dm() {
            return Ok(());
        }
        let owners = view
            .members
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        let me_owner = view
            .members
            .iter()
            .any(|m| &m.id == user && m.role == Role::Owner);
        let addr = self.registry.send(GetRoom { room: room.clone() }).await??;
        if me_owner && owners == 1 {
            let others = || view.members.iter().filter(|m| &m.id != user);
            let heir = others()
                .find(|m| m.role == Role::Admin)
                .or_else(|| others().next());
            if let Some(heir) = heir {
                addr.send(ChangeRoom {
                    by: user.clone(),
                    change: Change::SetRole(heir.id.clone(), Role::Owner),
                })
                .await??;
            }
        }
        addr.send(RemoveMember {
            by: user.clone(),
            user: user.clone(),
        })
        .await?
    }

    // --- contacts and blocks ---------------------------------------------------------------------

    /// Which address-book entries are registered users who verified that number or address (an
    /// unverified one matches nobody; I never match myself). Numbers are normalised to E.164
    /// first. Rate limited per user; at most [`MAX_ADDRESS_BOOK`] entries.
    pub async fn match_contacts(
        &self,
        me: &UserId,
        book: AddressBook,
    ) -> Result<Vec<ContactMatch>, ChatError> {
        self.limits.user_action(UserAction::ContactMatch, me)?;
        if book.phones.len() + book.emails.len() > MAX_ADDRESS_BOOK {
            return Err(ChatError::TooLarge(format!(
                "at most {MAX_ADDRESS_BOOK} entries per request"
            )));
        }
        let region = &self.settings.people.default_region;
        let phones: Vec<(String, Option<String>)> = book
            .phones
            .into_iter()
            .map(|p| {
                let n = normalize_phone(&p, region);
                (p, n)
            })
            .collect();
        let emails: Vec<(String, Option<String>)> = book
            .emails
            .into_iter()
            .map(|e| {
                let n = normalize_email(&e);
                (e, n)
            })
            .collect();
        let distinct = |entries: &[(String, Option<String>)]| -> Vec<String> {
            entries
                .iter()
                .filter_map(|(_, n)| n.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let found = self
            .store
            .users_by_contacts(&distinct(&phones), &distinct(&emails))
            .await?;
        let mut matches = Vec::new();
        for (input, norm) in phones.into_iter().chain(emails) {
            let Some(norm) = norm else { continue };
            if let Some((_, u)) = found.iter().find(|(v, u)| *v == norm && u.id != me.0) {
                matches.push(ContactMatch {
                    input,
                    normalized: norm,
                    user: public_profile(u),
                });
            }
        }
        Ok(matches)
    }

    /// My contacts with my nicknames for them.
    pub async fn contacts(&self, me: &UserId) -> Result<Vec<ContactOut>, ChatError> {
        let rows = self.store.contacts(me).await?;
        let ids: Vec<UserId> = rows.iter().map(|r| r.user.clone()).collect();
        let users = self.store.users_by_ids(&ids).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let u = users.iter().find(|u| u.id == r.user.0)?;
                Some(ContactOut {
                    user: public_profile(u),
                    nickname: r.nickname,
                })
            })
            .collect())
    }

    /// Adds a contact or changes my nickname for them (empty: none).
    pub async fn put_contact(
        &self,
        me: &UserId,
        other: &UserId,
        nickname: Option<String>,
    ) -> Result<ContactOut, ChatError> {
        if other == me {
            return Err(ChatError::invalid("user: cannot add yourself"));
        }
        let u = self
            .store
            .user_by_id(other)
            .await?
            .ok_or(ChatError::NotFound("user"))?;
        let nickname = nickname
            .map(|n| text("nickname", &n, 0, 100))
            .transpose()?
            .filter(|n| !n.is_empty());
        self.store.put_contact(me, other, nickname.clone()).await?;
        Ok(ContactOut {
            user: public_profile(&u),
            nickname,
        })
    }

    /// Removes a contact; not found if it was not one.
    pub async fn delete_contact(&self, me: &UserId, other: &UserId) -> Result<(), ChatError> {
        if self.store.delete_contact(me, other).await? {
            Ok(())
        } else {
            Err(ChatError::NotFound("contact"))
        }
    }

    /// The people I blocked.
    pub async fn blocked(&self, me: &UserId) -> Result<Vec<PublicProfile>, ChatError> {
        let ids = self.store.blocked_by(me).await?;
        Ok(self
            .store
            .users_by_ids(&ids)
            .await?
            .iter()
            .map(public_profile)
            .collect())
    }

    /// Blocks someone: they cannot open a dm with me or send into ours, and do not see my
    /// presence.
    pub async fn block(&self, me: &UserId, other: &UserId) -> Result<(), ChatError> {
        if other == me {
            return Err(ChatError::invalid("user: cannot block yourself"));
        }
        self.store
            .user_by_id(other)
            .await?
            .ok_or(ChatError::NotFound("user"))?;
        self.store.block(me, other).await?;
        self.tell_dm(me, other, true).await
    }

    pub async fn unblock(&self, me: &UserId, other: &UserId) -> Result<(), ChatError> {
        self.store.unblock(me, other).await?;
        self.tell_dm(me, other, false).await
    }

    /// Tells the dm room of the two (if any) about a block change, so it refuses or accepts
    /// messages from now on.
    async fn tell_dm(&self, blocker: &UserId, blocked: &UserId, on: bool) -> Result<(), ChatError> {
        if let Some(room) = self.store.dm_between(blocker, blocked).await? {
            let addr = self.registry.send(GetRoom { room }).await??;
            addr.do_send(SetBlocked {
                blocker: blocker.clone(),
                blocked: blocked.clone(),
                on,
            });
        }
        Ok(())
    }

    // --- broadcast lists -------------------------------------------------------------------------

    /// The name (1 to 100 characters) and members (known users other than me, at most
    /// `people.max_broadcast`, duplicates dropped) of a list patch.
    async fn check_list(
        &self,
        me: &UserId,
        body: ListPatch,
    ) -> Result<(Option<String>, Option<Vec<UserId>>), ChatError> {
        let name = body.name.map(|n| text("name", &n, 1, 100)).transpose()?;
        let members = match body.members {
            None => None,
            Some(m) => {
                let set: BTreeSet<UserId> = m.into_iter().filter(|u| u != me).collect();
                let max = self.settings.people.max_broadcast;
                if set.len() > max {
                    return Err(ChatError::invalid(format!("members: at most {max}")));
                }
                let ids: Vec<UserId> = set.into_iter().collect();
                if self.store.users_by_ids(&ids).await?.len() != ids.len() {
                    return Err(ChatError::invalid("members: unknown user id"));
                }
                Some(ids)
            }
        };
        Ok((name, members))
    }

    pub async fn lists(&self, me: &UserId) -> Result<Vec<BroadcastList>, ChatError> {
        Ok(self
            .store
            .lists(me)
            .await?
            .into_iter()
            .map(list_out)
            .collect())
    }

    /// One of my lists; not found if it is someone else's.
    pub async fn list(&self, me: &UserId, id: &str) -> Result<BroadcastList, ChatError> {
        self.store
            .list(me, id)
            .await?
            .map(list_out)
            .ok_or(ChatError::NotFound("list"))
    }

    /// Creates a list (a name is required).
    pub async fn create_list(
        &self,
        me: &UserId,
        body: ListPatch,
    ) -> Result<BroadcastList, ChatError> {
        let (name, members) = self.check_list(me, body).await?;
        let name = name.ok_or_else(|| ChatError::invalid("name: required"))?;
        let id = self
            .store
            .save_list(
                me,
                None,
                Some(&name),
                Some(members.as_deref().unwrap_or_default()),
            )
            .await?;
        self.store
            .list(me, &id)
            .await?
            .map(list_out)
            .ok_or(ChatError::Internal)
    }

    /// Renames one of my lists and/or replaces its members.
    pub async fn update_list(
        &self,
        me: &UserId,
        id: &str,
        body: ListPatch,
    ) -> Result<BroadcastList, ChatError> {
        self.list(me, id).await?;
        let (name, members) = self.check_list(me, body).await?;
        self.store
            .save_list(me, Some(id), name.as_deref(), members.as_deref())
            .await?;
        self.store
            .list(me, id)
            .await?
            .map(list_out)
            .ok_or(ChatError::Internal)
    }

    pub async fn delete_list(&self, me: &UserId, id: &str) -> Result<(), ChatError> {
        self.list(me, id).await?;
        self.store.delete_list(id).await?;
        Ok(())
    }
}
