//! The search domain: message search over the rooms the caller belongs to now, on this node's
//! index (`crate::search`). Answers in the API's types (`chat_protocol::api::search`).
//!
//! A room the caller is not in (or that does not exist) finds nothing, so the answer never tells
//! whether a room exists. Bad input (empty, too long or nothing searchable in `q`, an unknown
//! `sort`, a malformed `cursor` or `limit`) is invalid; with `search.enabled = false` the service
//! is unavailable.

use crate::error::ChatError;
use crate::ids::{RoomId, UserId};
use crate::limits::{Limits, UserAction};
use crate::media::urls::UrlSigner;
use crate::protocol::api::search::{SearchHit, SearchParams, SearchResults};
use crate::search::{highlight, query, SearchIndex, SearchRequest, Sort};
use crate::store::Store;
use crate::views;

/// Results per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 20;
/// Most results per page.
const MAX_LIMIT: usize = 100;
/// Deepest result a cursor may point at (deeper paging is refused rather than scanned).
const MAX_OFFSET: usize = 1000;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Search<'a> {
    pub store: &'a Store,
    /// Signs the media URLs of the messages found.
    pub media_urls: &'a UrlSigner,
    /// This node's index; `None` when `search.enabled` is false.
    pub index: Option<&'a SearchIndex>,
    pub limits: &'a Limits,
}

/// The cursor of the page after `offset` results: `o` and the offset.
fn cursor_of(offset: usize) -> String {
    format!("o{offset}")
}

fn offset_of(cursor: &str) -> Result<usize, ChatError> {
    cursor
        .strip_prefix('o')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 6)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n <= MAX_OFFSET)
        .ok_or_else(|| ChatError::invalid("cursor: not a cursor this server handed out"))
}

/// The checked parameters.
#[derive(Debug)]
struct Checked {
    query: query::ParsedQuery,
    sort: Sort,
    limit: usize,
    offset: usize,
}

fn check(p: &SearchParams) -> Result<Checked, ChatError> {
    let query = query::parse(&p.q).map_err(|e| ChatError::invalid(e.to_string()))?;
    let sort = match p.sort.as_deref().map(str::trim) {
        None | Some("") | Some("relevance") => Sort::Relevance,
        Some("newest") => Sort::Newest,
        Some(_) => return Err(ChatError::invalid("sort: relevance or newest")),
    };
    let limit = match p.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(MAX_LIMIT as u64) as usize)
            .ok_or_else(|| ChatError::invalid("limit: a number from 1 to 100"))?,
    };
    let offset = match p.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => offset_of(c)?,
    };
    Ok(Checked {
        query,
        sort,
        limit,
        offset,
    })
}

impl Search<'_> {
    /// One page of the messages `me` may read that match `params` (see the module doc).
    pub async fn search(
        &self,
        me: &UserId,
        params: &SearchParams,
    ) -> Result<SearchResults, ChatError> {
        let Some(index) = self.index.cloned() else {
            return Err(ChatError::Unavailable("search is turned off".into()));
        };
        self.limits.user_action(UserAction::Search, me)?;
        let c = check(params)?;
        let rooms: Vec<String> = match params.room.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => {
                let room = RoomId(r.to_owned());
                match self.store.membership(&room, me).await? {
                    Some(_) => vec![room.0],
                    None => Vec::new(),
                }
            }
            _ => self
                .store
                .room_ids_of(me)
                .await?
                .into_iter()
                .map(|r| r.0)
                .collect(),
        };
        let req = SearchRequest {
            query: c.query.clone(),
            rooms,
            sort: c.sort,
            offset: c.offset,
            limit: c.limit,
        };
        // The index is searched on a blocking thread, never on this async worker.
        let page = tokio::task::spawn_blocking(move || index.search(&req))
            .await
            .map_err(|_| ChatError::Internal)?
            .map_err(|e| {
                tracing::error!(error = %e, "search failed");
                ChatError::Unavailable("search".into())
            })?;
        crate::metrics::inc(&crate::metrics::SEARCHES);
        let hits = page.hits.into_iter().map(|h| h.into_model()).collect();
        let rows = self.store.search_rows(hits).await?;
        let bodies: Vec<String> = rows.iter().map(|r| r.body.clone()).collect();
        let found = self.store.read_messages(rows).await?;
        let results = views::messages(found, self.media_urls)
            .into_iter()
            .zip(bodies)
            .map(|(message, body)| SearchHit {
                message,
                highlight: highlight::highlight(&body, &c.query),
            })
            .collect();
        let next_offset = c.offset + c.limit;
        Ok(SearchResults {
            results,
            next: (page.more && next_offset <= MAX_OFFSET).then(|| cursor_of(next_offset)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(
        q: &str,
        sort: Option<&str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> SearchParams {
        SearchParams {
            q: q.into(),
            room: None,
            sort: sort.map(Into::into),
            limit: limit.map(Into::into),
            cursor: cursor.map(Into::into),
        }
    }

    #[test]
    fn defaults_are_relevance_twenty_from_the_start() {
        let c = check(&params("hello", None, None, None)).unwrap();
        assert_eq!((c.sort, c.limit, c.offset), (Sort::Relevance, 20, 0));
        let c = check(&params("hello", Some(" "), Some(""), Some(""))).unwrap();
        assert_eq!((c.sort, c.limit, c.offset), (Sort::Relevance, 20, 0));
    }

    #[test]
    fn sort_limit_and_cursor_are_checked() {
        let c = check(&params("hello", Some("newest"), Some("500"), Some("o40"))).unwrap();
        assert_eq!((c.sort, c.limit, c.offset), (Sort::Newest, 100, 40));
        assert!(check(&params("hello", Some("oldest"), None, None)).is_err());
        assert!(check(&params("hello", None, Some("0"), None)).is_err());
        assert!(check(&params("hello", None, Some("-1"), None)).is_err());
        assert!(check(&params("", None, None, None)).is_err());
    }

    #[test]
    fn only_cursors_this_server_hands_out_are_taken() {
        assert_eq!(offset_of(&cursor_of(1000)).unwrap(), 1000);
        for bad in ["o1001", "o", "20", "o+5", "o0000001", "x20"] {
            assert!(offset_of(bad).is_err(), "{bad}");
        }
    }
}
