//! Which errors a fallback answers: a seawall layer's refusal, chosen reasons, or any
//! predicate on the error, each checked against the service's error type at compile
//! time.

use crate::rejection::{AsRejected, Reason};

/// Whether a fallback answers `error`. Implemented for closures `Fn(&E) -> bool`, for
/// [`Refusals`] and for [`Reasons`].
///
/// ```
/// use seawall::fallback::When;
/// let only_timeouts = |e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut;
/// assert!(only_timeouts.applies(&std::io::ErrorKind::TimedOut.into()));
/// ```
pub trait When<E> {
    /// Whether the fallback answers `error`.
    ///
    /// ```
    /// use seawall::fallback::When;
    /// assert!((|_: &()| true).applies(&()));
    /// ```
    fn applies(&self, error: &E) -> bool;
}

impl<F, E> When<E> for F
where
    F: Fn(&E) -> bool,
{
    fn applies(&self, error: &E) -> bool {
        self(error)
    }
}

/// Every local refusal by a seawall layer (an open breaker, a full bulkhead, a rate
/// limit, a passed deadline, an attempt timeout…): the dependency's own errors are not
/// answered.
///
/// ```
/// use seawall::fallback::{Refusals, When};
/// use seawall::{Reason, Rejected};
/// let refused = seawall::Error::<&str>::Rejected(Rejected::new(Reason::CircuitOpen, None));
/// assert!(Refusals.applies(&refused));
/// assert!(!Refusals.applies(&seawall::Error::Service("503")));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Refusals;

impl<E: AsRejected> When<E> for Refusals {
    fn applies(&self, error: &E) -> bool {
        error.as_rejected().is_some()
    }
}

/// The local refusals whose [`Reason`] `choose` accepts.
///
/// ```
/// use seawall::fallback::{Reasons, When};
/// use seawall::{Reason, Rejected};
/// let open_breaker = Reasons(|r: Reason| matches!(r, Reason::CircuitOpen));
/// let refused = seawall::Error::<()>::Rejected(Rejected::new(Reason::CircuitOpen, None));
/// assert!(open_breaker.applies(&refused));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Reasons<F>(pub F);

impl<F, E> When<E> for Reasons<F>
where
    F: Fn(Reason) -> bool,
    E: AsRejected,
{
    fn applies(&self, error: &E) -> bool {
        error.as_rejected().is_some_and(|r| (self.0)(r.reason()))
    }
}
