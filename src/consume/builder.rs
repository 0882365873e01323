//! The consumer's settings, validated when it is built.

use std::sync::Arc;
use std::time::Duration;

use super::dedup::Dedup;
use super::{AllTransient, Consumer};
use crate::ConfigError;
use crate::circuit_breaker::CircuitBreakerHandle;
use crate::config::{Longest, check_duration};

/// Configures a [`Consumer`]; every setting has a default.
///
/// ```
/// use seawall::consume::Consumer;
/// use std::time::Duration;
///
/// let consumer = Consumer::builder(|bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned))
///     .name("orders")
///     .concurrency(32)
///     .in_place(3, Duration::from_millis(50), Duration::from_secs(1))
///     .tiers([Duration::from_secs(5), Duration::from_secs(60)])
///     .build()?;
/// # let _ = consumer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[must_use = "call `build()` to get the consumer"]
pub struct Builder<D, F = AllTransient> {
    pub(super) settings: Settings,
    pub(super) decode: D,
    pub(super) fate: F,
    pub(super) breaker: Option<CircuitBreakerHandle>,
    pub(super) dedup: Option<Arc<dyn Dedup>>,
}

/// The plain settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) concurrency: u16,
    pub(crate) attempts: u32,
    pub(crate) initial: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) lease: Duration,
    pub(crate) tiers: Vec<Duration>,
    pub(crate) drain: Duration,
    pub(crate) seed: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "consumer".to_owned(),
            concurrency: 16,
            attempts: 3,
            initial: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            lease: Duration::from_secs(30),
            tiers: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(300),
            ],
            drain: Duration::from_secs(10),
            seed: None,
        }
    }
}

impl<D> Builder<D> {
    pub(super) fn new(decode: D) -> Self {
        Builder {
            settings: Settings::default(),
            decode,
            fate: AllTransient,
            breaker: None,
            dedup: None,
        }
    }
}

