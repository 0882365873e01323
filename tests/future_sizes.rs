//! Each layer's future carries only what a call that goes straight through needs: a
//! future is moved several times per call (out of `call`, into the caller's `async`
//! state, into the layer above), so every byte is paid on every call. What only a
//! waiting or retrying call needs is boxed when it first waits. The bounds are over
//! the inner future's own size; a timer (tokio's `Sleep`) is inline where every call
//! may need one, so that a call that waits allocates nothing.

use std::future::Ready;
use std::mem::{size_of, size_of_val};
use std::time::Duration;

use seawall::bulkhead::BulkheadLayer;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::deadline::DeadlineLayer;
use seawall::rate_limit::RateLimitLayer;
use seawall::retry::RetryLayer;
use seawall::timeout::AttemptTimeoutLayer;
use tokio::time::Sleep;
use tower::{BoxError, Layer, Service, service_fn};

type Inner = Ready<Result<u64, BoxError>>;

fn inner() -> impl Service<u64, Response = u64, Error = BoxError, Future = Inner> + Clone {
    service_fn(|x: u64| std::future::ready(Ok::<_, BoxError>(x)))
}

/// The bytes a layer's future adds to its inner future's.
fn added<S: Service<u64>>(mut service: S) -> usize {
    size_of_val(&service.call(1)) - size_of::<Inner>()
}

#[tokio::test]
async fn a_layers_future_adds_only_what_a_call_going_straight_through_needs() {
    let second = Duration::from_secs(1);
    let sleep = size_of::<Sleep>();
    // With metrics on, a timed layer keeps its meter and the attempt's start.
    let metered = if cfg!(feature = "metrics") { 24 } else { 0 };
    let sizes = [
        (
            "breaker",
            added(
                CircuitBreakerLayer::builder()
                    .build()
                    .unwrap()
                    .layer(inner()),
            ),
            24,
        ),
        (
            "bulkhead",
            added(BulkheadLayer::builder().build().unwrap().layer(inner())),
            16,
        ),
        (
            "rate limit",
            added(
                RateLimitLayer::builder(1_000_000, second)
                    .build()
                    .unwrap()
                    .layer(inner()),
            ),
            16,
        ),
        (
            "retry",
            added(RetryLayer::builder().build().unwrap().layer(inner())),
            80,
        ),
        (
            "attempt timeout",
            added(AttemptTimeoutLayer::new(second).unwrap().layer(inner())),
            sleep + 24 + metered,
        ),
        (
            "deadline",
            added(DeadlineLayer::new(second).unwrap().layer(inner())),
            sleep + 48,
        ),
    ];
    let over: Vec<_> = sizes.iter().filter(|(_, n, max)| n > max).collect();
    assert!(over.is_empty(), "(layer, bytes added, bound): {over:?}");
}
