//! Invitations to groups: the invitee's pending invitations. Accepting one answers
//! `api::rooms::RoomBody`; an add that became an invitation answers `api::rooms::InvitationBody`.

use serde::{Deserialize, Serialize};

use crate::Invitation;

/// `GET /api/invitations` → `{invitations}`: the caller's pending invitations, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationsBody {
    pub invitations: Vec<Invitation>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ids::{RoomId, UserId};
    use crate::UserOut;

    #[test]
    fn invitations_show_the_group_name_and_the_inviter_only() {
        let body = InvitationsBody {
            invitations: vec![Invitation {
                id: "i1".into(),
                room: RoomId("r1".into()),
                room_name: Some("Team".into()),
                inviter: UserOut {
                    id: UserId("u1".into()),
                    username: "ann".into(),
                    display_name: "Ann".into(),
                },
                created_at: 4,
            }],
        };
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"invitations":[{"id":"i1","room":"r1","room_name":"Team",
                "inviter":{"id":"u1","username":"ann","display_name":"Ann"},"created_at":4}]}"#,
        )
        .expect("valid JSON");
        assert_eq!(serde_json::to_value(&body).expect("serializes"), expected);
        let back: InvitationsBody = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back, body);
        assert_eq!(
            serde_json::to_string(&InvitationsBody {
                invitations: vec![]
            })
            .expect("serializes"),
            r#"{"invitations":[]}"#
        );
    }
}
