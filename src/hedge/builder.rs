//! The hedging layer and its builder.

use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use super::Hedge;
use super::policy::AnyRequest;
use super::state::{Delay, MOST_SAMPLES, Shared};
use crate::ErrorsAreFailures;
use crate::config::{ConfigError, Longest, Ratio, check_duration};
use crate::telemetry::Meter;

/// Wraps services in [`Hedge`]: when the first attempt has not answered after the
/// delay, a second goes out (and so on, up to `max_attempts`), the first good answer
/// wins and the others are dropped. Clones share the delay's statistics and the budget.
///
/// ```
/// use seawall::hedge::HedgeLayer;
/// use std::time::Duration;
/// let layer = HedgeLayer::builder()
///     .percentile(0.95, 100, Duration::from_millis(200))
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HedgeLayer<C = ErrorsAreFailures, P = AnyRequest> {
    pub(super) shared: Arc<Shared>,
    pub(super) classifier: C,
    pub(super) policy: P,
}

impl HedgeLayer {
    /// A builder: one hedge (two attempts) after a fixed 100 ms, at most 10 % extra load
    /// (with a reserve of 10 attempts), every error a failure.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder().build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder {
            plain: Plain {
                name: "hedge".to_owned(),
                delay: Delay::Fixed(Duration::from_millis(100)),
                max_attempts: 2,
                extra: Ratio::percent(10.0),
                reserve: 10,
                max_running: u32::MAX,
                shared_budget: None,
                #[cfg(feature = "metrics")]
                grpc: None,
            },
            classifier: ErrorsAreFailures,
            policy: AnyRequest,
        }
    }
}

#[cfg(feature = "http")]
impl HedgeLayer {
    /// A builder for HTTP clients (feature `http`): the defaults of
    /// [`builder`](Self::builder), hedging only idempotent methods and numbering each
    /// copy ([`HttpIdempotent`](super::HttpIdempotent)).
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::http().build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn http() -> Builder<ErrorsAreFailures, super::HttpIdempotent> {
        HedgeLayer::builder().policy(super::HttpIdempotent)
    }
}

impl<C, P> HedgeLayer<C, P> {
    /// Hedges sent and hedges the budget refused so far.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder().build()?;
    /// assert_eq!(layer.hedges(), (0, 0));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn hedges(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.shared.hedges.load(Relaxed),
            self.shared.refused.load(Relaxed),
        )
    }

    /// The delay a hedge would wait now (the percentile once enough samples are in).
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use std::time::Duration;
    /// let layer = HedgeLayer::builder().delay(Duration::from_millis(30)).build()?;
    /// assert_eq!(layer.current_delay(), Duration::from_millis(30));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn current_delay(&self) -> Duration {
        self.shared.delay()
    }
}

impl<S, C: Clone, P: Clone> Layer<S> for HedgeLayer<C, P> {
    type Service = Hedge<S, C, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge {
            inner,
            shared: self.shared.clone(),
            classifier: self.classifier.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// Settings for a [`HedgeLayer`].
///
/// ```
/// use seawall::hedge::HedgeLayer;
/// use seawall::Ratio;
/// use std::time::Duration;
/// let layer = HedgeLayer::builder()
///     .name("search")
///     .delay(Duration::from_millis(40))
///     .max_attempts(3)
///     .max_extra_load(Ratio::percent(5.0), 20)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get the layer"]
pub struct Builder<C = ErrorsAreFailures, P = AnyRequest> {
    pub(super) plain: Plain,
    classifier: C,
    policy: P,
}

/// The settings that are plain data (all but the classifier and the policy).
#[derive(Clone, Debug)]
pub(super) struct Plain {
    pub(super) name: String,
    pub(super) delay: Delay,
    pub(super) max_attempts: u32,
    pub(super) extra: Ratio,
    pub(super) reserve: u32,
    pub(super) max_running: u32,
    shared_budget: Option<crate::SharedBudget>,
    #[cfg(feature = "metrics")]
    grpc: Option<(String, String)>,
}

impl<C, P> Builder<C, P> {
    /// The name in metrics. Default: `"hedge"`.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder().name("search").build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.plain.name = name.into();
        self
    }

    /// Records gRPC's per-call hedge histogram (gRFC A96), `grpc.client.call.hedges`,
    /// labelled `grpc.method` and `grpc.target` with the names given; a call that sent
    /// no hedge is not recorded. Both names must be non-empty. Default: off.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder()
    ///     .grpc_metrics("search.v1.Index/Query", "dns:///search:50051")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn grpc_metrics(mut self, method: impl Into<String>, target: impl Into<String>) -> Self {
        self.plain.grpc = Some((method.into(), target.into()));
        self
    }

