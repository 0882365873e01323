//! The fallback layer, its builder and its handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tower::Layer;

use super::Fallback;
use super::state::Shared;
use crate::config::{ConfigError, Longest, check_duration};
use crate::telemetry::Meter;

/// Wraps services in [`Fallback`]: an error the rule `W` accepts is answered by the
/// fallback `R`, under a time limit and a cap. Clones share the cap and the counts.
///
/// ```
/// use seawall::fallback::{FallbackLayer, Refusals};
/// let layer = FallbackLayer::builder(Refusals, |_: &seawall::Error<std::io::Error>| async {
///     Ok::<&str, seawall::Error<std::io::Error>>("cached page")
/// })
/// .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct FallbackLayer<W, R> {
    pub(super) shared: Arc<Shared<W, R>>,
}

impl<W, R> std::fmt::Debug for FallbackLayer<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl<W, R> Clone for FallbackLayer<W, R> {
    fn clone(&self) -> Self {
        FallbackLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<W, R> FallbackLayer<W, R> {
    /// A builder answering the errors `when` accepts with `recover`. Defaults: no time
    /// limit, no cap, name `"fallback"`.
    ///
    /// ```
    /// use seawall::fallback::FallbackLayer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder(when: W, recover: R) -> Builder<W, R> {
        Builder {
            name: "fallback".to_owned(),
            when,
            recover,
            time_limit: None,
            max_concurrent: u32::MAX,
        }
    }

    /// What the fallback has done so far.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?;
    /// assert_eq!(layer.handle().used().answered, 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn handle(&self) -> FallbackHandle<W, R> {
        FallbackHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<S, W, R> Layer<S> for FallbackLayer<W, R> {
    type Service = Fallback<S, W, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Fallback {
            inner,
            shared: self.shared.clone(),
            refused: None,
        }
    }
}

/// Settings for a [`FallbackLayer`].
///
/// ```
/// use seawall::fallback::{FallbackLayer, Refusals};
/// use std::time::Duration;
/// let layer = FallbackLayer::builder(Refusals, |_: &seawall::Error<()>| async { Ok::<u8, seawall::Error<()>>(0) })
///     .name("catalog-fallback")
///     .time_limit(Duration::from_millis(50))
///     .max_concurrent(100)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[must_use = "call `build()` to get the layer"]
pub struct Builder<W, R> {
    pub(super) name: String,
    when: W,
    recover: R,
    pub(super) time_limit: Option<Duration>,
    pub(super) max_concurrent: u32,
}

impl<W, R> std::fmt::Debug for Builder<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("time_limit", &self.time_limit)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl<W, R> Builder<W, R> {
    /// The name in metrics. Default: `"fallback"`.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .name("prices")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The longest a fallback may run; past it the call gets the original error. Allowed:
    /// `(0s, 365 days]`. Default: none.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// # use std::time::Duration;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .time_limit(Duration::from_millis(20))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// The most fallbacks running at once; beyond it a call gets the original error (so
    /// a fallback that is itself a dependency is not stormed when the primary fails for
    /// everyone). Allowed: at least 1. Default: no cap.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .max_concurrent(10)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_concurrent(mut self, most: u32) -> Self {
        self.max_concurrent = most;
        self
    }

    /// Checks the settings and creates the layer.
    ///
    /// # Errors
    ///
    /// A setting out of range, named, e.g. `fallback.max_concurrent: 0 is outside
    /// 1..=4294967295`.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// let err = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .max_concurrent(0)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "fallback.max_concurrent: 0 is outside 1..=4294967295");
    /// ```
    pub fn build(self) -> Result<FallbackLayer<W, R>, ConfigError> {
        let within = |e: ConfigError| e.within(&self.name);
        if let Some(limit) = self.time_limit {
            check_duration("time_limit", limit, false, Longest::Year).map_err(within)?;
        }
        if self.max_concurrent == 0 {
            return Err(within(ConfigError::new(
                "max_concurrent",
                0,
                "1..=4294967295",
            )));
        }
        let meter = Meter::new("fallback", &Arc::from(self.name.as_str()));
        Ok(FallbackLayer {
            shared: Arc::new(Shared {
                when: self.when,
                recover: self.recover,
                time_limit: self.time_limit,
                running: crate::cap::Cap::new(self.max_concurrent),
                answered: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                over_cap: AtomicU64::new(0),
                meter,
            }),
        })
    }
}

/// What a fallback layer has done: its counts and the fallbacks running now.
///
/// ```
/// # use seawall::fallback::FallbackLayer;
/// let handle = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?.handle();
/// assert_eq!(handle.used().running, 0);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct FallbackHandle<W, R> {
    shared: Arc<Shared<W, R>>,
}

impl<W, R> std::fmt::Debug for FallbackHandle<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackHandle")
            .field("shared", &self.shared)
            .finish()
    }
}

impl<W, R> Clone for FallbackHandle<W, R> {
    fn clone(&self) -> Self {
        FallbackHandle {
            shared: self.shared.clone(),
        }
    }
}

/// A fallback layer's counts.
///
/// ```
/// # use seawall::fallback::FallbackLayer;
/// let used = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?.handle().used();
/// assert_eq!((used.answered, used.timed_out, used.over_cap), (0, 0, 0));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Used {
    /// Calls the fallback answered (with whatever it returned).
    pub answered: u64,
    /// Fallbacks that ran out of time (the call got the original error).
    pub timed_out: u64,
    /// Errors the rule accepted but no place was free for (the original error).
    pub over_cap: u64,
    /// Fallbacks running now.
    pub running: u32,
}

impl<W, R> FallbackHandle<W, R> {
    /// The counts so far.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// let handle = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?.handle();
    /// assert_eq!(handle.used().timed_out, 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn used(&self) -> Used {
        let s = &self.shared;
        Used {
            answered: s.answered.load(Relaxed),
            timed_out: s.timed_out.load(Relaxed),
            over_cap: s.over_cap.load(Relaxed),
            running: s.running.taken(),
        }
    }
}
