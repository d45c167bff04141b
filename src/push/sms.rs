//! An SMS gateway reached by an HTTP form POST, the style most SMS APIs share: recipient, sender
//! and text as form fields (names configurable), plus fixed fields such as an API key, and
//! optional HTTP basic auth.

use super::{outcome_of_error, outcome_of_status, Outcome};
use crate::config::SmsSettings;

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

    /// One attempt to text `text` to `to` (E.164).
    pub async fn send(&self, to: &str, text: &str) -> Outcome {
        let s = &self.settings;
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
