//! Configuration of retries, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::backoff::{Backoff, Delays, Shape};
use super::config::{BudgetKind, Settings};
use super::jitter::Jitter;
use super::policy::Shared;
use super::{CloneRequest, RejectionHint, RetryLayer};
use crate::classify::ErrorsAreFailures;
use crate::config::{ConfigError, Ratio};

/// Settings for a [`RetryLayer`]; every one has a default.
///
/// Defaults: 3 attempts in all (Polly makes 4, gRPC allows at most 5); exponential
/// backoff from 100 ms, doubling, capped at 10 s, with full jitter (AWS's finding: it
/// spreads retries best); hints up to 10 s honoured; no limit on total time; Finagle's
/// budget (20 % of the requests of the last 10 s, plus 10 retries a second), which
/// successful retries do not spend; refusals from inner layers returned at once; a
/// timed-out attempt's time counted toward its backoff.
///
/// ```
/// use seawall::{retry::{Jitter, RetryLayer}, Ratio};
/// use std::time::Duration;
///
/// let layer = RetryLayer::builder()
///     .max_attempts(4)
///     .max_elapsed(Duration::from_secs(5))
///     .exponential(Duration::from_millis(50), 2.0, Duration::from_secs(2))
///     .jitter(Jitter::Proportional(0.2))
///     .max_hint(Duration::from_secs(3))
///     .budget(Duration::from_secs(10), 5, Ratio::percent(10.0))
///     .seed(7)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder<C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> {
    pub(super) settings: Settings,
    classifier: C,
    hints: H,
    replay: R,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            settings: Settings::default(),
            classifier: ErrorsAreFailures,
            hints: RejectionHint,
            replay: CloneRequest,
        }
    }
}

