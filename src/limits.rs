//! Request rate limits (`[limits]`): login and sign-up throttling by client address and account,
//! new Socket.IO connections per address, per-user limits on the HTTP endpoints that write
//! or search, and on verification codes (per user and per number or address). Each is a `governor` keyed
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
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

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
    /// `POST /api/me/{phone,email}/verify` (a code is sent).
    Verify,
    /// `POST /api/me/{phone,email}/confirm` (a code is entered).
    VerifyConfirm,
}

/// A keyed limiter on clock `C`.
type Keyed<K, C> = RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Every rate limiter of the server (one per process, shared by the HTTP workers). `C` is the
/// clock: the real one, or a fake one that tests move by hand.
pub struct Limits<C: Clock = DefaultClock> {
    clock: C,
    exempt: Vec<IpAddr>,
    login_address: Keyed<IpAddr, C>,
    login_address_account: Keyed<(IpAddr, String), C>,
    login_account: Keyed<String, C>,
    register_address: Keyed<IpAddr, C>,
    handshake_address: Keyed<IpAddr, C>,
    uploads: Keyed<String, C>,
    push_subscriptions: Keyed<String, C>,
    searches: Keyed<String, C>,
    contact_matches: Keyed<String, C>,
    verifies: Keyed<String, C>,
    verify_targets: Keyed<String, C>,
    verify_confirms: Keyed<String, C>,
    bootstrap_address: Keyed<IpAddr, C>,
    bootstrap_account: Keyed<String, C>,
    /// Account (username) → addresses it was signed in to from.
    known: Mutex<HashMap<String, Vec<IpAddr>>>,
}

