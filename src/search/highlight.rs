//! The `highlight` of a search result: the message body, HTML-escaped, with every term of the
//! query that occurs in it wrapped in `<mark>` … `</mark>` (overlapping and touching matches
//! merged into one mark). Safe to insert as HTML.

use super::query::ParsedQuery;
use super::tokenize;

/// `body` with the query's terms marked (see the module doc).
pub fn highlight(body: &str, query: &ParsedQuery) -> String {
    let marks = query.marks();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for t in tokenize::terms(body) {
        let hit = marks
            .iter()
            .any(|(m, prefix, _)| t.text == *m || (*prefix && t.text.starts_with(m.as_str())));
        if hit {
            spans.push((t.from, t.to));
        }
    }
    if marks.iter().any(|(_, _, single)| *single) {
        for t in tokenize::unigrams(body) {
            if marks.iter().any(|(m, _, single)| *single && t.text == *m) {
                spans.push((t.from, t.to));
            }
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    let mut out = String::with_capacity(body.len() + merged.len() * 13);
    let mut at = 0;
    for (from, to) in merged {
        escape_into(&body[at..from], &mut out);
        out.push_str("<mark>");
        escape_into(&body[from..to], &mut out);
        out.push_str("</mark>");
        at = to;
    }
    escape_into(&body[at..], &mut out);
    out
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::search::query::parse;

    fn hl(body: &str, q: &str) -> String {
        highlight(body, &parse(q).unwrap())
    }

    #[test]
    fn words_prefixes_and_accents_are_marked_and_html_escaped() {
        assert_eq!(
            hl("<b>Café</b> & cafés", "cafe"),
            "&lt;b&gt;<mark>Café</mark>&lt;/b&gt; &amp; cafés"
        );
        assert_eq!(
            hl("deploy deployed", "deplo*"),
            "<mark>deploy</mark> <mark>deployed</mark>"
        );
    }

    #[test]
    fn cjk_matches_merge_into_one_mark() {
        assert_eq!(
            hl("我住在東京都。", "東京都"),
            "我住在<mark>東京都</mark>。"
        );
        assert_eq!(
            hl("東京と京都", "京"),
            "東<mark>京</mark>と<mark>京</mark>都"
        );
    }
}
