//! Throttling password guesses: sign-in (API and page) and password changes.
//!
//! Three counters, each in a map of bounded size:
//!
//! - **(account, client)**: after [`FREE_PER_PAIR`] failures, that client waits before its
//!   next guess on that account, twice as long each time (30 s, 1 min, … at most an hour).
//!   A stranger who guesses locks only themselves out.
//! - **client** (an IPv4 address, or the /64 of an IPv6 one), across accounts: after
//!   [`FREE_PER_CLIENT`] failures it waits likewise (1 min, 2 min, … an hour): one client
//!   cannot spray guesses over many accounts.
//! - **account**, across clients (many addresses guessing one password): past
//!   [`FREE_PER_ACCOUNT`] failures in an hour, guesses on that account from clients it was
//!   never signed in from are *slowed*, one every [`ACCOUNT_SLOW`], never locked; a client
//!   that signed in to the account before (within 30 days) is not slowed. The owner is at
//!   worst asked to retry a few seconds later.
//!
//! Every guess is counted as a failure *when it is admitted*, before the password is
//! checked, under one lock: N concurrent guesses get at most the allowed number of Argon2
//! verifications. A success then takes its count back.
//!
//! The client is the peer address, or, when the peer is a configured trusted proxy, the
//! address that proxy puts in `X-Forwarded-For` (see [`crate::client`]).

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures of one client on one account before it waits.
pub const FREE_PER_PAIR: u32 = 5;
/// Failures of one client across accounts before it waits.
pub const FREE_PER_CLIENT: u32 = 30;
/// Failures on one account, from every client, in an hour before guesses on it are slowed.
pub const FREE_PER_ACCOUNT: u32 = 20;
/// Past [`FREE_PER_ACCOUNT`]: one guess on the account per this long (unknown clients).
pub const ACCOUNT_SLOW: Duration = Duration::seconds(5);
/// Longest wait.
const MAX_WAIT: Duration = Duration::hours(1);
/// A record this old (since its last failure) is forgotten.
const FORGET: Duration = Duration::hours(2);
/// How long a client that signed in is remembered as known to the account.
const KNOWN_FOR: Duration = Duration::days(30);
/// Longest account name kept in a key (longer names are cut; no account is that long).
pub const MAX_KEY_BYTES: usize = 64;
/// Entries per map; past it the oldest are evicted.
pub const MAX_ENTRIES: usize = 50_000;

/// Failures and when the last one was counted.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: DateTime<Utc>,
}

/// A map of at most [`MAX_ENTRIES`] records: past it, expired records go first, then the
/// eighth with the oldest activity (an attacker filling it only pushes out stale entries
/// and its own).
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap,
        }
    }

    /// Make room for one more, using `age` to tell old entries from fresh ones.
    fn make_room(&mut self, now: DateTime<Utc>, age: impl Fn(&V) -> DateTime<Utc>) {
        if self.map.len() < self.cap {
            return;
        }
        self.map.retain(|_, v| now - age(v) < FORGET);
        if self.map.len() < self.cap {
            return;
        }
        let mut ages: Vec<DateTime<Utc>> = self.map.values().map(&age).collect();
        let k = self.map.len() / 8;
        let (_, cut, _) = ages.select_nth_unstable(k);
        let cut = *cut;
        self.map.retain(|_, v| age(v) > cut);
    }
}

#[derive(Debug)]
struct Inner {
    pairs: Bounded<(String, IpKey), Record>,
    clients: Bounded<IpKey, Record>,
    /// Failures on an account in the current hour, and the last admitted slowed guess.
    accounts: Bounded<String, (Record, Option<DateTime<Utc>>)>,
    /// (account, client) pairs that signed in: when.
    known: Bounded<(String, IpKey), DateTime<Utc>>,
}

/// The guess counters; one per server.
#[derive(Debug)]
pub struct LoginThrottle {
    inner: Mutex<Inner>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_capacity(MAX_ENTRIES)
    }
}

/// A client as counted: an IPv4 address or an IPv6 /64 (one host is given a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpKey {
    /// IPv4.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6([u8; 8]),
    /// No address known (served without connection info).
    Unknown,
}

