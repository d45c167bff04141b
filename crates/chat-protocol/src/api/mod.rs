//! Bodies of the HTTP API (`/api/...`), one module per domain: what the server answers
//! (`Serialize`) and what a client sends (`Deserialize`), so that the server, `chat-cli` and the
//! tests read and write the same types. Field names and shapes are the published contract of
//! `DESIGN.md`; the doc of each type names its route.

pub mod admin;
pub mod auth;
pub mod curation;
pub mod invitations;
pub mod media;
pub mod oauth;
pub mod people;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod search;
pub mod verify;

use serde::{Deserialize, Deserializer};

/// For an optional field where a missing field (`None`) and an explicit `null` (`Some(None)`)
/// mean different things ("leave as is" against "clear"): use with
/// `#[serde(default, deserialize_with = "chat_protocol::api::nullable")]`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What the body tests of this module share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::ids::{MessageId, RoomId, UserId};
    use crate::MessageOut;

    /// A plain message `m1` of `u1` in room `r1`, with client id `c1`.
    pub(crate) fn message(seq: i64, body: &str, ts: i64) -> MessageOut {
        MessageOut {
            room: RoomId("r1".into()),
            id: MessageId("m1".into()),
            seq,
            from: UserId("u1".into()),
            body: body.into(),
            attachments: Vec::new(),
            reply_to: None,
            client_id: "c1".into(),
            ts,
            edited_at: None,
            deleted: false,
            reactions: Default::default(),
            mentions: Vec::new(),
            quote: None,
            forwarded: false,
        }
    }
}
