//! Pins and stars over HTTP: the lists, and a room's pin policy. Pinning and starring
//! themselves are the `pin` and `star` frames.

use serde::{Deserialize, Serialize};

use crate::frames::MessageOut;
use crate::ids::UserId;

/// Who pins messages in a room (`room_settings.pin_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinPolicy {
    /// Every member.
    Members,
    /// Owners and admins only.
    Admins,
}

impl PinPolicy {
    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PinPolicy::Members => "members",
            PinPolicy::Admins => "admins",
        }
    }

    /// The policy named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "members" => Some(PinPolicy::Members),
            "admins" => Some(PinPolicy::Admins),
            _ => None,
        }
    }
}

/// A pinned message: the message, and who pinned it when.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinnedMessage {
    #[serde(flatten)]
    pub message: MessageOut,
    /// When it was pinned (ms).
    pub pinned_at: i64,
    pub pinned_by: UserId,
}

/// `GET /api/rooms/{id}/pins` → `{messages, policy}`, newest pin first (deleted messages left
/// out); members only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinsBody {
    pub messages: Vec<PinnedMessage>,
    pub policy: PinPolicy,
}

/// `PUT /api/rooms/{id}/pin-policy`: `members` or `admins` (anything else is refused with 400
/// `invalid`, so it is read as text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinPolicyRequest {
    pub policy: String,
}

/// `PUT /api/rooms/{id}/pin-policy` → `{policy}`: the policy now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinPolicyBody {
    pub policy: PinPolicy,
}

/// `GET /api/stars?before=&limit=`: the page (stars older than `before`, ms; `limit` 1 to 100,
/// 50 when absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarsQuery {
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// A starred message: the message, and when the caller starred it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StarredMessage {
    #[serde(flatten)]
    pub message: MessageOut,
    /// When it was starred (ms).
    pub starred_at: i64,
}

/// `GET /api/stars` → `{messages, next}`: the caller's starred messages, newest star first, from
/// rooms they are still in (deleted ones left out); `next` is the `before` of the next page,
/// `null` on the last.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StarsBody {
    pub messages: Vec<StarredMessage>,
    pub next: Option<i64>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn message() -> MessageOut {
        super::super::test_support::message(3, "hi", 10)
    }

    /// The message's own fields, then the curation fields beside them (not nested).
    const MESSAGE: &str = r#""room":"r1","id":"m1","seq":3,"from":"u1","body":"hi","attachments":[],"reply_to":null,"client_id":"c1","ts":10,"edited_at":null,"deleted":false,"reactions":{},"mentions":[],"forwarded":false"#;

    #[test]
    fn pins_carry_the_policy_and_who_pinned() {
        let body = PinsBody {
            messages: vec![PinnedMessage {
                message: message(),
                pinned_at: 20,
                pinned_by: UserId("u2".into()),
            }],
            policy: PinPolicy::Admins,
        };
        let text = serde_json::to_string(&body).expect("serializes");
        assert_eq!(
            text,
            format!(
                r#"{{"messages":[{{{MESSAGE},"pinned_at":20,"pinned_by":"u2"}}],"policy":"admins"}}"#
            )
        );
        let back: PinsBody = serde_json::from_str(&text).expect("round trip");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), text);
        assert_eq!(
            serde_json::to_string(&PinPolicyBody {
                policy: PinPolicy::Members
            })
            .expect("serializes"),
            r#"{"policy":"members"}"#
        );
        for p in [PinPolicy::Members, PinPolicy::Admins] {
            assert_eq!(PinPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(PinPolicy::parse("everyone"), None);
        let asked: PinPolicyRequest =
            serde_json::from_str(r#"{"policy":"everyone"}"#).expect("any text is read");
        assert_eq!(asked.policy, "everyone");
    }

    #[test]
    fn stars_say_when_and_where_the_next_page_starts() {
        let body = StarsBody {
            messages: vec![StarredMessage {
                message: message(),
                starred_at: 30,
            }],
            next: None,
        };
        let text = serde_json::to_string(&body).expect("serializes");
        assert_eq!(
            text,
            format!(r#"{{"messages":[{{{MESSAGE},"starred_at":30}}],"next":null}}"#)
        );
        let back: StarsBody = serde_json::from_str(&text).expect("round trip");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), text);
        let q: StarsQuery = serde_json::from_str(r#"{"before":5}"#).expect("valid");
        assert_eq!((q.before, q.limit), (Some(5), None));
    }
}
