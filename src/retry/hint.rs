//! Hints: what the inner service said about retrying a result.
//!
//! A hint overrides the backoff for one retry. It comes from a seawall [`Rejected`]'s
//! [`retry_after`](Rejected::retry_after) ([`RejectionHint`], the default), from HTTP
//! headers (`retry::http::HttpHint`, with the `http` feature), or from your
//! own closure.

use std::time::Duration;

use crate::rejection::{AsRejected, Reason, Rejected};

/// What the inner service said about retrying one result.
///
/// ```
/// use seawall::retry::Hint;
/// use std::time::Duration;
/// assert_ne!(Hint::After(Duration::from_secs(1)), Hint::Stop);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Nothing said: the backoff decides the delay.
    Backoff,
    /// Wait exactly this long before the next attempt. A hint longer than the layer's
    /// [`max_hint`](super::Builder::max_hint), or than the time left, ends the retries.
    After(Duration),
    /// Do not retry this result.
    Stop,
    /// A layer inside the retry refused the call locally (an open breaker, a full
    /// bulkhead, a rate limit), saying when trying again makes sense, if it knows.
    /// Whether it is retried is the retry's choice: see
    /// [`retry_refusals`](super::Builder::retry_refusals).
    Refused(Option<Duration>),
    /// The attempt failed after running this long (an attempt timeout): the backoff
    /// decides the delay, counted from the attempt's start when
    /// [`backoff_includes_timeout`](super::Builder::backoff_includes_timeout) is on.
    TimedOut(Duration),
}

/// Reads a [`Hint`] from a finished attempt.
///
/// Implemented by [`RejectionHint`] (the default), [`NoHint`], any closure
/// `Fn(&Result<Res, E>) -> Hint`, and with the `http` feature
/// `retry::http::HttpHint`. A hint is only read for results that the
/// classifier called failures.
///
/// ```
/// use seawall::retry::{Hint, RetryHint};
/// use std::time::Duration;
///
/// /// "busy:N" errors ask for N milliseconds.
/// let hint = |result: &Result<(), String>| match result {
///     Err(e) => match e.strip_prefix("busy:").and_then(|n| n.parse().ok()) {
///         Some(ms) => Hint::After(Duration::from_millis(ms)),
///         None => Hint::Backoff,
///     },
///     Ok(()) => Hint::Backoff,
/// };
/// assert_eq!(hint.hint(&Err("busy:30".into())), Hint::After(Duration::from_millis(30)));
/// ```
#[diagnostic::on_unimplemented(
    message = "the retry hint `{Self}` cannot read a `Result<{Res}, {E}>`",
    label = "cannot read this service's results",
    note = "the default hint reads seawall rejections, so `{E}` must implement `seawall::AsRejected`: for a client whose error you do not own (hyper, tonic), add `.map_err(seawall::Error::Service)` under the seawall layers, or use `tower::BoxError`",
    note = "a hint of your own is a closure `|result: &Result<{Res}, {E}>| -> seawall::retry::Hint`"
)]
pub trait RetryHint<Res, E> {
    /// The hint a failed attempt carries.
    ///
    /// ```
    /// use seawall::retry::{Hint, RetryHint};
    ///
    /// let never = |_: &Result<(), ()>| Hint::Stop;
    /// assert_eq!(never.hint(&Err(())), Hint::Stop);
    /// ```
    fn hint(&self, result: &Result<Res, E>) -> Hint;

    /// Notes on the result returned to the caller how many attempts were made. The
    /// default does nothing; [`RejectionHint`] stamps a returned rejection.
    ///
    /// ```
    /// use seawall::retry::{RejectionHint, RetryHint};
    /// use seawall::{Reason, Rejected};
    ///
    /// let mut result: Result<(), Rejected> = Err(Rejected::new(Reason::RateLimited, None));
    /// RejectionHint.mark_attempts(&mut result, 3);
    /// assert_eq!(result.unwrap_err().attempt(), Some(3));
    /// ```
    fn mark_attempts(&self, result: &mut Result<Res, E>, attempts: u32) {
        let _ = (result, attempts);
    }
}

impl<F, Res, E> RetryHint<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> Hint,
{
    fn hint(&self, result: &Result<Res, E>) -> Hint {
        self(result)
    }
}

