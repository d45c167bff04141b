//! Presence across nodes, in Redis:
//!
//! - `{prefix}:online:{user}`: a hash node → number of the user's open sessions on that node; the
//!   user is online while it exists (a field is removed when its count reaches 0, and the hash
//!   with its last field);
//! - `{prefix}:node:{node}:users`: the users with sessions on a node (to clean up after it);
//! - `{prefix}:node:{node}:alive`: expires `cluster.node_ttl_ms` after the node's last heartbeat;
//! - `{prefix}:nodes`: the nodes that registered.
//!
//! Every live node sweeps, on each heartbeat, the nodes whose `alive` key is gone: one script per
//! dead node removes its fields atomically and returns the users left with no session anywhere,
//! so exactly one sweeper announces them offline. A node also sweeps its own entries at start
//! (left by a previous run killed without cleaning up).

use redis::Script;

use super::{Cluster, ClusterError};
use crate::ids::UserId;

const SESSION_UP: &str = r#"
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total
"#;

const SESSION_DOWN: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  local c = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
  if c <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('SREM', KEYS[2], ARGV[2])
  end
end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total
"#;

const HEARTBEAT: &str = r#"
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return existed
"#;

/// KEYS: alive, users, nodes. ARGV: node, prefix, force (1 = even if alive: the node itself at
/// start). Returns the users now offline everywhere.
const SWEEP: &str = r#"
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local gone = {}
for _, u in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local k = ARGV[2] .. ':online:' .. u
  redis.call('HDEL', k, ARGV[1])
  if redis.call('EXISTS', k) == 0 then gone[#gone + 1] = u end
end
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '1' then redis.call('SREM', KEYS[3], ARGV[1]) end
return gone
"#;

impl Cluster {
    fn online_key(&self, user: &UserId) -> String {
        format!("{}:online:{}", self.prefix, user)
    }

    fn users_key(&self, node: &str) -> String {
        format!("{}:node:{}:users", self.prefix, node)
    }

    fn alive_key(&self, node: &str) -> String {
        format!("{}:node:{}:alive", self.prefix, node)
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// A session of `user` opened on this node; returns the user's sessions on all nodes.
    pub async fn session_up(&self, user: &UserId) -> Result<i64, ClusterError> {
        self.count_session(SESSION_UP, user).await
    }

    /// A session of `user` closed on this node; returns the user's sessions left on all nodes.
    pub async fn session_down(&self, user: &UserId) -> Result<i64, ClusterError> {
        self.count_session(SESSION_DOWN, user).await
    }

    /// Runs `SESSION_UP` or `SESSION_DOWN` for `user` on this node.
    async fn count_session(&self, script: &str, user: &UserId) -> Result<i64, ClusterError> {
        let mut c = self.buffer.conn().await?;
        let n = Script::new(script)
            .key(self.online_key(user))
            .key(self.users_key(&self.node))
            .arg(&self.node)
            .arg(user.as_str())
            .invoke_async(&mut c)
            .await?;
        Ok(n)
    }

    /// Which of `users` have a session on some node.
    pub async fn online_among(&self, users: &[UserId]) -> Result<Vec<bool>, ClusterError> {
        if users.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for u in users {
            pipe.cmd("EXISTS").arg(self.online_key(u));
        }
        let mut c = self.buffer.conn().await?;
        let v: Vec<i64> = pipe.query_async(&mut c).await?;
        Ok(v.into_iter().map(|n| n > 0).collect())
    }

    /// Renews this node's key; `false` if it had expired (the node was presumed dead and its
    /// sessions swept: they must be registered again).
    pub async fn heartbeat(&self) -> Result<bool, ClusterError> {
        let mut c = self.buffer.conn().await?;
        let existed: i64 = Script::new(HEARTBEAT)
            .key(self.alive_key(&self.node))
            .key(self.nodes_key())
            .arg(&self.node)
            .arg(self.settings.node_ttl_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(existed == 1)
    }

    /// Registers this node's sessions again after it was swept: (user, sessions here).
    pub async fn restore(&self, sessions: &[(UserId, usize)]) -> Result<(), ClusterError> {
        if sessions.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (u, n) in sessions {
            pipe.cmd("HSET")
                .arg(self.online_key(u))
                .arg(&self.node)
                .arg(*n)
                .ignore();
            pipe.cmd("SADD")
                .arg(self.users_key(&self.node))
                .arg(u.as_str())
                .ignore();
        }
        let mut c = self.buffer.conn().await?;
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Removes the entries of every node whose key expired; returns the users that left offline.
    pub async fn sweep_dead(&self) -> Result<Vec<UserId>, ClusterError> {
        let mut c = self.buffer.conn().await?;
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.nodes_key())
            .query_async(&mut c)
            .await?;
        let mut gone = Vec::new();
        for node in nodes.iter().filter(|n| **n != self.node) {
            let users = self.sweep(node, false).await?;
            if !users.is_empty() {
                tracing::warn!(node = %node, users = users.len(), "node stopped renewing its presence; its sessions are gone");
            }
            gone.extend(users);
        }
        Ok(gone)
    }

    /// Removes what a previous run of this node left (it may have been killed); returns the users
    /// that are offline now.
    pub async fn sweep_own(&self) -> Result<Vec<UserId>, ClusterError> {
        self.sweep(&self.node, true).await
    }

    async fn sweep(&self, node: &str, force: bool) -> Result<Vec<UserId>, ClusterError> {
        let mut c = self.buffer.conn().await?;
        let users: Vec<String> = Script::new(SWEEP)
            .key(self.alive_key(node))
            .key(self.users_key(node))
            .key(self.nodes_key())
            .arg(node)
            .arg(&self.prefix)
            .arg(if force { "1" } else { "0" })
            .invoke_async(&mut c)
            .await?;
        Ok(users.into_iter().map(UserId).collect())
    }
}
