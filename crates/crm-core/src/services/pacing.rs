//! Per-number send pacing.
//!
//! Meta counts a number's requests over a moving second and answers 130429
//! above its throughput. Two layers keep every worker under it:
//!
//! - **Shared slots** (`wa_pacing.next_slot_us`, one row per number): every
//!   process reserves send times from the same row, spaced
//!   [`HEADROOM_PERMILLE`] wider than `1/mps`, so the slots of all processes
//!   together never exceed the cap. A process reserves a small block of
//!   consecutive slots per round trip (as many as it has sends waiting, at
//!   most a tenth of a second's worth), so the row is written a few times a
//!   second instead of once per send. Slots nobody used expire: a process can
//!   only send less than its reservation, never more.
//! - **Departure gate** (in process, per number): right before the request
//!   leaves, the process checks its own last `mps` departures and waits
//!   until the oldest is more than a second plus the headroom ago. A send
//!   that left late (a busy runtime, a slow transaction) therefore holds back
//!   the ones after it instead of bunching them into one second at Meta.
//!
//! The window the gate enforces equals the slot spacing, so on time it never
//! waits; the headroom (3%: 77.7 sends/s at a cap of 80) is what absorbs the
//! jitter between the request leaving and Meta counting it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};

use crate::CoreError;

/// How much wider than `1/mps` the slots are spaced (3%), and how much
/// longer than a second the departure gate's window is.
pub const HEADROOM_PERMILLE: i64 = 30;

/// A reserved slot older than this when its turn comes is dropped (its
/// send would bunch with the slots after it).
const STALE_US: i64 = 5_000;

/// Microseconds between two slots at `mps` messages per second.
pub fn interval_us(mps: i32) -> i64 {
    1_000_000 * (1000 + HEADROOM_PERMILLE) / (1000 * i64::from(mps.max(1)))
}

/// The departure gate's window: `mps` departures at most in any window this
/// long.
pub fn window_us(mps: i32) -> i64 {
    interval_us(mps) * i64::from(mps.max(1))
}

/// The most slots reserved in one round trip: a tenth of a second's worth.
pub fn max_block(mps: i32) -> i64 {
    i64::from((mps / 10).max(1))
}

/// The departures of one process to one number: at most `mps` in any
/// [`window_us`] (pure; times in microseconds).
#[derive(Debug, Default, Clone)]
pub struct Gate {
    departures: VecDeque<i64>,
}

impl Gate {
    /// The earliest time at or after `at` a request may leave.
    pub fn earliest(&self, at: i64, mps: i32) -> i64 {
        let n = usize::try_from(mps.max(1)).unwrap_or(1);
        if self.departures.len() < n {
            return at;
        }
        // The n-th most recent departure must be a full window ago.
        let idx = self.departures.len() - n;
        at.max(self.departures[idx] + window_us(mps))
    }

