//! Closed: the count window, the time window and a run of consecutive failures decide
//! when the breaker opens.

use seawall::Outcome;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use crate::common::*;
use crate::{breaker, run_many};

#[tokio::test(start_paused = true)]
async fn count_window_opens_when_failure_rate_reaches_threshold() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(
        layer.handle().state(),
        State::Closed,
        "1 of 3 is below minimum calls of 4"
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open, "2 of 4 is 50 %");
}

#[tokio::test(start_paused = true)]
async fn minimum_calls_governs_without_a_full_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(100)
            .minimum_calls(4),
    );
    run_many(&mut svc, FAIL, 3).await;
    assert_eq!(layer.handle().state(), State::Closed);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn count_window_of_ten_opens_within_five_failures_after_a_thousand_successes() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(10)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 1000).await;
    for failures in 1..=5 {
        let _ = call(&mut svc, FAIL).await;
        if layer.handle().state() == State::Open {
            assert_eq!(failures, 5);
            return;
        }
    }
    panic!("still closed after 5 failures");
}

#[tokio::test(start_paused = true)]
async fn count_window_slides_old_failures_out() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .failure_rate_threshold(seawall::Ratio::percent(75.0)),
    );
    run_many(&mut svc, FAIL, 2).await;
    run_many(&mut svc, OK, 4).await; // the two failures leave the window
    run_many(&mut svc, FAIL, 2).await; // 2 of the last 4: 50 %
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().failures, 2);
}

#[tokio::test(start_paused = true)]
async fn ignored_calls_count_toward_no_rate() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .classifier(|r: &Result<(), Err>| match r {
            Ok(()) => Outcome::Success,
            Err(_) => Outcome::Ignored,
        })
        .build()
        .unwrap();
    let mut svc = layer.layer(backend());
    run_many(&mut svc, FAIL, 10).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn responses_can_be_classified_as_failures() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .classifier(|r: &Result<u16, Err>| match r {
            Ok(status) if *status >= 500 => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        })
        .build()
        .unwrap();
    let mut svc = layer.layer(tower::service_fn(|status: u16| async move {
        Ok::<_, Err>(status)
    }));
    svc.ready().await.unwrap().call(503).await.unwrap();
    svc.ready().await.unwrap().call(503).await.unwrap();
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn time_window_opens_on_failures_within_the_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .time_window(secs(10), 10)
            .minimum_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    advance(secs(3)).await;
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_calls_older_than_the_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .time_window(secs(10), 10)
            .minimum_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, FAIL, 3).await;
    advance(secs(11)).await; // the failures expire
    run_many(&mut svc, OK, 3).await;
    run_many(&mut svc, FAIL, 1).await; // 1 of 4 in the window
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 4);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_the_breaker() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .consecutive_failures(3),
    );
    run_many(&mut svc, FAIL, 2).await;
    run_many(&mut svc, OK, 1).await; // the run starts over
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Closed);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open);
}
