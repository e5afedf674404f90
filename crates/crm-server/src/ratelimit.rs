//! Rate limits, kept in process memory (one server process; see
//! docs/operations.md for the scale-out note).
//!
//! - Login: failed attempts per client network (/24 for IPv4, /64 for IPv6)
//!   and per account (the email tried). Each failure takes one cell of a
//!   GCRA bucket of `max_failures` cells per key that refills one cell every
//!   `window / max_failures`. When a failure empties a bucket, attempts with
//!   that key are refused until a cell is back, before the password is even
//!   checked.
//! - API: every request that presents a credential takes a cell from that
//!   credential's bucket (per session or per API token), before the
//!   credential is looked up: a caller over its limit costs no query.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed<K, M> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, M>;

pub struct LoginLimiter {
    bucket: Keyed<String, StateInformationMiddleware>,
    blocked: Mutex<HashMap<String, Instant>>,
    refill: Duration,
    failures: std::sync::atomic::AtomicU64,
}

/// The network a login attempt comes from: its /24 for IPv4, its /64 for
/// IPv6 (one host usually holds a whole /64, so counting single IPv6
/// addresses would let it rotate through millions).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("net:{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("net:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The keys a login attempt counts against: its network and the account
/// it names (so guessing one account's password from many networks is
/// throttled too).
pub fn login_keys(ip: IpAddr, email: &str) -> [String; 2] {
    [
        network_of(ip),
        format!("acct:{}", email.trim().to_lowercase()),
    ]
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        let max = NonZeroU32::new(max_failures.max(1)).unwrap_or(NonZeroU32::MIN);
        let refill = window / max.get();
        let quota = Quota::with_period(refill.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_minute(max))
            .allow_burst(max);
        Self {
            bucket: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            blocked: Mutex::new(HashMap::new()),
            refill,
            failures: Default::default(),
        }
    }

    /// Seconds until an attempt with these keys may try again, if any of
    /// them is blocked now.
    pub fn blocked_for(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.blocked.lock().ok()?;
        let mut wait: Option<u64> = None;
        for key in keys {
            match map.get(key) {
                Some(until) if *until > now => {
                    let secs = (*until - now).as_secs_f64().ceil() as u64;
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
                Some(_) => {
                    map.remove(key);
                }
                None => {}
            }
        }
        wait
    }

    /// Records a failed attempt against each key; blocks a key once its
    /// bucket is empty. Every few thousand failures, keys idle long enough
    /// to have refilled are dropped, so a flood from many networks or
    /// against many accounts does not grow memory without bound.
    pub fn record_failure(&self, keys: &[String]) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.failures.fetch_add(1, Relaxed) % 4096 == 4095 {
            self.bucket.retain_recent();
            if let Ok(mut map) = self.blocked.lock() {
                let now = Instant::now();
                map.retain(|_, t| *t > now);
            }
        }
        for key in keys {
            let until = match self.bucket.check_key(key) {
                Ok(snapshot) if snapshot.remaining_burst_capacity() > 0 => None,
                Ok(_) => Some(Instant::now() + self.refill),
                Err(not_until) => {
                    Some(Instant::now() + not_until.wait_time_from(DefaultClock::default().now()))
                }
            };
            if let (Some(until), Ok(mut map)) = (until, self.blocked.lock()) {
                map.insert(key.clone(), until);
            }
        }
    }

    /// How many keys the limiter holds (for tests and metrics).
    pub fn len(&self) -> usize {
        self.bucket.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct ApiLimiter {
    bucket: Keyed<String, governor::middleware::NoOpMiddleware>,
    checks: std::sync::atomic::AtomicU64,
}

impl ApiLimiter {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            bucket: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            checks: Default::default(),
        }
    }

    /// `Err(seconds)` when the caller must wait. Keys idle long enough to
    /// have refilled are dropped every few thousand checks, so keys that are
    /// never seen again (expired sessions, guessed tokens) do not pile up.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.checks.fetch_add(1, Relaxed) % 4096 == 4095 {
            self.bucket.retain_recent();
        }
        self.bucket.check_key(&key.to_owned()).map_err(|nu| {
            nu.wait_time_from(DefaultClock::default().now())
                .as_secs_f64()
                .ceil() as u64
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn login_blocks_a_network_or_an_account_after_max_failures() {
        let l = LoginLimiter::new(5, Duration::from_secs(300));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let keys = login_keys(ip, "ana@acme.test");
        for _ in 0..4 {
            l.record_failure(&keys);
            assert_eq!(l.blocked_for(&keys), None);
        }
        l.record_failure(&keys);
        let wait = l.blocked_for(&keys);
        assert!(matches!(wait, Some(s) if (1..=60).contains(&s)), "{wait:?}");
        // The same /24 is blocked for another account; another network is
        // not, unless it tries the blocked account.
        assert!(
            l.blocked_for(&login_keys([10, 0, 0, 77].into(), "beto@acme.test"))
                .is_some()
        );
        assert_eq!(
            l.blocked_for(&login_keys([10, 0, 1, 2].into(), "beto@acme.test")),
            None
        );
        assert!(
            l.blocked_for(&login_keys([192, 168, 5, 5].into(), "ANA@acme.test "))
                .is_some()
        );
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network_of([203, 0, 113, 9].into()), "net:203.0.113.0/24");
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(network_of(v6), network_of(v6b));
        assert_eq!(network_of(v6), "net:2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(network_of(mapped), "net:203.0.113.0/24");
    }

    #[test]
    fn api_limiter_refuses_past_burst() {
        let l = ApiLimiter::new(1, 3);
        assert!(l.check("u1").is_ok());
        assert!(l.check("u1").is_ok());
        assert!(l.check("u1").is_ok());
        assert!(l.check("u1").is_err());
        assert!(l.check("u2").is_ok());
    }
}
