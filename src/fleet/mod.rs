//! Fleet-wide state in Redis: the instances of one service (replicas behind a load
//! balancer, worker processes per core) learn of each other through one Redis, so that
//! their layers can judge, limit and budget as one fleet. Feature `redis`.
//!
//! # What it does
//!
//! * Membership: each [`Fleet`] registers its instance in Redis and learns how many
//!   instances are live, at every [`sync_interval`](Builder::sync_interval), in a
//!   background task — **never on a call's path**. The count is what a layer falls back
//!   on when Redis is away (a fleet limit divided among the live instances).
//! * Fleet-wide rate limits:
//!   [`rate_limit::Builder::fleet`](crate::rate_limit::Builder::fleet) shares one limit
//!   among every instance: each leases permits from one bucket in Redis at every sync
//!   and spends them locally.
//! * Fleet-wide retry budgets: [`retry::Builder::fleet`](crate::retry::Builder::fleet)
//!   divides the budget's reserve among the live instances (its share of requests is
//!   already counted over each instance's own), so the fleet's retries stay within one
//!   budget however many instances there are.
//! * One breaker for the fleet:
//!   [`CircuitBreakerLayer::fleet`](crate::circuit_breaker::CircuitBreakerLayer::fleet):
//!   the instances' calls add up (the fleet opens after about the failures one breaker
//!   needs), an open period reaches every instance within one sync, and one instance
//!   probes for the fleet (it holds a probe token with an expiry) while the others wait
//!   for its verdict.
//!
//! Everything an instance exchanges with Redis in one sync (membership and every
//! fleet-wide layer's state) goes in one pipelined round trip, each part an atomic Lua
//! script on the server, timed by the server's clock.
//!
//! # Guarantees
//!
//! * No call waits on Redis: every read ([`Fleet::live_instances`], [`Fleet::redis_up`])
//!   is an atomic load of the last known state.
//! * Redis is a dependency too. Each round trip has its own timeout
//!   ([`redis_timeout`](Builder::redis_timeout)) and Redis has its own breaker: one
//!   failed round trip opens it, the next round trip is its probe (after one interval,
//!   then two, four and eight: the open period doubles while the probes fail), and one
//!   answer closes it. So a down Redis is not hammered by the fleet, and
//!   [`Fleet::redis_up`] is that breaker's state. Going down and coming back are `tracing` events (target
//!   `seawall::fleet`, warn and info). While down, the last known count stays in force.
//! * Nothing in Redis grows without bound: an instance's entry expires three sync
//!   intervals after its last sync (an instance that crashes is forgotten), the key itself
//!   expires when no instance syncs, and an instance dropped cleanly removes its entry.
//! * Namespaced: every key starts with the [`namespace`](Builder::namespace), so several
//!   services share one Redis.
//!
//! # Key layout
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{namespace}:seawall:instances` | sorted set | instance id → the server time (ms) at which it expires |
//! | `{namespace}:seawall:breaker:{breaker name}` | hash | `until`: the server time (ms) at which the fleet's open period ends; `prober`, `prober_until`: the instance holding the probe token and when the token expires; `closed`: when that prober's probes closed its breaker. Expires a second after the last of these |
//! | `{namespace}:seawall:breaker:{breaker name}:calls` | list | the fleet's newest calls in batches (`"at calls failures slow"`, one per instance and sync), trimmed at every sync to what the window holds; expires with the window's span (ten minutes for a count window) |
//! | `{namespace}:seawall:rate:{limiter name}` | hash | the fleet bucket: `tokens` left and the server time `at` of the last refill; expires ten intervals (at least 1 s) after the last sync |
//!
//! # Example
//!
//! ```no_run
//! use seawall::fleet::Fleet;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), seawall::ConfigError> {
//! let fleet = Fleet::builder("redis://127.0.0.1:6379/")
//!     .namespace("checkout")
//!     .sync_interval(Duration::from_millis(250))
//!     .start()?; // spawns the background sync on this runtime
//! // Later, from any layer or handler, without I/O:
//! let share = 1_000 / fleet.live_instances();
//! # let _ = share;
//! # Ok(())
//! # }
//! ```

mod builder;
mod sync;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};

pub use builder::Builder;

/// The key of the fleet's members: a sorted set of instance ids, each scored with the
/// server time (ms) at which it expires.
pub(crate) fn members_key(namespace: &str) -> String {
    format!("{namespace}:seawall:instances")
}

