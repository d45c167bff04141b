//! Message search (`GET /api/search`): the query string and the page of results.

use serde::{Deserialize, Serialize};

use crate::MessageOut;

/// `GET /api/search?q=&room=&sort=&limit=&cursor=` (the query). Every field is taken as text and
/// checked by the server, so that a malformed value is a 400 naming it: `sort` is `relevance`
/// (the default) or `newest`; `limit` 1 to 100 (20 when absent, larger values capped); `cursor`
/// is the `next` of the page before; `room` narrows the search to one room.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A message found: the message as in history, plus `highlight`, its body HTML-escaped with the
/// matched terms in `<mark>`…`</mark>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub message: MessageOut,
    pub highlight: String,
}

/// `GET /api/search` → `{results, next?}`; `next` (an opaque cursor for the following page) only
/// when there is one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn message() -> MessageOut {
        super::super::test_support::message(4, "hello world", 9)
    }

    #[test]
    fn a_hit_is_the_message_with_its_highlight_beside_its_fields() {
        let hit = SearchHit {
            message: message(),
            highlight: "<mark>hello</mark> world".into(),
        };
        let mut expected = serde_json::to_value(message()).expect("serializes");
        expected["highlight"] = "<mark>hello</mark> world".into();
        let results = SearchResults {
            results: vec![hit],
            next: None,
        };
        let v = serde_json::to_value(&results).expect("serializes");
        assert_eq!(v, serde_json::json!({ "results": [expected] }));
        let back: SearchResults = serde_json::from_value(v).expect("round trip");
        assert_eq!(back.results[0].message.body, "hello world");
        assert_eq!(back.results[0].highlight, "<mark>hello</mark> world");
        assert!(back.next.is_none());
    }

    #[test]
    fn next_is_there_only_when_there_is_a_next_page() {
        let results = SearchResults {
            results: vec![],
            next: Some("o20".into()),
        };
        assert_eq!(
            serde_json::to_string(&results).expect("serializes"),
            r#"{"results":[],"next":"o20"}"#
        );
    }

    #[test]
    fn the_query_takes_every_field_as_text() {
        let p: SearchParams = serde_json::from_str(r#"{"q":"hi","limit":"5"}"#).expect("valid");
        assert_eq!(p.q, "hi");
        assert_eq!(p.limit.as_deref(), Some("5"));
        assert_eq!(p.cursor, None);
        let empty: SearchParams = serde_json::from_str("{}").expect("q defaults to empty");
        assert_eq!(empty, SearchParams::default());
    }
}
