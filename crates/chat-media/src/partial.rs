//! The received part of a resumable upload: a file that only grows at its end, locked (an OS
//! file lock) while one request writes to it. Its length is the upload's offset, so what arrived
//! before a dropped connection or a server crash counts with no other bookkeeping, and a lock
//! held by a process that died is released by the kernel.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// Why a partial upload could not be opened for writing.
#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error("another request is writing to this upload")]
    Locked,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A partial upload opened for appending, holding its exclusive lock until dropped.
#[derive(Debug)]
pub struct PartialFile {
    file: File,
}

impl PartialFile {
    /// Creates the empty file of a new upload (fails if it exists).
    pub fn create(path: &Path) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?
            .sync_all()
    }

    /// Opens `path` with its exclusive lock; [`PartialError::Locked`] if someone holds it.
    pub fn open_locked(path: &Path) -> Result<Self, PartialError> {
        let file = OpenOptions::new().write(true).open(path)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Self { file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(PartialError::Locked),
            Err(e) => Err(PartialError::Io(e.into())),
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Whether nothing was received yet.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Appends `data` at the end.
    pub fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::End(0))?;
        self.file.write_all(data)
    }

    /// Cuts the file back to `len` bytes (drops what a refused request wrote).
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    /// Makes what was written durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Bytes received so far of the upload at `path`, without taking its lock.
pub fn received(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_writer_at_a_time_and_length_is_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        PartialFile::create(&path).unwrap();
        let mut a = PartialFile::open_locked(&path).unwrap();
        assert!(matches!(
            PartialFile::open_locked(&path),
            Err(PartialError::Locked)
        ));
        a.append(b"hello ").unwrap();
        a.append(b"world").unwrap();
        assert_eq!(a.len().unwrap(), 11);
        a.truncate(6).unwrap();
        drop(a);
        assert_eq!(received(&path).unwrap(), 6);
        let b = PartialFile::open_locked(&path).unwrap();
        assert!(!b.is_empty().unwrap());
    }
}
