//! Slow calls: a success slower than the slow-call duration counts toward the slow-call
//! rate.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;

use crate::common::*;
use crate::{breaker, run_many};

#[tokio::test(start_paused = true)]
async fn slow_successful_calls_open_the_breaker_by_slow_call_rate() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    run_many(&mut svc, slow(150, false), 2).await;
    let m = layer.handle().metrics();
    assert_eq!(layer.handle().state(), State::Open, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn calls_faster_than_the_slow_duration_are_not_slow() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, slow(99, false), 4).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().slow_calls, 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_shorter_than_the_slow_duration_is_never_slow_whatever_its_start() {
    // 99.2 ms from 0.9 ms to 100.1 ms after the breaker was built: it crosses 100
    // millisecond ticks but took less than the 100 ms limit. (A permit, because a
    // sleeping service would wake on a whole millisecond.)
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .slow_call_duration(Duration::from_millis(100))
        .slow_call_rate_threshold(seawall::Ratio::percent(50.0))
        .build()
        .unwrap();
    advance(Duration::from_micros(900)).await;
    let permit = layer.handle().try_acquire_owned().expect("closed");
    advance(Duration::from_micros(99_200)).await;
    permit.success();
    assert_eq!(layer.handle().metrics().slow_calls, 0);
    assert_eq!(layer.handle().state(), State::Closed);
}
