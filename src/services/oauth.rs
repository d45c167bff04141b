//! The OAuth domain: signing in with a provider account (Facebook, Twitter/X), linking one to
//! the signed-in account, and the linked accounts. It keeps the pending states and the links
//! through the store and talks to the providers through [`crate::oauth`]; the redirects, the
//! cookie and the session token are the HTTP layer's. Answers in the API's types
//! (`chat_protocol::api::oauth`).
//!
//! A started sign-in is stored as the hash of its `state`, the PKCE verifier and the hash of a
//! random value the browser holds (in a cookie), so the callback is accepted once, before it
//! expires, and only in the browser that started it. The web page's own random value (`nonce`)
//! rides in the state after a dot, so it comes back beside the token only for sign-ins the page
//! started (against login CSRF).

use entities::{oauth_link, oauth_state, user};
use rand::RngCore;

use crate::error::ChatError;
use crate::ids::{now_ms, random_urlsafe, UserId};
use crate::oauth::flow::{page_of_state, valid_page_value};
use crate::oauth::{OAuthError, Profile, Provider, Providers};
use crate::protocol::api::oauth::{CallbackQuery, LinkOut, LinksBody, ProviderOut};
use crate::store::oauth::{Created, LinkInfo, Unlinked};
use crate::store::{Store, StoreError};
use crate::transport::hash_token;

/// Length of the browser's random value (32 bytes, base64url).
const BROWSER_VALUE_LEN: usize = 43;

/// Longest `state` looked up.
const MAX_STATE: usize = 512;

/// Longest authorization code sent on to the provider.
const MAX_CODE: usize = 2048;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct OAuthService<'a> {
    pub store: &'a Store,
    pub providers: &'a Providers,
}

/// A sign-in (or link) started: where to send the browser, and the browser's random value to
/// keep in its cookie.
#[derive(Debug)]
pub struct Begun {
    pub authorize_url: String,
    pub browser: String,
}

/// What a callback achieved.
#[derive(Debug)]
pub enum Outcome {
    /// Signed into this account (created the first time); a session token is to be issued.
    SignedIn {
        user: user::Model,
        /// The page's value from the start, handed back beside the token.
        nonce: Option<String>,
    },
    /// The provider account was linked to the account that asked.
    Linked(LinkOut),
}

/// A linked account, as its owner sees it.
pub fn link_out(l: &oauth_link::Model) -> LinkOut {
    LinkOut {
        avatar_url: l.avatar_url.clone(),
        linked_at: l.linked_at,
        name: l.name.clone(),
        provider: l.provider.clone(),
        username: l.username.clone(),
    }
}

