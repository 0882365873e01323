//! Settings for a [`Fleet`], validated by [`start`](Builder::start).

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Fleet, Shared, sync};
use crate::config::ConfigError;

/// Settings for a [`Fleet`]. Defaults: namespace `"seawall"`, a sync every 250 ms, and
/// 100 ms (at most the sync interval) for each round trip to Redis.
///
/// ```no_run
/// use seawall::fleet::Fleet;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall::ConfigError> {
/// let fleet = Fleet::builder("redis://127.0.0.1:6379/")
///     .namespace("payments")
///     .sync_interval(Duration::from_millis(500))
///     .redis_timeout(Duration::from_millis(50))
///     .start()?;
/// # let _ = fleet;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `start()` to join the fleet"]
pub struct Builder {
    url: String,
    namespace: String,
    sync_interval: Duration,
    /// `None`: 100 ms, or the sync interval if shorter.
    redis_timeout: Option<Duration>,
}

/// The shortest and longest sync interval.
const INTERVALS: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(60));

impl Builder {
    pub(super) fn new(url: String) -> Self {
        Builder {
            url,
            namespace: "seawall".to_owned(),
            sync_interval: Duration::from_millis(250),
            redis_timeout: None,
        }
    }

    /// The prefix of every key: 1 to 64 letters, digits, `-`, `_`, `.` or `:`.
    /// Default: `"seawall"`.
    ///
    /// ```
    /// # use seawall::fleet::Fleet;
    /// let err = Fleet::builder("redis://127.0.0.1/").namespace("a b").start().unwrap_err();
    /// assert!(err.to_string().starts_with("fleet.namespace"));
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How often the instance syncs with Redis. Allowed: `[10ms, 60s]`. Default: 250 ms.
    ///
    /// ```
    /// # use seawall::fleet::Fleet;
    /// # use std::time::Duration;
    /// let err = Fleet::builder("redis://127.0.0.1/")
    ///     .sync_interval(Duration::from_millis(1))
    ///     .start()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "fleet.sync_interval: 1ms is outside [10ms, 60s]");
    /// ```
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// How long one round trip to Redis (or one connection attempt) may take.
    /// Allowed: `(0s, sync_interval]`. Default: 100 ms, or the sync interval if that is
    /// shorter.
    ///
    /// ```
    /// # use seawall::fleet::Fleet;
    /// # use std::time::Duration;
    /// let err = Fleet::builder("redis://127.0.0.1/")
    ///     .redis_timeout(Duration::from_secs(1))
    ///     .start()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "fleet.redis_timeout: 1s is outside (0s, sync_interval = 250ms]");
    /// ```
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = Some(timeout);
        self
    }

    /// Validates the settings and starts the background sync on the current tokio
    /// runtime. The instance joins the fleet at the first successful sync.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid setting (`url`, `namespace`,
    /// `sync_interval`, `redis_timeout`), or `runtime` when called outside a tokio
    /// runtime.
    ///
    /// ```
    /// # use seawall::fleet::Fleet;
    /// let err = Fleet::builder("redis://127.0.0.1/").start().unwrap_err();
    /// assert_eq!(err.to_string(), "fleet.runtime: none is outside a tokio runtime");
    /// ```
    pub fn start(self) -> Result<Fleet, ConfigError> {
        self.start_unnamed().map_err(|e| e.within("fleet"))
    }

    fn start_unnamed(self) -> Result<Fleet, ConfigError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| ConfigError::new("url", &self.url, format!("a Redis URL ({e})")))?;
        let ns = &self.namespace;
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
        if ns.is_empty() || ns.len() > 64 || !ns.chars().all(allowed) {
            let text = "1 to 64 of A-Z a-z 0-9 - _ . :";
            return Err(ConfigError::new("namespace", format!("{ns:?}"), text));
        }
        let (shortest, longest) = INTERVALS;
        if self.sync_interval < shortest || self.sync_interval > longest {
            let shown = format!("{:?}", self.sync_interval);
            return Err(ConfigError::new("sync_interval", shown, "[10ms, 60s]"));
        }
        let redis_timeout = self
            .redis_timeout
            .unwrap_or(self.sync_interval.min(Duration::from_millis(100)));
        if redis_timeout.is_zero() || redis_timeout > self.sync_interval {
            let shown = format!("{redis_timeout:?}");
            let allowed = format!("(0s, sync_interval = {:?}]", self.sync_interval);
            return Err(ConfigError::new("redis_timeout", shown, allowed));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| ConfigError::new("runtime", "none", "a tokio runtime"))?;
        let instance = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let shared = Arc::new(Shared {
            namespace: self.namespace.clone(),
            instance,
            live: AtomicU32::new(1),
            up: AtomicBool::new(false),
            syncs: AtomicU32::new(0),
            interval: self.sync_interval,
            participants: Mutex::new(Vec::new()),
            nudge: Arc::new(tokio::sync::Notify::new()),
        });
        let settings = sync::Settings {
            interval: self.sync_interval,
            timeout: redis_timeout,
        };
        runtime.spawn(sync::run(Arc::downgrade(&shared), client, settings));
        Ok(Fleet { shared })
    }
}
