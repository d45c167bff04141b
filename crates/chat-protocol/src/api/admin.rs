//! The admin API (`/api/admin/...`, admins only): live statistics, accounts (ban, unban, revoke
//! sessions, the admin role), the write buffer's dead letters, conversations and their members.
//!
//! The fields of the answers are declared in alphabetical order: that is the order these bodies
//! had when they were built as JSON maps, so the bytes on the wire stay the same.

use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, UserId};

/// `?q=` of `GET /api/admin/users` and `GET /api/admin/rooms`: a prefix of the name (empty: all).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSearch {
    #[serde(default)]
    pub q: String,
}

/// The counters of one push channel since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Given up on (refused, or still failing after the last try).
    pub failed: u64,
    /// Subscriptions deleted because the service said they are gone.
    pub pruned: u64,
    /// Accepted by the push service (or SMS gateway).
    pub sent: u64,
}

/// The push channels, each with its counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushChannels {
    pub fcm: ChannelStats,
    pub sms: ChannelStats,
    pub webpush: ChannelStats,
}

/// Pushes since the server started: the sums over the channels, and each channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushStats {
    pub channels: PushChannels,
    pub failed: u64,
    pub sent: u64,
}

/// `GET /api/admin/stats` → the live numbers the dashboard charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsBody {
    /// Conversations with a live actor.
    pub active_rooms: i64,
    /// Open WebSocket connections.
    pub connections: i64,
    /// Write-buffer entries the Syncer gave up on.
    pub dead_letters: i64,
    /// Media jobs waiting for a worker.
    pub media_queue: i64,
    /// Messages accepted per second over the last seconds of reads of this route.
    pub messages_per_second: f64,
    /// Messages accepted since the server started.
    pub messages_total: u64,
    pub push: PushStats,
    /// The server's clock (ms since the epoch).
    pub server_time: i64,
    /// How far the SQL database is behind the write buffer (ms).
    pub sync_lag_ms: i64,
    /// Accounts, deleted ones left out.
    pub users: u64,
    /// Entries in the write buffer not yet in SQL.
    pub write_buffer_depth: i64,
}

/// An account as the admin pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    /// When it was banned (ms), if it is.
    pub banned_at: Option<i64>,
    pub created_at: i64,
    pub display_name: String,
    pub id: UserId,
    pub is_admin: bool,
    pub last_seen: Option<i64>,
    pub username: String,
}

/// `GET /api/admin/users?q=` → `{users}` (at most 100).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersBody {
    pub users: Vec<AdminUser>,
}

/// `POST /api/admin/bootstrap`: the one-time code the server printed at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapRequest {
    pub code: String,
}

/// `PUT /api/admin/users/{id}/admin`: give (`true`) or take (`false`) the admin role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRequest {
    pub admin: bool,
}

/// `POST /api/admin/bootstrap` → `{is_admin: true}`; `PUT /api/admin/users/{id}/admin` →
/// `{is_admin}`: the account's role now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsAdminBody {
    pub is_admin: bool,
}

/// `POST /api/admin/users/{id}/revoke-sessions` → `{revoked}`: how many tokens stopped working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedBody {
    pub revoked: u64,
}

/// A write-buffer entry the Syncer gave up on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// When it was dead-lettered (ms).
    pub at: i64,
    /// The buffer entry it was.
    pub entry: String,
    /// Why applying it failed.
    pub error: String,
    /// Its id in the dead-letter stream.
    pub id: String,
}

/// `GET /api/admin/dead-letters` → `{buffer, dead_letters}`, newest first (at most 100);
/// `buffer` is false without Redis (writes then go straight to SQL and nothing is
/// dead-lettered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLettersBody {
    pub buffer: bool,
    pub dead_letters: Vec<DeadLetter>,
}

/// A conversation as the admin pages list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoom {
    pub created_at: i64,
    pub id: RoomId,
    /// `dm` or `group`.
    pub kind: String,
    /// Members now.
    pub members: i64,
    /// Messages committed to SQL.
    pub messages: i64,
    pub name: Option<String>,
}

/// `GET /api/admin/rooms?q=` → `{rooms}`, largest first (at most 200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsBody {
    pub rooms: Vec<AdminRoom>,
}

/// A member of a conversation, for the admin pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminMember {
    pub display_name: String,
    pub id: UserId,
    /// `owner`, `admin` or `member`.
    pub role: String,
    pub username: String,
}

