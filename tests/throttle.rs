//! The client-side throttle's behaviour, one rule per test, in paused tokio time.

mod common;

use std::time::Duration;

use common::*;
use seawall::throttle::{Builder, ThrottleHandle, ThrottleLayer};
use seawall::{Outcome, Reason, RejectedBy};
use tokio::time::advance;
use tokio_test::{assert_pending, task};
use tower::{Layer, Service};

fn throttle(
    builder: Builder,
) -> (
    ThrottleHandle,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send,
) {
    let layer = builder.build().expect("valid config");
    (layer.handle(), layer.layer(backend()))
}

/// The SRE formula, capped.
fn formula(requests: u64, accepts: u64, k: f64, cap: f64) -> f64 {
    let r = requests as f64;
    ((r - k * accepts as f64) / (r + 1.0)).clamp(0.0, cap)
}

fn is_throttled(result: &Result<(), Err>) -> bool {
    rejected(result).is_some_and(|r| r.reason() == Reason::Throttled)
}

#[tokio::test(start_paused = true)]
async fn nothing_is_rejected_while_the_backend_accepts_everything() {
    let (handle, mut svc) = throttle(ThrottleLayer::builder().seed(1));
    for _ in 0..1_000 {
        call(&mut svc, OK).await.unwrap();
    }
    assert_eq!((handle.requests(), handle.accepts()), (1_000, 1_000));
    assert_eq!(handle.rejection_probability(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_rejected_until_requests_exceed_k_times_accepts() {
    let (handle, mut svc) = throttle(ThrottleLayer::builder().k(2.0).seed(1));
    for _ in 0..10 {
        call(&mut svc, OK).await.unwrap();
    }
    for _ in 0..10 {
        let result = call(&mut svc, FAIL).await;
        assert!(!is_throttled(&result), "requests ≤ 2 × accepts");
    }
    assert_eq!(handle.rejection_probability(), 0.0);
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(handle.rejection_probability(), 1.0 / 22.0);
}

#[tokio::test(start_paused = true)]
async fn the_rejection_probability_follows_the_formula_as_history_grows() {
    let (handle, mut svc) = throttle(
        ThrottleLayer::builder()
            .k(1.5)
            .max_reject_probability(seawall::Ratio::fraction(0.8))
            .seed(3),
    );
    for i in 0..500_u32 {
        let req = if i % 4 == 0 { OK } else { FAIL };
        let _ = call(&mut svc, req).await;
        let expected = formula(handle.requests(), handle.accepts(), 1.5, 0.8);
        assert_eq!(handle.rejection_probability(), expected, "after call {i}");
    }
    assert!(handle.rejection_probability() > 0.0);
}

#[tokio::test(start_paused = true)]
async fn calls_are_rejected_about_as_often_as_the_probability_says() {
    // A failing backend and a cap of 0.5: from the second call on, p is exactly 0.5.
    let (handle, mut svc) = throttle(
        ThrottleLayer::builder()
            .max_reject_probability(seawall::Ratio::fraction(0.5))
            .seed(42),
    );
    let _ = call(&mut svc, FAIL).await;
    let mut throttled = 0;
    for _ in 0..4_000 {
        assert_eq!(handle.rejection_probability(), 0.5);
        if is_throttled(&call(&mut svc, FAIL).await) {
            throttled += 1;
        }
    }
    let share = f64::from(throttled) / 4_000.0;
    assert!((share - 0.5).abs() < 0.05, "rejected {share}");
}

#[tokio::test(start_paused = true)]
async fn the_cap_bounds_the_rejection_probability() {
    let (handle, mut svc) = throttle(
        ThrottleLayer::builder()
            .max_reject_probability(seawall::Ratio::fraction(0.3))
            .seed(9),
    );
    for _ in 0..200 {
        let _ = call(&mut svc, FAIL).await;
    }
    assert_eq!(handle.accepts(), 0);
    assert_eq!(handle.rejection_probability(), 0.3);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_is_throttled_and_counts_as_a_request() {
    let (handle, mut svc) = throttle(ThrottleLayer::builder().seed(5));
    let mut first_rejection = None;
    for _ in 0..50 {
        let before = handle.requests();
        let result = call(&mut svc, FAIL).await;
        if is_throttled(&result) {
            assert_eq!(handle.requests(), before + 1);
            first_rejection = rejected(&result);
            break;
        }
    }
    let rejection = first_rejection.expect("a failing backend gets throttled");
    assert_eq!(rejection.layer(), RejectedBy::Throttle);
    assert_eq!(rejection.retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn history_slides_out_of_the_window() {
    let (handle, mut svc) = throttle(
        ThrottleLayer::builder()
            .window(Duration::from_secs(10), 10)
            .seed(2),
    );
    for _ in 0..20 {
        let _ = call(&mut svc, FAIL).await;
    }
    assert!(handle.rejection_probability() > 0.5);
    advance(Duration::from_secs(5)).await;
    assert!(
        handle.rejection_probability() > 0.5,
        "still within the window"
    );
    advance(Duration::from_secs(6)).await;
    assert_eq!(handle.requests(), 0);
    assert_eq!(handle.rejection_probability(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_and_dropped_calls_count_nothing() {
    let layer = ThrottleLayer::builder()
        .classifier(|r: &Result<(), Err>| match r {
            Err(seawall::Error::Service(Boom)) => Outcome::Ignored,
            Err(_) => Outcome::Failure,
            Ok(()) => Outcome::Success,
        })
        .seed(4)
        .build()
        .unwrap();
    let handle = layer.handle();
    let mut svc = layer.layer(backend());
    for _ in 0..10 {
        let _ = call(&mut svc, FAIL).await;
    }
    assert_eq!(handle.requests(), 0, "ignored");
    let mut dropped = task::spawn(svc.call(slow(100, false)));
    assert_pending!(dropped.poll());
    drop(dropped);
    assert_eq!(handle.requests(), 0, "dropped");
}

#[tokio::test(start_paused = true)]
async fn every_service_and_clone_of_a_layer_shares_one_history() {
    let layer = ThrottleLayer::builder().seed(1).build().unwrap();
    let mut a = layer.layer(backend());
    let mut b = layer.layer(backend());
    let mut c = a.clone();
    call(&mut a, OK).await.unwrap();
    call(&mut b, OK).await.unwrap();
    let _ = call(&mut c, FAIL).await;
    assert_eq!(
        (layer.handle().requests(), layer.handle().accepts()),
        (3, 2)
    );
}

#[test]
fn build_names_the_setting_that_is_out_of_range() {
    let err = ThrottleLayer::builder()
        .max_reject_probability(seawall::Ratio::fraction(0.0))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "throttle.max_reject_probability: 0 is outside (0, 1]"
    );
    let err = ThrottleLayer::builder()
        .window(Duration::from_millis(5), 10)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "throttle.window.window");
    let err = ThrottleLayer::builder()
        .window(Duration::from_secs(1), 0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "throttle.window.buckets");
}
