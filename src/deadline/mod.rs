//! The deadline a call carries: readable by every layer and service inside it.
//!
//! A deadline is an absolute [`Instant`] by which the whole call (all attempts, sleeps and
//! queue waits) must be done. It travels with the call in a tokio task-local, so it
//! survives `.await` points and reaches any request type. Nested deadlines never extend
//! an outer one: the earliest wins.
//!
//! Layers that wait (retry backoff, queues) read [`remaining`] and give up instead of
//! waiting past it. The [`DeadlineLayer`] sets a deadline for every call through it and
//! fails the call when it passes.
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

use std::future::Future;
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

#[cfg(feature = "http")]
pub use header::{BadBudget, DeadlineHeader};
pub use layer::{Deadline, DeadlineLayer, ResponseFuture};
#[cfg(feature = "http")]
pub use propagate::{
    AcceptDeadline, AcceptDeadlineLayer, AcceptFuture, PropagateDeadline, PropagateDeadlineLayer,
    RequestDeadline,
};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the call being run on this task, if any.
///
/// ```
/// assert_eq!(seawall::deadline::current(), None);
/// ```
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left until the current deadline: `None` without a deadline, zero once it passed.
///
/// ```
/// assert_eq!(seawall::deadline::remaining(), None);
/// ```
pub fn remaining() -> Option<std::time::Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `future` with `deadline`, or with the current deadline if that is earlier.
///
/// ```
/// use seawall::deadline;
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let left = deadline::scope(tokio::time::Instant::now() + Duration::from_secs(1), async {
///     deadline::remaining()
/// })
/// .await;
/// assert!(left.unwrap() <= Duration::from_secs(1));
/// # }
/// ```
pub fn scope<F: Future>(deadline: Instant, future: F) -> TaskLocalFuture<Instant, F> {
    DEADLINE.scope(earliest(deadline), future)
}

/// `deadline`, or the current deadline if that is earlier.
fn earliest(deadline: Instant) -> Instant {
    match current() {
        Some(outer) if outer < deadline => outer,
        _ => deadline,
    }
}

/// Runs `f` (a service's synchronous `call`) with `deadline` already the current one.
fn enter<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    DEADLINE.sync_scope(deadline, f)
}

/// Whether waiting `wait` from now would end past the current deadline.
///
/// ```
/// use std::time::Duration;
/// // No deadline: any wait fits.
/// assert!(!seawall::deadline::would_exceed(Duration::from_secs(3600)));
/// ```
pub fn would_exceed(wait: Duration) -> bool {
    remaining().is_some_and(|left| wait > left)
}
