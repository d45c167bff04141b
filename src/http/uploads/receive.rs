//! Streams the body of a tus `PATCH` into the upload's partial file. The bytes are written on a
//! blocking thread that owns the file (and its lock), fed through a small channel: if the
//! connection drops, or the request's future is dropped, the thread still writes everything
//! that arrived, makes it durable and releases the lock, so the offset a later `HEAD` reports is
//! exactly what was received.

use actix_web::web;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::media::partial::PartialFile;

/// Chunks queued toward the writing thread.
const CHUNKS_IN_FLIGHT: usize = 16;

/// How a request body ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// All of it arrived.
    Complete,
    /// The connection dropped or the body was cut: what arrived is kept.
    Interrupted,
    /// It went past the upload's length: none of this request's bytes are kept.
    TooLong,
}

/// What a `PATCH` left behind: the file (still locked), its new length, and how the body ended.
pub struct Received {
    pub file: PartialFile,
    pub offset: u64,
    pub ended: Ended,
}

enum Feed {
    Chunk(Bytes),
    /// Drop what this request wrote.
    Abort,
}

/// Appends the body to `file` (whose length is `start`), refusing to go more than `room` bytes
/// past it. The payload is left where reading stopped (see [`Ended::TooLong`]).
pub async fn receive(
    file: PartialFile,
    start: u64,
    room: u64,
    payload: &mut web::Payload,
) -> std::io::Result<Received> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Feed>(CHUNKS_IN_FLIGHT);
    let writer = actix_web::rt::task::spawn_blocking(move || {
        let mut file = file;
        let mut written = Ok(());
        while let Some(feed) = rx.blocking_recv() {
            written = match feed {
                Feed::Chunk(bytes) => file.append(&bytes),
                Feed::Abort => file.truncate(start),
            };
            if written.is_err() {
                break;
            }
        }
        let offset = written.and_then(|()| file.sync()).and_then(|()| file.len());
        (file, offset)
    });
    let mut got: u64 = 0;
    let mut ended = Ended::Complete;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(bytes) => {
                got = got.saturating_add(bytes.len() as u64);
                if got > room {
                    // The writer may have stopped already; either way nothing more is written.
                    let _ = tx.send(Feed::Abort).await;
                    ended = Ended::TooLong;
                    break;
                }
                if tx.send(Feed::Chunk(bytes)).await.is_err() {
                    // The writer stopped on an error; it is reported below.
                    break;
                }
            }
            Err(e) => {
                tracing::info!(error = %e, bytes = got, "upload body cut short; keeping what arrived");
                ended = Ended::Interrupted;
                break;
            }
        }
    }
    drop(tx);
    let (file, offset) = writer.await.map_err(std::io::Error::other)?;
    Ok(Received {
        file,
        offset: offset?,
        ended,
    })
}
