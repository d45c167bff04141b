//! Media work as plain functions: decide what an upload is from its bytes, compress images,
//! transcode audio and video to WebM (VP8 + Opus). Everything here blocks; it runs only on the
//! MediaWorker pool (`actors::media`), never on an async actor or an HTTP worker.
//!
//! Nothing here panics on any input: every failure is a [`MediaError`] whose text is shown to
//! the uploader.

pub mod av;
pub mod images;
pub mod partial;
pub mod scale;
mod settings;

/// The media vocabulary (kinds, outcomes, signed URLs) lives in `chat-media-types`, which the
/// store uses without pulling in the codecs; it is re-exported here whole.
pub use chat_media_types::{urls, Kind, Processed};
pub use settings::MediaSettings;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the bytes of an upload look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub kind: Kind,
    pub mime: String,
    /// Unknown to the sniffer: FFmpeg is asked whether it can demux it, else it is a plain file.
    pub unknown: bool,
}

/// Media types the image pipeline decodes.
const IMAGE_MIMES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Decides the kind from the first bytes (8 KiB) of a file, never from its name or declared type.
pub fn sniff_bytes(head: &[u8]) -> Sniffed {
    let Some(t) = infer::get(head) else {
        return Sniffed {
            kind: Kind::File,
            mime: "application/octet-stream".into(),
            unknown: true,
        };
    };
    let mime = t.mime_type().to_owned();
    let kind = match t.matcher_type() {
        infer::MatcherType::Image if IMAGE_MIMES.contains(&t.mime_type()) => Kind::Image,
        infer::MatcherType::Video => Kind::Video,
        infer::MatcherType::Audio => Kind::Audio,
        _ => Kind::File,
    };
    Sniffed {
        kind,
        mime,
        unknown: false,
    }
}

/// One upload to process.
#[derive(Clone, Debug)]
pub struct Job {
    /// The uploaded bytes.
    pub input: PathBuf,
    /// Folder for the outputs (created by the caller).
    pub out_dir: PathBuf,
    pub sniffed: Sniffed,
    /// Crop square in two sizes.
    pub avatar: bool,
}

/// Why an upload could not be processed; the text is shown to the uploader.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{0}")]
    Rejected(String),
    #[error("processing took longer than {0} seconds")]
    Timeout(u64),
    #[error("the processed file would be larger than {0} bytes")]
    OutputTooLarge(u64),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    pub fn rejected(msg: impl Into<String>) -> Self {
        Self::Rejected(msg.into())
    }
}

/// Reports progress (percent) while a job runs, and enforces its time limit.
pub struct Progress<'a> {
    started: Instant,
    limit: Duration,
    last: Option<u8>,
    report: &'a mut dyn FnMut(u8),
}

impl<'a> Progress<'a> {
    pub fn new(limit: Duration, report: &'a mut dyn FnMut(u8)) -> Self {
        Self {
            started: Instant::now(),
            limit,
            last: None,
            report,
        }
    }

    /// Fails once the job has run longer than its limit.
    pub fn check_time(&self) -> Result<(), MediaError> {
        if self.started.elapsed() > self.limit {
            return Err(MediaError::Timeout(self.limit.as_secs()));
        }
        Ok(())
    }

    /// Reports `percent` (clamped to 99: 100 is the `ready` frame) when it moved by at least 10.
    pub fn set(&mut self, percent: u8) {
        let p = percent.min(99);
        if self.last.is_none_or(|last| p >= last.saturating_add(10)) {
            self.last = Some(p);
            (self.report)(p);
        }
    }
}

/// Name of the kept original of a plain file, inside the media's folder.
pub const FILE_NAME: &str = "file";

/// Processes one upload: images are compressed, audio and video transcoded, anything else kept
/// as it is (moved to its final name). The input file is removed once the outputs exist.
pub fn process(
    job: &Job,
    opts: &MediaSettings,
    report: &mut dyn FnMut(u8),
) -> Result<Processed, MediaError> {
    let mut progress = Progress::new(Duration::from_secs(opts.job_timeout_secs), report);
    progress.set(0);
    let out = match job.sniffed.kind {
        Kind::Image
            if job.sniffed.mime == "image/gif"
                && !job.avatar
                && images::gif_is_animated(&job.input) =>
        {
            av::transcode(job, opts, &mut progress)?
        }
        Kind::Image => images::process(job, opts)?,
        Kind::Video | Kind::Audio => av::transcode(job, opts, &mut progress)?,
        Kind::File if job.sniffed.unknown && av::demuxable(&job.input) => {
            av::transcode(job, opts, &mut progress)?
        }
        Kind::File => keep_file(job)?,
    };
    if out.size > opts.max_output_bytes {
        return Err(MediaError::OutputTooLarge(opts.max_output_bytes));
    }
    if out.content != FILE_NAME {
        // The upload is no longer served once converted; a copy left behind only takes space.
        let _ = std::fs::remove_file(&job.input);
    }
    Ok(out)
}

fn keep_file(job: &Job) -> Result<Processed, MediaError> {
    let target = job.out_dir.join(FILE_NAME);
    if job.input != target {
        std::fs::rename(&job.input, &target)?;
    }
    let size = std::fs::metadata(&target)?.len();
    Ok(Processed {
        kind: Kind::File,
        mime: job.sniffed.mime.clone(),
        content: FILE_NAME.into(),
        thumb: None,
        size,
        width: None,
        height: None,
        duration_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_uses_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff_bytes(png).kind, Kind::Image);
        assert_eq!(sniff_bytes(b"%PDF-1.7\n").mime, "application/pdf");
        let text = sniff_bytes(b"hello, this is text");
        assert!(text.unknown);
        assert_eq!(text.kind, Kind::File);
    }
}
