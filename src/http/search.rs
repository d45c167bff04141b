//! `GET /api/search?q=&room=&sort=&limit=&cursor=`: full-text search over the messages of the
//! rooms the caller belongs to now.
//!
//! Answers {`results`: [message objects as in history, each with `room` and `highlight`],
//! `next`?}. `highlight` is the body, HTML-escaped, with the matched terms in `<mark>`…`</mark>`.
//! `sort` is `relevance` (default) or `newest`; `limit` 1 to 100 (default 20, larger values are
//! capped); `next` is an opaque cursor for the following page. `room=` narrows the search to one
//! room; a room the caller is not in (or that does not exist) finds nothing (200 with no
//! results), so the answer never tells whether a room exists. Bad input (empty, too long or
//! nothing searchable in `q`, an unknown `sort`, a malformed `cursor` or `limit`) is a 400
//! `invalid`; with `search.enabled = false`, 503.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::ids::RoomId;
use crate::search::{highlight, query, SearchRequest, Sort};

/// Results per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 20;
/// Most results per page.
const MAX_LIMIT: usize = 100;
/// Deepest result a cursor may point at (deeper paging is refused rather than scanned).
const MAX_OFFSET: usize = 1000;

/// The query string; every field is read as text and checked here, so a malformed value is a
/// 400 naming it.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub room: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
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

/// `GET /api/search` (see the module doc).
#[tracing::instrument(skip_all, fields(user = %auth.id()))]
pub async fn search(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ChatError> {
    let Some(index) = state.search.clone() else {
        return Err(ChatError::Unavailable("search is turned off".into()));
    };
    state
        .limits
        .user_action(crate::limits::UserAction::Search, &auth.id())?;
    let c = check(&params)?;
    let me = auth.id();
    let rooms: Vec<String> = match params.room.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => {
            let room = RoomId(r.to_owned());
            match state.store.membership(&room, &me).await? {
                Some(_) => vec![room.0],
                None => Vec::new(),
            }
        }
        _ => state
            .store
            .room_ids_of(&me)
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
    let page = web::block(move || index.search(&req))
        .await
        .map_err(|_| ChatError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "search failed");
            ChatError::Unavailable("search".into())
        })?;
    crate::metrics::inc(&crate::metrics::SEARCHES);
    let hits = page.hits.into_iter().map(|h| h.into_model()).collect();
    let rows = state.store.search_rows(hits).await?;
    let bodies: Vec<String> = rows.iter().map(|r| r.body.clone()).collect();
    let out = state.store.messages_out(rows).await?;
    let results: Vec<Value> = out
        .into_iter()
        .zip(bodies)
        .map(|(m, body)| {
            let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert(
                    "highlight".into(),
                    Value::String(highlight::highlight(&body, &c.query)),
                );
            }
            v
        })
        .collect();
    let next_offset = c.offset + c.limit;
    let mut answer = json!({ "results": results });
    if page.more && next_offset <= MAX_OFFSET {
        answer["next"] = Value::String(cursor_of(next_offset));
    }
    Ok(HttpResponse::Ok().json(answer))
}
