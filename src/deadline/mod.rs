//! The deadline a call carries: readable by every layer and service inside it.
//!
//! A deadline is an absolute [`Instant`](tokio::time::Instant) by which the whole call (all attempts, sleeps and
//! queue waits) must be done. It travels with the call's future: each layer that sets
//! it makes it current on the thread for as long as it polls (or calls) what is inside
//! it, so it survives `.await` points, follows the future from thread to thread, and
//! reaches any request type.
//!
//! **A nested deadline can only shorten.** A [`scope`], or a call through a
//! [`DeadlineLayer`] or `AcceptDeadlineLayer`, runs with the earliest of its own
//! deadline and the one current where its future is *polled*, taken again at every
//! poll: a future made (by `call`) outside a tighter scope and awaited inside it keeps
//! the tighter deadline, and once shortened it stays short.
//!
//! Layers that wait (retry backoff, queues) read [`remaining`] and give up instead of
//! waiting past it. The [`DeadlineLayer`] sets a deadline for every call through it and
//! fails the call when it passes.
//!
//! # Attempt timeout or deadline?
//!
//! | | [`AttemptTimeoutLayer`](crate::timeout::AttemptTimeoutLayer) | [`DeadlineLayer`] |
//! |---|---|---|
//! | bounds | one try at the inner service | the whole call: every attempt, backoff sleep and queue wait |
//! | goes | under retry and the breaker, right above the client | at the top of the stack, above retry |
//! | on expiry | [`Reason::AttemptTimeout`](crate::Reason::AttemptTimeout): retryable, counts as a breaker failure | [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded): the caller's time is up, nothing more is tried |
//! | inside | nothing | [`current`]/[`remaining`] for every layer and service below |
//!
//! A client stack that uses both, outermost first:
//!
//! ```
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//! use seawall::deadline::DeadlineLayer;
//! use seawall::timeout::AttemptTimeoutLayer;
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, ServiceBuilder};
//!
//! # fn main() -> Result<(), BoxError> {
//! let client = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(30))?) // the caller waits at most 30 s
//!     // .layer(retry) — sleeps between attempts stop at the deadline
//!     .layer(CircuitBreakerLayer::builder().build()?)
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(10))?) // each attempt at most 10 s
//!     .service(service_fn(|req: String| async move { Ok::<_, BoxError>(req) }));
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! # Across services (feature `http`)
//!
//! `PropagateDeadlineLayer` (client side, right above the HTTP client) writes the time
//! left into a header — whole milliseconds, or gRPC's `grpc-timeout` format — and
//! `AcceptDeadlineLayer` (server side) reads it, clamps it to the server's own maximum,
//! and makes it the handler's deadline. A handler that calls the next service through a
//! propagating client passes on what is left, so the budget shrinks hop by hop:
//!
//! ```text
//! gateway   DeadlineLayer 5 s   ── spends 0.5 s ──▶ x-request-timeout-ms: 4500
//! orders    AcceptDeadline 4.5 s ── spends 1 s  ──▶ x-request-timeout-ms: 3500
//! inventory AcceptDeadline 3.5 s
//! ```
//!
//! (`tests/deadline_http.rs` runs exactly this chain, and one hop over a real loopback
//! connection.) Note that the deadline does not follow work into a new task
//! (`tokio::spawn`, or `tower::buffer`'s worker): put deadline-reading layers on the same
//! side of such a boundary as the [`DeadlineLayer`].
//!
//! # Example
//!
//! ```
//! use seawall::deadline;
//! use std::time::Duration;
//! use tokio::time::Instant;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(deadline::current(), None);
//! let soon = Instant::now() + Duration::from_secs(2);
//! deadline::scope(soon, async {
//!     assert_eq!(deadline::current(), Some(soon));
//!     // An inner, later deadline does not extend the outer one.
//!     deadline::scope(soon + Duration::from_secs(60), async {
//!         assert_eq!(deadline::current(), Some(soon));
//!     })
//!     .await;
//! })
//! .await;
//! # }
//! ```

#[cfg(feature = "http")]
mod header;
mod layer;
#[cfg(feature = "http")]
mod propagate;

pub use crate::context::{Scope, current, remaining, scope, would_exceed};
#[cfg(feature = "http")]
pub use header::{BadBudget, DeadlineHeader};
pub use layer::{Deadline, DeadlineLayer, ResponseFuture};
#[cfg(feature = "http")]
pub use propagate::{
    AcceptDeadline, AcceptDeadlineLayer, AcceptFuture, PropagateDeadline, PropagateDeadlineLayer,
    RequestDeadline,
};