fn quota(rate: Rate) -> Quota {
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_millis(rate.period_ms.max(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// A keyed limiter of `rate` on `clock`.
fn keyed<K: Clone + Hash + Eq, C: Clock + Clone>(rate: Rate, clock: &C) -> Keyed<K, C> {
    RateLimiter::dashmap_with_clock(quota(rate), clock.clone())
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
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limits<C> {
    /// The limiters `settings` describe, on `clock`.
    pub fn with_clock(settings: &LimitSettings, clock: C) -> Self {
        Self {
            exempt: settings
                .exempt_addresses
                .iter()
                .filter_map(|a| a.trim().parse().ok())
                .map(address_key)
                .collect(),
            login_address: keyed(settings.login_per_address, &clock),
            login_address_account: keyed(settings.login_per_address_account, &clock),
            login_account: keyed(settings.login_per_account, &clock),
            register_address: keyed(settings.register_per_address, &clock),
            handshake_address: keyed(settings.socketio_handshakes_per_address, &clock),
            uploads: keyed(settings.uploads_per_user, &clock),
            push_subscriptions: keyed(settings.push_subscriptions_per_user, &clock),
            searches: keyed(settings.search_per_user, &clock),
            contact_matches: keyed(settings.contact_match_per_user, &clock),
            verifies: keyed(settings.verify_per_user, &clock),
            verify_targets: keyed(settings.verify_per_target, &clock),
            verify_confirms: keyed(settings.verify_confirm_per_user, &clock),
            bootstrap_address: keyed(settings.admin_bootstrap, &clock),
            bootstrap_account: keyed(settings.admin_bootstrap, &clock),
            known: Mutex::new(HashMap::new()),
            clock,
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

    /// Counts one admin bootstrap attempt (`POST /api/admin/bootstrap`) by `user` from `peer`:
    /// per address (unless exempt) and per account.
    pub fn admin_bootstrap(&self, peer: Option<IpAddr>, user: &UserId) -> Result<(), ChatError> {
        if let Some(a) = peer.map(address_key).filter(|a| !self.exempt.contains(a)) {
            self.check(&self.bootstrap_address, &a)?;
        }
        self.check(&self.bootstrap_account, &user.0)
    }

    /// Counts one `action` by `user`.
    pub fn user_action(&self, action: UserAction, user: &UserId) -> Result<(), ChatError> {
        let limiter = match action {
            UserAction::Upload => &self.uploads,
            UserAction::PushSubscription => &self.push_subscriptions,
            UserAction::Search => &self.searches,
            UserAction::ContactMatch => &self.contact_matches,
            UserAction::Verify => &self.verifies,
            UserAction::VerifyConfirm => &self.verify_confirms,
        };
        self.check(limiter, &user.0)
    }

    /// Counts one verification code sent to `target` (a phone number or e-mail address), by
    /// whichever account: one number cannot be flooded with codes from many accounts.
    pub fn verify_target(&self, target: &str) -> Result<(), ChatError> {
        self.check(&self.verify_targets, &target.to_owned())
    }

    fn check<K: Clone + Hash + Eq>(&self, limiter: &Keyed<K, C>, key: &K) -> Result<(), ChatError> {
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
        self.verifies.retain_recent();
        self.verify_targets.retain_recent();
        self.verify_confirms.retain_recent();
        self.bootstrap_address.retain_recent();
        self.bootstrap_account.retain_recent();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn user(name: &str) -> UserId {
        UserId::from(name)
    }

    /// Limits on a fake clock, every rate `burst` at once then one per second, `tweak`ed.
    fn limits(
        burst: u32,
        tweak: impl FnOnce(&mut LimitSettings),
    ) -> (Limits<FakeRelativeClock>, FakeRelativeClock) {
        let rate = Rate {
            burst,
            period_ms: 1_000,
        };
        let mut s = LimitSettings {
            exempt_addresses: vec![],
            login_per_address: rate,
            login_per_address_account: rate,
            login_per_account: rate,
            register_per_address: rate,
            uploads_per_user: rate,
            push_subscriptions_per_user: rate,
            search_per_user: rate,
            contact_match_per_user: rate,
            verify_per_user: rate,
            verify_per_target: rate,
            verify_confirm_per_user: rate,
            socketio_handshakes_per_address: rate,
            admin_bootstrap: rate,
        };
        tweak(&mut s);
        let clock = FakeRelativeClock::default();
        (Limits::with_clock(&s, clock.clone()), clock)
    }

    /// `None` if allowed, else the `Retry-After` seconds.
    fn refused(r: Result<(), ChatError>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(ChatError::Throttled { retry_after_secs }) => Some(retry_after_secs),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn a_burst_then_refusal_until_the_limit_refills() {
        let (l, clock) = limits(3, |_| {});
        let ann = user("ann");
        let upload = || refused(l.user_action(UserAction::Upload, &ann));
        assert_eq!([upload(), upload(), upload()], [None, None, None]);
        assert_eq!(upload(), Some(1));
        clock.advance(Duration::from_millis(999));
        assert_eq!(upload(), Some(1), "a partial second rounds up");
        clock.advance(Duration::from_millis(1));
        assert_eq!(upload(), None, "one more per period");
        assert_eq!(upload(), Some(1));
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            [upload(), upload(), upload(), upload()],
            [None, None, None, Some(1)],
            "the burst at most"
        );
    }

    #[test]
    fn retry_after_is_the_wait_in_whole_seconds_rounded_up() {
        let (l, clock) = limits(1, |s| {
            s.search_per_user = Rate {
                burst: 1,
                period_ms: 2_500,
            }
        });
        let ann = user("ann");
        let search = || refused(l.user_action(UserAction::Search, &ann));
        assert_eq!(search(), None);
        assert_eq!(search(), Some(3));
        clock.advance(Duration::from_millis(1_000));
        assert_eq!(search(), Some(2));
        clock.advance(Duration::from_millis(1_499));
        assert_eq!(search(), Some(1));
    }

    #[test]
    fn each_user_and_each_action_has_its_own_limit() {
        let (l, _) = limits(1, |_| {});
        let (ann, bob) = (user("ann"), user("bob"));
        assert_eq!(refused(l.user_action(UserAction::Upload, &ann)), None);
        assert!(refused(l.user_action(UserAction::Upload, &ann)).is_some());
        assert_eq!(refused(l.user_action(UserAction::Upload, &bob)), None);
        for action in [
            UserAction::PushSubscription,
            UserAction::Search,
            UserAction::ContactMatch,
            UserAction::Verify,
            UserAction::VerifyConfirm,
        ] {
            assert_eq!(refused(l.user_action(action, &ann)), None, "{action:?}");
            assert!(refused(l.user_action(action, &ann)).is_some(), "{action:?}");
        }
    }

    #[test]
    fn logins_count_per_address_per_address_and_account_and_per_account() {
        let (l, _) = limits(100, |s| {
            s.login_per_address.burst = 4;
            s.login_per_address_account.burst = 2;
            s.login_per_account.burst = 3;
        });
        let login = |peer: &str, account: &str| refused(l.login_attempt(ip(peer), account));
        // One address guessing one password.
        assert_eq!(
            [login("10.0.0.1", "x"), login("10.0.0.1", "x")],
            [None, None]
        );
        assert!(login("10.0.0.1", "x").is_some());
        // The same address at another account, until the address's own limit.
        assert_eq!(login("10.0.0.1", "y"), None);
        assert!(
            login("10.0.0.1", "z").is_some(),
            "4 attempts from one address"
        );
        // Many addresses guessing one password. An attempt refused by one limit counts
        // against no later one: x has 2 attempts against its account limit of 3.
        assert_eq!(login("10.0.0.2", "x"), None);
        assert!(login("10.0.0.3", "x").is_some());
    }

    #[test]
    fn an_address_the_owner_signed_in_from_skips_the_per_account_limit() {
        let (l, _) = limits(100, |s| s.login_per_account.burst = 1);
        l.signed_in(ip("10.0.0.9"), "x");
        assert_eq!(refused(l.login_attempt(ip("10.0.0.1"), "x")), None);
        assert!(refused(l.login_attempt(ip("10.0.0.2"), "x")).is_some());
        assert_eq!(
            refused(l.login_attempt(ip("10.0.0.9"), "x")),
            None,
            "the owner"
        );
        assert_eq!(refused(l.login_attempt(ip("10.0.0.9"), "x")), None);
    }

    #[test]
    fn exempt_addresses_skip_the_address_limits_only() {
        let (l, _) = limits(1, |s| s.exempt_addresses = vec![" 10.0.0.7 ".into()]);
        for _ in 0..3 {
            assert_eq!(refused(l.register_attempt(ip("10.0.0.7"))), None);
            assert_eq!(refused(l.socketio_handshake(ip("10.0.0.7"))), None);
        }
        assert_eq!(refused(l.login_attempt(ip("10.0.0.7"), "x")), None);
        assert!(
            refused(l.login_attempt(ip("10.0.0.7"), "x")).is_some(),
            "the per-account limit still applies"
        );
        assert_eq!(refused(l.register_attempt(ip("10.0.0.8"))), None);
        assert!(refused(l.register_attempt(ip("10.0.0.8"))).is_some());
    }

    #[test]
    fn requests_without_a_peer_address_count_only_per_account() {
        let (l, _) = limits(1, |_| {});
        for _ in 0..3 {
            assert_eq!(refused(l.register_attempt(None)), None);
            assert_eq!(refused(l.socketio_handshake(None)), None);
        }
        assert_eq!(refused(l.login_attempt(None, "x")), None);
        assert!(refused(l.login_attempt(None, "x")).is_some());
    }

    #[test]
    fn ipv6_addresses_share_a_limit_per_64() {
        let (l, _) = limits(1, |_| {});
        assert_eq!(refused(l.register_attempt(ip("2001:db8:1:2::1"))), None);
        assert!(refused(l.register_attempt(ip("2001:db8:1:2:ffff::9"))).is_some());
        assert_eq!(refused(l.register_attempt(ip("2001:db8:1:3::1"))), None);
        // An IPv4-mapped address is its IPv4 address.
        assert_eq!(refused(l.register_attempt(ip("192.0.2.1"))), None);
        assert!(refused(l.register_attempt(ip("::ffff:192.0.2.1"))).is_some());
    }

    #[test]
    fn address_keys() {
        let cases = [
            ("192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("::1", "::"),
        ];
        for (addr, key) in cases {
            assert_eq!(
                address_key(addr.parse().unwrap()),
                key.parse::<IpAddr>().unwrap(),
                "{addr}"
            );
        }
    }

    #[test]
    fn sweep_forgets_keys_whose_limit_refilled() {
        let (l, clock) = limits(2, |_| {});
        l.user_action(UserAction::Upload, &user("ann")).unwrap();
        l.user_action(UserAction::Upload, &user("bob")).unwrap();
        l.user_action(UserAction::Upload, &user("bob")).unwrap();
        l.sweep();
        assert_eq!(l.uploads.len(), 2);
        // Kept one period past refilling: ann's refilled at 1 s, bob's at 2 s.
        clock.advance(Duration::from_millis(2_500));
        l.sweep();
        assert_eq!(l.uploads.len(), 1, "bob's is kept");
        clock.advance(Duration::from_secs(10));
        l.sweep();
        assert!(l.uploads.is_empty());
    }
}
