//! Media uploads. `GET /api/media/{id}` answers the protocol's `MediaOut`, as `media` frames do.

use serde::{Deserialize, Serialize};

use crate::MediaStatus;

/// `POST /api/media?purpose=` → 202 `{id, status: "processing"}`: the upload is stored and being
/// processed; a `media` frame tells the uploader's sessions when it is ready or failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAccepted {
    pub id: String,
    pub status: MediaStatus,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_upload_is_processing() {
        let body = UploadAccepted {
            id: "m1".into(),
            status: MediaStatus::Processing,
        };
        let text = serde_json::to_string(&body).expect("serializes");
        assert_eq!(text, r#"{"id":"m1","status":"processing"}"#);
        let back: UploadAccepted = serde_json::from_str(&text).expect("round trip");
        assert_eq!(back, body);
    }
}
