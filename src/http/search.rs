//! `GET /api/search?q=&room=&sort=&limit=&cursor=`: full-text search over the messages of the
//! rooms the caller belongs to now. The route extracts the request, calls the search service
//! (`services::search`, which owns the checks) and answers with its typed body
//! (`chat_protocol::api::search`).
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

use super::auth::AuthUser;
use super::AppState;
use crate::error::ChatError;
use crate::protocol::api::search::SearchParams;
use crate::services::search::Search;

impl AppState {
    /// The search service over this state.
    pub fn search_service(&self) -> Search<'_> {
        Search {
            store: &self.store,
            media_urls: &self.media_urls,
            index: self.search.as_ref(),
            limits: &self.limits,
        }
    }
}

/// `GET /api/search` (see the module doc).
#[tracing::instrument(skip_all, fields(user = %auth.id()))]
pub async fn search(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ChatError> {
    let results = state.search_service().search(&auth.id(), &params).await?;
    Ok(HttpResponse::Ok().json(results))
}
