//! The first admin: while no account is an admin, the server mints a one-time code at start,
//! logs it (`warn`) and writes it to `admin_bootstrap_code` in the data directory (the parent of
//! `media.dir`, mode 0600). A signed-in user who sends it to `POST /api/admin/bootstrap` becomes
//! an admin, once (see `crate::http::admin::bootstrap`). `chat-server admin grant` still works,
//! and voids the code too. Nobody becomes an admin by registering first any more.
//!
//! Only the code's SHA-256 is stored, one row per code. A restart with the file still there and
//! its code still waiting prints the same code again. In cluster mode each node with its own data
//! directory mints its own code (nodes sharing one share the code): any of them works, and the
//! first redeemed voids them all, so two people cannot both become admin this way.

use std::path::{Path, PathBuf};

use crate::store::{Store, StoreError};
use crate::transport::hash_token;

/// The file name, in the data directory.
pub const FILE_NAME: &str = "admin_bootstrap_code";

/// Why the code could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write {file}: {source}")]
    File {
        file: String,
        source: std::io::Error,
    },
}

/// Where the code is written: beside the media directory (the data directory).
pub fn code_file(media_dir: &str) -> PathBuf {
    Path::new(media_dir)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(FILE_NAME)
}

/// At start: with an admin, voids any code left and removes the file; without one, makes sure a
/// code of this node is waiting (the file's, or a new one) and announces it. Returns the code
/// when there is one.
pub async fn prepare(store: &Store, file: &Path) -> Result<Option<String>, BootstrapError> {
    if store.has_admin().await? {
        store.clear_bootstrap_codes().await?;
        remove(file);
        return Ok(None);
    }
    let kept = std::fs::read_to_string(file)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let code = match kept {
        Some(code) if store.bootstrap_code_pending(&hash_token(&code)).await? => code,
        _ => {
            let code = crate::ids::random_urlsafe(18);
            store.add_bootstrap_code(&hash_token(&code)).await?;
            crate::private_file::write(file, &format!("{code}\n")).map_err(|source| {
                BootstrapError::File {
                    file: file.display().to_string(),
                    source,
                }
            })?;
            code
        }
    };
    tracing::warn!(
        code = %code,
        file = %file.display(),
        "no admin yet: sign in and send this one-time code to POST /api/admin/bootstrap \
         (or use the admin page) to become the admin"
    );
    Ok(Some(code))
}

/// Removes the code file (the code was used or is void); a missing file is fine.
pub fn remove(file: &Path) {
    if let Err(e) = std::fs::remove_file(file) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %file.display(), error = %e, "cannot remove the admin bootstrap code file");
        }
    }
}
