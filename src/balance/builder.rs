//! Settings shared by every endpoint of one dependency.

use std::sync::Arc;
use std::time::Duration;

use super::outliers::SuccessRate;

use super::{Admitted, Endpoint, Penalty, Shared};

/// Comparisons an endpoint loses after a failed call, by default.
const DEFAULT_PASSES: u32 = 4;
use crate::ErrorsAreFailures;
use crate::circuit_breaker::{self, CircuitBreakerLayer, Group};
use crate::config::{ConfigError, Ratio};

/// Settings for [`Endpoints`]. Defaults: each endpoint's breaker has the breaker's own
/// detectors (it ejects after 14 failures in a row or a proven failure rate of 50 %,
/// then re-admits after one probe) and ejection times for endpoints: 1 s, doubling with
/// each ejection up to 30 s, ±10 % jitter, one ejection forgotten per 10 s healthy (so
/// an endpoint that keeps failing stays out longer, and one that recovered is forgiven;
/// Envoy's base, multiplier and decay, grown by doubling rather than linearly). At most
/// 50 % of the endpoints are ejected (one always may be); panic below 50 % healthy; an
/// endpoint is passed over for 4 comparisons after each failed call.
///
/// ```
/// use seawall::balance::Endpoints;
/// use seawall::Ratio;
/// use std::time::Duration;
///
/// let endpoints = Endpoints::builder()
///     .name("search")
///     .breaker(|b| b.consecutive_failures(5).open_duration(Duration::from_secs(30)))
///     .max_ejection(Ratio::percent(34.0))
///     .panic_below(Ratio::percent(50.0))
///     .build()?;
/// # let _ = endpoints;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get the endpoints"]
pub struct Builder<C = ErrorsAreFailures> {
    name: String,
    breaker: circuit_breaker::Builder<C>,
    max_ejection: Ratio,
    always_one: bool,
    panic_below: Ratio,
    success_rate: Option<SuccessRate>,
    names: usize,
    passes: u32,
}

impl Builder {
    fn new() -> Self {
        Builder {
            name: "endpoints".to_owned(),
            breaker: CircuitBreakerLayer::builder()
                .open_backoff(2.0, Duration::from_secs(30))
                .open_backoff_decay(Duration::from_secs(10))
                .open_jitter(0.1),
            max_ejection: Ratio::percent(50.0),
            always_one: true,
            panic_below: Ratio::percent(50.0),
            success_rate: None,
            names: 64,
            passes: DEFAULT_PASSES,
        }
    }
}

impl<C: Clone> Builder<C> {
    /// The dependency's name: each endpoint's breaker is named `{name}/{endpoint}`.
    /// Default: `"endpoints"`.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().name("search").build()?;
    /// assert_eq!(endpoints.endpoint("a", ()).breaker().name(), "search/a");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Changes the settings of every endpoint's breaker (its detectors, ejection times,
    /// probes).
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().breaker(|b| b.consecutive_failures(5)).build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn breaker(
        mut self,
        change: impl FnOnce(circuit_breaker::Builder<C>) -> circuit_breaker::Builder<C>,
    ) -> Self {
        self.breaker = change(self.breaker);
        self
    }

