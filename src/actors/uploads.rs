//! UploadSweeper: removes resumable uploads that expired (`media.upload_expiry_secs` without a
//! byte received) together with what they received, and forgets finished ones after the same
//! time. A partial upload is removed only while holding its file lock, and only if it is still
//! expired then, so a `PATCH` in progress is never pulled from under it.

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;

use super::media::UPLOAD_FILE;
use super::periodic::Periodic;
use crate::ids::now_ms;
use crate::media::partial::{PartialError, PartialFile};
use crate::store::{Store, StoreError};

/// Expired uploads looked at per round.
const BATCH: u64 = 100;

/// Starts the sweeper, a few rounds per `expiry` (at least every minute); one per process
/// (several processes sharing a database and `media.dir` are safe: the file lock and the re-check
/// decide).
pub fn start(store: Store, dir: PathBuf, expiry: Duration) {
    let every = (expiry / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
    Periodic::new(every, "sweep expired uploads", move || {
        sweep(store.clone(), dir.clone())
    })
    .start();
}

/// One round: every expired upload, at most [`BATCH`].
async fn sweep(store: Store, dir: PathBuf) -> Result<(), StoreError> {
    for row in store.expired_uploads(now_ms(), BATCH).await? {
        let finished = row.completed_at.is_some() || store.media(&row.id).await?.is_some();
        if finished {
            // The bytes belong to the media item now.
            store.delete_upload(&row.id).await?;
            continue;
        }
        let folder = dir.join(&row.id);
        let path = folder.join(UPLOAD_FILE);
        let held = match actix_web::rt::task::spawn_blocking(move || {
            PartialFile::open_locked(&path)
        })
        .await
        {
            Ok(Ok(held)) => Some(held),
            Ok(Err(PartialError::Locked)) => continue,
            Ok(Err(PartialError::Io(e))) if e.kind() == std::io::ErrorKind::NotFound => None,
            Ok(Err(PartialError::Io(e))) => {
                tracing::warn!(upload = %row.id, error = %e, "cannot open an expired upload");
                continue;
            }
            Err(_) => continue,
        };
        // A PATCH may have moved the expiry between the query and the lock.
        let still_expired = store
            .upload_of(&row.id, &crate::ids::UserId(row.owner_id.clone()))
            .await?
            .is_some_and(|r| r.expires_at < now_ms() && r.completed_at.is_none());
        if !still_expired {
            continue;
        }
        if let Err(e) = tokio::fs::remove_dir_all(&folder).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(upload = %row.id, error = %e, "cannot remove an expired upload");
                continue;
            }
        }
        drop(held);
        store.delete_upload(&row.id).await?;
        tracing::info!(upload = %row.id, "expired upload removed");
    }
    Ok(())
}
