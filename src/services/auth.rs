//! The accounts-and-tokens domain: signing up and signing in with a username and password,
//! signing out, issuing session tokens (for these and for OAuth sign-ins), and finding the
//! account a token names. Answers in the API's types (`chat_protocol::api::auth`).
//!
//! Passwords are hashed with Argon2id on their own bounded pool ([`crate::passwords`]); logins
//! and sign-ups are throttled per address and account ([`crate::limits`]). Tokens are 256
//! random bits, given to the client once and stored only as their SHA-256 hash, with an expiry
//! and the `User-Agent` that signed in (for the owner's list of sessions).

use std::net::IpAddr;

use actix::Addr;
use entities::user;

use crate::actors::registry::RoomRegistry;
use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{now_ms, random_urlsafe, UserId};
use crate::limits::Limits;
use crate::passwords::PasswordPool;
use crate::protocol::api::auth::{Login, Register, SignedIn};
use crate::protocol::settings::UserSettings;
use crate::store::{Store, StoreError};
use crate::transport::{hash_token, plausible_token, user_out};

/// Longest password accepted at sign-up (characters), whatever `auth.min_password_len` is.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Longest `User-Agent` kept with a session (the column's size, in characters).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The service; cheap to make for each request (it borrows what it uses).
pub struct Auth<'a> {
    pub store: &'a Store,
    pub registry: &'a Addr<RoomRegistry>,
    pub settings: &'a Settings,
    pub passwords: &'a PasswordPool,
    pub limits: &'a Limits,
}

/// Where a sign-up or sign-in comes from, as the transport saw it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requester<'a> {
    /// The client's address (the TCP peer; behind a reverse proxy, the proxy's).
    pub peer: Option<IpAddr>,
    /// The request's `User-Agent` header, if it was text.
    pub user_agent: Option<&'a str>,
}

/// The account a token names, and the token's hash (which names the session).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: user::Model,
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
}

/// The hash a login for an unknown name is checked against, so that it takes as long as one for
/// a known name. Hashing a constant fails only with Argon2 parameters that make every password
/// check fail too; then "" (an unknown name is refused at once, as every login is).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::passwords::hash_now("not a password").unwrap_or_default())
}

