//! `hello`'s room list from Redis: with the connect cache on (see `cache`), a connect computes
//! every room's last seq and unread count without SQL. The room list itself (ids, kinds, names)
//! is a connect-cache entry; the last seq is the larger of the list's and the room's counter in
//! Redis; the read mark is the user's, kept in Redis by every `read` (and raised from SQL when
//! the list is computed); unread messages are counted in the room's latest messages, which the
//! append scripts keep in Redis (`RedisBuffer::with_recent`). Where Redis lacks what a room needs
//! (a room quiet since before the lists were kept, an expired list), the counts come from SQL as
//! before.

use std::collections::HashMap;

use super::buffer::{Recent, RedisBuffer};
use super::rooms::{room_kind, RoomOverview, RoomRow};
use super::{Store, StoreError};
use chat_protocol::ids::{RoomId, UserId};

impl Store {
    /// `user`'s rooms with last seq and unread count (messages from others after their read
    /// mark), most recent first; a dm is named after the other member. Unread counts are exact up
    /// to `unread_max` and stop there.
    pub async fn rooms_for_user(
        &self,
        user: &UserId,
        unread_max: u64,
    ) -> Result<Vec<RoomOverview>, StoreError> {
        match &self.buffer {
            Some(b) if self.cache_ttl_secs > 0 && b.recent_size() as u64 >= unread_max => {
                self.rooms_for_user_kept(b, user, unread_max).await
            }
            _ => self.rooms_for_user_sql(user, unread_max).await,
        }
    }

