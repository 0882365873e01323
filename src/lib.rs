//! Composable [`tower`] layers that make async service clients absorb network failures.
//!
//! seawall's layers share one small core:
//!
//! * [`classify`]: turns a call's result into success, failure or ignored;
//! * [`rejection`]: the one error type every layer returns when it refuses a call;
//! * [`config`]: build-time validation errors that name the field and its allowed range;
//! * [`deadline`]: the deadline a call carries, readable by every layer inside it;
//! * [`telemetry`]: the `tracing` events and metrics every layer emits, by name.
//!
//! Layers:
//!
//! * [`circuit_breaker`]: count, time or consecutive-failure judged breaker with
//!   slow-call detection, bounded half-open probing and manual control;
//! * [`timeout`]: a time limit on each attempt;
//! * [`deadline`]: a deadline for the whole call that inner layers and services can
//!   read, and (feature `http`) that travels to the next service in a header;
//! * [`retry`]: jittered backoff, retry budgets on by default, server hints and
//!   deadline awareness.
//!
//! All of it in one line, with proven defaults: [`pipeline::StandardPipeline`].
//!
//! Admission control (layers that decide whether a call may start at all):
//!
//! * [`bulkhead`]: a cap on concurrent calls with a bounded FIFO queue, fail-fast or
//!   backpressure, changeable at run time;
//! * [`adaptive`]: a concurrency limit that moves with latency and failures (AIMD,
//!   Gradient2);
//! * [`throttle`]: Google SRE client-side adaptive throttling;
//! * [`rate_limit`]: a lock-free GCRA rate limiter with bursts, rejecting with a
//!   retry-after hint or waiting within a bound;
//! * [`keyed`]: one bulkhead, rate limiter or circuit breaker per request key, with a
//!   cap on live keys and idle eviction.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod adaptive;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod classify;
pub mod config;
pub mod deadline;
pub mod keyed;
pub mod pipeline;
mod random;
pub mod rate_limit;
pub mod rejection;
pub mod retry;
mod semaphore;
pub mod telemetry;
pub mod throttle;
mod time;
pub mod timeout;

pub use classify::{Classify, ErrorsAreFailures, Outcome};
pub use config::ConfigError;
pub use rejection::{AsRejected, Error, Reason, Rejected, RejectedBy};

#[doc = include_str!("../docs/GUIDE.md")]
pub mod guide {}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
