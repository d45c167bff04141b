//! A user's query text, read as plain words: never handed to an engine's query language.
//!
//! - Words separated by spaces are all required (AND). Operators of other engines (`AND`, `OR`,
//!   `NOT`, `NEAR`, `MATCH`, `field:value`, `-x`, `+x`, parentheses, SQL quotes) are ordinary
//!   text: they are split into words like any message is, so `field:value` finds "field value".
//! - `"several words"` is a phrase: the words next to each other, in order.
//! - `word*` (also the last word of a phrase, `"big ca*"`) matches words starting with it.
//! - A run of Chinese, Japanese, Korean or Thai text matches wherever it occurs inside longer
//!   text (see `tokenize`); a single such character matches any text containing it.
//! - A `"` without its closing partner is ignored; a `*` anywhere but at the end of a word is
//!   ignored.

use tantivy::query::{
    BooleanQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;

use super::schema::Fields;
use super::tokenize::{self, Kind, Term};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most words and quoted phrases in one query.
pub const MAX_QUERY_WORDS: usize = 16;
/// Most terms after splitting (a run of CJK text counts one per pair of characters).
pub const MAX_QUERY_TERMS: usize = 64;

/// Why a query was refused (a 400 `invalid` naming the reason).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("q is empty")]
    Empty,
    #[error("q is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("q has more than {MAX_QUERY_WORDS} words")]
    TooManyWords,
    #[error("q has more than {MAX_QUERY_TERMS} terms")]
    TooManyTerms,
    #[error("q has no letters or digits to search for")]
    NothingToSearch,
}

/// One required part of a query: a word (several terms when the word splits, like `e-mail` or
/// a CJK run) or a quoted phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    pub terms: Vec<Term>,
    /// The last term is a prefix.
    pub prefix: bool,
}

/// A query read from user text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedQuery {
    pub clauses: Vec<Clause>,
}

/// Splits `q` into words and quoted phrases (see the module doc).
fn chunks(q: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = q;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            let inner = &rest[1..];
            match inner.find('"') {
                Some(end) => {
                    out.push(&inner[..end]);
                    rest = &inner[end + 1..];
                }
                // Unbalanced: the quote is just punctuation.
                None => rest = inner,
            }
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Reads a query (see the module doc).
pub fn parse(q: &str) -> Result<ParsedQuery, QueryError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(QueryError::Empty);
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let chunks = chunks(q);
    if chunks.len() > MAX_QUERY_WORDS {
        return Err(QueryError::TooManyWords);
    }
    let mut clauses = Vec::new();
    let mut total = 0;
    for chunk in chunks {
        let terms = tokenize::terms(chunk);
        let Some(last) = terms.last() else { continue };
        let trimmed = chunk.trim_end();
        // `word*`: the star right after the last term.
        let prefix = trimmed.ends_with('*') && last.to == trimmed.len() - 1;
        total += terms.len();
        clauses.push(Clause { terms, prefix });
    }
    if total > MAX_QUERY_TERMS {
        return Err(QueryError::TooManyTerms);
    }
    if clauses.is_empty() {
        return Err(QueryError::NothingToSearch);
    }
    Ok(ParsedQuery { clauses })
}

impl ParsedQuery {
    /// Every term a highlighter should mark: (text, is a prefix, is a single unspaced character).
    pub fn marks(&self) -> Vec<(String, bool, bool)> {
        let mut out = Vec::new();
        for c in &self.clauses {
            let n = c.terms.len();
            for (i, t) in c.terms.iter().enumerate() {
                let last = i + 1 == n;
                out.push((t.text.clone(), c.prefix && last, t.kind == Kind::Unigram));
            }
        }
        out
    }

    /// The tantivy query: every clause, and the message in one of `rooms`.
    pub fn to_query(&self, f: &Fields, rooms: &[String]) -> Box<dyn Query> {
        let mut parts: Vec<(Occur, Box<dyn Query>)> = self
            .clauses
            .iter()
            .flat_map(|c| clause_queries(c, f))
            .map(|q| (Occur::Must, q))
            .collect();
        let rooms = rooms
            .iter()
            .map(|r| tantivy::Term::from_field_text(f.room, r));
        parts.push((Occur::Must, Box::new(TermSetQuery::new(rooms))));
        Box::new(BooleanQuery::new(parts))
    }
}

