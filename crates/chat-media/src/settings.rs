//! `[media]` of the server's configuration: what the media functions and the MediaWorker pool
//! are told (sizes, qualities, limits), with the defaults of `config.toml`.

use serde::Deserialize;

/// `[media]`
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct MediaSettings {
    /// Where uploads and their processed forms are stored.
    pub dir: String,
    /// Largest accepted upload in bytes; a larger one gets 413 and nothing is kept.
    pub max_upload_bytes: u64,
    /// Most bytes of media one user may have stored (each item counted at its recorded size:
    /// the upload's, then the processed result's); an upload that would go past it gets 413.
    /// 0: no quota.
    pub quota_bytes_per_user: u64,
    /// Threads of the MediaWorker pool; 0 means one per core.
    pub workers: usize,
    /// Nice value (0-19) of the MediaWorker threads: transcoding uses idle CPU freely but yields
    /// it to chat work (acks, deliveries) when both want it. 0 leaves them at the server's own.
    pub worker_nice: i32,
    /// Run the MediaWorker threads under Linux's `SCHED_IDLE` policy as well: they then take
    /// only CPU time nothing else wants and are preempted at once when a chat thread wakes up.
    /// On a machine kept busy by other work a transcode may then wait up to
    /// `job_timeout_secs` and fail; false leaves only `worker_nice`.
    pub worker_sched_idle: bool,
    /// Images are scaled down so that their longer edge is at most this many pixels.
    pub image_max_edge: u32,
    /// Longer edge of image thumbnails and video posters, in pixels.
    pub thumb_edge: u32,
    /// Edge of the two square avatar sizes, in pixels (content, then thumbnail).
    pub avatar_size: u32,
    pub avatar_thumb_size: u32,
    /// Images with more pixels than this are refused before decoding (decompression bombs).
    pub image_max_pixels: u64,
    /// JPEG quality of re-encoded images and thumbnails (1-100).
    pub jpeg_quality: u8,
    /// Videos are scaled down to at most this height, in pixels.
    pub video_max_height: u32,
    /// Highest video bitrate of a transcoded video, in kbit/s.
    pub video_bitrate_kbps: u32,
    /// Opus bitrate of transcoded audio (voice notes and video soundtracks), in kbit/s.
    pub audio_bitrate_kbps: u32,
    /// libvpx `cpu-used` (0-16): higher is faster and a little worse.
    pub video_cpu_used: u32,
    /// A job running longer than this many seconds fails.
    pub job_timeout_secs: u64,
    /// A processed output larger than this many bytes fails the job.
    pub max_output_bytes: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Signed media URLs stay valid between this many seconds and twice as long.
    pub url_ttl_secs: u64,
    /// Key that signs media URLs. Empty: a random key per process start (URLs handed out before
    /// a restart stop working; give several server processes the same key).
    pub url_secret: String,
    /// A resumable upload (`/api/uploads/`, tus) that receives no byte for this many seconds is
    /// removed with what it received (tus expiration; `Upload-Expires` tells the client when).
    pub upload_expiry_secs: u64,
    /// An upload never attached to a message nor used as a profile's or group's avatar is
    /// deleted (row and files) this many seconds after it was uploaded.
    pub unattached_ttl_secs: u64,
}

impl std::fmt::Debug for MediaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything but the URL key.
        f.debug_struct("MediaSettings")
            .field("dir", &self.dir)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("workers", &self.workers)
            .field(
                "url_secret",
                &if self.url_secret.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .finish_non_exhaustive()
    }
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            dir: "data/media".into(),
            max_upload_bytes: 100 * 1024 * 1024,
            quota_bytes_per_user: 5 * 1024 * 1024 * 1024,
            workers: 0,
            worker_nice: 10,
            worker_sched_idle: true,
            image_max_edge: 2048,
            thumb_edge: 320,
            avatar_size: 512,
            avatar_thumb_size: 96,
            image_max_pixels: 50_000_000,
            jpeg_quality: 82,
            video_max_height: 720,
            video_bitrate_kbps: 1500,
            audio_bitrate_kbps: 64,
            video_cpu_used: 4,
            job_timeout_secs: 600,
            max_output_bytes: 512 * 1024 * 1024,
            max_attachments: 10,
            url_ttl_secs: 3600,
            url_secret: String::new(),
            upload_expiry_secs: 86_400,
            unattached_ttl_secs: 86_400,
        }
    }
}
