//! Conversations: creating groups and opening dms, listing, details, history, membership and
//! roles, group name and avatar, earlier versions of an edited message.

use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, UserId};
use crate::{Invitation, MessageOut, Role, RoomKind, RoomSummary};

/// `POST /api/rooms`: a group's name and the people to add (the caller becomes its owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `POST /api/dms`: the other member of the dm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDm {
    pub user: UserId,
}

/// `POST /api/rooms/{id}/members`: whom to add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    pub user: UserId,
}

/// `GET /api/rooms/{id}/messages?before=&limit=` (the query): messages below seq `before`
/// (the newest when absent), at most `limit` (1 to 100, 50 when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `PATCH /api/rooms/{id}`: the fields to change; `avatar: null` removes the group avatar.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::api::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar: Option<Option<String>>,
}

/// `PUT /api/rooms/{id}/members/{user}`: the member's new role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    pub role: Role,
}

/// A member of a room, with the profile fields other members see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOut {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Highest seq this member has read, as stored in SQL (a mark still in the Redis buffer
    /// shows with the next `receipt`).
    pub last_read_seq: i64,
    /// Highest seq handed to one of this member's devices, as stored in SQL.
    pub delivered_seq: i64,
    /// Media id of the member's avatar, if any.
    pub avatar: Option<String>,
}

/// A room with its members (sorted by username).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomOut {
    pub id: RoomId,
    pub kind: RoomKind,
    /// The group's name (`null` for a dm).
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seq: i64,
    /// Media id of the group avatar.
    pub avatar: Option<String>,
    pub members: Vec<MemberOut>,
}

/// `GET /api/rooms/{id}`, `POST /api/dms`, `PATCH /api/rooms/{id}`, `POST
/// /api/rooms/{id}/members` (added), `PUT /api/rooms/{id}/members/{user}` and `POST
/// /api/invitations/{id}/accept` → `{room}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomBody {
    pub room: RoomOut,
}

/// `POST /api/rooms` → 201 `{room, invited, not_invited?}`: `invited` are the people whose
/// `privacy.group_adds` asked for an invitation instead; `not_invited` (only when some) are those
/// who could not be invited because a cap of pending invitations was reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedGroup {
    pub room: RoomOut,
    pub invited: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_invited: Vec<UserId>,
}

/// `POST /api/rooms/{id}/members` → 202 `{invitation}`: the person was invited instead of added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationBody {
    pub invitation: Invitation,
}

/// `GET /api/rooms` → `{rooms}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomsBody {
    pub rooms: Vec<RoomSummary>,
}

/// `GET /api/rooms/{id}/messages` → `{messages, has_more}`, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessagesBody {
    pub messages: Vec<MessageOut>,
    /// There are older messages than these.
    pub has_more: bool,
}

/// An earlier body of an edited message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub body: String,
    /// When an edit replaced it (ms since the epoch).
    pub replaced_at: i64,
}

/// `GET /api/messages/{id}/versions` → `{versions}`, oldest first (none for a deleted message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionsBody {
    pub versions: Vec<Version>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::UserOut;

    fn room() -> RoomOut {
        RoomOut {
            id: RoomId("r1".into()),
            kind: RoomKind::Group,
            name: Some("Team".into()),
            created_at: 7,
            last_seq: 3,
            avatar: None,
            members: vec![MemberOut {
                id: UserId("u1".into()),
                username: "ann".into(),
                display_name: "Ann".into(),
                role: Role::Owner,
                last_read_seq: 2,
                delivered_seq: 3,
                avatar: Some("m1".into()),
            }],
        }
    }

    /// The same value as the `json!` the handler built, key for key.
    fn as_value<T: Serialize>(t: &T) -> serde_json::Value {
        serde_json::to_value(t).expect("serializes")
    }

    #[test]
    fn a_room_body_has_the_fields_it_had() {
        let body = RoomBody { room: room() };
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"room":{"id":"r1","kind":"group","name":"Team","created_at":7,"last_seq":3,
                "avatar":null,"members":[{"id":"u1","username":"ann","display_name":"Ann",
                "role":"owner","last_read_seq":2,"delivered_seq":3,"avatar":"m1"}]}}"#,
        )
        .expect("valid JSON");
        assert_eq!(as_value(&body), expected);
        let back: RoomBody = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back, body);
    }

    #[test]
    fn a_created_group_names_not_invited_only_when_some() {
        let mut body = CreatedGroup {
            room: room(),
            invited: vec![UserId("u2".into())],
            not_invited: Vec::new(),
        };
        let v = as_value(&body);
        assert_eq!(v["invited"], serde_json::json!(["u2"]));
        assert!(v.get("not_invited").is_none());
        assert_eq!(v["room"], as_value(&room()));
        body.not_invited = vec![UserId("u3".into())];
        let v = as_value(&body);
        assert_eq!(v["not_invited"], serde_json::json!(["u3"]));
        let back: CreatedGroup = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, body);
    }

    #[test]
    fn versions_and_invitation_bodies() {
        let v = VersionsBody {
            versions: vec![Version {
                body: "first".into(),
                replaced_at: 9,
            }],
        };
        assert_eq!(
            serde_json::to_string(&v).expect("serializes"),
            r#"{"versions":[{"body":"first","replaced_at":9}]}"#
        );
        assert_eq!(
            serde_json::to_string(&VersionsBody { versions: vec![] }).expect("serializes"),
            r#"{"versions":[]}"#
        );
        let inv = InvitationBody {
            invitation: Invitation {
                id: "i1".into(),
                room: RoomId("r1".into()),
                room_name: None,
                inviter: UserOut {
                    id: UserId("u1".into()),
                    username: "ann".into(),
                    display_name: "Ann".into(),
                },
                created_at: 4,
            },
        };
        let v = as_value(&inv);
        assert_eq!(v["invitation"]["room_name"], serde_json::Value::Null);
        assert_eq!(v["invitation"]["inviter"]["username"], "ann");
    }

    #[test]
    fn what_clients_send() {
        let g: CreateGroup = serde_json::from_str(r#"{"name":"Team"}"#).expect("members optional");
        assert!(g.members.is_empty());
        let p: RoomPatch = serde_json::from_str(r#"{"avatar":null}"#).expect("valid patch");
        assert_eq!(p.avatar, Some(None));
        assert_eq!(p.name, None);
        let p: RoomPatch = serde_json::from_str(r#"{"name":"New"}"#).expect("valid patch");
        assert_eq!(p.avatar, None);
        assert!(serde_json::from_str::<RoomPatch>(r#"{"topic":"x"}"#).is_err());
        let r: RoleChange = serde_json::from_str(r#"{"role":"admin"}"#).expect("valid role");
        assert_eq!(r.role, Role::Admin);
        assert!(serde_json::from_str::<RoleChange>(r#"{"role":"king"}"#).is_err());
        let m: NewMember = serde_json::from_str(r#"{"user":"u2"}"#).expect("valid");
        assert_eq!(m.user, UserId("u2".into()));
        let d: OpenDm = serde_json::from_str(r#"{"user":"u2"}"#).expect("valid");
        assert_eq!(d.user, UserId("u2".into()));
    }
}