/// `GET /api/admin/rooms/{id}/members` → `{members}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersBody {
    pub members: Vec<AdminMember>,
}

/// `DELETE /api/admin/rooms/{id}` → `{removed}`: how many members were removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedBody {
    pub removed: u64,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serializes")
    }

    #[test]
    fn stats_read_as_they_did() {
        let stats = StatsBody {
            active_rooms: 2,
            connections: 3,
            dead_letters: 0,
            media_queue: 1,
            messages_per_second: 0.0,
            messages_total: 7,
            push: PushStats {
                channels: PushChannels {
                    fcm: ChannelStats::default(),
                    sms: ChannelStats {
                        failed: 1,
                        pruned: 0,
                        sent: 2,
                    },
                    webpush: ChannelStats {
                        failed: 0,
                        pruned: 4,
                        sent: 5,
                    },
                },
                failed: 1,
                sent: 7,
            },
            server_time: 1_700_000_000_000,
            sync_lag_ms: 12,
            users: 9,
            write_buffer_depth: 6,
        };
        assert_eq!(
            text(&stats),
            r#"{"active_rooms":2,"connections":3,"dead_letters":0,"media_queue":1,"messages_per_second":0.0,"messages_total":7,"push":{"channels":{"fcm":{"failed":0,"pruned":0,"sent":0},"sms":{"failed":1,"pruned":0,"sent":2},"webpush":{"failed":0,"pruned":4,"sent":5}},"failed":1,"sent":7},"server_time":1700000000000,"sync_lag_ms":12,"users":9,"write_buffer_depth":6}"#
        );
        let back: StatsBody = serde_json::from_str(&text(&stats)).expect("round trip");
        assert_eq!(back, stats);
    }

    #[test]
    fn lists_read_as_they_did() {
        let users = UsersBody {
            users: vec![AdminUser {
                banned_at: None,
                created_at: 1,
                display_name: "Ann".into(),
                id: UserId("u1".into()),
                is_admin: false,
                last_seen: Some(2),
                username: "ann".into(),
            }],
        };
        assert_eq!(
            text(&users),
            r#"{"users":[{"banned_at":null,"created_at":1,"display_name":"Ann","id":"u1","is_admin":false,"last_seen":2,"username":"ann"}]}"#
        );
        let rooms = RoomsBody {
            rooms: vec![AdminRoom {
                created_at: 1,
                id: RoomId("r1".into()),
                kind: "dm".into(),
                members: 2,
                messages: 3,
                name: None,
            }],
        };
        assert_eq!(
            text(&rooms),
            r#"{"rooms":[{"created_at":1,"id":"r1","kind":"dm","members":2,"messages":3,"name":null}]}"#
        );
        let members = MembersBody {
            members: vec![AdminMember {
                display_name: "Ann".into(),
                id: UserId("u1".into()),
                role: "owner".into(),
                username: "ann".into(),
            }],
        };
        assert_eq!(
            text(&members),
            r#"{"members":[{"display_name":"Ann","id":"u1","role":"owner","username":"ann"}]}"#
        );
        let letters = DeadLettersBody {
            buffer: true,
            dead_letters: vec![DeadLetter {
                at: 5,
                entry: "e".into(),
                error: "bad".into(),
                id: "1-0".into(),
            }],
        };
        assert_eq!(
            text(&letters),
            r#"{"buffer":true,"dead_letters":[{"at":5,"entry":"e","error":"bad","id":"1-0"}]}"#
        );
        let back: DeadLettersBody = serde_json::from_str(&text(&letters)).expect("round trip");
        assert_eq!(back, letters);
    }

    #[test]
    fn small_answers_and_requests() {
        assert_eq!(
            text(&IsAdminBody { is_admin: true }),
            r#"{"is_admin":true}"#
        );
        assert_eq!(text(&RevokedBody { revoked: 3 }), r#"{"revoked":3}"#);
        assert_eq!(text(&RemovedBody { removed: 0 }), r#"{"removed":0}"#);
        let role: RoleRequest = serde_json::from_str(r#"{"admin":false}"#).expect("valid");
        assert!(!role.admin);
        let code: BootstrapRequest = serde_json::from_str(r#"{"code":" abc "}"#).expect("valid");
        assert_eq!(code.code, " abc ");
        assert!(serde_json::from_str::<BootstrapRequest>("{}").is_err());
        let q: AdminSearch = serde_json::from_str("{}").expect("q is optional");
        assert_eq!(q.q, "");
    }
}
