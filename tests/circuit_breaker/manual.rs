//! Manual control through the handle: force open, disable, metrics only, reset.

use seawall::Reason;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::{Service, ServiceExt};

use crate::common::*;
use crate::{breaker, run_many};

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_everything_without_a_hint() {
    let (layer, mut svc) = breaker(CircuitBreakerLayer::builder().confidence(None));
    layer.handle().force_open();
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).unwrap();
    assert_eq!(rejection.reason(), Reason::CircuitForcedOpen);
    assert_eq!(rejection.retry_after(), None);
    advance(secs(3600)).await;
    assert!(rejected(&call(&mut svc, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn disabled_breaker_lets_everything_through_and_counts_nothing() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1),
    );
    layer.handle().disable();
    run_many(&mut svc, FAIL, 10).await;
    assert_eq!(layer.handle().state(), State::Disabled);
    assert_eq!(layer.handle().metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn metrics_only_counts_but_never_opens() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    );
    layer.handle().metrics_only();
    run_many(&mut svc, FAIL, 10).await;
    let m = layer.handle().metrics();
    assert_eq!(m.state, State::MetricsOnly);
    assert_eq!((m.calls, m.failures, m.failure_rate), (4, 4, 100.0));
}

#[tokio::test(start_paused = true)]
async fn reset_closes_with_an_empty_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(2),
    );
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Open);
    layer.handle().reset();
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 0);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(
        layer.handle().state(),
        State::Closed,
        "one failure is below the minimum"
    );
}

#[tokio::test(start_paused = true)]
async fn reset_on_a_closed_breaker_empties_its_window_without_a_transition() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().metrics().failures, 1);
    layer.handle().reset();
    assert_eq!(layer.handle().metrics().calls, 0);
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn results_of_calls_admitted_before_a_state_change_are_ignored() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(2),
    );
    let straggler = svc.ready().await.unwrap().call(slow(1000, true));
    layer.handle().reset();
    run_many(&mut svc, FAIL, 1).await;
    let _ = straggler.await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 1);
}

#[tokio::test(start_paused = true)]
async fn manual_control_reports_only_changes_of_state() {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .on_state_change(move |c| log.lock().unwrap().push((c.from, c.to)))
        .build()
        .unwrap();
    let handle = layer.handle();
    handle.reset();
    handle.force_open();
    handle.force_open();
    handle.disable();
    handle.disable();
    handle.metrics_only();
    handle.metrics_only();
    handle.reset();
    handle.reset();
    assert_eq!(
        *heard.lock().unwrap(),
        vec![
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Disabled),
            (State::Disabled, State::MetricsOnly),
            (State::MetricsOnly, State::Closed),
        ]
    );
}