/// The browser's random value: the one its cookie holds, kept across sign-ins so two tabs can
/// sign in at once, or a new one if it has none (or not one of ours).
fn browser_value(cookie: Option<&str>) -> String {
    cookie
        .filter(|v| {
            v.len() == BROWSER_VALUE_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| random_urlsafe(32))
}

impl OAuthService<'_> {
    /// The configured providers and where a sign-in with each starts.
    pub fn providers(&self) -> Vec<ProviderOut> {
        self.providers
            .list()
            .iter()
            .map(|p| ProviderOut {
                name: p.kind.name().to_owned(),
                start_url: format!("/api/auth/oauth/{}/start", p.kind.name()),
            })
            .collect()
    }

    fn configured(&self, name: &str) -> Result<&Provider, ChatError> {
        self.providers.get(name).ok_or_else(|| {
            let shown: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(32)
                .collect();
            OAuthError::NotConfigured(if shown.is_empty() {
                "that provider".into()
            } else {
                shown
            })
            .into()
        })
    }

    /// Starts a sign-in with provider `name`, coming back to `base` (the server's public
    /// origin). `nonce` is the page's own value (16 to 64 base64url characters); `browser` the
    /// value the browser's cookie holds, if any.
    pub async fn start(
        &self,
        name: &str,
        base: &str,
        browser: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<Begun, ChatError> {
        if nonce.is_some_and(|n| !valid_page_value(n)) {
            return Err(ChatError::invalid(
                "nonce must be 16 to 64 base64url characters",
            ));
        }
        self.begin(name, base, browser, None, nonce).await
    }

    /// Starts linking an account of provider `name` to mine; a conflict if I have one linked
    /// already.
    pub async fn link(
        &self,
        me: &UserId,
        name: &str,
        base: &str,
        browser: Option<&str>,
    ) -> Result<Begun, ChatError> {
        let provider = self.configured(name)?.kind.name();
        if self
            .store
            .oauth_links_of(me)
            .await?
            .iter()
            .any(|l| l.provider == provider)
        {
            return Err(ChatError::Conflict(format!(
                "a {provider} account is linked already; unlink it first"
            )));
        }
        self.begin(name, base, browser, Some(me.clone()), None)
            .await
    }

    /// Starts a sign-in (or a link for `link_user`): stores the state and returns the
    /// provider's URL and the browser's value.
    async fn begin(
        &self,
        name: &str,
        base: &str,
        browser: Option<&str>,
        link_user: Option<UserId>,
        page: Option<&str>,
    ) -> Result<Begun, ChatError> {
        let provider = self.configured(name)?;
        let redirect_uri = format!("{base}/api/auth/oauth/{}/callback", provider.kind.name());
        let started = provider.start(&redirect_uri, page)?;
        let browser = browser_value(browser);
        let now = now_ms();
        self.store
            .insert_oauth_state(oauth_state::Model {
                state_hash: hash_token(&started.state),
                provider: provider.kind.name().to_owned(),
                browser_hash: hash_token(&browser),
                pkce_verifier: started.pkce_verifier,
                redirect_uri,
                link_user_id: link_user.map(|u| u.0),
                created_at: now,
                expires_at: now.saturating_add(self.providers.state_ttl_ms),
            })
            .await?;
        Ok(Begun {
            authorize_url: started.authorize_url,
            browser,
        })
    }

    /// Completes what the provider sent back for provider `name`, in the browser whose cookie
    /// holds `browser`: signs in (or creates the account), or links.
    pub async fn complete(
        &self,
        name: &str,
        q: CallbackQuery,
        browser: Option<&str>,
    ) -> Result<Outcome, ChatError> {
        let provider = self.configured(name)?;
        let given_state = q
            .state
            .filter(|s| !s.is_empty() && s.len() <= MAX_STATE)
            .ok_or(OAuthError::Missing("state"))?;
        // Taken out first: whatever happens next, this state cannot be used again.
        let pending = self
            .store
            .take_oauth_state(&hash_token(&given_state))
            .await?
            .ok_or(OAuthError::BadState)?;
        if pending.provider != provider.kind.name() {
            return Err(OAuthError::BadState.into());
        }
        if browser.map(hash_token).as_deref() != Some(pending.browser_hash.as_str()) {
            return Err(OAuthError::OtherBrowser.into());
        }
        if let Some(error) = q.error {
            let mut reason = printable(&error, 64);
            if let Some(d) = q
                .error_description
                .as_deref()
                .map(|d| printable(d, 200))
                .filter(|d| !d.is_empty())
            {
                reason = format!("{reason} ({d})");
            }
            return Err(OAuthError::Denied {
                provider: provider.kind.name(),
                reason,
            }
            .into());
        }
        let code = q
            .code
            .filter(|c| !c.is_empty() && c.len() <= MAX_CODE)
            .ok_or(OAuthError::Missing("code"))?;
        let profile = provider
            .finish(
                &self.providers.http,
                &code,
                &pending.redirect_uri,
                pending.pkce_verifier,
            )
            .await?;
        let info = link_info(provider, &profile);
        match pending.link_user_id {
            Some(user) => self
                .link_to(&UserId(user), info)
                .await
                .map(|l| Outcome::Linked(link_out(&l))),
            None => {
                let nonce = page_of_state(&given_state).map(str::to_owned);
                let user = self.sign_in(provider, &profile, info).await?;
                Ok(Outcome::SignedIn { user, nonce })
            }
        }
    }

    /// Links the provider account to `user`, unless it belongs to someone else.
    async fn link_to(&self, user: &UserId, info: LinkInfo) -> Result<oauth_link::Model, ChatError> {
        let provider = info.provider.clone();
        let account = self
            .store
            .user_by_id(user)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(ChatError::Unauthorized)?;
        if let Some(existing) = self.store.oauth_link(&info.provider, &info.subject).await? {
            if existing.user_id != account.id {
                return Err(ChatError::Conflict(format!(
                    "this {provider} account is already linked to another account"
                )));
            }
            self.store.refresh_oauth_link(info).await?;
            return Ok(existing);
        }
        match self.store.insert_oauth_link(user, info).await {
            Ok(link) => {
                tracing::info!(user = %user, provider, "provider account linked");
                Ok(link)
            }
            Err(StoreError::Conflict(_)) => Err(ChatError::Conflict(format!(
                "this {provider} account is linked to another account, or yours has a {provider} account linked already"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The account linked to the provider account, created (with its link, in one
    /// transaction) the first time; forbidden when it is banned.
    async fn sign_in(
        &self,
        provider: &Provider,
        profile: &Profile,
        info: LinkInfo,
    ) -> Result<user::Model, ChatError> {
        let existing = self.store.oauth_link(&info.provider, &info.subject).await?;
        let user = match existing {
            Some(link) => {
                self.store.refresh_oauth_link(info).await?;
                self.linked_user(&link).await?
            }
            None => {
                let candidates = username_candidates(provider, profile);
                let display = display_name(provider, profile);
                match self
                    .store
                    .create_user_with_link(&candidates, &display, info)
                    .await?
                {
                    Created::User(u) => {
                        tracing::info!(user = %u.id, username = %u.username, provider = provider.kind.name(), "registered through provider");
                        u
                    }
                    Created::AlreadyLinked(link) => self.linked_user(&link).await?,
                    Created::NoUsername => {
                        return Err(ChatError::Conflict(
                            "no free username could be found; try again".into(),
                        ))
                    }
                }
            }
        };
        if user.banned_at.is_some() {
            return Err(ChatError::Forbidden("banned".into()));
        }
        Ok(user)
    }

    async fn linked_user(&self, link: &oauth_link::Model) -> Result<user::Model, ChatError> {
        // Deleting an account removes its links, so a link always names a live account.
        self.store
            .user_by_id(&UserId(link.user_id.clone()))
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(ChatError::Internal)
    }

    /// My linked accounts, and whether I have a password.
    pub async fn links(&self, me: &user::Model) -> Result<LinksBody, ChatError> {
        let links = self
            .store
            .oauth_links_of(&UserId(me.id.clone()))
            .await?
            .iter()
            .map(link_out)
            .collect();
        Ok(LinksBody {
            has_password: !me.password_hash.is_empty(),
            links,
        })
    }

    /// Unlinks my account of `provider`; not found when not linked, a conflict when it is my
    /// last way to sign in.
    pub async fn unlink(&self, me: &UserId, provider: &str) -> Result<(), ChatError> {
        match self.store.unlink_oauth(me, provider).await? {
            Unlinked::Done => {
                tracing::info!("provider account unlinked");
                Ok(())
            }
            Unlinked::NotLinked => Err(ChatError::NotFound("linked account")),
            Unlinked::LastWayToSignIn => Err(ChatError::Conflict(
                "this is the only way to sign in to your account: set a password (POST /api/me/password) or link another account first"
                    .into(),
            )),
        }
    }
}

fn link_info(provider: &Provider, p: &Profile) -> LinkInfo {
    let cut =
        |s: &Option<String>, n: usize| s.as_ref().map(|s| s.chars().take(n).collect::<String>());
    LinkInfo {
        provider: provider.kind.name().to_owned(),
        subject: p.subject.clone(),
        name: cut(&p.name, 200),
        username: cut(&p.username, 100),
        avatar_url: cut(&p.avatar_url, 2000),
    }
}

fn display_name(provider: &Provider, p: &Profile) -> String {
    let name = p
        .name
        .as_deref()
        .or(p.username.as_deref())
        .map(|n| printable(n, 100))
        .unwrap_or_default();
    if name.is_empty() {
        format!("{} user", provider.kind.name())
    } else {
        name
    }
}

/// Usernames to try for a new account, best first: the provider's handle or the name made to
/// fit (`Ann Lee` → `ann.lee`), then with random digits appended. The owner can change it later
/// (`PATCH /api/me` {username}).
fn username_candidates(provider: &Provider, p: &Profile) -> Vec<String> {
    let source = p
        .username
        .as_deref()
        .or(p.name.as_deref())
        .unwrap_or_default();
    let mut base = String::new();
    for c in source.trim().to_lowercase().chars() {
        let c = if c.is_whitespace() { '.' } else { c };
        if c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c) {
            if "_.-".contains(c) && (base.is_empty() || base.ends_with(['_', '.', '-'])) {
                continue;
            }
            base.push(c);
        }
    }
    let mut base: String = base
        .chars()
        .take(24)
        .collect::<String>()
        .trim_end_matches(['.', '-'])
        .to_owned();
    if base.chars().count() < 3 {
        base = format!("{}-user", provider.kind.name());
    }
    let mut out = vec![base.clone()];
    let mut rng = rand::thread_rng();
    for digits in [4u32, 4, 4, 6, 6, 8] {
        let n = rng.next_u64() % 10u64.pow(digits);
        out.push(format!("{base}{n:0width$}", width = digits as usize));
    }
    out.into_iter()
        .filter_map(|u| crate::validate::username(&u).ok())
        .collect()
}

/// At most `max` characters of `s`, without control characters.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::OAuthSettings;
    use crate::oauth::ProviderKind;

    fn facebook() -> Provider {
        let mut s = OAuthSettings::default();
        s.facebook.client_id = "id".into();
        s.facebook.client_secret = crate::config::Secret::new("secret");
        Providers::from_settings(&s)
            .unwrap()
            .get(ProviderKind::Facebook.name())
            .unwrap()
            .clone()
    }

    fn profile(name: Option<&str>, username: Option<&str>) -> Profile {
        Profile {
            subject: "1".into(),
            name: name.map(Into::into),
            username: username.map(Into::into),
            avatar_url: None,
        }
    }

    #[test]
    fn usernames_come_from_the_handle_or_the_name() {
        let fb = facebook();
        let first = |p: Profile| username_candidates(&fb, &p)[0].clone();
        assert_eq!(first(profile(Some("Ann Lee"), None)), "ann.lee");
        assert_eq!(first(profile(Some("Ann Lee"), Some("AnnL_"))), "annl_");
        assert_eq!(first(profile(Some("  Jean -- Luc  "), None)), "jean.luc");
        assert_eq!(first(profile(Some("李小龙"), None)), "facebook-user");
        assert_eq!(first(profile(None, None)), "facebook-user");
        let long = first(profile(
            Some("A very very long name that goes on and on"),
            None,
        ));
        assert!(
            long.len() <= 24 && long.starts_with("a.very.very"),
            "{long}"
        );
        let all = username_candidates(&fb, &profile(Some("Ann Lee"), None));
        assert!(
            all.len() >= 5
                && all[1..]
                    .iter()
                    .all(|u| u.starts_with("ann.lee") && u.len() > 7)
        );
    }

    #[test]
    fn display_names_are_printable_or_named_after_the_provider() {
        let fb = facebook();
        assert_eq!(
            display_name(&fb, &profile(Some(" Ann\u{7}Lee "), None)),
            "AnnLee"
        );
        assert_eq!(display_name(&fb, &profile(None, Some("annl"))), "annl");
        assert_eq!(display_name(&fb, &profile(None, None)), "facebook user");
    }

    #[test]
    fn the_browser_keeps_its_value_unless_it_is_not_one_of_ours() {
        let ours = random_urlsafe(32);
        assert_eq!(ours.len(), BROWSER_VALUE_LEN);
        assert_eq!(browser_value(Some(&ours)), ours);
        for theirs in [
            None,
            Some("short"),
            Some(&*"x".repeat(42)),
            Some(&*format!("{}!", "x".repeat(42))),
        ] {
            let made = browser_value(theirs);
            assert_eq!(made.len(), BROWSER_VALUE_LEN);
            assert_ne!(Some(made.as_str()), theirs);
        }
    }
}
