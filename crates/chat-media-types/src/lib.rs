//! The media vocabulary that the storage (`chat-store`, the `media` table) and the media work
//! (`chat-media`, which re-exports all of it) share: what kind an item is, what processing
//! produced, and signed media URLs.
//!
//! It has no codecs: a crate that only stores or links media items builds without FFmpeg or the
//! image libraries.

pub mod urls;

/// What an upload is, as far as the server cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Video,
    Audio,
    File,
}

impl Kind {
    /// The name kept in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::File => "file",
        }
    }

    /// The kind named `s`; anything unknown is a plain file.
    pub fn parse(s: &str) -> Self {
        match s {
            "image" => Self::Image,
            "video" => Self::Video,
            "audio" => Self::Audio,
            _ => Self::File,
        }
    }
}

/// What processing produced. File names are relative to the job's output folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    pub kind: Kind,
    pub mime: String,
    pub content: String,
    pub thumb: Option<String>,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_is_a_file() {
        for k in [Kind::Image, Kind::Video, Kind::Audio, Kind::File] {
            assert_eq!(Kind::parse(k.as_str()), k);
        }
        assert_eq!(Kind::parse("pdf"), Kind::File);
    }
}
