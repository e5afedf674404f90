//! Rate limits, kept in process memory (one server process; see
//! docs/operations.md for the scale-out note).
//!
//! - Login: failed attempts per client IP. Each failure takes one cell of a
//!   GCRA bucket of `max_failures` cells that refills one cell every
//!   `window / max_failures`. When a failure empties the bucket the IP is
//!   refused until a cell is back, before its password is even checked.
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
    bucket: Keyed<IpAddr, StateInformationMiddleware>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    refill: Duration,
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
        }
    }

    /// Seconds until this IP may try again, if it is blocked now.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.blocked.lock().ok()?;
        match map.get(&ip) {
            Some(until) if *until > now => Some((*until - now).as_secs_f64().ceil() as u64),
            Some(_) => {
                map.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Records a failed attempt; blocks the IP once its bucket is empty.
    pub fn record_failure(&self, ip: IpAddr) {
        let until = match self.bucket.check_key(&ip) {
            Ok(snapshot) if snapshot.remaining_burst_capacity() > 0 => None,
            Ok(_) => Some(Instant::now() + self.refill),
            Err(not_until) => {
                Some(Instant::now() + not_until.wait_time_from(DefaultClock::default().now()))
            }
        };
        if let (Some(until), Ok(mut map)) = (until, self.blocked.lock()) {
            if map.len() > 100_000 {
                let now = Instant::now();
                map.retain(|_, t| *t > now);
            }
            map.insert(ip, until);
        }
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
    use super::*;

    #[test]
    fn login_blocks_after_max_failures() {
        let l = LoginLimiter::new(5, Duration::from_secs(300));
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..4 {
            l.record_failure(ip);
            assert_eq!(l.blocked_for(ip), None);
        }
        l.record_failure(ip);
        let wait = l.blocked_for(ip);
        assert!(matches!(wait, Some(s) if (1..=60).contains(&s)), "{wait:?}");
        let other: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(l.blocked_for(other), None);
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
