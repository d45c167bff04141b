//! MediaSweeper: deletes uploads that were never attached (`media.unattached_ttl_secs` after
//! their upload), rows and files. What counts as attached, and why a `send` racing the sweep
//! is safe, is [`Store::delete_unattached_media`]'s doc; when in doubt the item is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::prelude::*;

use super::periodic::Periodic;
use crate::ids::now_ms;
use crate::store::{Store, StoreError};

/// Candidates looked at per round (each costs a few scans: avatars, stored messages).
const BATCH: u64 = 100;

/// Starts the sweeper, a few rounds per `ttl` (at least every hour); one per process (several
/// processes sharing a database and `media.dir` are safe: the row is deleted by one conditional
/// statement, and only its deleter removes the files).
pub fn start(store: Store, dir: PathBuf, ttl: Duration) {
    let every = (ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(3600));
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    Periodic::new(every, "sweep unattached media", move || {
        let cutoff = now_ms().saturating_sub(ttl_ms);
        sweep_unattached(store.clone(), dir.clone(), cutoff)
    })
    .start();
}

/// One round: deletes at most `BATCH` unattached media items uploaded before `cutoff` (ms
/// since the epoch), their rows (with a finished tus upload's row) and their folders under
/// `dir`. Returns the ids deleted.
pub async fn sweep_unattached(
    store: Store,
    dir: PathBuf,
    cutoff: i64,
) -> Result<Vec<String>, StoreError> {
    let mut deleted = Vec::new();
    for id in store.unattached_media(cutoff, BATCH).await? {
        if !store.delete_unattached_media(&id, cutoff).await? {
            continue;
        }
        // A finished resumable upload keeps a row with the media's id until it expires.
        store.delete_upload(&id).await?;
        remove_folder(&dir, &id).await;
        tracing::info!(media = %id, "unattached media removed");
        deleted.push(id);
    }
    Ok(deleted)
}

/// Removes `dir/<id>` on a blocking thread. The row is already gone, so a failure only leaves
/// files nothing points to: logged, not retried.
async fn remove_folder(dir: &Path, id: &str) {
    let folder = dir.join(id);
    let removed =
        actix_web::rt::task::spawn_blocking(move || std::fs::remove_dir_all(folder)).await;
    match removed {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(Err(e)) => {
            tracing::error!(media = %id, error = %e, "cannot remove the files of unattached media")
        }
        Err(e) => {
            tracing::error!(media = %id, error = %e, "the removal of unattached media's files did not finish")
        }
    }
}
