//! Counters per UTC day shared by every node: texts and mails sent per user and per number or
//! address (`push.sms.*_per_day`, `mail.*_per_day`). In Redis when there is one (`INCR` on a key
//! that expires two days later), else in the SQL table `daily_counters` (an atomic upsert); old
//! SQL rows are removed as new ones are counted.

use entities::daily_counter;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{Store, StoreError};
use chat_protocol::ids::now_ms;

/// How long a Redis counter outlives its day (seconds): two days, whatever the clock skew.
const KEEP_SECS: i64 = 2 * 86_400;

/// Today's number (days since the epoch, UTC).
pub fn today() -> i64 {
    now_ms() / 86_400_000
}

impl Store {
    /// Counts one against each of today's `counters` (name, cap) in turn; false as soon as one
    /// is past its cap (the later ones are then not counted).
    pub async fn within_daily_caps(&self, counters: &[(String, u32)]) -> Result<bool, StoreError> {
        for (name, cap) in counters {
            if self.count_today(name).await? > *cap {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Adds one to today's counter `name` and returns its new value (which may include other
    /// nodes' increments made meanwhile: never less than this call's own).
    pub async fn count_today(&self, name: &str) -> Result<u32, StoreError> {
        let day = today();
        if let Some(buffer) = &self.buffer {
            let key = buffer.key(&format!("daily:{day}:{name}"));
            let mut c = buffer.local().await?;
            let (n, _): (i64, i64) = redis::pipe()
                .atomic()
                .incr(&key, 1)
                .expire(&key, KEEP_SECS)
                .query_async(&mut c)
                .await
                .map_err(super::buffer::BufferError::from)?;
            return Ok(u32::try_from(n).unwrap_or(u32::MAX));
        }
        use daily_counter::Column as C;
        let row = daily_counter::ActiveModel {
            name: Set(name.to_owned()),
            day: Set(day),
            count: Set(1),
        };
        daily_counter::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::Name, C::Day])
                    .value(C::Count, Expr::col(C::Count).add(1))
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        let n = daily_counter::Entity::find_by_id((name.to_owned(), day))
            .one(&self.db)
            .await?
            .map(|r| r.count)
            .unwrap_or(1);
        daily_counter::Entity::delete_many()
            .filter(C::Day.lt(day - 1))
            .exec(&self.db)
            .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
