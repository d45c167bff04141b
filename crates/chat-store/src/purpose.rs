//! What an upload is for. The `purpose` columns of `media` and `upload` stay strings; this is
//! the type on either side of them, converted here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an upload is for, named as on the wire (`?purpose=`, tus `Upload-Metadata`) and in the
/// `purpose` column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Shared in messages; the default when a client names none.
    #[default]
    Attachment,
    /// A person's or a group's picture (square crops), shown to anyone once in use.
    Avatar,
}

/// A client named a purpose this server does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("purpose: attachment or avatar")]
pub struct UnknownPurpose;

impl Purpose {
    /// The name on the wire and in the column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Attachment => "attachment",
            Self::Avatar => "avatar",
        }
    }

    /// The purpose a client asked for; none named is an attachment.
    pub fn requested(name: Option<&str>) -> Result<Self, UnknownPurpose> {
        name.map_or(Ok(Self::default()), str::parse)
    }

    /// The purpose kept in a row. Only names this type wrote are stored; anything else reads as
    /// an attachment, the purpose that shows an item to fewer people.
    pub fn stored(column: &str) -> Self {
        column.parse().unwrap_or_default()
    }
}

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "attachment" => Ok(Self::Attachment),
            "avatar" => Ok(Self::Avatar),
            _ => Err(UnknownPurpose),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_same_on_the_wire_in_serde_and_in_the_column() {
        for p in [Purpose::Attachment, Purpose::Avatar] {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).ok(),
                Some(format!("\"{}\"", p.as_str()))
            );
            assert_eq!(Purpose::stored(p.as_str()), p);
        }
        assert_eq!(Purpose::Attachment.as_str(), "attachment");
        assert_eq!(Purpose::Avatar.as_str(), "avatar");
    }

    #[test]
    fn a_client_gets_an_attachment_by_default_and_an_error_for_an_unknown_name() {
        assert_eq!(Purpose::requested(None), Ok(Purpose::Attachment));
        assert_eq!(Purpose::requested(Some("avatar")), Ok(Purpose::Avatar));
        assert_eq!(Purpose::requested(Some("Avatar")), Err(UnknownPurpose));
        assert_eq!(Purpose::requested(Some("")), Err(UnknownPurpose));
        assert_eq!(UnknownPurpose.to_string(), "purpose: attachment or avatar");
        assert!(serde_json::from_str::<Purpose>("\"banner\"").is_err());
    }

    #[test]
    fn an_unknown_stored_name_reads_as_an_attachment() {
        assert_eq!(Purpose::stored("banner"), Purpose::Attachment);
        assert_eq!(Purpose::stored("AVATAR"), Purpose::Attachment);
    }
}
