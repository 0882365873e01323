//! One rate limit for a whole fleet (feature `redis`): each instance leases permits
//! from one token bucket in Redis at every sync and spends them locally, so no call
//! waits on Redis; while Redis is away, each instance limits itself to its share (the
//! rate divided by the last known number of live instances).
//!
//! At each sync an instance asks for what it expects to need until the next one (what
//! it used and was refused in the last interval, plus a quarter, at least one interval
//! at its fair share), and gives back what it holds beyond that, so a quiet instance's
//! unused lease returns to the fleet. The bucket refills at the fleet's rate up to the
//! burst, or one sync interval's permits if that is more (so a small burst never caps
//! the fleet at a burst per sync); server time, so instances' clocks do not matter.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::gcra::Gcra;
use crate::fleet::Participant;

/// Takes back `ARGV[1]` tokens, then grants up to `ARGV[2]`; the bucket refills at
/// `ARGV[3]` tokens per ms up to `ARGV[4]`, and expires after `ARGV[5]` ms unused.
const LEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, capacity = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate + tonumber(ARGV[1]))
local grant = math.max(0, math.min(tonumber(ARGV[2]), math.floor(tokens)))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - grant), 'at', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return grant
";

/// The permits this instance holds, and what it learned at the last sync.
#[derive(Debug)]
pub(crate) struct Lease {
    /// Permits left to spend; a call takes one with one atomic subtraction.
    tokens: AtomicI64,
    /// Calls refused since the last sync for want of a permit.
    refused: AtomicU64,
    /// The level right after the last grant (to count what was used since).
    level: AtomicI64,
    /// Whether the last sync succeeded: spend the lease; else use the local limiter.
    active: AtomicBool,
    /// The fleet's live instances at the last sync.
    live: AtomicU32,
    name: Arc<str>,
    gcra: Weak<Gcra>,
    /// Keeps the fleet's sync running as long as this limiter lives.
    _fleet: crate::fleet::Fleet,
    permits: u32,
    per: Duration,
    burst: u32,
    interval: Duration,
}

impl Lease {
    /// The fleet bucket's capacity: the burst, but at least one interval at the rate,
    /// so that what refills between two grants is never lost to a small burst (which
    /// would cap the fleet at a burst per sync).
    fn capacity(&self) -> f64 {
        let interval_ms = self.interval.as_secs_f64() * 1000.0;
        f64::from(self.burst).max((self.rate_per_ms() * interval_ms).ceil())
    }

    pub(crate) fn new(
        name: Arc<str>,
        gcra: &Arc<Gcra>,
        burst: u32,
        fleet: &crate::fleet::Fleet,
    ) -> Self {
        let interval = fleet.sync_interval();
        let (permits, per) = gcra.rate();
        Lease {
            tokens: AtomicI64::new(0),
            refused: AtomicU64::new(0),
            level: AtomicI64::new(0),
            active: AtomicBool::new(false),
            live: AtomicU32::new(1),
            name,
            gcra: Arc::downgrade(gcra),
            _fleet: fleet.clone(),
            permits,
            per,
            burst,
            interval,
        }
    }

    /// Whether calls spend the lease (Redis answered at the last sync).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Spends one permit, or counts a refusal.
    #[inline]
    pub(crate) fn take(&self) -> bool {
        if self.tokens.fetch_sub(1, Relaxed) > 0 {
            return true;
        }
        self.tokens.fetch_add(1, Relaxed);
        self.refused.fetch_add(1, Relaxed);
        false
    }

    /// When a refused call may try again: the next sync.
    pub(crate) fn retry_after(&self) -> Duration {
        self.interval
    }

    /// The fleet's permits per millisecond.
    fn rate_per_ms(&self) -> f64 {
        f64::from(self.permits) / self.per.as_secs_f64() / 1000.0
    }

    /// This instance's fair share of one interval's permits among `live` instances.
    fn fair_share(&self, live: u32) -> i64 {
        let interval_ms = self.interval.as_secs_f64() * 1000.0;
        (self.rate_per_ms() * interval_ms / f64::from(live.max(1))).ceil() as i64
    }
}

impl Participant for Lease {
    fn command(&self, namespace: &str) -> Option<redis::Cmd> {
        let remaining = self.tokens.load(Relaxed).max(0);
        let used = (self.level.load(Relaxed) - remaining).max(0);
        let refused = i64::try_from(self.refused.swap(0, Relaxed)).unwrap_or(i64::MAX);
        // What the last interval needed, and a quarter more; at least a quarter of a
        // fair share, so that a quiet instance's first calls find a permit.
        let floor = (self.fair_share(self.live.load(Relaxed)) / 4).max(1);
        let want = (used.saturating_add(refused) * 5 / 4).max(floor);
        // Give back what is held beyond the need, taking it out of reach first.
        let mut returned = 0;
        let excess = remaining - want;
        if excess > 0 {
            let mut seen = self.tokens.load(Relaxed);
            loop {
                let back = excess.min(seen.max(0));
                match self
                    .tokens
                    .compare_exchange_weak(seen, seen - back, Relaxed, Relaxed)
                {
                    Ok(_) => {
                        returned = back;
                        break;
                    }
                    Err(now) => seen = now,
                }
            }
        }
        let held = self.tokens.load(Relaxed).max(0);
        let ask = (want - held).max(0);
        let ttl_ms = (self.interval.as_millis() as u64)
            .saturating_mul(10)
            .max(1000);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(LEASE)
            .arg(1)
            .arg(format!("{namespace}:seawall:rate:{}", self.name))
            .arg(returned)
            .arg(ask)
            .arg(self.rate_per_ms())
            .arg(self.capacity())
            .arg(ttl_ms);
        Some(cmd)
    }

    fn reply(&self, reply: redis::Value, live: u32) {
        self.live.store(live, Relaxed);
        // Back from a fallback: the local limiter shows (and keeps, for the next one)
        // the fleet's rate again.
        if let Some(gcra) = self.gcra.upgrade()
            && gcra.rate() != (self.permits, self.per)
        {
            gcra.set_rate(self.permits, self.per);
        }
        let grant: i64 = redis::from_redis_value(reply).unwrap_or(0);
        let after = self.tokens.fetch_add(grant, Relaxed) + grant;
        self.level.store(after, Relaxed);
        self.active.store(true, Relaxed);
    }

    fn away(&self, live: u32) {
        // Local state: this instance's share of the fleet's rate, on the local limiter,
        // without the burst it saved while the lease was in use.
        let was_active = self.active.swap(false, Relaxed);
        let share = (self.permits / live.max(1)).max(1);
        if let Some(gcra) = self.gcra.upgrade() {
            if gcra.rate() != (share, self.per) {
                gcra.set_rate(share, self.per);
            }
            if was_active {
                gcra.drain();
            }
        }
    }
}
