//! A breaker's open state shared by a fleet (feature `redis`): when any instance's
//! breaker opens, every instance's opens for the rest of that period within one sync,
//! so a dead dependency is shut off for the whole fleet by the first instance that
//! sees it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::CircuitBreakerLayer;
use super::engine::Engine;
use super::word::generation;
use crate::fleet::{Fleet, Participant};

/// Publishes this instance's open period (`ARGV[1]` ms left, 0 if not open) as the
/// fleet's if it ends later, and returns the fleet's period's end and the server's now.
const OPEN_UNTIL: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = tonumber(ARGV[1])
local fleet = tonumber(redis.call('GET', KEYS[1]) or '0')
if left > 0 and now + left > fleet + tonumber(ARGV[2]) then
  fleet = now + left
  redis.call('SET', KEYS[1], fleet, 'PX', left + 1000)
end
return {fleet, now}
";

/// Ends this close together belong to one open period: an instance's view of its own
/// period's end drifts by a few milliseconds from sync to sync (its clock against the
/// server's), which must neither stretch the fleet's period nor look like a new one.
const SAME_PERIOD_MS: i64 = 250;

/// Exchanges one breaker's open state with the fleet at every sync.
#[derive(Debug)]
pub(crate) struct OpenState {
    engine: Weak<Engine>,
    /// The end (server ms) of the last fleet period this instance adopted: adopted once,
    /// so that a local reset or close is not undone by the same period.
    adopted_end: AtomicI64,
    /// The state word's generation the adoption opened: that period is the fleet's, not
    /// published back (which would stretch it by each round trip's latency).
    adopted_generation: AtomicU64,
    name: Arc<str>,
    /// Keeps the fleet's sync running as long as this breaker lives.
    _fleet: Fleet,
}

impl Participant for OpenState {
    fn command(&self, namespace: &str) -> Option<redis::Cmd> {
        let engine = self.engine.upgrade()?;
        let adopted = generation(engine.word()) == self.adopted_generation.load(Relaxed);
        let left = match engine.remaining_open() {
            Some(left) if !adopted => left,
            _ => Duration::ZERO,
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(OPEN_UNTIL)
            .arg(1)
            .arg(format!("{namespace}:seawall:breaker:{}", self.name))
            .arg(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
            .arg(SAME_PERIOD_MS);
        Some(cmd)
    }

    fn reply(&self, reply: redis::Value, _: u32) {
        let Ok((end, now)) = redis::from_redis_value::<(i64, i64)>(reply) else {
            return;
        };
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        if end <= now || end <= self.adopted_end.load(Relaxed) + SAME_PERIOD_MS {
            return;
        }
        self.adopted_end.store(end, Relaxed);
        let left = Duration::from_millis(u64::try_from(end - now).unwrap_or(0));
        if engine.open_for_fleet(left) {
            self.adopted_generation
                .store(generation(engine.word()), Relaxed);
        }
    }

    fn away(&self, _: u32) {
        // Each instance judges on its own until Redis returns.
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Shares this breaker's open state with every instance of `fleet` that has a
    /// breaker of the same name (feature `redis`): when any instance's breaker opens,
    /// every instance's closed breaker opens too, within one sync interval, for the
    /// rest of that open period, so the first instance to see a dead dependency shuts
    /// it off for the fleet. Each instance still judges its own calls, and probes on its
    /// own when the period ends; while Redis is away each judges alone.
    ///
    /// ```no_run
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::fleet::Fleet;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").start()?;
    /// let layer = CircuitBreakerLayer::builder().name("payments").build()?.fleet(&fleet);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn fleet(self, fleet: &Fleet) -> Self {
        let engine = self.engine_arc();
        let state = Arc::new(OpenState {
            engine: Arc::downgrade(engine),
            name: Arc::from(engine.name()),
            adopted_end: AtomicI64::new(0),
            adopted_generation: AtomicU64::new(u64::MAX),
            _fleet: fleet.clone(),
        });
        if engine.fleet.set(state.clone()).is_ok() {
            let participant: Weak<dyn Participant> = Arc::downgrade(&state) as _;
            fleet.join(participant);
        }
        self
    }
}