/// The default: reads seawall rejections from errors that implement [`AsRejected`].
///
/// An attempt timeout is retried after the backoff, like any failure ([`Hint::TimedOut`],
/// with how long the attempt ran); a passed deadline is not retried. Other rejections are refusals ([`Hint::Refused`], with their
/// [`retry_after`](Rejected::retry_after)): by default they end the call at once, or,
/// with [`retry_refusals`](super::Builder::retry_refusals), are retried after that long.
/// Errors that are not rejections use the backoff. A rejection returned to the
/// caller carries the number of attempts ([`Rejected::attempt`]).
///
/// ```
/// use seawall::retry::{Hint, RejectionHint, RetryHint};
/// use seawall::{Reason, Rejected};
/// use std::time::Duration;
/// use tower::BoxError;
///
/// let open: BoxError = Rejected::new(Reason::CircuitOpen, Some(Duration::from_secs(2))).into();
/// let hint = RetryHint::<(), BoxError>::hint(&RejectionHint, &Err(open));
/// assert_eq!(hint, Hint::Refused(Some(Duration::from_secs(2))));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectionHint;

impl<Res, E: AsRejected> RetryHint<Res, E> for RejectionHint {
    #[inline]
    fn hint(&self, result: &Result<Res, E>) -> Hint {
        match result {
            Err(err) => rejection_hint(err.as_rejected()),
            Ok(_) => Hint::Backoff,
        }
    }

    fn mark_attempts(&self, result: &mut Result<Res, E>, attempts: u32) {
        mark_rejection(result, attempts);
    }
}

/// The hint of an error that may be a rejection.
///
/// An attempt that timed out failed like any other: the backoff decides. A passed
/// deadline ends the call. Any other rejection is a refusal to run the call at all.
pub(crate) fn rejection_hint(rejected: Option<&Rejected>) -> Hint {
    let Some(rejected) = rejected else {
        return Hint::Backoff;
    };
    let reason = rejected.reason();
    if reason == Reason::DeadlineExceeded {
        return Hint::Stop;
    }
    if let Reason::AttemptTimeout { after } = reason {
        return Hint::TimedOut(after); // the attempt ran and failed, after that long
    }
    if !reason.is_refusal() {
        return Hint::Backoff;
    }
    Hint::Refused(rejected.retry_after())
}

/// Stamps a returned rejection with the number of attempts made.
pub(crate) fn mark_rejection<Res, E: AsRejected>(result: &mut Result<Res, E>, attempts: u32) {
    if let Err(err) = result
        && let Some(rejected) = err.as_rejected_mut()
    {
        rejected.set_attempt(attempts);
    }
}

/// Reads no hints: the backoff always decides. Use it when the error type cannot hold a
/// seawall rejection (no [`AsRejected`] implementation).
///
/// ```
/// use seawall::retry::{NoHint, RetryLayer};
///
/// // `std::io::Error` does not implement `AsRejected`.
/// let layer = RetryLayer::builder().hints(NoHint).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoHint;

impl<Res, E> RetryHint<Res, E> for NoHint {
    #[inline]
    fn hint(&self, _: &Result<Res, E>) -> Hint {
        Hint::Backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rejection::Reason;
    use tower::BoxError;

    fn hint_of(err: BoxError) -> Hint {
        RetryHint::<(), BoxError>::hint(&RejectionHint, &Err(err))
    }

    #[test]
    fn a_refusal_is_a_refusal_with_its_wait() {
        let err = Rejected::new(Reason::CircuitOpen, Some(Duration::from_millis(300)));
        let wait = Some(Duration::from_millis(300));
        assert_eq!(hint_of(err.into()), Hint::Refused(wait));
    }

    #[test]
    fn a_refusal_without_a_wait_is_a_refusal_without_one() {
        assert_eq!(
            hint_of(Rejected::new(Reason::CircuitForcedOpen, None).into()),
            Hint::Refused(None)
        );
    }

    #[test]
    fn other_errors_and_responses_leave_it_to_the_backoff() {
        assert_eq!(hint_of("reset".into()), Hint::Backoff);
        assert_eq!(
            RetryHint::<u8, BoxError>::hint(&RejectionHint, &Ok(1)),
            Hint::Backoff
        );
    }

    #[test]
    fn a_returned_rejection_is_stamped_with_the_attempts() {
        let mut result: Result<(), BoxError> = Err(Rejected::new(Reason::CircuitOpen, None).into());
        RejectionHint.mark_attempts(&mut result, 3);
        let err = result.unwrap_err();
        assert_eq!(err.as_rejected().unwrap().attempt(), Some(3));
    }
}
