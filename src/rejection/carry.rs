//! How an error type carries a rejection through a stack: `From<Rejected>` to put one
//! in, [`AsRejected`] to find it again, and [`Error`] for errors you do not own.

use std::error::Error as StdError;
use std::fmt;

use super::Rejected;

/// An error type that can carry a seawall [`Rejected`]: what every layer asks of the
/// inner service's error. Implemented for every `E: From<Rejected>`, so there is nothing
/// to implement; it exists so that the compiler names the fix when the bound is not met.
///
/// Met by `tower::BoxError`, by [`Error<E>`](Error) for any `E`, and by your own error
/// enum once it has `impl From<Rejected>`. A client whose error you do not own (hyper,
/// tonic) meets it once its error is wrapped under the seawall layers:
///
/// ```
/// use seawall::pipeline::StandardPipeline;
/// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A client with an error type of its own, which knows nothing of seawall.
/// let client = service_fn(|n: u32| async move { Ok::<u32, std::io::Error>(n) });
/// let mut svc = ServiceBuilder::new()
///     .layer(StandardPipeline::builder().build().unwrap())
///     .map_err(seawall::Error::Service) // the fix the compiler suggests
///     .service(client);
/// assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a seawall rejection: seawall layers need the inner service's error to implement `From<seawall::Rejected>`",
    label = "this error type cannot carry a `seawall::Rejected`",
    note = "for a client whose error you do not own (hyper, tonic, reqwest), add `.map_err(seawall::Error::Service)` under the seawall layers in the `ServiceBuilder`, or `.map_err(tower::BoxError::from)`",
    note = "for your own error enum, add a variant and `impl From<seawall::Rejected> for {Self}`"
)]
pub trait CarriesRejection: From<Rejected> {}

// Not recommended, so that an unmet bound is reported as this trait, with its message.
#[diagnostic::do_not_recommend]
impl<E: From<Rejected>> CarriesRejection for E {}

/// Finds a [`Rejected`] inside an error value.
///
/// Implemented for [`Rejected`], [`Error`], and `tower::BoxError` (which downcasts and
/// walks the `source()` chain). Implement it for your own error enum so that layers such
/// as retry can read a rejection's hint.
///
/// ```
/// use seawall::{AsRejected, Reason, Rejected};
/// use tower::BoxError;
///
/// let err: BoxError = Rejected::new(Reason::CircuitOpen, None).into();
/// assert_eq!(err.as_rejected().map(|r| r.reason()), Some(Reason::CircuitOpen));
///
/// let other: BoxError = "connection reset".into();
/// assert!(other.as_rejected().is_none());
/// ```
pub trait AsRejected {
    /// The rejection this error is or wraps, if any.
    ///
    /// ```
    /// use seawall::{AsRejected, Reason, Rejected};
    /// let err: tower::BoxError = Rejected::new(Reason::RateLimited, None).into();
    /// assert_eq!(err.as_rejected().map(|r| r.reason()), Some(Reason::RateLimited));
    /// ```
    fn as_rejected(&self) -> Option<&Rejected>;

    /// The rejection this error is or directly holds, mutably, so that a retry layer can
    /// mark it with the attempt number. The default finds none.
    ///
    /// ```
    /// use seawall::{AsRejected, Reason, Rejected};
    /// let mut r = Rejected::new(Reason::CircuitOpen, None);
    /// assert!(r.as_rejected_mut().is_some());
    /// ```
    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        None
    }
}

impl AsRejected for Rejected {
    fn as_rejected(&self) -> Option<&Rejected> {
        Some(self)
    }

    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        Some(self)
    }
}

impl AsRejected for Box<dyn StdError + Send + Sync> {
    fn as_rejected(&self) -> Option<&Rejected> {
        let mut current: Option<&(dyn StdError + 'static)> = Some(self.as_ref());
        while let Some(err) = current {
            if let Some(rejected) = err.downcast_ref::<Rejected>() {
                return Some(rejected);
            }
            current = err.source();
        }
        None
    }

    /// Only a top-level rejection: `source()` gives no mutable access.
    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        self.downcast_mut::<Rejected>()
    }
}

/// A service error or a seawall rejection, for services whose error type you do not own.
///
/// Put `map_err(seawall::Error::Service)` under the seawall layers; the whole stack then
/// returns `seawall::Error<E>`, and one `match` separates the two cases. It is exhaustive
/// on purpose and will stay two cases: every other detail lives in [`Rejected`].
///
/// ```
/// use seawall::{Error, Reason, Rejected};
///
/// fn report(err: Error<std::io::Error>) -> &'static str {
///     match err {
///         Error::Rejected(_) => "refused locally, the dependency was not called",
///         Error::Service(_) => "the dependency failed",
///     }
/// }
/// assert_eq!(report(Rejected::new(Reason::CircuitOpen, None).into()), "refused locally, the dependency was not called");
/// ```
#[derive(Debug)]
pub enum Error<E> {
    /// A seawall layer refused the call.
    Rejected(Rejected),
    /// The inner service returned this error.
    Service(E),
}

impl<E> From<Rejected> for Error<E> {
    fn from(rejected: Rejected) -> Self {
        Error::Rejected(rejected)
    }
}

impl<E> AsRejected for Error<E> {
    fn as_rejected(&self) -> Option<&Rejected> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(_) => None,
        }
    }

    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(rejected) => rejected.fmt(f),
            Error::Service(err) => err.fmt(f),
        }
    }
}

impl<E: StdError + 'static> StdError for Error<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(err) => Some(err),
        }
    }
}
