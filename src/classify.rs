//! Outcome classification: how a call's result counts as success, failure or neither.
//!
//! Four layers judge a finished call, and each asks a [`Classify`] implementation one
//! question: did it succeed, fail, or should it be ignored?
//!
//! * the [circuit breaker](crate::circuit_breaker): failures raise its failure rate;
//!   ignored calls count toward no rate;
//! * [retry](crate::retry): only failures are retried; successes and ignored results are
//!   returned;
//! * the [throttle](crate::throttle): successes are what the backend accepted; ignored
//!   calls count nothing;
//! * the [adaptive limit](crate::adaptive): a failure shrinks the limit under AIMD and
//!   Vegas (Gradient2 reads latency only); ignored calls give no sample.
//!
//! All four take the same classifier type, so "failure" can mean the same thing in every
//! layer of a stack.
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
#[non_exhaustive]
pub enum Outcome {
    /// The call worked; it lowers failure rates.
    Success,
    /// The call failed; it raises failure rates.
    Failure,
    /// The call says nothing about the dependency's health (for example a request the
    /// caller cancelled, or a client-side validation error). It counts toward no rate.
    Ignored,
}

impl Outcome {
    /// The outcome as telemetry names it: `success`, `failure` or `ignored` (the
    /// `seawall.outcome` field and the `outcome` label of `seawall.calls`).
    ///
    /// ```
    /// assert_eq!(seawall::Outcome::Failure.as_str(), "failure");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Ignored => "ignored",
        }
    }
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
    ///
    /// ```
    /// use seawall::{Classify, Outcome};
    /// // A closure is a classifier: here a 404 is the caller's mistake, not the backend's.
    /// let not_found_is_ignored = |r: &Result<u16, ()>| match r {
    ///     Ok(404) => Outcome::Ignored,
    ///     Ok(s) if *s >= 500 => Outcome::Failure,
    ///     Ok(_) => Outcome::Success,
    ///     Err(()) => Outcome::Failure,
    /// };
    /// assert_eq!(not_found_is_ignored.classify(&Ok(404)), Outcome::Ignored);
    /// ```
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

/// Ready-made classifiers for HTTP and gRPC responses (feature `http`).
///
/// ```
/// use seawall::classify::http::{grpc_code, GrpcStatus, TransientStatus};
/// use seawall::{Classify, Outcome};
///
/// let status = |code| Ok::<_, ()>(http::Response::builder().status(code).body(()).unwrap());
/// assert_eq!(TransientStatus.classify(&status(503)), Outcome::Failure);
///
/// let grpc = |code: &str| Ok::<_, ()>(http::Response::builder().header("grpc-status", code).body(()).unwrap());
/// assert_eq!(GrpcStatus.classify(&grpc("14")), Outcome::Failure); // UNAVAILABLE
/// assert_eq!(GrpcStatus.classify(&grpc("5")), Outcome::Success); // NOT_FOUND: the server is fine
/// assert_eq!(grpc_code(1), Outcome::Ignored); // CANCELLED by the caller
/// ```
#[cfg(feature = "http")]
pub mod http {
    use http::Response;

    use super::{Classify, Outcome};

    /// Classifies the transient HTTP statuses as failures, as Polly's standard pipeline
    /// does: 408, 429 and 5xx, plus every transport error. Other responses are successes.
    ///
    /// ```
    /// use seawall::{classify::http::TransientStatus, Classify, Outcome};
    ///
    /// let status = |code| Ok::<_, ()>(http::Response::builder().status(code).body(()).unwrap());
    /// assert_eq!(TransientStatus.classify(&status(429)), Outcome::Failure);
    /// assert_eq!(TransientStatus.classify(&status(400)), Outcome::Success);
    /// assert_eq!(TransientStatus.classify(&Err::<http::Response<()>, _>("reset")), Outcome::Failure);
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct TransientStatus;

    impl<B, E> Classify<Response<B>, E> for TransientStatus {
        fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
            match result {
                Ok(response) => match response.status().as_u16() {
                    408 | 429 | 500..=599 => Outcome::Failure,
                    _ => Outcome::Success,
                },
                Err(_) => Outcome::Failure,
            }
        }
    }

    /// Classifies gRPC responses by the `grpc-status` header of trailers-only responses
    /// (how servers send errors), falling back to [`TransientStatus`] for the HTTP status
    /// when there is none. Transport errors are failures.
    ///
    /// ```
    /// use seawall::{classify::http::GrpcStatus, Classify, Outcome};
    /// let ok = Ok::<_, ()>(http::Response::new(()));
    /// assert_eq!(GrpcStatus.classify(&ok), Outcome::Success);
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct GrpcStatus;

    impl<B, E> Classify<Response<B>, E> for GrpcStatus {
        fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
            let Ok(response) = result else {
                return Outcome::Failure;
            };
            let code = response.headers().get("grpc-status").map(|v| {
                std::str::from_utf8(v.as_bytes())
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
            });
            match code {
                Some(Some(code)) => grpc_code(code),
                Some(None) => Outcome::Failure, // a status nobody can read
                None => TransientStatus.classify(result),
            }
        }
    }

    /// How a gRPC status code counts, for classifiers over a client's own status type
    /// (e.g. `tonic::Status::code() as i32`).
    ///
    /// Failures: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL,
    /// UNAVAILABLE, DATA_LOSS and codes outside the spec. Ignored: CANCELLED (the caller
    /// gave up). Successes: OK and the codes that describe the request, not the server's
    /// health (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
    /// FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED, UNAUTHENTICATED).
    ///
    /// ```
    /// use seawall::{classify::http::grpc_code, Outcome};
    /// assert_eq!(grpc_code(14), Outcome::Failure);
    /// assert_eq!(grpc_code(3), Outcome::Success);
    /// ```
    pub fn grpc_code(code: i32) -> Outcome {
        match code {
            1 => Outcome::Ignored,
            0 | 3 | 5 | 6 | 7 | 9 | 11 | 12 | 16 => Outcome::Success,
            _ => Outcome::Failure,
        }
    }
}
