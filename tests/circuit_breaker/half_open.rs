//! Half-open: how the probes' outcomes close or open the breaker again.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;

use crate::common::*;
use crate::{run_many, tripped};

#[tokio::test(start_paused = true)]
async fn slow_probes_open_the_breaker_again() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0))
            .failure_rate_threshold(seawall::Ratio::percent(100.0))
            .half_open_calls(2),
    )
    .await;
    call(&mut svc, slow(200, false))
        .await
        .expect("a slow success");
    assert_eq!(
        layer.handle().state(),
        State::Open,
        "1 of 2 probes slow is 50 %"
    );
}

#[tokio::test(start_paused = true)]
async fn consecutive_trips_are_counted_until_a_healthy_close() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    assert_eq!(layer.handle().metrics().consecutive_trips, 1);
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(
        layer.handle().metrics().consecutive_trips,
        2,
        "a failed probe"
    );
    advance(secs(10)).await;
    call(&mut svc, OK).await.expect("a good probe");
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().consecutive_trips, 0);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_successful_probes() {
    let builder = CircuitBreakerLayer::builder()
        .confidence(None)
        .half_open_calls(3)
        .failure_rate_threshold(seawall::Ratio::percent(30.0));
    let (layer, mut svc) = tripped(builder).await;
    run_many(&mut svc, OK, 2).await;
    assert_eq!(layer.handle().state(), State::HalfOpen);
    run_many(&mut svc, OK, 1).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(
        layer.handle().metrics().calls,
        0,
        "closing starts an empty window"
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_decides_as_soon_as_the_outcome_is_certain() {
    let builder = CircuitBreakerLayer::builder()
        .confidence(None)
        .half_open_calls(3)
        .failure_rate_threshold(seawall::Ratio::percent(50.0));
    let (layer, mut svc) = tripped(builder).await;
    run_many(&mut svc, OK, 2).await; // even a failing third probe would be 33 % < 50 %
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_reopens_when_probes_reach_the_failure_threshold() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    )
    .await;
    run_many(&mut svc, FAIL, 1).await;
    run_many(&mut svc, OK, 1).await;
    assert_eq!(layer.handle().state(), State::HalfOpen);
    run_many(&mut svc, FAIL, 1).await; // 2 of 4 fail whatever the last one does
    assert_eq!(layer.handle().state(), State::Open);
}