fn body_term(f: &Fields, t: &Term) -> tantivy::Term {
    tantivy::Term::from_field_text(f.body, &t.text)
}

/// A single character of an unspaced script: anywhere in the text.
fn char_query(f: &Fields, t: &Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        tantivy::Term::from_field_text(f.chars, &t.text),
        IndexRecordOption::WithFreqs,
    ))
}

/// The queries that together match one clause.
fn clause_queries(c: &Clause, f: &Fields) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    let n = c.terms.len();
    if n == 1 && c.terms[0].kind == Kind::Unigram {
        return vec![char_query(f, &c.terms[0])];
    }
    // A single character inside a longer clause is in the text as part of a bigram that may
    // reach outside the clause: required on its own, left out of the phrase. At the end of the
    // clause it can be the start of such a bigram: the phrase ends with it as a prefix.
    let mut phrase: Vec<(usize, tantivy::Term)> = Vec::new();
    let first = c.terms[0].position;
    let mut prefix = c.prefix;
    for (i, t) in c.terms.iter().enumerate() {
        let last = i + 1 == n;
        if t.kind == Kind::Unigram && n > 1 {
            if last {
                prefix = true;
            } else {
                out.push(char_query(f, t));
                continue;
            }
        }
        phrase.push((t.position - first, body_term(f, t)));
    }
    match (phrase.len(), prefix) {
        (0, _) => {}
        (1, false) => out.push(Box::new(TermQuery::new(
            phrase.remove(0).1,
            IndexRecordOption::WithFreqs,
        ))),
        (_, true) => out.push(Box::new(PhrasePrefixQuery::new_with_offset(phrase))),
        (_, false) => out.push(Box::new(PhraseQuery::new_with_offset(phrase))),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shape(q: &str) -> Vec<(Vec<String>, bool)> {
        parse(q)
            .unwrap()
            .clauses
            .into_iter()
            .map(|c| (c.terms.into_iter().map(|t| t.text).collect(), c.prefix))
            .collect()
    }

    #[test]
    fn words_phrases_and_prefixes() {
        let s = |v: &[&str], p: bool| (v.iter().map(|x| x.to_string()).collect::<Vec<_>>(), p);
        assert_eq!(
            shape(r#"hello "Big Cat" dog* "ca*""#),
            vec![
                s(&["hello"], false),
                s(&["big", "cat"], false),
                s(&["dog"], true),
                s(&["ca"], true)
            ]
        );
        // A star that is not at the end of a word is just punctuation.
        assert_eq!(shape("a*b *"), vec![s(&["a", "b"], false)]);
        assert_eq!(shape("foo *"), vec![s(&["foo"], false)]);
    }

    #[test]
    fn engine_syntax_is_plain_text() {
        let s = |v: &[&str]| (v.iter().map(|x| x.to_string()).collect::<Vec<_>>(), false);
        assert_eq!(
            shape("title:secret OR NOT x) NEAR(a b) MATCH 'x' --"),
            vec![
                s(&["title", "secret"]),
                s(&["or"]),
                s(&["not"]),
                s(&["x"]),
                s(&["near", "a"]),
                s(&["b"]),
                s(&["match"]),
                s(&["x"]),
            ]
        );
        // An unbalanced quote is ignored.
        assert_eq!(shape(r#""open ended"#), vec![s(&["open"]), s(&["ended"])]);
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(parse("   "), Err(QueryError::Empty));
        assert_eq!(parse(&"a".repeat(300)), Err(QueryError::TooLong));
        assert_eq!(
            parse(&vec!["w"; 17].join(" ")),
            Err(QueryError::TooManyWords)
        );
        assert_eq!(parse(r#"" * ( ) 🙂"#), Err(QueryError::NothingToSearch));
        assert_eq!(parse(&"漢字".repeat(40)), Err(QueryError::TooManyTerms));
    }

    #[test]
    fn every_clause_builds_a_query() {
        let (_, f) = Fields::schema();
        for q in [
            "a",
            "東",
            "東京都",
            "tower東",
            "東tower",
            r#""big ca*""#,
            "x*",
        ] {
            let parsed = parse(q).unwrap();
            let _ = parsed.to_query(&f, &["r".into()]);
        }
    }
}
