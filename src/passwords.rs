//! Password hashing (Argon2id) on its own small pool: `auth.hash_threads` threads and a queue of
//! `auth.hash_queue` waiting passwords. Argon2 is slow and memory-hungry on purpose, so a flood
//! of logins or sign-ups must neither take actix's shared blocking pool (file serving, media
//! work) nor queue without bound: when the queue is full the request is refused at once with
//! [`ChatError::Overloaded`] (503 with `Retry-After`).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::oneshot;

use crate::error::ChatError;

/// How long a client refused for a full queue is asked to wait, in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// One piece of work for the pool.
enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Option<String>>,
    },
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
}

/// The hashing pool; cheap to clone. Its threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordPool {
    jobs: SyncSender<Job>,
}

impl PasswordPool {
    /// Starts `threads` hashing threads (0 = one per core) behind a queue of `queue` jobs.
    pub fn start(threads: usize, queue: usize) -> Self {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (jobs, rx) = sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// The Argon2id PHC hash of `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, ChatError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer
            .await
            .map_err(|_| ChatError::Internal)?
            .ok_or(ChatError::Internal)
    }

    /// Whether `password` matches the PHC hash `phc` (false for an empty or malformed one).
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, ChatError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: password.to_owned(),
            phc: phc.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| ChatError::Internal)
    }

    fn submit(&self, job: Job) -> Result<(), ChatError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => {
                crate::metrics::inc(&crate::metrics::PASSWORD_JOBS_SHED);
                ChatError::Overloaded {
                    retry_after_secs: BUSY_RETRY_AFTER_SECS,
                }
            }
            TrySendError::Disconnected(_) => ChatError::Internal,
        })
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while hashing.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Hash { password, reply }) => {
                // The caller may have given up waiting; then nobody needs the hash.
                let _ = reply.send(hash_now(&password));
            }
            Ok(Job::Verify {
                password,
                phc,
                reply,
            }) => {
                // As above: an abandoned request needs no answer.
                let _ = reply.send(verify_now(&password, &phc));
            }
            Err(_) => return,
        }
    }
}

/// Hashes on the calling thread (for the pool's threads, and the one-off dummy hash).
pub fn hash_now(password: &str) -> Option<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .ok()
}

fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}
