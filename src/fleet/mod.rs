//! Fleet-wide state in Redis: the instances of one service (replicas behind a load
//! balancer, worker processes per core) learn of each other through one Redis, so that
//! their layers can judge, limit and budget as one fleet. Feature `redis`.
//!
//! # What this part does
//!
//! Membership: each [`Fleet`] registers its instance in Redis and learns how many
//! instances are live, in one atomic round trip (a Lua script) per
//! [`sync_interval`](Builder::sync_interval), in a background task — **never on a call's
//! path**. The count is what a layer falls back on when Redis is away (a fleet limit
//! divided among the live instances).
//!
//! # Guarantees
//!
//! * No call waits on Redis: every read ([`Fleet::live_instances`], [`Fleet::redis_up`])
//!   is an atomic load of the last known state.
//! * Redis is a dependency too. Each round trip has its own timeout
//!   ([`redis_timeout`](Builder::redis_timeout)); after a failure the task backs off
//!   (twice the interval, then four and eight times) and probes again, so a down Redis is
//!   not hammered by the fleet. Going down and coming back are `tracing` events (target
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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

pub use builder::Builder;

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