    /// A fixed delay before each next attempt. Allowed: `(0s, 1 day]`. Default: 100 ms.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use std::time::Duration;
    /// let layer = HedgeLayer::builder().delay(Duration::from_millis(20)).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn delay(mut self, delay: Duration) -> Self {
        self.plain.delay = Delay::Fixed(delay);
        self
    }

    /// The delay is the `quantile` (in `(0, 1)`, e.g. 0.95) of the primary attempts'
    /// latency, each timed from the call's start (a primary cut off by a winning hedge
    /// counts as at least as long as it ran), over the last few thousand calls, once
    /// `at_least` (≥ 1) are in; `until` before that. Read with one atomic load per call.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use std::time::Duration;
    /// let layer = HedgeLayer::builder().percentile(0.9, 50, Duration::from_millis(150)).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn percentile(mut self, quantile: f64, at_least: u64, until: Duration) -> Self {
        self.plain.delay = Delay::Percentile {
            q: quantile,
            at_least,
            until,
        };
        self
    }

    /// The most attempts of one call, the first included. Allowed: `2..=5` (gRPC's
    /// hedging limit). Default: 2.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder().max_attempts(3).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.plain.max_attempts = attempts;
        self
    }

    /// The extra load hedges may add: each call earns `share` of an attempt, each hedge
    /// spends one, and at most `reserve` (≥ 1) attempts are saved up. Allowed: `share` in
    /// `[0%, 100%]`. Default: 10 %, 10.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// use seawall::Ratio;
    /// let layer = HedgeLayer::builder().max_extra_load(Ratio::percent(2.0), 5).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_extra_load(mut self, share: Ratio, reserve: u32) -> Self {
        self.plain.extra = share;
        self.plain.reserve = reserve;
        self
    }

    /// Spends hedges from a retry layer's budget
    /// ([`RetryLayer::shared_budget`](crate::retry::RetryLayer::shared_budget)) instead
    /// of this layer's own [`max_extra_load`](Self::max_extra_load): retries and hedges
    /// together then stay within one budget. Put the hedging layer under that retry
    /// layer, whose calls earn the budget.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use seawall::retry::RetryLayer;
    /// let retry = RetryLayer::builder().build()?;
    /// let hedge = HedgeLayer::builder().share_budget(retry.shared_budget()).build()?;
    /// # let _ = hedge;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn share_budget(mut self, budget: crate::SharedBudget) -> Self {
        self.plain.shared_budget = Some(budget);
        self
    }

    /// The most hedges in flight at once across every call of the layer (a dependency
    /// slow for everyone is not sent a second wave). Allowed: at least 1. Default: no cap.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let layer = HedgeLayer::builder().max_concurrent_hedges(20).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_concurrent_hedges(mut self, most: u32) -> Self {
        self.plain.max_running = most;
        self
    }

    /// Decides what an answer means: `Success` wins; `Failure` is not fatal (it waits
    /// for the other attempts, or sends the next at once); `Ignored` (an answer about the
    /// request itself) is fatal and ends the call at once. Default: every error a
    /// failure.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// use seawall::Outcome;
    /// let layer = HedgeLayer::builder()
    ///     .classifier(|r: &Result<u16, ()>| match r {
    ///         Ok(s) if *s >= 500 => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(()) => Outcome::Failure,
    ///     })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2, P> {
        Builder {
            plain: self.plain,
            classifier,
            policy: self.policy,
        }
    }

    /// Which requests may be hedged and how each copy is marked: [`AnyRequest`] (the
    /// default), [`HttpIdempotent`](super::HttpIdempotent) or
    /// [`GrpcAttempts`](super::GrpcAttempts) (feature `http`), or your own
    /// [`HedgePolicy`](super::HedgePolicy).
    ///
    /// ```
    /// # use seawall::hedge::{HedgeLayer, HttpIdempotent};
    /// let layer = HedgeLayer::builder().policy(HttpIdempotent).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn policy<P2>(self, policy: P2) -> Builder<C, P2> {
        Builder {
            plain: self.plain,
            classifier: self.classifier,
            policy,
        }
    }

    /// Checks the settings and creates the layer.
    ///
    /// # Errors
    ///
    /// A setting out of range, named, e.g. `hedge.max_attempts: 9 is outside 2..=5`.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// let err = HedgeLayer::builder().max_attempts(9).build().unwrap_err();
    /// assert_eq!(err.to_string(), "hedge.max_attempts: 9 is outside 2..=5");
    /// ```
    pub fn build(self) -> Result<HedgeLayer<C, P>, ConfigError> {
        let within = |e: ConfigError| e.within(&self.plain.name);
        match self.plain.delay {
            Delay::Fixed(d) => check_duration("delay", d, false, Longest::Day).map_err(within)?,
            Delay::Percentile { q, at_least, until } => {
                if !(q > 0.0 && q < 1.0) {
                    return Err(within(ConfigError::new("percentile.quantile", q, "(0, 1)")));
                }
                if !(1..=MOST_SAMPLES).contains(&at_least) {
                    let allowed = format!("1..={MOST_SAMPLES}");
                    return Err(within(ConfigError::new(
                        "percentile.at_least",
                        at_least,
                        allowed,
                    )));
                }
                check_duration("percentile.until", until, false, Longest::Day).map_err(within)?;
            }
        }
        if !(2..=5).contains(&self.plain.max_attempts) {
            return Err(within(ConfigError::new(
                "max_attempts",
                self.plain.max_attempts,
                "2..=5",
            )));
        }
        let extra = self.plain.extra.as_fraction();
        if !(extra == 0.0 || (1e-6..=1.0).contains(&extra)) {
            return Err(within(ConfigError::new(
                "max_extra_load",
                self.plain.extra,
                "0% or [0.0001%, 100%]",
            )));
        }
        if self.plain.max_running == 0 {
            return Err(within(ConfigError::new("max_concurrent_hedges", 0, "1..")));
        }
        if self.plain.reserve == 0 {
            return Err(within(ConfigError::new("max_extra_load.reserve", 0, "1..")));
        }
        #[cfg(feature = "metrics")]
        if let Some((method, target)) = &self.plain.grpc {
            crate::telemetry::check_grpc_labels(method, target).map_err(within)?;
        }
        let meter = Meter::new("hedge", &Arc::from(self.plain.name.as_str()));
        let mut shared = Shared::new(
            self.plain.delay,
            self.plain.max_attempts,
            (extra, self.plain.reserve),
            self.plain.max_running,
            meter,
        );
        shared.shared_budget = self.plain.shared_budget;
        #[cfg(feature = "metrics")]
        {
            shared.grpc = (self.plain.grpc.as_ref())
                .map(|(method, target)| crate::telemetry::GrpcCall::hedges(method, target));
        }
        Ok(HedgeLayer {
            shared: Arc::new(shared),
            classifier: self.classifier,
            policy: self.policy,
        })
    }
}