    /// Decides what counts as an endpoint's failure.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// use seawall::Outcome;
    /// let endpoints = Endpoints::builder()
    ///     .classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(status) if *status >= 500 => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(_) => Outcome::Failure,
    ///     })
    ///     .build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn classifier<C2: Clone>(self, classifier: C2) -> Builder<C2> {
        Builder {
            name: self.name,
            breaker: self.breaker.classifier(classifier),
            max_ejection: self.max_ejection,
            always_one: self.always_one,
            panic_below: self.panic_below,
            success_rate: self.success_rate,
            names: self.names,
            passes: self.passes,
        }
    }

    /// The most endpoints ejected at once, counted with the one about to be: at 34 %,
    /// one of three. Allowed: `(0%, 100%]`. Default: 50 %.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// use seawall::Ratio;
    /// let err = Endpoints::builder().max_ejection(Ratio::percent(0.0)).build().unwrap_err();
    /// assert_eq!(err.to_string(), "endpoints.max_ejection: 0% is outside (0%, 100%]");
    /// ```
    pub fn max_ejection(mut self, share: Ratio) -> Self {
        self.max_ejection = share;
        self
    }

    /// Whether one endpoint may always be ejected, whatever the share (default: yes).
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().always_eject_one(false).build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn always_eject_one(mut self, allow: bool) -> Self {
        self.always_one = allow;
        self
    }

    /// Panic when fewer than this share of the endpoints are healthy: every endpoint
    /// takes calls again. Allowed: `[0%, 100%]` (0 %: never). Default: 50 %.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// use seawall::Ratio;
    /// let endpoints = Endpoints::builder().panic_below(Ratio::percent(0.0)).build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn panic_below(mut self, share: Ratio) -> Self {
        self.panic_below = share;
        self
    }

    /// Ejects endpoints whose success rate is below `mean − factor × standard deviation`
    /// of their peers' (Envoy's success-rate outlier detection; Envoy's factor is 1.9),
    /// checked every second over each closed endpoint's breaker window, among endpoints
    /// with at least 50 calls in it, when at least 5 have. Ejection is the endpoint's
    /// breaker tripping, within `max_ejection`. Off by default. Allowed: `(0, 100]`.
    /// Needs a tokio runtime when built (it runs as a task on it).
    ///
    /// With one outlier among `n` otherwise equal endpoints, the outlier's distance from
    /// the mean is exactly `√(n − 1)` standard deviations (2 with five endpoints), however
    /// bad it is: a factor near that (1.9 with five) catches it only when the others are
    /// alike. Lower factors catch more, and more falsely.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let endpoints = Endpoints::builder().success_rate_outliers(1.5).build()?;
    /// # let _ = endpoints;
    /// # Ok(())
    /// # }
    /// ```
    pub fn success_rate_outliers(mut self, factor: f64) -> Self {
        self.success_rate.get_or_insert(SuccessRate::DEFAULT).factor = factor;
        self
    }

    /// The success-rate detector's volume: endpoints need `minimum_calls` in their
    /// window to be judged, and at least `minimum_endpoints` (at least 2) must be.
    /// Defaults: 50 and 5. Turns the detector on (factor 1.9) if it was off.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let endpoints = Endpoints::builder()
    ///     .success_rate_outliers(1.9)
    ///     .success_rate_volume(20, 3)
    ///     .build()?;
    /// # let _ = endpoints;
    /// # Ok(())
    /// # }
    /// ```
    pub fn success_rate_volume(mut self, minimum_calls: u64, minimum_endpoints: usize) -> Self {
        let rule = self.success_rate.get_or_insert(SuccessRate::DEFAULT);
        rule.minimum_calls = minimum_calls;
        rule.minimum_endpoints = minimum_endpoints;
        self
    }

    /// How many endpoints get a breaker named after them (`{name}/{endpoint}`, in events
    /// and metric labels); endpoints beyond are named `{name}/other`, so a discovery
    /// that churns through addresses cannot grow the metrics without bound. Default: 64.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().name("db").named_endpoints(1).build()?;
    /// assert_eq!(endpoints.endpoint("a", ()).breaker().name(), "db/a");
    /// assert_eq!(endpoints.endpoint("b", ()).breaker().name(), "db/other");
    /// assert_eq!(endpoints.endpoint("a", ()).breaker().name(), "db/a");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn named_endpoints(mut self, most: usize) -> Self {
        self.names = most;
        self
    }

    /// After a failed call, the endpoint loses its next `comparisons` comparisons of
    /// load in the balancer (p2c compares two endpoints at each pick), whatever its
    /// load, until a call of it succeeds. So the retry of a call that just failed goes
    /// to another endpoint (unless both candidates of its pick failed last), and an
    /// endpoint that fails fast stops looking lightly loaded: between ejections, its
    /// share of calls falls with its failures. Allowed: `0..=1000` (0: off). Default: 4.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().passed_over_after_failure(4).build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn passed_over_after_failure(mut self, comparisons: u32) -> Self {
        self.passes = comparisons;
        self
    }

    /// Checks the settings (the breaker's too, once) and creates the shared state.
    ///
    /// # Errors
    ///
    /// The first invalid setting, named with the dependency's name, e.g.
    /// `endpoints.panic_below: 120% is outside [0%, 100%]`.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// use seawall::Ratio;
    /// let err = Endpoints::builder().panic_below(Ratio::percent(120.0)).build().unwrap_err();
    /// assert_eq!(err.to_string(), "endpoints.panic_below: 120% is outside [0%, 100%]");
    /// ```
    pub fn build(self) -> Result<Endpoints<C>, ConfigError> {
        let name = self.name.clone();
        self.build_unnamed().map_err(|e| e.within(&name))
    }

    fn build_unnamed(self) -> Result<Endpoints<C>, ConfigError> {
        let group = Group::new(self.max_ejection).map_err(|_| {
            ConfigError::new("max_ejection", self.max_ejection.to_string(), "(0%, 100%]")
        })?;
        let panic = self.panic_below.as_fraction();
        if !(0.0..=1.0).contains(&panic) {
            let shown = self.panic_below.to_string();
            return Err(ConfigError::new("panic_below", shown, "[0%, 100%]"));
        }
        // Validate the breaker's settings once, here, rather than at each endpoint.
        self.breaker
            .clone()
            .build()
            .map_err(|e| e.within("breaker"))?;
        if self.passes > 1000 {
            return Err(ConfigError::new(
                "passed_over_after_failure",
                self.passes,
                "0..=1000",
            ));
        }
        let runtime = match &self.success_rate {
            Some(rule) => Some(check(rule)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            group: group.always_allow_one(self.always_one),
            panic_below: panic,
            members: Default::default(),
            watched: runtime.is_some(),
            names: Default::default(),
            most_names: self.names,
            passes: self.passes,
        });
        if let (Some(runtime), Some(rule)) = (runtime, self.success_rate) {
            let name = Arc::from(self.name.as_str());
            runtime.spawn(super::outliers::watch(Arc::downgrade(&shared), rule, name));
        }
        Ok(Endpoints {
            name: self.name,
            breaker: self.breaker,
            shared,
        })
    }
}