impl IpKey {
    /// The key of `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn of(ip: Option<IpAddr>) -> IpKey {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => IpKey::V4(v4.octets()),
            Some(IpAddr::V6(v6)) => {
                let mut p = [0u8; 8];
                p.copy_from_slice(&v6.octets()[..8]);
                IpKey::V6(p)
            }
            None => IpKey::Unknown,
        }
    }
}

/// The account part of a key: at most [`MAX_KEY_BYTES`] (cut on a character boundary).
fn account_key(account: &str) -> String {
    let mut end = account.len().min(MAX_KEY_BYTES);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_string()
}

/// Wait after `n` failures when `free` are free: `first`, doubled per further failure.
fn backoff(n: u32, free: u32, first: Duration) -> Option<Duration> {
    if n < free {
        return None;
    }
    let doublings = (n - free).min(12);
    Some((first * (1 << doublings)).min(MAX_WAIT))
}

/// Seconds left until `last + wait`, rounded up, if any.
fn left(last: DateTime<Utc>, wait: Duration, now: DateTime<Utc>) -> Option<u64> {
    let ms = (last + wait - now).num_milliseconds();
    (ms > 0).then(|| (ms as u64).div_ceil(1000))
}

/// An admitted guess, already counted as a failure; [`LoginThrottle::succeeded`] takes the
/// count back.
#[derive(Debug, Clone)]
pub struct Ticket {
    account: String,
    client: IpKey,
    /// Whether this guess took the account's slowed slot.
    slowed: bool,
}

