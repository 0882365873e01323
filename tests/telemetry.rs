//! One vocabulary for telemetry: every layer's events carry `seawall.layer`,
//! `seawall.name` and `event.name` (and `tests/architecture.rs` checks that no event in
//! the source bypasses the macro that adds them); a retry's spans (when switched on) nest each attempt under its call.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use common::*;
use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
use seawall::bulkhead::BulkheadLayer;
use seawall::chaos::ChaosLayer;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::deadline::DeadlineLayer;
use seawall::rate_limit::RateLimitLayer;
use seawall::retry::{Jitter, RetryLayer};
use seawall::telemetry::fields;
use seawall::timeout::AttemptTimeoutLayer;
use tower::{Layer, Service, ServiceExt};

/// Retries up to `attempts` attempts, 5 ms apart.
fn retries(attempts: u32) -> seawall::retry::Builder {
    RetryLayer::builder()
        .max_attempts(attempts)
        .constant(ms(5))
        .jitter(Jitter::None)
}

/// Makes every layer tell something: a state change, a decision, a setting changed or
/// refused.
async fn every_layer_speaks() {
    let breaker = CircuitBreakerLayer::builder()
        .name("payments")
        .confidence(None)
        .count_window(2)
        .minimum_calls(2)
        .build()
        .unwrap();
    let mut svc = breaker.layer(backend());
    run_many(&mut svc, FAIL, 2).await;
    let mut bad = breaker.handle().config();
    bad.half_open_calls = 0;
    let _ = breaker.handle().reconfigure(&bad);

    let retry = retries(2).name("inventory").build().unwrap();
    let _ = retry.layer(backend()).oneshot(FAIL).await;
    let _ = retry.handle().set_max_attempts(3);
    let _ = retry.handle().set_max_attempts(0);

    let bulkhead = BulkheadLayer::builder().name("db").build().unwrap();
    let _ = bulkhead.handle().set_max_concurrent(7);
    let _ = bulkhead.handle().set_max_concurrent(0);

    let adaptive = AdaptiveLimitLayer::builder(Aimd::default())
        .name("search")
        .min_limit(1)
        .build()
        .unwrap();
    let mut svc = adaptive.layer(backend());
    let _ = call(&mut svc, FAIL).await;

    let rate = RateLimitLayer::builder(10, ms(100))
        .name("api")
        .build()
        .unwrap();
    let _ = rate.handle().set_rate(10, ms(100));
    let _ = rate.handle().set_rate(0, ms(100));

    let timeout = AttemptTimeoutLayer::new(ms(100)).unwrap();
    let _ = timeout.handle().set(ms(200));
    let _ = timeout.handle().set(Duration::ZERO);
    let deadline = DeadlineLayer::new(secs(1)).unwrap();
    let _ = deadline.handle().set(secs(2));

    let chaos = ChaosLayer::builder().name("drill").build().unwrap();
    chaos.handle().enable();
    chaos.handle().disable();
}

async fn run_many<S>(svc: &mut S, req: Req, n: usize)
where
    S: Service<Req, Response = (), Error = Err>,
{
    for _ in 0..n {
        let _ = call(svc, req).await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_layers_events_carry_the_layer_the_name_and_a_stable_event_name() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    every_layer_speaks().await;
    let events: Vec<Captured> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target.starts_with("seawall::"))
        .collect();
    let mut layers: Vec<String> = Vec::new();
    for event in &events {
        let layer = event.target.trim_start_matches("seawall::");
        assert_eq!(event.field(fields::LAYER), Some(layer), "{event:?}");
        assert!(
            event.field(fields::NAME).is_some_and(|n| !n.is_empty()),
            "{event:?}"
        );
        let key = event.field(fields::EVENT).unwrap_or_default();
        assert!(key.starts_with(&format!("seawall.{layer}.")), "{event:?}");
        layers.push(layer.to_owned());
    }
    layers.sort();
    layers.dedup();
    assert_eq!(
        layers,
        [
            "adaptive",
            "bulkhead",
            "chaos",
            "circuit_breaker",
            "deadline",
            "rate_limit",
            "retry",
            "timeout"
        ]
    );
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e.field(fields::EVENT))
        .collect();
    for expected in [
        "seawall.circuit_breaker.opened",
        "seawall.circuit_breaker.reconfigure_refused",
        "seawall.retry.retrying",
        "seawall.retry.not_retrying",
        "seawall.retry.setting_changed",
        "seawall.retry.setting_refused",
        "seawall.bulkhead.limit_changed",
        "seawall.bulkhead.limit_refused",
        "seawall.adaptive.limit_changed",
        "seawall.rate_limit.rate_changed",
        "seawall.rate_limit.rate_refused",
        "seawall.timeout.limit_changed",
        "seawall.timeout.limit_refused",
        "seawall.deadline.limit_changed",
        "seawall.chaos.enabled",
        "seawall.chaos.disabled",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_event_names_the_attempt_the_reason_and_the_error_type() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let retry = retries(2).build().unwrap();
    let _ = retry.layer(backend()).oneshot(FAIL).await;
    let events = recorder.take();
    let retrying = events
        .iter()
        .find(|e| e.field(fields::EVENT) == Some("seawall.retry.retrying"))
        .unwrap();
    assert_eq!(retrying.field(fields::ATTEMPT), Some("2"));
    assert_eq!(retrying.field(fields::REASON), Some("error"));
    assert!(
        retrying
            .field(fields::ERROR_TYPE)
            .is_some_and(|t| t.contains("Error<") && t.contains("Boom"))
    );
    let given_up = events
        .iter()
        .find(|e| e.field(fields::EVENT) == Some("seawall.retry.not_retrying"))
        .unwrap();
    assert_eq!(given_up.field(fields::ATTEMPT), Some("2"));
    assert_eq!(given_up.field(fields::REASON), Some("attempts_exhausted"));
}