    /// Records a departure at `at` if the window allows it; otherwise
    /// returns when it would.
    pub fn try_depart(&mut self, at: i64, mps: i32) -> Result<(), i64> {
        let e = self.earliest(at, mps);
        if e > at {
            return Err(e);
        }
        self.departures.push_back(at);
        let n = usize::try_from(mps.max(1)).unwrap_or(1);
        while self.departures.len() > n {
            self.departures.pop_front();
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Lane {
    /// Reserved, not yet handed out (ascending).
    slots: tokio::sync::Mutex<VecDeque<i64>>,
    /// Tasks waiting for a slot right now (sizes the next block).
    waiting: std::sync::atomic::AtomicI64,
    gate: Mutex<Gate>,
}

static LANES: LazyLock<Mutex<HashMap<String, Arc<Lane>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn lane(phone_number_id: &str) -> Arc<Lane> {
    let mut m = LANES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    m.entry(phone_number_id.to_owned()).or_default().clone()
}

/// A reserved send time. [`Slot::depart`] waits for it (and for the gate)
/// right before the request goes out.
#[derive(Debug, Clone)]
pub struct Slot {
    lane: Arc<Lane>,
    at_us: i64,
    mps: i32,
}

impl Slot {
    /// How long until the slot (zero when due).
    pub fn wait(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.at_us - now_us()).unwrap_or(0))
    }

    /// Waits for the slot, then for the departure gate, and records the
    /// departure. Call immediately before sending.
    pub async fn depart(&self) {
        let started = std::time::Instant::now();
        self.depart_inner().await;
        ::metrics::histogram!("crm_wa_pacing_wait_seconds").record(started.elapsed().as_secs_f64());
    }

    async fn depart_inner(&self) {
        let w = self.wait();
        if !w.is_zero() {
            tokio::time::sleep(w).await;
        }
        loop {
            let now = now_us();
            let r = {
                let mut g = self
                    .lane
                    .gate
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g.try_depart(now, self.mps)
            };
            match r {
                Ok(()) => return,
                Err(at) => {
                    tokio::time::sleep(Duration::from_micros(
                        u64::try_from(at - now).unwrap_or(0).max(100),
                    ))
                    .await;
                }
            }
        }
    }
}

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// The slots `[next - n·interval, next)` of a block the row handed out.
pub fn block_slots(next: i64, n: i64, interval: i64) -> impl Iterator<Item = i64> {
    (0..n).map(move |k| next - (n - k) * interval)
}

/// Takes the next send slot of a phone number if it comes within
/// `max_wait`. Otherwise nothing is reserved and `Err(d)` says how long
/// until the backlog is short enough to try again: a job that will be
/// postponed must not consume a slot, or the reservations run away from the
/// real sends.
pub async fn try_reserve(
    conn: &impl ConnectionTrait,
    phone_number_id: &str,
    mps: i32,
    max_wait: Duration,
) -> Result<Result<Slot, Duration>, CoreError> {
    let lane = lane(phone_number_id);
    lane.waiting
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let r = take(conn, &lane, phone_number_id, mps, max_wait).await;
    lane.waiting
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    Ok(r?.map(|at_us| Slot {
        lane: lane.clone(),
        at_us,
        mps,
    }))
}

/// Like [`try_reserve`] with no limit on the wait (manual sends).
pub async fn reserve(
    conn: &impl ConnectionTrait,
    phone_number_id: &str,
    mps: i32,
) -> Result<Slot, CoreError> {
    match try_reserve(conn, phone_number_id, mps, Duration::from_secs(3600)).await? {
        Ok(s) => Ok(s),
        Err(_) => Err(CoreError::Internal("no send slot within an hour".into())),
    }
}

async fn take(
    conn: &impl ConnectionTrait,
    lane: &Lane,
    phone_number_id: &str,
    mps: i32,
    max_wait: Duration,
) -> Result<Result<i64, Duration>, CoreError> {
    let mut slots = lane.slots.lock().await;
    let now = now_us();
    while slots.front().is_some_and(|t| *t < now - STALE_US) {
        slots.pop_front();
    }
    if let Some(t) = slots.pop_front() {
        return Ok(Ok(t));
    }
    let interval = interval_us(mps);
    let n = lane
        .waiting
        .load(std::sync::atomic::Ordering::SeqCst)
        .clamp(1, max_block(mps));
    let max_us = i64::try_from(max_wait.as_micros()).unwrap_or(i64::MAX / 4);
    let backend = conn.get_database_backend();
    let pg = crm_db::is_postgres(conn);
    let upd = if pg {
        "UPDATE wa_pacing SET next_slot_us = GREATEST(next_slot_us, $1) + $2 \
         WHERE phone_number_id = $3 AND next_slot_us <= $4 RETURNING next_slot_us"
    } else {
        "UPDATE wa_pacing SET next_slot_us = MAX(next_slot_us, ?1) + ?2 \
         WHERE phone_number_id = ?3 AND next_slot_us <= ?4 RETURNING next_slot_us"
    };
    for _ in 0..2 {
        let gate = crm_db::write_gate(conn).await;
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                upd,
                [
                    now.into(),
                    (n * interval).into(),
                    phone_number_id.into(),
                    (now + max_us).into(),
                ],
            ))
            .await?;
        drop(gate);
        if let Some(row) = row {
            let next: i64 = row.try_get("", "next_slot_us")?;
            slots.extend(block_slots(next, n, interval));
            let first = slots.pop_front().unwrap_or(now);
            return Ok(Ok(first));
        }
        let sel = if pg {
            "SELECT next_slot_us FROM wa_pacing WHERE phone_number_id = $1"
        } else {
            "SELECT next_slot_us FROM wa_pacing WHERE phone_number_id = ?1"
        };
        match conn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sel,
                [phone_number_id.into()],
            ))
            .await?
        {
            Some(r) => {
                let next: i64 = r.try_get("", "next_slot_us")?;
                return Ok(Err(Duration::from_micros(
                    u64::try_from(next - now - max_us / 2).unwrap_or(0),
                )
                .max(Duration::from_millis(100))));
            }
            None => {
                // The number's first send: create its row, then reserve.
                let ins = if pg {
                    "INSERT INTO wa_pacing (phone_number_id, next_slot_us) VALUES ($1, 0) \
                     ON CONFLICT (phone_number_id) DO NOTHING"
                } else {
                    "INSERT INTO wa_pacing (phone_number_id, next_slot_us) VALUES (?1, 0) \
                     ON CONFLICT (phone_number_id) DO NOTHING"
                };
                conn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    ins,
                    [phone_number_id.into()],
                ))
                .await?;
            }
        }
    }
    Err(CoreError::Internal("pacing row missing".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random source for the simulations.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: i64) -> i64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            i64::try_from((self.0 >> 33) % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
        }
    }

    /// What the sandbox (and Meta) do: a request is refused when `mps`
    /// requests were accepted in the second before it.
    fn refusals(arrivals: &mut [i64], mps: usize) -> usize {
        arrivals.sort_unstable();
        let mut accepted: VecDeque<i64> = VecDeque::new();
        let mut refused = 0;
        for &a in arrivals.iter() {
            while accepted.front().is_some_and(|t| a - *t >= 1_000_000) {
                accepted.pop_front();
            }
            if accepted.len() >= mps {
                refused += 1;
            } else {
                accepted.push_back(a);
            }
        }
        refused
    }

    #[test]
    fn spacing_keeps_the_rate_within_five_percent() {
        for mps in [1, 10, 80, 250, 1000] {
            let rate = 1e6 / interval_us(mps) as f64;
            assert!(rate <= f64::from(mps), "{mps}: {rate}");
            assert!(rate >= f64::from(mps) * 0.95, "{mps}: {rate}");
        }
        assert_eq!(max_block(80), 8);
        assert_eq!(max_block(5), 1);
        let s: Vec<i64> = block_slots(1000, 3, 100).collect();
        assert_eq!(s, vec![700, 800, 900]);
    }

    #[test]
    fn the_gate_holds_back_sends_after_a_late_one() {
        let mps = 80;
        let mut g = Gate::default();
        let w = window_us(mps);
        // 80 departures at once: all allowed (the window is empty).
        for _ in 0..80 {
            assert!(g.try_depart(0, mps).is_ok());
        }
        // The 81st waits a full window after the first.
        assert_eq!(g.try_depart(10, mps), Err(w));
        assert!(g.try_depart(w, mps).is_ok());
    }

    /// Slots from the shared row in blocks, sends leaving late by up to
    /// 40 ms at random (a busy runtime), and arrivals at the receiver up to
    /// 25 ms after leaving: no second ever holds more than `mps` arrivals,
    /// and the rate stays within 5% of the cap.
    #[test]
    fn no_second_exceeds_the_cap_with_jitter() {
        let mps = 80;
        let interval = interval_us(mps);
        let mut rng = Lcg(7);
        let mut gate = Gate::default();
        let mut next = 0i64;
        let mut arrivals = Vec::new();
        let mut last_departure = 0;
        let n = 4000;
        let mut k = 0;
        while k < n {
            let b = 1 + rng.below(max_block(mps));
            next = next.max(0) + b * interval;
            for slot in block_slots(next, b, interval) {
                let ready = slot
                    + if rng.below(10) == 0 {
                        rng.below(40_000)
                    } else {
                        0
                    };
                let mut t = ready;
                loop {
                    match gate.try_depart(t, mps) {
                        Ok(()) => break,
                        Err(at) => t = at,
                    }
                }
                last_departure = last_departure.max(t);
                arrivals.push(t + rng.below(25_000));
                k += 1;
            }
        }
        assert_eq!(refusals(&mut arrivals, 80), 0);
        let span = (arrivals[arrivals.len() - 1] - arrivals[0]) as f64 / 1e6;
        let rate = (arrivals.len() - 1) as f64 / span;
        assert!((76.0..=80.0).contains(&rate), "{rate}");
        assert!(last_departure > 0);
    }

    /// Two processes reserving blocks from the same row: their slots never
    /// overlap, so together they stay under the cap.
    #[test]
    fn two_processes_share_the_cap() {
        let mps = 80;
        let interval = interval_us(mps);
        let mut rng = Lcg(11);
        let mut next = 0i64;
        let mut gates = [Gate::default(), Gate::default()];
        let mut arrivals = Vec::new();
        for _ in 0..1000 {
            let p = usize::try_from(rng.below(2)).unwrap_or(0);
            let b = 1 + rng.below(max_block(mps));
            next += b * interval;
            for slot in block_slots(next, b, interval) {
                let mut t = slot;
                while let Err(at) = gates[p].try_depart(t, mps) {
                    t = at;
                }
                arrivals.push(t + rng.below(25_000));
            }
        }
        assert_eq!(refusals(&mut arrivals, 80), 0);
    }
}
