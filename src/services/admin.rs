//! The admin domain: live statistics, accounts (search, ban, unban, revoke sessions, the admin
//! role and its one-time bootstrap), the write buffer's dead letters, conversations (list,
//! members, closing one) and deleting any message for everyone. Answers in the API's types
//! (`chat_protocol::api::admin`). Who counts as an admin is checked before (the `AdminUser`
//! extractor); the rules here are about what an admin may do to whom.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix::Addr;
use entities::user;

use crate::actors::registry::{GetRoom, RoomRegistry};
use crate::actors::room::{Change, ChangeRoom, Inspect};
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, MessageId, RoomId, UserId};
use crate::limits::Limits;
use crate::metrics::{self, ChannelCounters};
use crate::protocol::api::admin::{
    AdminMember, AdminRoom, AdminUser, ChannelStats, DeadLetter, PushChannels, PushStats, StatsBody,
};
use crate::services::people::close_tokens;
use crate::store::{self, Store, StoreError};
use crate::transport::hash_token;

/// How far back the messages-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Accounts listed at most.
const USERS_SHOWN: u64 = 100;

/// Conversations listed at most.
const ROOMS_SHOWN: u64 = 200;

/// Dead letters listed at most.
const DEAD_LETTERS_SHOWN: usize = 100;

/// Longest bootstrap code looked up.
const MAX_BOOTSTRAP_CODE: usize = 128;

/// Rounds of removals [`Admin::close_room`] makes at most (members added meanwhile need another).
const CLOSE_ROUNDS: usize = 3;

/// Longest room id looked up when closing a room.
const MAX_ROOM_ID: usize = 64;

/// Samples of the accepted-messages counter taken when stats were read: the rate is the change
/// over the window, so it needs no timer of its own.
static SAMPLES: Mutex<RateSamples> = Mutex::new(RateSamples(VecDeque::new()));

/// Readings of a counter, oldest first, kept over [`RATE_WINDOW`] (and at least two).
struct RateSamples(VecDeque<(Instant, u64)>);