impl<C, H, R> Builder<C, H, R> {
    /// Names the layer in metrics. Default: `"retry"`.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().name("payments").build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.settings.name = name.into();
        self
    }

    /// Attempts in all, the first call included: 1 turns retries off.
    /// Allowed: `1..=100`. Default: 3. Changed while running through
    /// [`RetryHandle::set_max_attempts`](super::RetryHandle::set_max_attempts).
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().max_attempts(5).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts;
        self
    }

    /// No retry starts whose delay would end more than this long after the call
    /// began; attempts and sleeps both count. (An attempt in flight is not cut short:
    /// that is a timeout's job.) Reads the clock once per call. Allowed: `(0s, 7 days]`.
    /// Default: no limit. Changed while running through
    /// [`RetryHandle::set_max_elapsed`](super::RetryHandle::set_max_elapsed).
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let layer = RetryLayer::builder().max_elapsed(Duration::from_secs(3)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.settings.max_elapsed = Some(limit);
        self
    }

    /// The longest [`Hint`](super::Hint) honoured: a rejection or `Retry-After` asking
    /// for longer ends the retries (the server is not expected back soon enough).
    /// Allowed: `[0s, 7 days]`. Default: 10 s, so a breaker that stays open for its
    /// default 60 s is not retried. Changed while running through
    /// [`RetryHandle::set_max_hint`](super::RetryHandle::set_max_hint).
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let layer = RetryLayer::builder().max_hint(Duration::from_secs(30)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_hint(mut self, limit: Duration) -> Self {
        self.settings.max_hint = limit;
        self
    }

    /// The same delay before every retry. Allowed: `[0s, 1 day]`.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let layer = RetryLayer::builder().constant(Duration::from_millis(200)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn constant(mut self, delay: Duration) -> Self {
        self.settings.shape = Shape::Constant(delay);
        self.settings.max_delay = delay;
        self.settings.custom = None;
        self
    }

    /// `initial`, then `step` more before each further retry, up to `max`.
    /// Allowed: `initial` and `step` in `[0s, 1 day]`, `max` in `[initial, 1 day]`.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let layer = RetryLayer::builder().linear(ms(100), ms(100), ms(500)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn linear(mut self, initial: Duration, step: Duration, max: Duration) -> Self {
        self.settings.shape = Shape::Linear { initial, step };
        self.settings.max_delay = max;
        self.settings.custom = None;
        self
    }

    /// `initial`, multiplied by `multiplier` before each further retry, up to `max`.
    /// Allowed: `initial` in `(0s, 1 day]`, `multiplier` in `[1, 100]`, `max` in
    /// `[initial, 1 day]`. Default: 100 ms, 2, 10 s.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let layer = RetryLayer::builder()
    ///     .exponential(Duration::from_secs(2), 2.0, Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn exponential(mut self, initial: Duration, multiplier: f64, max: Duration) -> Self {
        self.settings.shape = Shape::Exponential {
            initial,
            multiplier,
        };
        self.settings.max_delay = max;
        self.settings.custom = None;
        self
    }

    /// The exponential backoff's initial delay, multiplier and maximum: this builder's,
    /// or the defaults' when it has another shape.
    #[cfg(feature = "serde")]
    pub(crate) fn exponential_parts(&self) -> (Duration, f64, Duration) {
        self.settings.exponential_parts()
    }

    /// How delays are spread at random; see [`Jitter`]. Default: [`Jitter::Full`].
    ///
    /// ```
    /// # use seawall::retry::{Jitter, RetryLayer};
    /// let layer = RetryLayer::builder().jitter(Jitter::Equal).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.settings.jitter = jitter;
        self
    }

    /// Your own delays, replacing the shape and the jitter; see [`Backoff`].
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let layer = RetryLayer::builder()
    ///     .backoff(|retry: u32, _previous: Duration| Duration::from_millis(10 * u64::from(retry)))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn backoff(mut self, backoff: impl Backoff + 'static) -> Self {
        self.settings.custom = Some(Delays::Custom(Arc::new(backoff)));
        self
    }

    /// Finagle's retry budget (the default): retries may add `share` of the requests
    /// of the last `ttl`; when that is spent, a reserve still lets `min_per_sec` retries
    /// a second through, at most that many at once (so quiet periods can retry, and an
    /// outage cannot spend `ttl` seconds of reserve in one burst).
    /// Allowed: `ttl` in `[1s, 60s]`, `min_per_sec` in `0..=1000000`, `share` in
    /// `[0%, 1000%]` with 0.1 % resolution (rounded down), reported in percent.
    /// Default: 10 s, 10, 20 %.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// use seawall::Ratio;
    /// let layer = RetryLayer::builder()
    ///     .budget(Duration::from_secs(10), 1, Ratio::percent(5.0))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn budget(mut self, ttl: Duration, min_per_sec: u32, share: Ratio) -> Self {
        self.settings.budget = BudgetKind::Window {
            ttl,
            min_per_sec,
            percent: share.as_percent(),
        };
        self
    }

    /// gRPC's retry throttling (gRFC A6) instead of the budget: a bucket of
    /// `max_tokens` tokens, full at first; each failed attempt takes one, each success
    /// puts back `token_ratio`; retries go out only while more than half are left.
    /// Allowed: `max_tokens` in `1..=1000`, `token_ratio` in `(0, 1000]` (0.001 steps).
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().throttle(10, 0.1).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn throttle(mut self, max_tokens: u32, token_ratio: f64) -> Self {
        self.settings.budget = BudgetKind::Throttle {
            max_tokens,
            token_ratio,
        };
        self
    }

    /// No budget: every failure may be retried up to [`max_attempts`](Self::max_attempts).
    /// Only for callers that bound load some other way.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().no_budget().build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn no_budget(mut self) -> Self {
        self.settings.budget = BudgetKind::Off;
        self
    }

    /// Whether a retry that succeeds gives its cost back to the [`budget`](Self::budget).
    /// On (the default), the budget bounds the retries that fail, which are the waste,
    /// while a partial failure that retries cure (a brownout) is not cut short; a
    /// dead dependency's retries all fail, so they are held to the budget as before.
    /// Off, every retry sent counts. No effect on [`throttle`](Self::throttle).
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().refund_successful_retries(false).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn refund_successful_retries(mut self, on: bool) -> Self {
        self.settings.refund_successes = on;
        self
    }

    /// Whether a call that a layer inside the retry refused locally (an open breaker,
    /// a full bulkhead, a rate limit: [`Hint::Refused`](super::Hint::Refused)) is tried
    /// again after the wait the refusal states. Off (the default), the refusal goes
    /// back to the caller at once: the breaker has already judged the dependency, and
    /// callers woken together when it half-opens would find one probe slot between
    /// them. On, a refusal with a stated wait up to [`max_hint`](Self::max_hint) is
    /// retried after it, like a `Retry-After` hint.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().retry_refusals(true).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn retry_refusals(mut self, on: bool) -> Self {
        self.settings.retry_refusals = on;
        self
    }

    /// Whether an attempt that timed out counts its own time toward the backoff before
    /// the next one: the delay is the backoff minus the attempt timeout, so a 1 s
    /// timeout followed by a 100 ms backoff retries at once. The backoff gives a failing
    /// dependency room, and a timed-out attempt already gave it that long; waiting
    /// again only leaves the next attempt less of the call's deadline. Off, the full
    /// backoff follows a timeout too. Default: on.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().backoff_includes_timeout(false).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn backoff_includes_timeout(mut self, on: bool) -> Self {
        self.settings.backoff_includes_timeout = on;
        self
    }

    /// Seeds the jitter, for reproducible tests. Default: a random seed.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().seed(42).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
    }

    /// Decides which results are failures, and so retried; see
    /// [`Classify`](crate::Classify). Default: [`ErrorsAreFailures`].
    ///
    /// ```
    /// use seawall::{retry::RetryLayer, Outcome};
    ///
    /// // Retry 429 and 503 responses too; a 400 is returned as it is.
    /// let layer = RetryLayer::builder()
    ///     .classifier(|r: &Result<u16, tower::BoxError>| match r {
    ///         Ok(429 | 503) | Err(_) => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2, H, R> {
        Builder {
            settings: self.settings,
            classifier,
            hints: self.hints,
            replay: self.replay,
        }
    }

    /// Reads hints from results; see [`RetryHint`](super::RetryHint).
    /// Default: [`RejectionHint`].
    ///
    /// ```
    /// use seawall::retry::{NoHint, RetryLayer};
    /// let layer = RetryLayer::builder().hints(NoHint).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn hints<H2>(self, hints: H2) -> Builder<C, H2, R> {
        Builder {
            settings: self.settings,
            classifier: self.classifier,
            hints,
            replay: self.replay,
        }
    }

    /// Copies requests for retries; see [`Replay`](super::Replay).
    /// Default: [`CloneRequest`].
    ///
    /// ```
    /// use seawall::retry::{CloneRequest, RetryLayer};
    /// let layer = RetryLayer::builder().replay(CloneRequest).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn replay<R2>(self, replay: R2) -> Builder<C, H, R2> {
        Builder {
            settings: self.settings,
            classifier: self.classifier,
            hints: self.hints,
            replay,
        }
    }

    /// Validates the settings and creates the shared budget.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let err = RetryLayer::builder().max_attempts(0).build().unwrap_err();
    /// assert_eq!(err.to_string(), "retry.max_attempts: 0 is outside 1..=100");
    /// ```
    pub fn build(self) -> Result<RetryLayer<C, H, R>, ConfigError> {
        self.settings.validate().map_err(|e| e.within("retry"))?;
        let shared = Arc::new(Shared::new(&self.settings));
        #[cfg(feature = "redis")]
        if let (Some(fleet), BudgetKind::Window { min_per_sec, .. }) =
            (&self.settings.fleet, &self.settings.budget)
        {
            let share = Arc::new(super::fleet::ReserveShare {
                shared: Arc::downgrade(&shared),
                per_sec: *min_per_sec,
                _fleet: fleet.clone(),
            });
            // The participant lives as long as the budget: the fleet holds it weakly,
            // the budget's shared state strongly.
            let participant: std::sync::Weak<dyn crate::fleet::Participant> =
                Arc::downgrade(&share) as _;
            fleet.join(participant);
            let _ = shared.fleet_share.set(share);
        }
        Ok(RetryLayer::from_parts(
            shared,
            self.classifier,
            self.hints,
            self.replay,
        ))
    }
}
