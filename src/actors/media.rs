//! MediaWorker: a pool of blocking workers (`SyncArbiter`, `media.workers` threads) that run the
//! image and audio/video jobs of `crate::media`. Progress goes to the uploader's sessions as
//! `media` frames straight from the worker thread; the outcome is stored and announced by
//! `MediaPool`, which awaits the worker from the async side.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use actix::prelude::*;

use super::outbox::Deliver;
use super::registry::{DeliverToUsers, RoomRegistry};
use crate::config::MediaSettings;
use crate::ids::UserId;
use crate::media::{self, Job, Processed};
use crate::protocol::{MediaEvent, MediaStatus, ServerFrame};
use crate::store::media::Purpose;
use crate::store::Store;

/// Name of the uploaded bytes inside a media item's folder, until processing is done.
pub const UPLOAD_FILE: &str = "upload";

/// [`media::sniff_bytes`] without blocking: reads the first 8 KiB of `path` through tokio.
pub async fn sniff_upload(path: &std::path::Path) -> std::io::Result<media::Sniffed> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(8192);
    tokio::fs::File::open(path)
        .await?
        .take(8192)
        .read_to_end(&mut head)
        .await?;
    Ok(media::sniff_bytes(&head))
}

/// Process one upload; answered with the outputs or the reason it failed.
#[derive(Message, Debug)]
#[rtype(result = "Result<Processed, String>")]
pub struct Process {
    pub id: String,
    pub owner: UserId,
    pub job: Job,
}

/// One blocking worker thread of the pool.
pub struct MediaWorker {
    opts: MediaSettings,
    registry: Addr<RoomRegistry>,
}

impl Actor for MediaWorker {
    type Context = SyncContext<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        media::av::init();
        // A transcode running on every core must not hold back acks and deliveries (`make
        // bench-media` measured a dm ack p99 of 16 ms idle and 530 ms under two transcodes
        // without it).
        crate::threads::lower_priority(self.opts.worker_nice, "media worker");
        if self.opts.worker_sched_idle {
            crate::threads::idle_policy("media worker");
        }
    }
}

/// Sends a `media` frame to every session of `owner`.
fn announce(registry: &Addr<RoomRegistry>, owner: &UserId, event: MediaEvent) {
    registry.do_send(DeliverToUsers {
        users: vec![owner.clone()],
        frame: Deliver::new(ServerFrame::Media(event)),
        except: None,
    });
}

impl Handler<Process> for MediaWorker {
    type Result = Result<Processed, String>;

    fn handle(&mut self, msg: Process, _ctx: &mut Self::Context) -> Self::Result {
        let span = tracing::info_span!("media_job", media = %msg.id, user = %msg.owner, kind = msg.job.sniffed.kind.as_str());
        let _enter = span.enter();
        let registry = self.registry.clone();
        let (id, owner) = (msg.id.clone(), msg.owner.clone());
        let mut report = move |percent: u8| {
            let event = MediaEvent {
                id: id.clone(),
                status: MediaStatus::Processing,
                progress: Some(percent),
                error: None,
            };
            announce(&registry, &owner, event);
        };
        let started = std::time::Instant::now();
        // The media code returns errors for bad input; this catches bugs in it (or in a codec
        // wrapper) so that one bad file never takes a worker thread down.
        let res = match catch_unwind(AssertUnwindSafe(|| {
            media::process(&msg.job, &self.opts, &mut report)
        })) {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => {
                tracing::error!("media job panicked");
                Err("internal error while processing this file".to_owned())
            }
        };
        match &res {
            Ok(p) => tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                bytes = p.size,
                "media processed"
            ),
            Err(e) => {
                tracing::info!(ms = started.elapsed().as_millis() as u64, error = %e, "media failed")
            }
        }
        res
    }
}

/// The worker pool and what finishing a job needs; cheap to clone.
#[derive(Clone)]
pub struct MediaPool {
    workers: Addr<MediaWorker>,
    store: Store,
    registry: Addr<RoomRegistry>,
    dir: PathBuf,
}

impl MediaPool {
    /// Starts `settings.workers` worker threads (one per core when 0).
    pub fn start(settings: &MediaSettings, store: Store, registry: Addr<RoomRegistry>) -> Self {
        let n = match settings.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let opts = settings.clone();
        let reg = registry.clone();
        let workers = SyncArbiter::start(n, move || MediaWorker {
            opts: opts.clone(),
            registry: reg.clone(),
        });
        Self {
            workers,
            store,
            registry,
            dir: PathBuf::from(&settings.dir),
        }
    }

    /// The folder of media item `id` (ids are generated by the server, never client text).
    pub fn folder(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Processes an upload in the background: the job runs on the pool, then its outcome is
    /// stored and announced to the uploader's sessions (`ready` or `failed`).
    pub fn submit(&self, id: String, owner: UserId, job: Job) {
        let pool = self.clone();
        actix::spawn(async move { pool.run(id, owner, job).await });
    }

    async fn run(self, id: String, owner: UserId, job: Job) {
        let folder = job.out_dir.clone();
        crate::metrics::MEDIA_QUEUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = self
            .workers
            .send(Process {
                id: id.clone(),
                owner: owner.clone(),
                job,
            })
            .await;
        crate::metrics::MEDIA_QUEUE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = match outcome {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(media = %id, error = %e, "media workers unreachable");
                Err("the media workers are unavailable".to_owned())
            }
        };
        if outcome.is_err() {
            // Nothing of a failed upload is served; keep no bytes of it. Best effort: a folder
            // left behind holds nothing anyone can fetch.
            let _ = tokio::fs::remove_dir_all(&folder).await;
        }
        if let Err(e) = self.store.finish_media(&id, &outcome).await {
            tracing::error!(media = %id, error = %e, "cannot record the media outcome");
        }
        let event = match outcome {
            Ok(_) => MediaEvent {
                id,
                status: MediaStatus::Ready,
                progress: Some(100),
                error: None,
            },
            Err(e) => MediaEvent {
                id,
                status: MediaStatus::Failed,
                progress: None,
                error: Some(e),
            },
        };
        announce(&self.registry, &owner, event);
    }

    /// Submits again the uploads a previous run left `processing` (their upload is still on
    /// disk); marks the others failed.
    pub async fn resume(&self) {
        let rows = match self.store.media_in_progress().await {
            Ok(r) => r,
            Err(e) => return tracing::error!(error = %e, "cannot list unfinished media"),
        };
        for row in rows {
            let folder = self.folder(&row.id);
            let input = folder.join(UPLOAD_FILE);
            let sniffed = match sniff_upload(&input).await {
                Ok(s) => s,
                Err(_) => {
                    let failed = Err("interrupted by a server restart; upload again".into());
                    if let Err(e) = self.store.finish_media(&row.id, &failed).await {
                        // It stays `processing`; the next start tries again.
                        tracing::error!(media = %row.id, error = %e, "cannot mark an interrupted upload failed");
                    }
                    continue;
                }
            };
            tracing::info!(media = %row.id, "resuming media processing after a restart");
            let avatar = Purpose::stored(&row.purpose) == Purpose::Avatar;
            let job = Job {
                input,
                out_dir: folder,
                sniffed,
                avatar,
            };
            self.submit(row.id, UserId(row.owner_id), job);
        }
    }
}