/// A backend that fails its first `fail_first` calls, logging each call.
fn flaky(
    fail_first: usize,
) -> impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send {
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = backend();
    tower::service_fn(move |req: Req| {
        let n = calls.fetch_add(1, SeqCst);
        tracing::info!(target: "backend", n, "backend called");
        let req = Req {
            fail: n < fail_first,
            ..req
        };
        inner.clone().oneshot(req)
    })
}

#[tokio::test(start_paused = true)]
async fn a_retried_call_is_one_span_with_a_child_per_attempt() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let retry = retries(3).name("inventory").spans(true).build().unwrap();
    retry.layer(flaky(1)).oneshot(OK).await.unwrap();
    let spans = recorder.take_spans();
    let calls: Vec<_> = spans.iter().filter(|s| s.name == "seawall.call").collect();
    assert_eq!(calls.len(), 1);
    let call_span = calls[0];
    assert_eq!(call_span.field(fields::LAYER), Some("retry"));
    assert_eq!(call_span.field(fields::NAME), Some("inventory"));
    assert_eq!(call_span.field(fields::OUTCOME), Some("success"));
    assert_eq!(call_span.field(fields::ATTEMPT), Some("2"));
    assert_eq!(call_span.field(fields::ERROR_TYPE), None);
    let attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "seawall.attempt")
        .collect();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a.parent == Some(call_span.id)));
    let (first, second) = (attempts[0], attempts[1]);
    assert_eq!(first.field(fields::ATTEMPT), Some("1"));
    assert_eq!(first.field(fields::RESEND_COUNT), None);
    assert_eq!(first.field(fields::OUTCOME), Some("failure"));
    assert!(first.field(fields::ERROR_TYPE).is_some());
    assert_eq!(second.field(fields::ATTEMPT), Some("2"));
    assert!(
        attempts
            .iter()
            .all(|a| a.field(fields::NAME) == Some("inventory"))
    );
    assert_eq!(second.field(fields::RESEND_COUNT), Some("1"));
    assert_eq!(second.field(fields::OUTCOME), Some("success"));
    // What the inner service logs nests under the attempt that made it, and the
    // retry's own decision under the attempt it follows.
    let events = recorder.take();
    let backend_spans: Vec<_> = events
        .iter()
        .filter(|e| e.target == "backend")
        .map(|e| e.span)
        .collect();
    assert_eq!(backend_spans, [Some(first.id), Some(second.id)]);
    let retrying = events
        .iter()
        .find(|e| e.field(fields::EVENT) == Some("seawall.retry.retrying"))
        .unwrap();
    assert_eq!(retrying.span, Some(first.id));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_fails_for_good_says_so_on_its_span() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let retry = retries(2).spans(true).build().unwrap();
    let _ = retry.layer(backend()).oneshot(FAIL).await;
    let spans = recorder.take_spans();
    let call_span = spans.iter().find(|s| s.name == "seawall.call").unwrap();
    assert_eq!(call_span.field(fields::OUTCOME), Some("failure"));
    assert_eq!(call_span.field(fields::ATTEMPT), Some("2"));
    assert!(call_span.field(fields::ERROR_TYPE).is_some());
}

#[tokio::test(start_paused = true)]
async fn spans_are_off_by_default() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let retry = retries(3).build().unwrap();
    retry.layer(flaky(1)).oneshot(OK).await.unwrap();
    assert!(recorder.take_spans().is_empty());
}
