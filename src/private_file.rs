//! Files only the server's user may read (keys, one-time codes).

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `file` atomically (a temp file beside it, then a rename) with mode 0600,
/// creating the folder if needed.
pub fn write(file: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}
