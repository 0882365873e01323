//! Every window kind ignores a call that was admitted in an earlier closed period, in
//! paused tokio time.

use seawall::circuit_breaker::{Builder, CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use crate::common::*;

/// Starts a slow failing call while closed, trips the breaker with one failure, closes
/// it again with one good probe, then lets the slow call finish: the breaker stays
/// closed with nothing counted.
async fn assert_straggler_ignored(window: Builder) {
    let layer = window
        .minimum_calls(1)
        .failure_rate_threshold(seawall::Ratio::percent(50.0))
        .open_duration(secs(1))
        .half_open_calls(1)
        .build()
        .expect("valid config");
    let mut svc = layer.layer(backend());
    let straggler = svc.ready().await.unwrap().call(slow(5000, true));
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().state(), State::Open);
    advance(secs(1)).await;
    let _ = call(&mut svc, OK).await;
    assert_eq!(layer.handle().state(), State::Closed, "the probe closed it");
    let _ = straggler.await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn time_window_ignores_a_call_admitted_before_the_breaker_reclosed() {
    assert_straggler_ignored(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .time_window(secs(60), 6),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn consecutive_window_ignores_a_call_admitted_before_the_breaker_reclosed() {
    assert_straggler_ignored(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .consecutive_failures(1),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn count_window_ignores_a_call_admitted_before_the_breaker_reclosed() {
    assert_straggler_ignored(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn time_window_counts_calls_of_the_current_closed_period() {
    let builder = CircuitBreakerLayer::builder()
        .confidence(None)
        .time_window(secs(60), 6)
        .minimum_calls(2)
        .failure_rate_threshold(seawall::Ratio::percent(50.0))
        .open_duration(secs(1))
        .half_open_calls(1);
    let layer = builder.build().expect("valid config");
    let mut svc = layer.layer(backend());
    let _ = call(&mut svc, FAIL).await;
    let _ = call(&mut svc, FAIL).await;
    advance(secs(1)).await;
    let _ = call(&mut svc, OK).await;
    assert_eq!(layer.handle().state(), State::Closed);
    let _ = call(&mut svc, OK).await;
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().metrics().calls, 2);
    assert_eq!(layer.handle().state(), State::Open, "1 of 2 is 50 %");
}