/// Checks the success-rate detector's settings; the runtime it will run on.
fn check(rule: &SuccessRate) -> Result<tokio::runtime::Handle, ConfigError> {
    let field = "success_rate_outliers";
    if !(rule.factor > 0.0 && rule.factor <= 100.0) {
        return Err(ConfigError::new(field, rule.factor, "(0, 100]"));
    }
    if rule.minimum_calls == 0 {
        return Err(ConfigError::new(
            "success_rate_volume.minimum_calls",
            0,
            "1..",
        ));
    }
    if rule.minimum_endpoints < 2 {
        let shown = rule.minimum_endpoints;
        return Err(ConfigError::new(
            "success_rate_volume.minimum_endpoints",
            shown,
            "2..",
        ));
    }
    tokio::runtime::Handle::try_current()
        .map_err(|_| ConfigError::new(field, "outside a tokio runtime", "built inside one"))
}

/// The endpoints of one dependency: makes an [`Endpoint`] of each of its services, all
/// sharing one group (max ejection, panic). Cheap to clone.
///
/// ```
/// use seawall::balance::Endpoints;
/// let endpoints = Endpoints::builder().name("search").build()?;
/// let a = endpoints.endpoint("10.0.0.1:80", tower::service_fn(|()| async { Ok::<_, ()>(()) }));
/// assert_eq!(endpoints.ejected(), 0);
/// # let _ = a;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Endpoints<C = ErrorsAreFailures> {
    name: String,
    breaker: circuit_breaker::Builder<C>,
    shared: Arc<Shared>,
}

impl Endpoints {
    /// Settings for the endpoints of one dependency.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().build()?;
    /// # let _ = endpoints;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C: Clone> Endpoints<C> {
    /// `service` as the endpoint `key` of this dependency, with a breaker of its own in
    /// the dependency's group. An endpoint that goes (a discovery's `Remove`) leaves the
    /// group when it is dropped.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().build()?;
    /// let endpoint = endpoints.endpoint("10.0.0.7:80", ());
    /// assert_eq!(endpoint.breaker().name(), "endpoints/10.0.0.7:80");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn endpoint<S>(&self, key: impl std::fmt::Display, service: S) -> Endpoint<S, C> {
        let key = key.to_string();
        let mut breaker = self.breaker.clone();
        if let Some(seed) = breaker.config().seed {
            // A seed set for the endpoints gives each its own draws (the key mixed in),
            // so that their jittered ejections still spread.
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            let mixed = BuildHasherDefault::<DefaultHasher>::default().hash_one((seed, &key));
            breaker = breaker.seed(mixed);
        }
        let layer = breaker
            .name(format!("{}/{}", self.name, self.shared.label(key)))
            .build()
            .expect("the breaker's settings were checked by `build`")
            .group(&self.shared.group);
        let (breaker, classifier) = layer.into_parts();
        let breaker = Arc::new(breaker);
        self.shared.join(&breaker);
        Endpoint {
            inner: service,
            breaker,
            classifier,
            shared: self.shared.clone(),
            admitted: Admitted::No,
            timer: None,
            penalty: Penalty::default(),
        }
    }

    /// How many endpoints are ejected now (their breakers open or probing).
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().build()?;
    /// let endpoint = endpoints.endpoint("a", ());
    /// endpoint.breaker().force_open();
    /// assert_eq!(endpoints.ejected(), 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn ejected(&self) -> usize {
        self.shared.group.open()
    }

    /// Whether fewer than the panic share of the endpoints are healthy, so that every
    /// endpoint takes calls.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().build()?;
    /// assert!(!endpoints.panicking());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn panicking(&self) -> bool {
        self.shared.panicking()
    }
}
