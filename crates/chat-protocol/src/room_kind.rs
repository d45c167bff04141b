//! The kind of a room, one closed set: `"dm"` or `"group"` on the wire (`hello` rooms, the HTTP
//! room objects) and in the database (`rooms.kind`). An enum rather than a string so a typo in a
//! comparison cannot compile, and a value the server does not know is refused where it is read
//! instead of passing as "not a dm".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A one-to-one conversation or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Two members (one when a user talks to themselves); no roles that manage others.
    Dm,
    /// Any number of members, owners and admins manage them.
    Group,
}

impl RoomKind {
    /// The string on the wire and in `rooms.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Dm => "dm",
            RoomKind::Group => "group",
        }
    }

    /// Whether this is a one-to-one conversation.
    pub fn is_dm(self) -> bool {
        self == RoomKind::Dm
    }
}

impl fmt::Display for RoomKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A room kind string that is neither `dm` nor `group`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown room kind {0:?}")]
pub struct UnknownRoomKind(pub String);

impl FromStr for RoomKind {
    type Err = UnknownRoomKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dm" => Ok(RoomKind::Dm),
            "group" => Ok(RoomKind::Group),
            other => Err(UnknownRoomKind(other.to_owned())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn room_kind_strings_are_the_wire_and_database_strings() {
        for (kind, s) in [(RoomKind::Dm, "dm"), (RoomKind::Group, "group")] {
            assert_eq!(kind.as_str(), s);
            assert_eq!(kind.to_string(), s);
            assert_eq!(s.parse::<RoomKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<RoomKind>(&json).unwrap(), kind);
            // MessagePack (frames, and the connect cache in Redis) holds the same string, so an
            // entry written when the kind was a `String` still reads.
            let packed = rmp_serde::to_vec_named(&kind).unwrap();
            assert_eq!(packed, rmp_serde::to_vec_named(s).unwrap());
            assert_eq!(rmp_serde::from_slice::<RoomKind>(&packed).unwrap(), kind);
        }
    }

    #[test]
    fn unknown_room_kinds_are_refused() {
        for s in ["", "DM", "Group", "channel"] {
            assert_eq!(s.parse::<RoomKind>(), Err(UnknownRoomKind(s.into())));
            assert!(serde_json::from_str::<RoomKind>(&format!("\"{s}\"")).is_err());
        }
    }
}
