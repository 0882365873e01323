//! Settings shared by every endpoint of one dependency.

use std::sync::Arc;

use super::{Admitted, Endpoint, Shared};
use crate::ErrorsAreFailures;
use crate::circuit_breaker::{self, CircuitBreakerLayer, Group};
use crate::config::{ConfigError, Ratio};

/// Settings for [`Endpoints`]. Defaults: each endpoint's breaker has the breaker's own
/// defaults (it ejects after 14 failures in a row or a proven failure rate of 50 %, for
/// 1 s growing with each ejection, then one probe); at most 50 % of the endpoints are
/// ejected (one always may be); panic below 50 % healthy.
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
}

impl Builder {
    fn new() -> Self {
        Builder {
            name: "endpoints".to_owned(),
            breaker: CircuitBreakerLayer::builder(),
            max_ejection: Ratio::percent(50.0),
            always_one: true,
            panic_below: Ratio::percent(50.0),
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
        Ok(Endpoints {
            name: self.name,
            breaker: self.breaker,
            shared: Arc::new(Shared {
                group: group.always_allow_one(self.always_one),
                panic_below: panic,
            }),
        })
    }
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
        let layer = self
            .breaker
            .clone()
            .name(format!("{}/{key}", self.name))
            .build()
            .expect("the breaker's settings were checked by `build`")
            .group(&self.shared.group);
        let (breaker, classifier) = layer.into_parts();
        Endpoint {
            inner: service,
            breaker,
            classifier,
            shared: self.shared.clone(),
            admitted: Admitted::No,
            timer: None,
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