/// A new password's length: `min` to [`MAX_PASSWORD_CHARS`] characters.
fn check_password_len(password: &str, min: usize) -> Result<(), ChatError> {
    let len = password.chars().count();
    if len < min || len > MAX_PASSWORD_CHARS {
        return Err(ChatError::invalid(format!(
            "password: {min} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// The display name of a new account: the one given, checked as `PATCH /api/me` checks it;
/// none (or only blanks) means the username.
fn display_name_or(given: Option<&str>, username: &str) -> Result<String, ChatError> {
    match given.map(str::trim) {
        Some(d) if !d.is_empty() => crate::validate::display_name(d),
        _ => Ok(username.to_owned()),
    }
}

/// The name a login is for: usernames are stored trimmed and in lower case.
fn login_name(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The `User-Agent` kept with a session: trimmed, cut to [`MAX_USER_AGENT_CHARS`] characters;
/// none when absent or blank.
fn session_user_agent(header: Option<&str>) -> Option<String> {
    let ua = header?.trim();
    (!ua.is_empty()).then(|| ua.chars().take(MAX_USER_AGENT_CHARS).collect())
}

impl Auth<'_> {
    /// Signs up: a new account and its first session. `Conflict` when the username is taken;
    /// `Throttled` when the address has made too many accounts.
    pub async fn register(
        &self,
        body: Register,
        from: Requester<'_>,
    ) -> Result<SignedIn, ChatError> {
        self.limits.register_attempt(from.peer)?;
        let username = crate::validate::username(&body.username)?;
        check_password_len(&body.password, self.settings.auth.min_password_len)?;
        let display_name = display_name_or(body.display_name.as_deref(), &username)?;
        if self.store.user_by_username(&username).await?.is_some() {
            return Err(ChatError::Conflict("username is taken".into()));
        }
        let hash = self.passwords.hash(body.password).await?;
        let user = self
            .store
            .create_user(&username, &display_name, &hash)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ChatError::Conflict("username is taken".into()),
                other => other.into(),
            })?;
        let token = self.issue_token(&user, from.user_agent).await?;
        self.limits.signed_in(from.peer, &user.username);
        tracing::info!(user = %user.id, username = %user.username, "registered");
        Ok(SignedIn {
            token,
            user: user_out(&user),
        })
    }

    /// Signs in: a new session. `Unauthorized` on a wrong username or password (an unknown name
    /// takes as long as a wrong password), `Forbidden` when the account is banned, `Throttled`
    /// when a login limit is spent (checked before the password, so a refused attempt reveals
    /// nothing).
    pub async fn login(&self, body: Login, from: Requester<'_>) -> Result<SignedIn, ChatError> {
        let username = login_name(&body.username);
        self.limits.login_attempt(from.peer, &username)?;
        let user = self.store.user_by_username(&username).await?;
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let ok = self.passwords.verify(&body.password, &stored).await?;
        let Some(user) = user.filter(|_| ok) else {
            return Err(ChatError::Unauthorized);
        };
        if user.banned_at.is_some() {
            return Err(ChatError::Forbidden("banned".into()));
        }
        let token = self.issue_token(&user, from.user_agent).await?;
        self.limits.signed_in(from.peer, &username);
        Ok(SignedIn {
            token,
            user: user_out(&user),
        })
    }

    /// Signs out the session `token_hash` names: the token stops working and its open sockets
    /// are closed.
    pub async fn logout(&self, token_hash: &str) -> Result<(), ChatError> {
        self.store.delete_token(token_hash).await?;
        crate::services::people::close_tokens(
            self.registry,
            vec![token_hash.to_owned()],
            "logged out",
        );
        Ok(())
    }

    /// A new session token for `user`, valid for `auth.token_ttl_secs`, remembering the
    /// `User-Agent` that signed in. Only its hash is stored.
    pub async fn issue_token(
        &self,
        user: &user::Model,
        user_agent: Option<&str>,
    ) -> Result<String, ChatError> {
        let token = random_urlsafe(32);
        let expires = now_ms() + self.settings.auth.token_ttl_secs * 1000;
        self.store
            .insert_token(
                &hash_token(&token),
                &UserId(user.id.clone()),
                expires,
                session_user_agent(user_agent),
            )
            .await?;
        Ok(token)
    }

    /// The account a token names; `Unauthorized` without a valid, unexpired one.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Authenticated, ChatError> {
        account_for_token(self.store, token).await
    }

    /// [`Self::authenticate`] for a WebSocket session: the account and its settings in one
    /// query.
    pub async fn authenticate_session(
        &self,
        token: Option<&str>,
    ) -> Result<(Authenticated, UserSettings), ChatError> {
        let token_hash = hash_token(plausible_token(token).ok_or(ChatError::Unauthorized)?);
        let (user, settings) = self
            .store
            .session_for_token(&token_hash)
            .await?
            .ok_or(ChatError::Unauthorized)?;
        Ok((Authenticated { user, token_hash }, settings))
    }
}

/// The account a token names; `Unauthorized` without a valid, unexpired one. The one token
/// check of HTTP requests ([`Auth::authenticate`]) and Socket.IO connects, which have no
/// `Auth` of their own.
pub async fn account_for_token(
    store: &Store,
    token: Option<&str>,
) -> Result<Authenticated, ChatError> {
    let token_hash = hash_token(plausible_token(token).ok_or(ChatError::Unauthorized)?);
    let user = store
        .user_for_token(&token_hash)
        .await?
        .ok_or(ChatError::Unauthorized)?;
    Ok(Authenticated { user, token_hash })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_bounded_on_both_sides_in_characters() {
        assert!(check_password_len("1234567", 8).is_err());
        assert!(check_password_len("12345678", 8).is_ok());
        // Characters, not bytes: eight two-byte letters are eight.
        assert!(check_password_len("éééééééé", 8).is_ok());
        assert!(check_password_len(&"x".repeat(MAX_PASSWORD_CHARS), 8).is_ok());
        let refused = check_password_len(&"x".repeat(MAX_PASSWORD_CHARS + 1), 8);
        assert_eq!(
            refused.map_err(|e| e.to_string()).unwrap_err(),
            ChatError::invalid("password: 8 to 1024 characters").to_string()
        );
    }

    #[test]
    fn a_missing_or_blank_display_name_means_the_username() {
        assert_eq!(display_name_or(None, "ann").unwrap(), "ann");
        assert_eq!(display_name_or(Some("   "), "ann").unwrap(), "ann");
        assert_eq!(
            display_name_or(Some(" Ann Lee "), "ann").unwrap(),
            "Ann Lee"
        );
        assert!(display_name_or(Some(&"x".repeat(101)), "ann").is_err());
    }

    #[test]
    fn logins_are_for_the_trimmed_lower_case_name() {
        assert_eq!(login_name("  Ann "), "ann");
        assert_eq!(login_name("ANN"), "ann");
    }

    #[test]
    fn the_user_agent_is_trimmed_cut_and_dropped_when_blank() {
        assert_eq!(session_user_agent(None), None);
        assert_eq!(session_user_agent(Some("  ")), None);
        assert_eq!(
            session_user_agent(Some(" curl/8 ")).as_deref(),
            Some("curl/8")
        );
        let long = "é".repeat(MAX_USER_AGENT_CHARS + 10);
        let kept = session_user_agent(Some(&long)).unwrap();
        assert_eq!(kept.chars().count(), MAX_USER_AGENT_CHARS);
    }
}
