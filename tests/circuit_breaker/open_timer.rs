//! The open period's end when the runtime that opened the breaker is gone, idle or has no
//! timer.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::{AsRejected, Reason};
use tokio::time::advance;
use tower::Service;

use crate::breaker;
use crate::common::*;

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// A breaker opened (for 10 s) in a paused runtime of its own, returned with it.
fn opened_in_a_runtime() -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
    tokio::runtime::Runtime,
) {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(10)),
    );
    let runtime = paused_runtime();
    runtime
        .block_on(async { call(&mut svc, FAIL).await })
        .unwrap_err();
    assert_eq!(layer.handle().state(), State::Open);
    (layer, svc, runtime)
}

/// A breaker opened in one runtime and used in another after the first is gone: the
/// first runtime's shutdown ends the shortcut, so the open period still ends on time.
#[test]
fn a_breaker_opened_in_a_runtime_that_is_gone_still_half_opens() {
    let (layer, mut svc, first) = opened_in_a_runtime();
    drop(first);
    paused_runtime().block_on(async {
        advance(secs(3600)).await;
        call(&mut svc, OK)
            .await
            .expect("half-open: the open period is long over");
    });
    assert_eq!(layer.handle().state(), State::Closed);
}

/// A breaker opened in a runtime that is alive but not running (kept for `block_on` from
/// synchronous code): its timer cannot fire, and the breaker still half-opens within a
/// bounded number of calls.
#[test]
fn a_breaker_whose_timer_cannot_fire_still_half_opens() {
    let (layer, mut svc, idle) = opened_in_a_runtime();
    paused_runtime().block_on(async {
        advance(secs(3600)).await;
        let mut refused = 0;
        while call(&mut svc, OK).await.is_err() {
            refused += 1;
            assert!(refused < 64, "still refused after {refused} calls");
        }
    });
    assert_eq!(layer.handle().state(), State::Closed);
    drop(idle);
}

/// On a runtime built without a timer, a breaker with `open_timer(false)` opens without
/// touching tokio's timer (which would panic there), rejects, and half-opens later.
#[test]
fn without_the_open_timer_a_breaker_trips_on_a_runtime_without_timers() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(10))
            .open_timer(false),
    );
    let no_timers = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    no_timers.block_on(async {
        call(&mut svc, FAIL).await.unwrap_err();
        let err = call(&mut svc, OK).await.unwrap_err();
        let rejected = err.as_rejected().expect("a rejection");
        assert_eq!(rejected.reason(), Reason::CircuitOpen);
        // At most the open duration, plus the millisecond it is rounded up to.
        let longest = secs(10) + Duration::from_millis(1);
        assert!(rejected.retry_after().is_some_and(|left| left <= longest));
    });
    assert_eq!(layer.handle().state(), State::Open);
    paused_runtime().block_on(async {
        advance(secs(11)).await;
        call(&mut svc, OK)
            .await
            .expect("a probe once the period is over");
    });
    assert_eq!(layer.handle().state(), State::Closed);
}
