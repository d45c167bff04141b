//! One server per key prefix unless they run as a cluster: two plain servers on one Redis prefix
//! would both count the same rooms' seqs (each from its own memory) and overwrite each other's
//! messages. A plain server holds the lease `PREFIX:owner` (its consumer name, renewed every third
//! of `redis.owner_ttl_ms`) and refuses to start while another plain server holds it or a cluster
//! node is alive on the prefix; a cluster node refuses to start while a plain server holds it.
//! The consumer name is the identity, so a server restarted after a crash takes its lease back at
//! once (consumer names must be unique per server anyway: see `redis.consumer`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::buffer::{BufferError, RedisBuffer};

/// Why a server may not run on this prefix.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "another server ({0}) runs on this Redis prefix without cluster.enabled; \
         stop it, use another redis.prefix, or enable cluster mode on every node"
    )]
    Taken(String),
    #[error(
        "cluster node {0} runs on this Redis prefix; set cluster.enabled (and a unique \
         cluster.node_id) to join it, or use another redis.prefix"
    )]
    ClusterRunning(String),
    #[error(transparent)]
    Redis(#[from] BufferError),
}

/// KEYS: owner. ARGV: me.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"#;

/// KEYS: owner, nodes. ARGV: me, ttl (ms), prefix.
const CLAIM: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return {'taken', cur} end
for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[3] .. ':node:' .. n .. ':alive') == 1 then return {'cluster', n} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'ok', ''}
"#;

impl RedisBuffer {
    /// Takes or renews the plain server's lease as `me` for `ttl_ms`.
    pub async fn claim_owner(&self, me: &str, ttl_ms: u64) -> Result<(), OwnerError> {
        let script = redis::Script::new(CLAIM);
        let mut inv = script.key(self.key("owner"));
        inv.key(self.key("nodes"))
            .arg(me)
            .arg(ttl_ms.max(1))
            .arg(self.key("").trim_end_matches(':'));
        let (status, who): (String, String) = self.invoke(&inv).await?;
        match status.as_str() {
            "taken" => Err(OwnerError::Taken(who)),
            "cluster" => Err(OwnerError::ClusterRunning(who)),
            _ => Ok(()),
        }
    }

    /// Gives the lease up (a server stopping), if `me` still holds it.
    pub async fn release_owner(&self, me: &str) -> Result<(), OwnerError> {
        let script = redis::Script::new(RELEASE);
        let mut inv = script.key(self.key("owner"));
        inv.arg(me);
        let _: i64 = self.invoke(&inv).await?;
        Ok(())
    }

    /// For a cluster node: no plain server holds the prefix.
    pub async fn check_no_owner(&self) -> Result<(), OwnerError> {
        let mut c = self.local().await?;
        let holder: Option<String> = redis::cmd("GET")
            .arg(self.key("owner"))
            .query_async(&mut c)
            .await
            .map_err(BufferError::from)?;
        match holder {
            Some(h) => Err(OwnerError::Taken(h)),
            None => Ok(()),
        }
    }

    /// Renews the lease every third of `ttl_ms` until `released` is set; if another server took
    /// the prefix meanwhile (the lease lapsed), this one stops at once rather than write beside
    /// it. Redis errors are retried at the next renewal.
    pub fn keep_owner(self, me: String, ttl_ms: u64, released: Arc<AtomicBool>) {
        tokio::task::spawn_local(async move {
            let every = std::time::Duration::from_millis((ttl_ms / 3).max(100));
            loop {
                tokio::time::sleep(every).await;
                if released.load(Ordering::Relaxed) {
                    return;
                }
                match self.claim_owner(&me, ttl_ms).await {
                    Ok(()) => {}
                    Err(OwnerError::Redis(e)) => {
                        tracing::warn!(error = %e, "could not renew the Redis prefix lease")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "lost the Redis prefix to another server; stopping");
                        std::process::exit(78);
                    }
                }
            }
        });
    }
}
