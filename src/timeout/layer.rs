//! Configuration of the attempt timeout.

use std::time::Duration;

use tower::Layer;

use super::AttemptTimeout;
use crate::config::ConfigError;
use crate::limit::{SharedLimit, TimeLimitHandle, check};
use crate::telemetry::shared_meter;
use std::sync::Arc;

pub(crate) use crate::limit::MAX_LIMIT as MAX_TIMEOUT;

/// Applies an [`AttemptTimeout`] to services.
///
/// ```
/// use seawall::timeout::AttemptTimeoutLayer;
/// use std::time::Duration;
///
/// let layer = AttemptTimeoutLayer::new(Duration::from_secs(10))?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AttemptTimeoutLayer<P = NoOverride> {
    timeout: SharedLimit,
    per_request: P,
    name: Arc<str>,
}

impl AttemptTimeoutLayer {
    /// Times out each attempt after `timeout`.
    ///
    /// # Errors
    ///
    /// `timeout` must be within `(0s, 365 days]`.
    ///
    /// ```
    /// use seawall::timeout::AttemptTimeoutLayer;
    /// let err = AttemptTimeoutLayer::new(std::time::Duration::ZERO).unwrap_err();
    /// assert_eq!(err.to_string(), "attempt_timeout.timeout: 0ns is outside (0s, 365 days]");
    /// ```
    pub fn new(timeout: Duration) -> Result<Self, ConfigError> {
        check("attempt_timeout", "timeout", timeout)?;
        Ok(AttemptTimeoutLayer {
            timeout: SharedLimit::new(timeout),
            per_request: NoOverride,
            name: Arc::from("attempt_timeout"),
        })
    }

    /// Lets each request choose its own timeout; `None` keeps the layer's.
    /// Values above 365 days are clamped to it.
    ///
    /// ```
    /// use seawall::timeout::AttemptTimeoutLayer;
    /// use std::time::Duration;
    ///
    /// struct Query { interactive: bool }
    ///
    /// let layer = AttemptTimeoutLayer::new(Duration::from_secs(30))?
    ///     .per_request(|q: &Query| q.interactive.then(|| Duration::from_secs(1)));
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn per_request<P>(self, per_request: P) -> AttemptTimeoutLayer<P> {
        AttemptTimeoutLayer {
            timeout: self.timeout,
            per_request,
            name: self.name,
        }
    }
}

impl<P> AttemptTimeoutLayer<P> {
    /// Names the layer in metrics. Default: `"attempt_timeout"`.
    ///
    /// ```
    /// use seawall::timeout::AttemptTimeoutLayer;
    /// let layer = AttemptTimeoutLayer::new(std::time::Duration::from_secs(1))?.name("payments");
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = Arc::from(name);
        self
    }

    /// A handle to change the timeout of this layer and all its services at run time.
    ///
    /// ```
    /// use seawall::timeout::AttemptTimeoutLayer;
    /// use std::time::Duration;
    /// let layer = AttemptTimeoutLayer::new(Duration::from_secs(1))?;
    /// layer.handle().set(Duration::from_millis(500))?;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn handle(&self) -> TimeLimitHandle {
        TimeLimitHandle::new(
            self.timeout.clone(),
            "attempt_timeout",
            "timeout",
            self.name.clone(),
        )
    }
}

impl<S, P: Clone> Layer<S> for AttemptTimeoutLayer<P> {
    type Service = AttemptTimeout<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptTimeout {
            inner,
            timeout: self.timeout.clone(),
            per_request: self.per_request.clone(),
            meter: shared_meter(crate::RejectedBy::AttemptTimeout.as_str(), &self.name),
        }
    }
}

/// Chooses a timeout for one request; `None` means the layer's default.
///
/// Implemented for [`NoOverride`] and for closures `Fn(&Req) -> Option<Duration>`.
///
/// ```
/// use seawall::timeout::TimeoutFor;
/// use std::time::Duration;
///
/// let by_size = |body: &Vec<u8>| (body.len() > 1 << 20).then(|| Duration::from_secs(60));
/// assert_eq!(by_size.timeout_for(&vec![0; 10]), None);
/// ```
pub trait TimeoutFor<Req> {
    /// The timeout for `req`, or `None` for the layer's default.
    ///
    /// ```
    /// use seawall::timeout::{NoOverride, TimeoutFor};
    /// assert_eq!(NoOverride.timeout_for(&"any request"), None);
    /// ```
    fn timeout_for(&self, req: &Req) -> Option<Duration>;
}

/// Every request gets the layer's timeout.
///
/// ```
/// use seawall::timeout::{NoOverride, TimeoutFor};
/// assert_eq!(NoOverride.timeout_for(&"any request"), None);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOverride;

impl<Req> TimeoutFor<Req> for NoOverride {
    #[inline]
    fn timeout_for(&self, _: &Req) -> Option<Duration> {
        None
    }
}

impl<F, Req> TimeoutFor<Req> for F
where
    F: Fn(&Req) -> Option<Duration>,
{
    #[inline]
    fn timeout_for(&self, req: &Req) -> Option<Duration> {
        self(req)
    }
}

/// A per-request attempt timeout carried in an `http::Request`'s extensions, read by
/// [`FromExtension`] (feature `http`).
///
/// ```
/// use seawall::timeout::TimeoutOverride;
/// use std::time::Duration;
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(TimeoutOverride(Duration::from_secs(60)));
/// ```
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutOverride(pub Duration);

/// Takes each request's timeout from its [`TimeoutOverride`] extension, if any
/// (feature `http`).
///
/// ```
/// use seawall::timeout::{AttemptTimeoutLayer, FromExtension, TimeoutFor, TimeoutOverride};
/// use std::time::Duration;
///
/// let layer = AttemptTimeoutLayer::new(Duration::from_secs(5))?.per_request(FromExtension);
/// let mut upload = http::Request::new(());
/// upload.extensions_mut().insert(TimeoutOverride(Duration::from_secs(120)));
/// assert_eq!(FromExtension.timeout_for(&upload), Some(Duration::from_secs(120)));
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, Default)]
pub struct FromExtension;

#[cfg(feature = "http")]
impl<B> TimeoutFor<http::Request<B>> for FromExtension {
    fn timeout_for(&self, req: &http::Request<B>) -> Option<Duration> {
        req.extensions().get::<TimeoutOverride>().map(|o| o.0)
    }
}
