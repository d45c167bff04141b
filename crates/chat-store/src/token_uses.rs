//! When each session was last used, for the owner's list of sessions (`GET /api/me/sessions`):
//! a connect only notes its token here, in memory; [`Store::flush_token_uses`] writes what was
//! noted in one statement per thousand tokens, on a timer. A crowd reconnecting at once then
//! costs one write, not one per socket, and a connect never waits for SQL or queues work behind
//! a stalled database.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use entities::token;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, StoreError};
use chat_protocol::ids::now_ms;

/// Tokens noted between two flushes at most; past it new ones wait for a later connect (the
/// figure is only "last used", and memory stays bounded while the database is down).
const MAX_NOTED: usize = 100_000;
/// Tokens per UPDATE.
const CHUNK: usize = 1000;
/// How often what was noted is written.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The tokens used since the last flush (shared by every clone of the store).
#[derive(Clone, Debug, Default)]
pub struct TokenUses(Arc<Mutex<HashSet<String>>>);

impl TokenUses {
    /// Notes that the session with this token hash was used now.
    pub fn note(&self, token_hash: &str) {
        let mut noted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if noted.len() < MAX_NOTED {
            noted.insert(token_hash.to_owned());
        }
    }

    fn take(&self) -> Vec<String> {
        let mut noted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *noted).into_iter().collect()
    }

    /// Puts back tokens whose write failed, for the next flush.
    fn restore(&self, hashes: Vec<String>) {
        let mut noted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for h in hashes {
            if noted.len() >= MAX_NOTED {
                break;
            }
            noted.insert(h);
        }
    }
}

impl Store {
    /// Notes that the session with this token hash was used now (a connection opened); no SQL.
    pub fn note_token_used(&self, token_hash: &str) {
        self.token_uses.note(token_hash);
    }

    /// Writes the last use of every session noted since the last flush; returns how many.
    pub async fn flush_token_uses(&self) -> Result<usize, StoreError> {
        let hashes = self.token_uses.take();
        let now = now_ms();
        for (i, chunk) in hashes.chunks(CHUNK).enumerate() {
            let written = token::Entity::update_many()
                .col_expr(token::Column::LastUsedAt, Expr::value(now))
                .filter(token::Column::TokenHash.is_in(chunk.iter().cloned()))
                .exec(&self.db)
                .await;
            if let Err(e) = written {
                self.token_uses.restore(hashes[i * CHUNK..].to_vec());
                return Err(e.into());
            }
        }
        Ok(hashes.len())
    }
}
