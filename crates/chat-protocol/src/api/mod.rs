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
