//! The connect path's cache, kept in Redis when there is one: what every `/ws` connect needs
//! before `hello` and that changes only when an account, a token, a membership or a block does
//! (the token's user and settings, whom presence is pushed to). A crowd reconnecting after a
//! deploy or a network blip then costs the database nothing for these (issue 17), and people can
//! connect while it stalls (issue 19).
//!
//! Validity is one generation counter, `PREFIX:cache:gen`. Every write that could change a cached
//! answer (see `Store::cache_changed`) increments it after its SQL commit; an entry is stored with
//! the generation read *before* the SQL read that computed it, and used only while that is still
//! the current generation. Whatever the interleaving, an entry computed from data older than a
//! commit carries a generation older than the bump that followed the commit, so it is never used.
//! Several nodes share the counter, so a change on one node invalidates the others' entries too.
//! Entries also expire (`redis.cache_ttl_secs`, and never later than the token they describe).
//!
//! The cache is an optimisation only: when Redis fails to answer a cache read, the answer comes
//! from SQL; when it fails to take a bump, the change is logged (entries then live at most their
//! TTL) — the write itself has committed and stands.

use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// What a cached answer is stored as.
#[derive(Serialize, Deserialize)]
struct Entry<T> {
    /// The generation read before the answer was computed.
    gen: i64,
    value: T,
}

/// Tries to bump the generation before giving up (and logging).
const BUMP_TRIES: usize = 3;

impl Store {
    /// `compute`'s answer under `what`/`id`: from the cache when it holds one computed under the
    /// current generation, else computed and cached for `ttl(&answer)` seconds (`None`: not
    /// cached, e.g. a refusal). Without Redis, or with `redis.cache_ttl_secs = 0`, just `compute`.
    pub(super) async fn cached<T, F, Fut>(
        &self,
        what: &str,
        id: &str,
        ttl: impl Fn(&T) -> Option<u64>,
        compute: F,
    ) -> Result<T, StoreError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let Some(buffer) = self.buffer.as_ref().filter(|_| self.cache_ttl_secs > 0) else {
            return compute().await;
        };
        let key = buffer.key(&format!("cache:{what}:{id}"));
        let gen_key = buffer.key("cache:gen");
        let looked: Result<(Option<i64>, Option<Vec<u8>>), _> = async {
            let mut c = buffer.local().await?;
            let v: (Option<i64>, Option<Vec<u8>>) = redis::cmd("MGET")
                .arg(&gen_key)
                .arg(&key)
                .query_async(&mut c)
                .await?;
            Ok::<_, super::buffer::BufferError>(v)
        }
        .await;
        let gen = match looked {
            Ok((gen, found)) => {
                let gen = gen.unwrap_or(0);
                if let Some(entry) = found
                    .and_then(|b| rmp_serde::from_slice::<Entry<T>>(&b).ok())
                    .filter(|e| e.gen == gen)
                {
                    return Ok(entry.value);
                }
                Some(gen)
            }
            Err(e) => {
                tracing::debug!(error = %e, what, "cache unavailable; asking the database");
                None
            }
        };
        let value = compute().await?;
        if let (Some(gen), Some(secs)) = (gen, ttl(&value)) {
            let secs = secs.min(self.cache_ttl_secs);
            if secs > 0 {
                self.cache_put(&key, gen, &value, secs).await;
            }
        }
        Ok(value)
    }

    async fn cache_put<T: Serialize>(&self, key: &str, gen: i64, value: &T, secs: u64) {
        let Some(buffer) = &self.buffer else { return };
        let Ok(bytes) = rmp_serde::to_vec_named(&Entry { gen, value }) else {
            return;
        };
        let stored: Result<(), _> = async {
            let mut c = buffer.local().await?;
            let () = c.set_ex(key, bytes, secs).await?;
            Ok::<_, super::buffer::BufferError>(())
        }
        .await;
        if let Err(e) = stored {
            tracing::debug!(error = %e, "could not cache an answer");
        }
    }

    /// Called after every committed write that can change a cached answer (accounts, tokens,
    /// settings, memberships, room names, blocks): no entry computed before it is used again.
    pub(crate) async fn cache_changed(&self) {
        let Some(buffer) = &self.buffer else { return };
        let gen_key = buffer.key("cache:gen");
        let mut last = None;
        for _ in 0..BUMP_TRIES {
            let bumped: Result<i64, _> = async {
                let mut c = buffer.local().await?;
                Ok::<_, super::buffer::BufferError>(c.incr(&gen_key, 1).await?)
            }
            .await;
            match bumped {
                Ok(_) => return,
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            tracing::error!(error = %e, ttl_secs = self.cache_ttl_secs,
                "could not invalidate the connect cache: entries may be stale until they expire");
        }
    }
}
