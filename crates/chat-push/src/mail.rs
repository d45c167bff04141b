//! A mail gateway reached by an HTTP JSON POST, the style transactional mail APIs share:
//! `{"from", "to", "subject", "text"}` to `mail.gateway_url`, with `Authorization: Bearer` when
//! `mail.token` is set. Used for e-mail verification codes.

use serde::Serialize;

use super::{outcome_of_error, outcome_of_status, Outcome};
use crate::settings::MailSettings;

/// The JSON body of one mail.
#[derive(Debug, Serialize)]
struct Mail<'a> {
    from: &'a str,
    to: &'a str,
    subject: &'a str,
    text: &'a str,
}

/// Sends mails through the configured gateway.
#[derive(Clone)]
pub struct MailGateway {
    http: reqwest::Client,
    settings: MailSettings,
}

impl MailGateway {
    /// `None` when no gateway is configured.
    pub fn new(settings: &MailSettings, http: reqwest::Client) -> Option<Self> {
        (!settings.gateway_url.trim().is_empty()).then(|| Self {
            http,
            settings: settings.clone(),
        })
    }

    /// One attempt to mail `text` to `to`.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Outcome {
        let s = &self.settings;
        let mut req = self.http.post(s.gateway_url.trim()).json(&Mail {
            from: &s.from,
            to,
            subject,
            text,
        });
        if !s.token.is_empty() {
            req = req.bearer_auth(s.token.expose());
        }
        match req.send().await {
            Ok(resp) => outcome_of_status(resp.status(), resp.headers(), &[]),
            Err(e) => outcome_of_error(&e),
        }
    }
}

/// An e-mail address for logs: the first letter and the domain.
pub fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().next().unwrap_or('*'))
        }
        None => "***".into(),
    }
}
