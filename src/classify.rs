//! Outcome classification: how a call's result counts toward failure rates.
//!
//! Every seawall layer that judges health (the circuit breaker today; retry, hedging and
//! adaptive limits later) asks one question of a finished call: did it succeed, fail, or
//! should it be ignored? A [`Classify`] implementation answers it.
//!
//! * [`ErrorsAreFailures`] (the default) counts `Err` as a failure and `Ok` as a success.
//! * Any closure `Fn(&Result<Res, E>) -> Outcome` is a classifier, so responses can count
//!   too (an HTTP 503 is a failure, a 404 a success, a cancelled request ignored).
//! * Implement [`Classify`] on your own type for reusable rules.
//!
//! ```
//! use seawall::{Classify, Outcome};
//!
//! // A response-aware classifier: status codes >= 500 are failures.
//! let classify = |result: &Result<u16, std::io::Error>| match result {
//!     Ok(status) if *status >= 500 => Outcome::Failure,
//!     Ok(_) => Outcome::Success,
//!     Err(_) => Outcome::Failure,
//! };
//! assert_eq!(classify.classify(&Ok(503)), Outcome::Failure);
//! assert_eq!(classify.classify(&Ok(200)), Outcome::Success);
//! ```

/// What a finished call counts as.
///
/// ```
/// use seawall::Outcome;
/// assert_ne!(Outcome::Success, Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call worked; it lowers failure rates.
    Success,
    /// The call failed; it raises failure rates.
    Failure,
    /// The call says nothing about the dependency's health (for example a request the
    /// caller cancelled, or a client-side validation error). It counts toward no rate.
    Ignored,
}

/// Turns a call's result into an [`Outcome`].
///
/// Implemented for every `Fn(&Result<Res, E>) -> Outcome`, and by [`ErrorsAreFailures`].
///
/// ```
/// use seawall::{Classify, Outcome};
///
/// /// Timeouts are failures; "not found" says nothing about health.
/// #[derive(Clone)]
/// struct MyRules;
///
/// impl Classify<String, std::io::Error> for MyRules {
///     fn classify(&self, result: &Result<String, std::io::Error>) -> Outcome {
///         match result {
///             Ok(_) => Outcome::Success,
///             Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Ignored,
///             Err(_) => Outcome::Failure,
///         }
///     }
/// }
///
/// let not_found = std::io::Error::from(std::io::ErrorKind::NotFound);
/// assert_eq!(MyRules.classify(&Err(not_found)), Outcome::Ignored);
/// ```
pub trait Classify<Res, E> {
    /// Classifies one finished call.
    fn classify(&self, result: &Result<Res, E>) -> Outcome;
}

/// The default classifier: `Ok` is a success, `Err` a failure.
///
/// ```
/// use seawall::{Classify, ErrorsAreFailures, Outcome};
/// assert_eq!(ErrorsAreFailures.classify(&Ok::<_, ()>(1)), Outcome::Success);
/// assert_eq!(ErrorsAreFailures.classify(&Err::<(), _>("boom")), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorsAreFailures;

impl<Res, E> Classify<Res, E> for ErrorsAreFailures {
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

impl<F, Res, E> Classify<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        self(result)
    }
}
