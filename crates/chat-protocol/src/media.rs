//! The media objects of protocol v1: what `GET /api/media/{id}` answers, what each item of a
//! message's `attachments` is, and the `media` frame that reports processing to the uploader.

use serde::{Deserialize, Serialize};

/// Where an upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    Processing,
    Ready,
    Failed,
}

impl MediaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => Self::Processing,
        }
    }
}

/// One media item: the answer of `GET /api/media/{id}` and each item of `attachments`. `url` and
/// `thumb_url` are signed, expiring paths on this server (usable as `<img src>`); `url` is null
/// until the item is ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaOut {
    pub id: String,
    pub status: MediaStatus,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    pub mime: String,
    pub size: i64,
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The uploader's file name (sanitized).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why processing failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `media` frame: progress and outcome of an upload, sent to the uploader's sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediaEvent {
    pub id: String,
    pub status: MediaStatus,
    /// Percent done, while processing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