impl RateSamples {
    /// Records `total` read at `now` and returns its rate per second since the oldest reading
    /// in the window; 0 until readings span at least 200 ms.
    fn rate(&mut self, now: Instant, total: u64) -> f64 {
        let samples = &mut self.0;
        samples.push_back((now, total));
        while samples.len() > 2
            && samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            samples.pop_front();
        }
        match samples.front() {
            Some((t, first)) if now.duration_since(*t) >= Duration::from_millis(200) => {
                total.saturating_sub(*first) as f64 / now.duration_since(*t).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Messages accepted per second over (up to) the last [`RATE_WINDOW`] of reads.
fn messages_per_second(total: u64) -> f64 {
    match SAMPLES.lock() {
        Ok(mut samples) => samples.rate(Instant::now(), total),
        Err(_) => 0.0,
    }
}

fn gauge(a: &AtomicI64) -> i64 {
    a.load(Ordering::Relaxed)
}

fn counter(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

fn channel(c: &ChannelCounters) -> ChannelStats {
    ChannelStats {
        failed: counter(&c.failed),
        pruned: counter(&c.pruned),
        sent: counter(&c.sent),
    }
}

fn admin_user(u: store::admin::AdminUser) -> AdminUser {
    AdminUser {
        banned_at: u.banned_at,
        created_at: u.created_at,
        display_name: u.display_name,
        id: UserId(u.id),
        is_admin: u.is_admin,
        last_seen: u.last_seen,
        username: u.username,
    }
}

fn admin_room(r: store::admin::AdminRoom) -> AdminRoom {
    AdminRoom {
        created_at: r.created_at,
        id: RoomId(r.id),
        kind: r.kind,
        members: r.members,
        messages: r.messages,
        name: r.name,
    }
}

fn admin_member(m: store::admin::AdminMember) -> AdminMember {
    AdminMember {
        display_name: m.display_name,
        id: UserId(m.id),
        role: m.role,
        username: m.username,
    }
}

fn dead_letter(d: store::buffer::DeadLetter) -> DeadLetter {
    DeadLetter {
        at: d.at,
        entry: d.entry,
        error: d.error,
        id: d.id,
    }
}

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Admin<'a> {
    pub store: &'a Store,
    pub registry: &'a Addr<RoomRegistry>,
    pub settings: &'a Settings,
    pub limits: &'a Limits,
}

impl Admin<'_> {
    /// The live numbers the dashboard charts.
    pub async fn stats(&self) -> Result<StatsBody, ChatError> {
        let total = counter(&metrics::MESSAGES_ACCEPTED);
        let channels = PushChannels {
            fcm: channel(&metrics::PUSH_FCM),
            sms: channel(&metrics::PUSH_SMS),
            webpush: channel(&metrics::PUSH_WEBPUSH),
        };
        let all = [channels.webpush, channels.fcm, channels.sms];
        Ok(StatsBody {
            active_rooms: gauge(&metrics::ACTIVE_ROOMS),
            connections: gauge(&metrics::CONNECTIONS),
            dead_letters: gauge(&metrics::DEAD_LETTERS),
            media_queue: gauge(&metrics::MEDIA_QUEUE),
            messages_per_second: messages_per_second(total),
            messages_total: total,
            push: PushStats {
                channels,
                failed: all.iter().map(|c| c.failed).sum(),
                sent: all.iter().map(|c| c.sent).sum(),
            },
            server_time: now_ms(),
            sync_lag_ms: gauge(&metrics::SYNC_LAG_MS),
            users: self.store.count_users().await?,
            write_buffer_depth: gauge(&metrics::WRITE_BUFFER_DEPTH),
        })
    }

    /// Accounts whose username or display name starts with `q`, with their admin and ban state.
    pub async fn users(&self, q: &str) -> Result<Vec<AdminUser>, ChatError> {
        Ok(self
            .store
            .admin_search_users(q, USERS_SHOWN)
            .await?
            .into_iter()
            .map(admin_user)
            .collect())
    }

    /// While no account is an admin, the one-time code the server printed at start makes `me`
    /// an admin, once (and its file is removed); forbidden for a wrong or used code or once an
    /// admin exists. Rate limited per address and account.
    pub async fn bootstrap(
        &self,
        me: &user::Model,
        peer: Option<IpAddr>,
        code: &str,
    ) -> Result<(), ChatError> {
        let my_id = UserId(me.id.clone());
        self.limits.admin_bootstrap(peer, &my_id)?;
        let code = code.trim();
        let valid = !code.is_empty()
            && code.len() <= MAX_BOOTSTRAP_CODE
            && self
                .store
                .redeem_bootstrap_code(&hash_token(code), &my_id)
                .await?;
        if !valid {
            tracing::warn!(user = %me.id, "admin bootstrap code refused");
            return Err(ChatError::Forbidden(
                "invalid or used bootstrap code".into(),
            ));
        }
        crate::bootstrap::remove(&crate::bootstrap::code_file(&self.settings.media.dir));
        tracing::warn!(user = %me.id, username = %me.username, "admin bootstrap code redeemed: this account is now the admin");
        Ok(())
    }

    /// A live (not deleted) account.
    async fn target(&self, id: &UserId) -> Result<user::Model, ChatError> {
        self.store
            .user_by_id(id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(ChatError::NotFound("user"))
    }

    /// The target of a ban or a session revocation: any account but an admin (an admin's role
    /// is taken with `chat-server admin revoke` first).
    async fn non_admin_target(&self, id: &UserId) -> Result<UserId, ChatError> {
        let user = self.target(id).await?;
        if user.is_admin {
            return Err(ChatError::Forbidden(
                "admins cannot act on other admins; take the admin role first (admin page or `chat-server admin revoke`)"
                    .into(),
            ));
        }
        Ok(UserId(user.id))
    }

    /// Bans `user`: every token revoked, every socket closed (4001), and login refused until
    /// unbanned. Not oneself, not another admin.
    pub async fn ban(&self, by: &UserId, user: &UserId) -> Result<(), ChatError> {
        if user == by {
            return Err(ChatError::invalid("you cannot ban yourself"));
        }
        let user = self.non_admin_target(user).await?;
        let hashes = self.store.set_banned(&user, true).await?;
        close_tokens(self.registry, hashes, "banned");
        tracing::info!(user = %user, by = %by, "banned");
        Ok(())
    }

    /// Lets a banned account log in again.
    pub async fn unban(&self, by: &UserId, user: &UserId) -> Result<(), ChatError> {
        let user = UserId(self.target(user).await?.id);
        self.store.set_banned(&user, false).await?;
        tracing::info!(user = %user, by = %by, "unbanned");
        Ok(())
    }

    /// Every token of `user` stops working and its sockets close (4001); returns how many. The
    /// account may log in again. Not another admin.
    pub async fn revoke_sessions(&self, by: &UserId, user: &UserId) -> Result<u64, ChatError> {
        let user = self.non_admin_target(user).await?;
        let hashes = self.store.revoke_tokens(&user, None).await?;
        let revoked = hashes.len();
        close_tokens(self.registry, hashes, "session revoked by an admin");
        tracing::info!(user = %user, by = %by, revoked, "sessions revoked");
        Ok(revoked as u64)
    }

    /// Gives or takes the admin role of another account (never one's own: an admin cannot lock
    /// the server out of its last admin by mistake); a banned account is not made an admin.
    /// Returns the role now.
    pub async fn set_role(
        &self,
        by: &UserId,
        user: &UserId,
        admin: bool,
    ) -> Result<bool, ChatError> {
        if user == by {
            return Err(ChatError::invalid("you cannot change your own admin role"));
        }
        let target = self.target(user).await?;
        if admin && target.banned_at.is_some() {
            return Err(ChatError::invalid(
                "unban the account before making it an admin",
            ));
        }
        let user = UserId(target.id);
        if !self.store.set_admin(&user, admin).await? {
            return Err(ChatError::NotFound("user"));
        }
        tracing::warn!(user = %user, by = %by, admin, "admin role changed");
        Ok(admin)
    }

    /// Write-buffer entries the Syncer gave up on, newest first, with whether there is a write
    /// buffer at all (none without Redis: writes then go straight to SQL).
    pub async fn dead_letters(&self) -> Result<(bool, Vec<DeadLetter>), ChatError> {
        let Some(buffer) = &self.store.buffer else {
            return Ok((false, Vec::new()));
        };
        let list = buffer
            .dead_letter_list(DEAD_LETTERS_SHOWN)
            .await
            .map_err(StoreError::from)?;
        Ok((true, list.into_iter().map(dead_letter).collect()))
    }

    /// Conversations whose name starts with `q`, largest first.
    pub async fn rooms(&self, q: &str) -> Result<Vec<AdminRoom>, ChatError> {
        Ok(self
            .store
            .admin_rooms(q, ROOMS_SHOWN)
            .await?
            .into_iter()
            .map(admin_room)
            .collect())
    }

    /// The members of a conversation with their roles; not found for an unknown room.
    pub async fn room_members(&self, room: &RoomId) -> Result<Vec<AdminMember>, ChatError> {
        Ok(self
            .store
            .admin_room_members(room)
            .await?
            .ok_or(ChatError::NotFound("room"))?
            .into_iter()
            .map(admin_member)
            .collect())
    }

    /// Deletes a message for everyone through its room, exactly as its author's `delete`; not
    /// found for an unknown id; a deleted message stays as it is.
    pub async fn delete_message(&self, by: &UserId, id: MessageId) -> Result<(), ChatError> {
        let info = crate::actors::requests::delete_message(
            self.store,
            self.registry,
            by.clone(),
            id.clone(),
            true,
        )
        .await?;
        tracing::warn!(message = %id, room = %info.room, author = %info.author, by = %by, "message deleted by an admin");
        Ok(())
    }

    /// Closes a conversation for everyone: every member is removed through the room, as a leave
    /// is, and a dm's pair key is released. Returns how many members were removed; not found
    /// for an unknown room.
    pub async fn close_room(&self, by: &UserId, id: &RoomId) -> Result<u64, ChatError> {
        if id.0.is_empty() || id.0.len() > MAX_ROOM_ID {
            return Err(ChatError::NotFound("room"));
        }
        let room = self.registry.send(GetRoom { room: id.clone() }).await??;
        let mut removed = 0;
        // Someone added while the members were being removed is removed in the next round.
        for _ in 0..CLOSE_ROUNDS {
            let members = room.send(Inspect).await?.members;
            if members.is_empty() {
                break;
            }
            for user in members.into_keys() {
                room.send(ChangeRoom {
                    by: by.clone(),
                    change: Change::Expel(user),
                })
                .await??;
                removed += 1;
            }
        }
        self.store.release_dm(id).await?;
        tracing::warn!(room = %id, removed, by = %by, "conversation closed by an admin");
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_rate_is_the_change_over_the_window() {
        let mut samples = RateSamples(VecDeque::new());
        let t0 = Instant::now();
        assert_eq!(samples.rate(t0, 100), 0.0, "one reading has no rate");
        assert_eq!(
            samples.rate(t0 + Duration::from_millis(100), 150),
            0.0,
            "readings closer than 200 ms have none either"
        );
        assert_eq!(samples.rate(t0 + Duration::from_secs(2), 300), 100.0);
        // Past the window, the oldest readings drop out: 12 s after t0 the rate runs from the
        // reading at 2 s.
        assert_eq!(samples.rate(t0 + Duration::from_secs(12), 1300), 100.0);
        assert_eq!(samples.0.len(), 2);
        // A counter that went back (a restart of the process it reads) counts as no messages.
        assert_eq!(samples.rate(t0 + Duration::from_secs(13), 0), 0.0);
    }
}