    /// [`Self::rooms_for_user`] from what Redis keeps (see the module doc).
    async fn rooms_for_user_kept(
        &self,
        b: &RedisBuffer,
        user: &UserId,
        unread_max: u64,
    ) -> Result<Vec<RoomOverview>, StoreError> {
        let rows = self.cached_rooms(b, user).await?;
        let ids: Vec<RoomId> = rows.iter().map(|r| RoomId(r.id.clone())).collect();
        let (buffered, kept) = b.connect_marks(user, &ids).await?;
        let reads: Vec<i64> = if kept.iter().all(Option::is_some) {
            kept.into_iter().map(Option::unwrap_or_default).collect()
        } else {
            // Marks no longer kept (expired): SQL's, raised in Redis for the next connect.
            let fresh: HashMap<String, i64> = self
                .rooms_and_reads(b, user)
                .await?
                .into_iter()
                .map(|r| (r.id, r.last_read_seq))
                .collect();
            rows.iter()
                .zip(kept)
                .map(|(r, k)| k.unwrap_or(0).max(fresh.get(&r.id).copied().unwrap_or(0)))
                .collect()
        };
        let cap = unread_max.min(i64::MAX as u64) as i64;
        // Per room: (last seq, lowest seq not counted).
        let bounds: Vec<(i64, i64)> = rows
            .iter()
            .zip(&buffered)
            .zip(&reads)
            .map(|((r, buffered), read)| {
                let last = r.last_seq.max(*buffered);
                (last, (*read).max(last - cap))
            })
            .collect();
        let wanted: Vec<(RoomId, i64, usize)> = ids
            .iter()
            .zip(&bounds)
            .filter(|(_, (last, lo))| last > lo)
            .map(|(id, (last, lo))| (id.clone(), *last, (last - lo) as usize))
            .collect();
        let lists = b
            .recent(
                &wanted
                    .iter()
                    .map(|(id, _, n)| (id.clone(), *n))
                    .collect::<Vec<_>>(),
            )
            .await?;
        let mut unread: HashMap<&RoomId, (i64, i64)> = HashMap::new();
        let mut missing = false;
        for ((room, last, n), list) in wanted.iter().zip(&lists) {
            match count_from(list, *last, *n, user) {
                Some(c) => {
                    unread.insert(room, c);
                }
                None => missing = true,
            }
        }
        // Rooms whose latest messages Redis does not hold: as SQL counts them.
        let from_sql: HashMap<RoomId, (i64, i64)> = if missing {
            self.rooms_for_user_sql(user, unread_max)
                .await?
                .into_iter()
                .map(|r| (r.id, (r.unread, r.unread_mentions)))
                .collect()
        } else {
            HashMap::new()
        };
        let mut out: Vec<RoomOverview> = rows
            .into_iter()
            .zip(ids.iter())
            .zip(&bounds)
            .map(|((r, id), (last, lo))| {
                let (n, mentions) = if last <= lo {
                    (0, 0)
                } else {
                    unread
                        .get(id)
                        .or_else(|| from_sql.get(id))
                        .copied()
                        .unwrap_or((0, 0))
                };
                Ok(RoomOverview {
                    unread: n.min(cap),
                    unread_mentions: mentions.min(cap),
                    id: id.clone(),
                    kind: room_kind(&r.kind)?,
                    name: r.name,
                    last_seq: *last,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        // Most recent first, as from SQL (a stable sort keeps the listed order of ties).
        out.sort_by_key(|r| std::cmp::Reverse(r.last_seq));
        Ok(out)
    }

    /// `user`'s rooms (the connect cache's entry, else from SQL).
    pub(super) async fn cached_rooms(
        &self,
        b: &RedisBuffer,
        user: &UserId,
    ) -> Result<Vec<RoomRow>, StoreError> {
        self.cached(
            "rooms",
            &user.0,
            |_| Some(u64::MAX),
            || self.rooms_and_reads(b, user),
        )
        .await
    }

    /// The room list from SQL, with the read marks it holds raised in Redis (buffered marks may
    /// be newer there; a mark is never lowered).
    async fn rooms_and_reads(
        &self,
        b: &RedisBuffer,
        user: &UserId,
    ) -> Result<Vec<RoomRow>, StoreError> {
        let rows = self.room_rows(user).await?;
        let marks: Vec<(RoomId, i64)> = rows
            .iter()
            .map(|r| (RoomId(r.id.clone()), r.last_read_seq))
            .collect();
        b.raise_reads(user, &marks).await?;
        Ok(rows)
    }
}

/// Messages from others among a room's latest `n`, up to seq `last` (the list newest first, as
/// kept in Redis), and how many of them mention `user`; `None` unless the list holds exactly
/// those `n`, one seq after the other.
fn count_from(list: &[Recent], last: i64, n: usize, user: &UserId) -> Option<(i64, i64)> {
    let list = list.get(..n)?;
    let complete = list.first().is_some_and(|r| r.seq == last)
        && list.windows(2).all(|w| w[0].seq == w[1].seq + 1);
    complete.then(|| {
        let others = list.iter().filter(|r| r.sender != *user);
        let unread = others.clone().count() as i64;
        (unread, others.filter(|r| r.mentions(user)).count() as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(seqs: &[(i64, &str)]) -> Vec<Recent> {
        seqs.iter()
            .map(|(s, u)| {
                let (sender, mentions) = u.split_once('|').unwrap_or((u, ""));
                Recent {
                    seq: *s,
                    sender: UserId(sender.into()),
                    mentions: mentions.into(),
                }
            })
            .collect()
    }

    #[test]
    fn counts_only_others_in_a_complete_list() {
        let me = UserId("me".into());
        let l = list(&[(5, "a|x,me"), (4, "me|me"), (3, "b"), (2, "a|me")]);
        assert_eq!(count_from(&l, 5, 3, &me), Some((2, 1)));
        assert_eq!(count_from(&l, 5, 4, &me), Some((3, 2)));
    }

    #[test]
    fn a_short_gappy_or_stale_list_is_not_used() {
        let me = UserId("me".into());
        assert_eq!(count_from(&list(&[(5, "a"), (4, "b")]), 5, 3, &me), None);
        assert_eq!(count_from(&list(&[(5, "a"), (3, "b")]), 5, 2, &me), None);
        assert_eq!(count_from(&list(&[(4, "a"), (3, "b")]), 5, 2, &me), None);
    }
}
