//! Permits: the breaker used without tower, through its handle.

use seawall::Reason;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::Layer;

use crate::common::*;
use crate::{breaker, tripped};

#[tokio::test(start_paused = true)]
async fn permits_judge_and_reject_like_calls() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .open_duration(secs(10))
        .build()
        .unwrap();
    let handle = layer.handle();
    handle.try_acquire().unwrap().success();
    handle.try_acquire().unwrap().failure();
    assert_eq!(handle.state(), State::Open, "1 of 2 failed");
    let refused = handle.try_acquire().expect_err("open");
    assert_eq!(refused.reason(), Reason::CircuitOpen);
    assert_eq!(refused.retry_after(), Some(secs(10)));
    // Services of the same layer see the same breaker.
    let mut svc = layer.layer(backend());
    assert!(rejected(&call(&mut svc, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_permit_gives_its_slot_back() {
    let (layer, _svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    let handle = layer.handle();
    let probe = handle.try_acquire().expect("the one probe");
    assert_eq!(
        handle.try_acquire().map(drop).unwrap_err().reason(),
        Reason::HalfOpenSaturated
    );
    drop(probe);
    handle
        .try_acquire()
        .expect("the slot is free again")
        .success();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_permit_is_timed_from_acquire_to_report() {
    let (layer, _svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .slow_call_duration(secs(1))
            .slow_call_rate_threshold(seawall::Ratio::percent(100.0)),
    );
    let handle = layer.handle();
    let permit = handle.try_acquire().unwrap();
    advance(secs(2)).await;
    permit.success();
    assert_eq!(handle.state(), State::Open, "a slow success");
}

#[tokio::test(start_paused = true)]
async fn an_owned_permit_outlives_its_handle_and_a_dropped_one_gives_its_probe_slot_back() {
    let (layer, _svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    let probe = layer.handle().try_acquire_owned().expect("the one probe");
    let handle = layer.handle();
    assert_eq!(
        handle.try_acquire().map(drop).unwrap_err().reason(),
        Reason::HalfOpenSaturated
    );
    drop(probe);
    let probe = handle.try_acquire_owned().expect("the slot is free again");
    tokio::spawn(async move { probe.success() }).await.unwrap();
    assert_eq!(handle.state(), State::Closed);
}