/// One instance's view of its fleet: cheap to clone (an `Arc`), read without I/O. The
/// background sync stops, and the instance leaves the fleet, when the last clone is
/// dropped.
///
/// ```no_run
/// # use seawall::fleet::Fleet;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fleet = Fleet::builder("redis://127.0.0.1:6379/").start().unwrap();
/// assert!(fleet.live_instances() >= 1);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Fleet {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    namespace: String,
    instance: String,
    live: AtomicU32,
    up: AtomicBool,
    syncs: AtomicU32,
    interval: std::time::Duration,
    /// Layers that exchange state with the fleet at each sync (a cold lock: taken by
    /// the sync task and by a layer joining, never on a call's path).
    participants: Mutex<Vec<Weak<dyn Participant>>>,
    /// Wakes the sync before its interval is up, when a layer has news that should not
    /// wait (a breaker that just opened, one that needs a probe token).
    nudge: Arc<tokio::sync::Notify>,
}

/// A layer's part in each sync: one Redis command, sent in the same round trip as the
/// membership script, and what to do with its reply (or with Redis away).
pub(crate) trait Participant: Send + Sync + std::fmt::Debug {
    /// The command to send this round (a Lua script with `EVAL`, usually), if any.
    fn command(&self, namespace: &str) -> Option<redis::Cmd>;
    /// The reply (`Nil` for a participant that sent no command), with the fleet's live
    /// instance count.
    fn reply(&self, reply: redis::Value, live: u32);
    /// Redis did not answer this round: decide on local state.
    fn away(&self, live: u32);
}

impl Fleet {
    /// Settings for a fleet on the Redis at `url` (`redis://host:port/db`).
    ///
    /// ```
    /// use seawall::fleet::Fleet;
    /// let err = Fleet::builder("not a url").start().unwrap_err();
    /// assert!(err.to_string().starts_with("fleet.url"));
    /// ```
    pub fn builder(url: impl Into<String>) -> Builder {
        Builder::new(url.into())
    }

    /// How many instances were live at the last sync, this one included (at least 1;
    /// 1 until the first sync, and the last known count while Redis is away).
    ///
    /// ```no_run
    /// # use seawall::fleet::Fleet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").start().unwrap();
    /// println!("{} instances", fleet.live_instances());
    /// # }
    /// ```
    pub fn live_instances(&self) -> u32 {
        self.shared.live.load(Relaxed).max(1)
    }

    /// Whether the last round trip to Redis succeeded.
    ///
    /// ```no_run
    /// # use seawall::fleet::Fleet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").start().unwrap();
    /// if !fleet.redis_up() { /* deciding on local state alone */ }
    /// # }
    /// ```
    pub fn redis_up(&self) -> bool {
        self.shared.up.load(Relaxed)
    }

    /// How many round trips to Redis have succeeded (for tests and diagnostics).
    ///
    /// ```no_run
    /// # use seawall::fleet::Fleet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").start().unwrap();
    /// assert_eq!(fleet.syncs(), 0); // the first runs in the background
    /// # }
    /// ```
    pub fn syncs(&self) -> u32 {
        self.shared.syncs.load(Relaxed)
    }

    /// This instance's id in the fleet (random, chosen at start).
    ///
    /// ```no_run
    /// # use seawall::fleet::Fleet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").start().unwrap();
    /// assert!(!fleet.instance().is_empty());
    /// # }
    /// ```
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// Adds a layer's part to every sync from now on, for as long as it lives.
    pub(crate) fn join(&self, participant: Weak<dyn Participant>) {
        let mut participants = self
            .shared
            .participants
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        participants.retain(|p| p.strong_count() > 0);
        participants.push(participant);
    }

    /// Asks for a sync now rather than at the end of the interval (ignored while Redis
    /// is away: the back-off holds). Never waits.
    pub(crate) fn nudge(&self) {
        self.shared.nudge.notify_one();
    }

    /// How often this instance syncs with Redis.
    pub(crate) fn sync_interval(&self) -> std::time::Duration {
        self.shared.interval
    }

    /// The namespace every key of this fleet starts with.
    ///
    /// ```no_run
    /// # use seawall::fleet::Fleet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("geo").start().unwrap();
    /// assert_eq!(fleet.namespace(), "geo");
    /// # }
    /// ```
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }
}
