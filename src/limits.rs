//! Request rate limits (`[limits]`): login and sign-up throttling by client address and account,
//! new Socket.IO connections per address, and per-user limits on the HTTP endpoints that write
//! or search. Each is a `governor` keyed
//! GCRA limiter; a refused request gets 429 with `Retry-After` ([`ChatError::Throttled`]).
//!
//! Logins are checked before the password is (so a refused guess costs no Argon2 and tells
//! nothing), against three limits:
//!
//! - per address (IPv6: per /64): one source trying many accounts;
//! - per address and account: one source guessing one password;
//! - per account, for addresses that have not signed in to that account before: many sources
//!   guessing one password. An address the account's owner signed in (or registered) from is
//!   remembered and skips this limit, so someone else's guesses cannot lock the owner out; an
//!   owner on a new address waits at most until the limit refills.
//!
//! Limits are kept in memory, per server process; keys idle longer than their refill time are
//! dropped by [`Limits::sweep`].

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{LimitSettings, Rate};
use crate::error::ChatError;
use crate::ids::UserId;

/// Addresses remembered per account as "signed in from here before".
const KNOWN_PER_ACCOUNT: usize = 8;
/// Accounts whose known addresses are remembered; beyond it the memory starts over.
const KNOWN_ACCOUNTS: usize = 100_000;

/// Which per-user limit a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// `POST /api/media`.
    Upload,
    /// `POST /api/push/subscriptions`.
    PushSubscription,
    /// `GET /api/users?q=`.
    Search,
    /// `POST /api/contacts/match`.
    ContactMatch,
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// Every rate limiter of the server (one per process, shared by the HTTP workers).
pub struct Limits {
    clock: DefaultClock,
    exempt: Vec<IpAddr>,
    login_address: Keyed<IpAddr>,
    login_address_account: Keyed<(IpAddr, String)>,
    login_account: Keyed<String>,
    register_address: Keyed<IpAddr>,
    handshake_address: Keyed<IpAddr>,
    uploads: Keyed<String>,
    push_subscriptions: Keyed<String>,
    searches: Keyed<String>,
    contact_matches: Keyed<String>,
    /// Account (username) → addresses it was signed in to from.
    known: Mutex<HashMap<String, Vec<IpAddr>>>,
}

fn quota(rate: Rate) -> Quota {
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_millis(rate.period_ms.max(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The key of a client address: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64
/// (one host usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Limits {
    /// The limiters `settings` describe (already validated).
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            clock: DefaultClock::default(),
            exempt: settings
                .exempt_addresses
                .iter()
                .filter_map(|a| a.trim().parse().ok())
                .map(address_key)
                .collect(),
            login_address: RateLimiter::keyed(quota(settings.login_per_address)),
            login_address_account: RateLimiter::keyed(quota(settings.login_per_address_account)),
            login_account: RateLimiter::keyed(quota(settings.login_per_account)),
            register_address: RateLimiter::keyed(quota(settings.register_per_address)),
            handshake_address: RateLimiter::keyed(quota(settings.socketio_handshakes_per_address)),
            uploads: RateLimiter::keyed(quota(settings.uploads_per_user)),
            push_subscriptions: RateLimiter::keyed(quota(settings.push_subscriptions_per_user)),
            searches: RateLimiter::keyed(quota(settings.search_per_user)),
            contact_matches: RateLimiter::keyed(quota(settings.contact_match_per_user)),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one login attempt at `account` (a normalised username) from `peer`; `Throttled`
    /// when a limit is spent. Runs before the password is checked.
    pub fn login_attempt(&self, peer: Option<IpAddr>, account: &str) -> Result<(), ChatError> {
        let address = peer.map(address_key);
        let known = address.is_some_and(|a| self.is_known(account, a));
        if let Some(a) = address.filter(|a| !self.exempt.contains(a)) {
            self.check(&self.login_address, &a)?;
            self.check(&self.login_address_account, &(a, account.to_owned()))?;
        }
        if !known {
            self.check(&self.login_account, &account.to_owned())?;
        }
        Ok(())
    }

    /// Remembers that `account` signed in (or registered) from `peer`: later logins from there
    /// skip the per-account limit.
    pub fn signed_in(&self, peer: Option<IpAddr>, account: &str) {
        let Some(address) = peer.map(address_key) else {
            return;
        };
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.len() >= KNOWN_ACCOUNTS && !known.contains_key(account) {
            known.clear();
        }
        let list = known.entry(account.to_owned()).or_default();
        list.retain(|a| *a != address);
        if list.len() >= KNOWN_PER_ACCOUNT {
            list.remove(0);
        }
        list.push(address);
    }

    fn is_known(&self, account: &str, address: IpAddr) -> bool {
        self.known
            .lock()
            .map(|k| k.get(account).is_some_and(|l| l.contains(&address)))
            .unwrap_or(false)
    }

    /// Counts one registration from `peer`.
    pub fn register_attempt(&self, peer: Option<IpAddr>) -> Result<(), ChatError> {
        match peer.map(address_key).filter(|a| !self.exempt.contains(a)) {
            Some(a) => self.check(&self.register_address, &a),
            None => Ok(()),
        }
    }

    /// Counts one new Engine.IO connection from `peer`.
    pub fn socketio_handshake(&self, peer: Option<IpAddr>) -> Result<(), ChatError> {
        match peer.map(address_key).filter(|a| !self.exempt.contains(a)) {
            Some(a) => self.check(&self.handshake_address, &a),
            None => Ok(()),
        }
    }

    /// Counts one `action` by `user`.
    pub fn user_action(&self, action: UserAction, user: &UserId) -> Result<(), ChatError> {
        let limiter = match action {
            UserAction::Upload => &self.uploads,
            UserAction::PushSubscription => &self.push_subscriptions,
            UserAction::Search => &self.searches,
            UserAction::ContactMatch => &self.contact_matches,
        };
        self.check(limiter, &user.0)
    }

    fn check<K: Clone + Hash + Eq>(&self, limiter: &Keyed<K>, key: &K) -> Result<(), ChatError> {
        limiter.check_key(key).map_err(|not_until| {
            crate::metrics::inc(&crate::metrics::HTTP_THROTTLED);
            let wait = not_until.wait_time_from(self.clock.now());
            ChatError::Throttled {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    /// Drops the state of keys whose limit has refilled (call now and then).
    pub fn sweep(&self) {
        self.login_address.retain_recent();
        self.login_address_account.retain_recent();
        self.login_account.retain_recent();
        self.register_address.retain_recent();
        self.handshake_address.retain_recent();
        self.uploads.retain_recent();
        self.push_subscriptions.retain_recent();
        self.searches.retain_recent();
        self.contact_matches.retain_recent();
    }
}
