//! An SMS gateway reached by an HTTP form POST, the style most SMS APIs share: recipient, sender
//! and text as form fields (names configurable), plus fixed fields such as an API key, and
//! optional HTTP basic auth.

use super::{outcome_of_error, outcome_of_status, Outcome};
use crate::settings::SmsSettings;

/// Longest text sent, in characters (two concatenated SMS in GSM-7; more would be split into
/// many billed parts).
pub const MAX_TEXT_CHARS: usize = 300;

/// Sends texts through the configured gateway.
#[derive(Clone)]
pub struct SmsGateway {
    http: reqwest::Client,
    settings: SmsSettings,
}

impl SmsGateway {
    /// `None` when no gateway is configured.
    pub fn new(settings: &SmsSettings, http: reqwest::Client) -> Option<Self> {
        (!settings.url.trim().is_empty()).then(|| Self {
            http,
            settings: settings.clone(),
        })
    }

    /// One attempt to text `text` to `to` (E.164). The text goes out as [`one_line`] makes it,
    /// at most [`MAX_TEXT_CHARS`] long, whatever its parts were.
    pub async fn send(&self, to: &str, text: &str) -> Outcome {
        let s = &self.settings;
        let text = one_line(text, MAX_TEXT_CHARS);
        let text = text.as_str();
        let mut form: Vec<(&str, &str)> = s
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        form.push((&s.to_field, to));
        if !s.from.is_empty() {
            form.push((&s.from_field, &s.from));
        }
        form.push((&s.text_field, text));
        let mut req = self.http.post(s.url.trim()).form(&form);
        if !s.username.is_empty() {
            req = req.basic_auth(&s.username, Some(s.password.expose()));
        }
        match req.send().await {
            Ok(resp) => outcome_of_status(resp.status(), resp.headers(), &[]),
            Err(e) => outcome_of_error(&e),
        }
    }
}

/// A phone number in E.164 (`+` and 8 to 15 digits), from what a person typed: spaces, dashes,
/// dots and parentheses are dropped, and a leading `00` becomes `+`.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact
        .strip_prefix('+')
        .or_else(|| compact.strip_prefix("00"))?;
    let ok = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// `raw` on one line, at most `max` characters: control characters (newlines, tabs, escapes),
/// Unicode line and paragraph separators and bidirectional overrides become spaces, runs of
/// spaces become one, and a longer text is cut with `…`. Whatever a sender writes (a display
/// name, a message) then cannot make a text look like it says something else on a line of its
/// own, nor make it long.
pub fn one_line(raw: &str, max: usize) -> String {
    let words = raw
        .split(|c: char| c.is_whitespace() || c.is_control() || is_layout_char(c))
        .filter(|w| !w.is_empty());
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if out.len() > max * 4 {
            break;
        }
    }
    match out.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if out[i..].chars().count() > 1 => format!("{}…", &out[..i]),
        _ => out,
    }
}

/// Characters that move or hide text rather than show it: line and paragraph separators,
/// bidirectional marks, embeddings, overrides and isolates, zero-width joiners' neighbours that
/// hide text (U+200B..U+200F) and the byte order mark.
fn is_layout_char(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A phone number for logs: the last two digits only.
pub fn masked(phone: &str) -> String {
    let tail: String = phone
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("***{tail}")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn texts_are_one_line_and_bounded() {
        assert_eq!(
            one_line("Eve\nYour code is 1234", 100),
            "Eve Your code is 1234"
        );
        assert_eq!(one_line("  a\r\n\t\u{2028}b \u{202E}c  ", 100), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abc", 4), "abc");
        assert_eq!(one_line("abcd", 4), "abcd");
        assert_eq!(one_line("abcde", 4), "abc…");
        assert_eq!(one_line(&"x ".repeat(1000), 10).chars().count(), 10);
    }
}