impl<D, F> Builder<D, F> {
    /// The consumer's name, in events. Default: `"consumer"`.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec())).name("orders").build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.settings.name = name.into();
        self
    }

    /// How many messages are handled at once, and so the broker's prefetch (a bulkhead
    /// per consumer). Allowed: `1..=10000`. Default: 16.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// let err = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec())).concurrency(0).build().unwrap_err();
    /// assert_eq!(err.to_string(), "consume.concurrency: 0 is outside 1..=10000");
    /// ```
    pub fn concurrency(mut self, messages: u16) -> Self {
        self.settings.concurrency = messages;
        self
    }

    /// Retries in place: up to `attempts` handler attempts per delivery, waiting a
    /// jittered exponential backoff from `initial` up to `max` between them, and never
    /// past the delivery's [lease](Self::lease). Allowed: attempts `1..=100`, delays
    /// `(0s, 1 day]` with `initial <= max`. Default: 3 attempts, 100 ms to 2 s.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// # use std::time::Duration;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .in_place(1, Duration::from_millis(1), Duration::from_millis(1)) // no retry in place
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn in_place(mut self, attempts: u32, initial: Duration, max: Duration) -> Self {
        self.settings.attempts = attempts;
        self.settings.initial = initial;
        self.settings.max_delay = max;
        self
    }

    /// How long one delivery may be worked on in place, from its arrival: in-place
    /// retries stop before it, and an attempt still running at its end counts as a
    /// transient failure. Keep it below the broker's own redelivery timeout (RabbitMQ's
    /// `consumer_timeout`, 30 minutes by default; Kafka's `max.poll.interval.ms`), so
    /// that a message is never redelivered to another consumer while this one still
    /// works on it. Allowed: `(0s, 1 day]`. Default: 30 s.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// # use std::time::Duration;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .lease(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// Delayed-redelivery tiers: after its in-place retries fail, a message waits the
    /// first delay and is delivered again, then the second, and so on; after the last it
    /// is dead-lettered. Empty: dead-letter at once. Allowed: at most 10 tiers, each
    /// `(0s, 1 day]`. Default: 5 s, 30 s, 5 min.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// # use std::time::Duration;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .tiers([Duration::from_secs(10)])
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn tiers(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.settings.tiers = delays.into_iter().collect();
        self
    }

    /// On shutdown, how long messages being handled may take to finish; those still
    /// running then are stopped and given back to the queue. Allowed: `[0s, 1 day]`.
    /// Default: 10 s.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// # use std::time::Duration;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .drain(Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn drain(mut self, drain: Duration) -> Self {
        self.settings.drain = drain;
        self
    }

    /// Pauses consumption while this breaker is open: no new deliveries, the ones held
    /// given back; when its open period ends, one message is taken as the probe, and
    /// the full concurrency returns once the breaker closes. Every handler attempt is a
    /// call through the breaker (a transient failure counts as a failure, a permanent
    /// one as ignored). The breaker lives outside the connection, so its state holds
    /// across reconnects; share it with other consumers or clients of the same
    /// dependency. Default: none.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let breaker = CircuitBreakerLayer::builder().name("payments").build()?;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .breaker(breaker.handle())
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn breaker(mut self, breaker: CircuitBreakerHandle) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Skips messages whose id this store says were handled, and records each handled
    /// one before acknowledging it. Default: none.
    ///
    /// ```
    /// # use seawall::consume::{Consumer, MemoryDedup};
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .dedup(MemoryDedup::new(100_000))
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn dedup(mut self, store: impl Dedup) -> Self {
        self.dedup = Some(Arc::new(store));
        self
    }

    /// Seeds the backoff's jitter, for reproducible runs. Default: random.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec())).seed(7).build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
    }

    /// Sorts the handler's errors: [`Fate::Transient`](super::Fate::Transient) ones are
    /// retried, [`Fate::Permanent`](super::Fate::Permanent) ones dead-lettered at once.
    /// Default: every error is transient.
    ///
    /// ```
    /// use seawall::consume::{Consumer, Fate};
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec()))
    ///     .fate(|e: &std::io::Error| match e.kind() {
    ///         std::io::ErrorKind::InvalidData => Fate::Permanent,
    ///         _ => Fate::Transient,
    ///     })
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn fate<F2>(self, fate: F2) -> Builder<D, F2> {
        Builder {
            settings: self.settings,
            decode: self.decode,
            fate,
            breaker: self.breaker,
            dedup: self.dedup,
        }
    }

    /// Checks every setting and builds the consumer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::consume::Consumer;
    /// let err = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec())).tiers(vec![]).lease(std::time::Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.field(), "consume.lease");
    /// ```
    pub fn build(self) -> Result<Consumer<D, F>, ConfigError> {
        self.settings.validate().map_err(|e| e.within("consume"))?;
        Ok(Consumer::from_parts(self))
    }
}

impl Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=10_000).contains(&self.concurrency) {
            return Err(ConfigError::new(
                "concurrency",
                self.concurrency,
                "1..=10000",
            ));
        }
        if !(1..=100).contains(&self.attempts) {
            return Err(ConfigError::new(
                "in_place.attempts",
                self.attempts,
                "1..=100",
            ));
        }
        check_duration("in_place.initial", self.initial, false, Longest::Day)?;
        check_duration("in_place.max", self.max_delay, false, Longest::Day)?;
        if self.initial > self.max_delay {
            let value = format!("{:?}", self.initial);
            return Err(ConfigError::new(
                "in_place.initial",
                value,
                "at most in_place.max",
            ));
        }
        check_duration("lease", self.lease, false, Longest::Day)?;
        if self.tiers.len() > 10 {
            return Err(ConfigError::new(
                "tiers",
                self.tiers.len(),
                "at most 10 tiers",
            ));
        }
        for delay in &self.tiers {
            check_duration("tiers", *delay, false, Longest::Day)?;
        }
        check_duration("drain", self.drain, true, Longest::Day)
    }
}