impl LoginThrottle {
    /// A throttle whose maps hold at most `cap` entries each.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                pairs: Bounded::new(cap),
                clients: Bounded::new(cap),
                accounts: Bounded::new(cap),
                known: Bounded::new(cap),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admit a guess at `account`'s password from `client`, counting it as a failure, or
    /// answer how many seconds to wait. Check and count are one step under the lock.
    pub fn admit(&self, account: &str, client: IpKey, now: DateTime<Utc>) -> Result<Ticket, u64> {
        let account = account_key(account);
        let pair_key = (account.clone(), client);
        let mut g = self.lock();
        let inner = &mut *g;
        if let Some(r) = inner.pairs.map.get(&pair_key) {
            if let Some(wait) = backoff(r.failures, FREE_PER_PAIR, Duration::seconds(30)) {
                if let Some(s) = left(r.last, wait, now) {
                    return Err(s);
                }
            }
        }
        if let Some(r) = inner.clients.map.get(&client) {
            if let Some(wait) = backoff(r.failures, FREE_PER_CLIENT, Duration::minutes(1)) {
                if let Some(s) = left(r.last, wait, now) {
                    return Err(s);
                }
            }
        }
        let known = inner
            .known
            .map
            .get(&pair_key)
            .is_some_and(|at| now - *at < KNOWN_FOR);
        let mut slowed = false;
        if let Some((r, last_slow)) = inner.accounts.map.get(&account) {
            let busy = now - r.last < Duration::hours(1) && r.failures >= FREE_PER_ACCOUNT;
            if busy && !known {
                if let Some(s) = last_slow.and_then(|l| left(l, ACCOUNT_SLOW, now)) {
                    return Err(s);
                }
                slowed = true;
            }
        }
        // Admitted: count it now.
        inner.pairs.make_room(now, |r| r.last);
        let r = inner.pairs.map.entry(pair_key).or_insert(Record {
            failures: 0,
            last: now,
        });
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        inner.clients.make_room(now, |r| r.last);
        let r = inner.clients.map.entry(client).or_insert(Record {
            failures: 0,
            last: now,
        });
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        inner.accounts.make_room(now, |(r, _)| r.last);
        let (r, last_slow) = inner.accounts.map.entry(account.clone()).or_insert((
            Record {
                failures: 0,
                last: now,
            },
            None,
        ));
        if now - r.last >= Duration::hours(1) {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        if slowed {
            *last_slow = Some(now);
        }
        Ok(Ticket {
            account,
            client,
            slowed,
        })
    }

    /// The guess was right: forget the pair's failures, take back the one counted for the
    /// client and the account, and remember the client as known to the account.
    pub fn succeeded(&self, t: &Ticket, now: DateTime<Utc>) {
        let mut g = self.lock();
        let inner = &mut *g;
        let pair_key = (t.account.clone(), t.client);
        inner.pairs.map.remove(&pair_key);
        if let Some(r) = inner.clients.map.get_mut(&t.client) {
            r.failures = r.failures.saturating_sub(1);
        }
        if let Some((r, last_slow)) = inner.accounts.map.get_mut(&t.account) {
            r.failures = r.failures.saturating_sub(1);
            if t.slowed {
                *last_slow = None;
            }
        }
        inner.known.make_room(now, |at| *at + (KNOWN_FOR - FORGET));
        inner.known.map.insert(pair_key, now);
    }

    /// Entries held, all maps together (for tests of the bound).
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.pairs.map.len() + g.clients.map.len() + g.accounts.map.len() + g.known.map.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::net::Ipv4Addr;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn ip(n: u32) -> IpKey {
        IpKey::of(Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))))
    }

    #[test]
    fn a_client_waits_after_five_failures_on_an_account_and_longer_each_time() {
        let t = LoginThrottle::default();
        let now = t0();
        for _ in 0..5 {
            t.admit("op", ip(1), now).unwrap();
        }
        assert_eq!(t.admit("op", ip(1), now).unwrap_err(), 30);
        // Another client, another account: not held up.
        assert!(t.admit("op", ip(2), now).is_ok());
        assert!(t.admit("admin", ip(1), now).is_ok());
        let later = now + Duration::seconds(31);
        t.admit("op", ip(1), later).unwrap();
        assert_eq!(t.admit("op", ip(1), later).unwrap_err(), 60);
        // A success clears the pair.
        let ok = t.admit("op", ip(1), later + Duration::seconds(61)).unwrap();
        t.succeeded(&ok, later + Duration::seconds(61));
        assert!(t.admit("op", ip(1), later + Duration::seconds(61)).is_ok());
    }

    #[test]
    fn one_client_cannot_spray_many_accounts() {
        let t = LoginThrottle::default();
        for i in 0..FREE_PER_CLIENT {
            t.admit(&format!("user{i}"), ip(1), t0()).unwrap();
        }
        assert_eq!(t.admit("someone", ip(1), t0()).unwrap_err(), 60);
        assert!(t.admit("someone", ip(2), t0()).is_ok());
    }

    #[test]
    fn many_clients_slow_an_account_but_never_lock_its_owner_out() {
        let t = LoginThrottle::default();
        let now = t0();
        // The owner signed in from ip(0) before.
        let k = t.admit("op", ip(0), now).unwrap();
        t.succeeded(&k, now);
        for i in 0..FREE_PER_ACCOUNT {
            t.admit("op", ip(100 + i), now).unwrap();
        }
        // A new client is slowed to one guess per ACCOUNT_SLOW, not locked.
        assert!(t.admit("op", ip(1), now).is_ok());
        assert_eq!(t.admit("op", ip(2), now).unwrap_err(), 5);
        assert!(t.admit("op", ip(2), now + ACCOUNT_SLOW).is_ok());
        // The owner's known client is not slowed at all.
        assert!(t.admit("op", ip(0), now).is_ok());
    }

    #[test]
    fn memory_stays_bounded_whatever_the_names() {
        let t = LoginThrottle::with_capacity(1000);
        let long = "x".repeat(100_000);
        for i in 0..20_000u32 {
            let _ = t.admit(
                &format!("{long}{i}"),
                ip(i),
                t0() + Duration::seconds(i64::from(i)),
            );
        }
        assert!(t.len() <= 3 * 1000, "{}", t.len());
        assert_eq!(account_key(&long).len(), MAX_KEY_BYTES);
        assert_eq!(account_key("ắắắắắắắắắắắắắắắắắắắắắắắắắ").len(), 63);
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(IpKey::of(Some(a)), IpKey::of(Some(b)));
        assert_ne!(IpKey::of(Some(a)), IpKey::of(Some(c)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(IpKey::of(Some(mapped)), ip(1));
    }
}
