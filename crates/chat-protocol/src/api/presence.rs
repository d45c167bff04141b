//! Presence over HTTP (`GET /api/presence`), for conversations created after the client
//! connected: the `presence` frames only announce changes, and the ones after `hello`.

use serde::{Deserialize, Serialize};

use crate::PresenceOut;

/// `GET /api/presence` → `{presence: [{user, online, last_seen}]}`: everyone who shares a
/// conversation with the caller, except people who blocked the caller and deleted accounts;
/// `last_seen` is `null` while online.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresenceBody {
    pub presence: Vec<PresenceOut>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn last_seen_is_null_while_online() {
        let body = PresenceBody {
            presence: vec![
                PresenceOut {
                    user: UserId("u1".into()),
                    online: true,
                    last_seen: None,
                },
                PresenceOut {
                    user: UserId("u2".into()),
                    online: false,
                    last_seen: Some(5),
                },
            ],
        };
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"presence":[{"user":"u1","online":true,"last_seen":null},
                {"user":"u2","online":false,"last_seen":5}]}"#,
        )
        .expect("valid JSON");
        assert_eq!(serde_json::to_value(&body).expect("serializes"), expected);
        let back: PresenceBody = serde_json::from_value(expected).expect("round trip");
        assert_eq!(back.presence.len(), 2);
        assert_eq!(back.presence[1].last_seen, Some(5));
    }
}
