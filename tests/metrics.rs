//! Metrics through the `metrics` facade (feature `metrics`), captured without sleeps.
#![cfg(feature = "metrics")]

mod common;

use std::time::Duration;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::deadline::DeadlineLayer;
use seawall::retry::{Jitter, RetryLayer};
use seawall::timeout::AttemptTimeoutLayer;
use tower::{Layer, Service, ServiceBuilder};

/// Runs `body` on a paused runtime with a fresh recorder; returns what was recorded as
/// `(name, sorted labels, value)`.
fn record<F: std::future::Future<Output = ()>>(
    body: impl FnOnce() -> F,
) -> Vec<(String, Vec<String>, DebugValue)> {
    let recorder = DebuggingRecorder::new();
    let snapshotter: Snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(body());
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (key.key().name().to_owned(), labels, value)
        })
        .collect()
}

fn find<'a>(
    all: &'a [(String, Vec<String>, DebugValue)],
    name: &str,
    labels: &[&str],
) -> Option<&'a DebugValue> {
    all.iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|want| l.iter().any(|have| have == want)))
        .map(|(_, _, v)| v)
}

#[test]
fn the_breaker_counts_calls_by_outcome_rejections_and_transitions() {
    let all = record(|| async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .name("payments")
            .count_window(4)
            .build()
            .unwrap();
        let mut svc = layer.layer(backend());
        for req in [OK, OK, FAIL, FAIL, OK] {
            let _ = call(&mut svc, req).await;
        }
    });
    let calls = |outcome: &str| {
        find(
            &all,
            "seawall.calls",
            &[
                "layer=circuit_breaker",
                "name=payments",
                &format!("outcome={outcome}"),
            ],
        )
    };
    assert_eq!(calls("success"), Some(&DebugValue::Counter(2)));
    assert_eq!(calls("failure"), Some(&DebugValue::Counter(2)));
    let rejected = find(
        &all,
        "seawall.rejections",
        &["layer=circuit_breaker", "reason=circuit_open"],
    );
    assert_eq!(rejected, Some(&DebugValue::Counter(1)));
    let opened = find(
        &all,
        "seawall.circuit_breaker.transitions",
        &["from=closed", "to=open"],
    );
    assert_eq!(opened, Some(&DebugValue::Counter(1)));
    let state = find(&all, "seawall.circuit_breaker.state", &["name=payments"]);
    assert!(matches!(state, Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0));
}

/// A refusal found by `poll_ready` in front of an unready service is counted once, when
/// the call is made, however often readiness was asked.
#[test]
fn a_refusal_in_poll_ready_is_counted_once_per_call() {
    let all = record(|| async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .name("db")
            .build()
            .unwrap();
        layer.handle().force_open();
        let gate = Gate::new();
        gate.set_ready(false);
        let mut svc = layer.layer(gate.clone());
        let waker = std::task::Waker::noop();
        let cx = &mut std::task::Context::from_waker(waker);
        for _ in 0..3 {
            assert!(svc.poll_ready(cx).is_ready());
        }
        assert!(svc.call(OK).await.is_err());
        assert_eq!(gate.calls(), 0, "never ready, so never called");
    });
    let refused = find(
        &all,
        "seawall.rejections",
        &["name=db", "reason=circuit_forced_open"],
    );
    assert_eq!(refused, Some(&DebugValue::Counter(1)));
}

#[test]
fn retries_timeouts_and_deadlines_report_their_own_metrics() {
    let all = record(|| async {
        let mut svc = ServiceBuilder::new()
            .layer(
                DeadlineLayer::new(Duration::from_millis(250))
                    .unwrap()
                    .name("checkout"),
            )
            .layer(
                RetryLayer::builder()
                    .name("checkout")
                    .max_attempts(5)
                    .constant(Duration::from_millis(1))
                    .jitter(Jitter::None)
                    .no_budget()
                    .build()
                    .unwrap(),
            )
            .layer(
                AttemptTimeoutLayer::new(Duration::from_millis(100))
                    .unwrap()
                    .name("checkout"),
            )
            .service(backend());
        let _ = call(&mut svc, slow(1000, false)).await;
    });
    // 100 ms + 1 ms + 100 ms + 1 ms, then the deadline (250 ms) cuts the third attempt.
    assert_eq!(
        find(&all, "seawall.retry.attempts", &["name=checkout"]),
        Some(&DebugValue::Counter(2))
    );
    let timeouts = find(
        &all,
        "seawall.rejections",
        &["layer=attempt_timeout", "reason=attempt_timeout"],
    );
    assert_eq!(timeouts, Some(&DebugValue::Counter(2)));
    let deadline = find(
        &all,
        "seawall.rejections",
        &["layer=deadline", "reason=deadline_exceeded"],
    );
    assert_eq!(deadline, Some(&DebugValue::Counter(1)));
    let durations = find(&all, "seawall.attempt.duration", &["name=checkout"]);
    assert!(
        matches!(durations, Some(DebugValue::Histogram(h)) if h.len() == 2),
        "{durations:?}"
    );
}

#[test]
fn a_retry_not_sent_is_counted_by_why_and_a_spent_budget_stands_apart() {
    let all = record(|| async {
        let mut svc = RetryLayer::builder()
            .name("ledger")
            .max_attempts(3)
            .constant(Duration::ZERO)
            .budget(Duration::from_secs(10), 2, seawall::Ratio::percent(0.0))
            .build()
            .unwrap()
            .layer(backend());
        // The reserve lets 2 retries through at once: the first call spends both.
        for _ in 0..6 {
            let _ = call(&mut svc, FAIL).await;
        }
    });
    let count = |reason: &str| find(&all, "seawall.retry.not_retried", &["name=ledger", reason]);
    assert_eq!(
        count("reason=attempts_exhausted"),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(count("reason=budget_spent"), Some(&DebugValue::Counter(5)));
}

#[test]
fn admission_layers_report_rejections_and_levels() {
    use seawall::bulkhead::BulkheadLayer;
    use seawall::rate_limit::RateLimitLayer;
    let all = record(|| async {
        let bulkhead = BulkheadLayer::builder()
            .name("db")
            .max_concurrent(1)
            .build()
            .unwrap();
        let mut svc = bulkhead.layer(backend());
        let busy = tower::ServiceExt::ready(&mut svc)
            .await
            .unwrap()
            .call(slow(10, false));
        let _ = call(&mut svc, OK).await; // refused: the one permit is taken
        busy.await.unwrap();
        let limiter = RateLimitLayer::builder(1, Duration::from_secs(1))
            .name("api")
            .build()
            .unwrap();
        let mut svc = limiter.layer(backend());
        let _ = call(&mut svc, OK).await;
        let _ = call(&mut svc, OK).await; // refused: one per second
    });
    let full = find(
        &all,
        "seawall.rejections",
        &["layer=bulkhead", "name=db", "reason=bulkhead_full"],
    );
    assert_eq!(full, Some(&DebugValue::Counter(1)));
    let limited = find(
        &all,
        "seawall.rejections",
        &["layer=rate_limiter", "name=api", "reason=rate_limited"],
    );
    assert_eq!(limited, Some(&DebugValue::Counter(1)));
    let limit = find(&all, "seawall.limit", &["layer=bulkhead", "name=db"]);
    assert!(matches!(limit, Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0));
    let in_flight = find(&all, "seawall.in_flight", &["layer=bulkhead", "name=db"]);
    assert!(
        matches!(in_flight, Some(DebugValue::Gauge(g)) if g.into_inner() == 0.0),
        "all calls done"
    );
}

#[test]
fn a_chaos_layer_counts_what_it_injected_by_kind() {
    use seawall::Ratio;
    use seawall::chaos::ChaosLayer;
    use tower::ServiceExt;
    let all = record(|| async {
        let chaos = ChaosLayer::builder()
            .name("rehearsal")
            .enabled(true)
            .outcome(Ratio::percent(100.0), || Err::<u32, &str>("injected"))
            .build()
            .unwrap();
        let client = chaos.layer(tower::service_fn(|n: u32| async move { Ok::<_, &str>(n) }));
        for n in 0..3 {
            let _ = client.clone().oneshot(n).await;
        }
    });
    assert_eq!(
        find(
            &all,
            "seawall.chaos.injected",
            &["name=rehearsal", "kind=outcome"]
        ),
        Some(&DebugValue::Counter(3))
    );
}

/// Every metric is described, with a unit, when a layer is built.
#[test]
fn metrics_are_described_with_their_units_when_a_layer_is_built() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let layer = CircuitBreakerLayer::builder()
            .name("payments")
            .build()
            .unwrap();
        let _ = layer.layer(backend());
    });
    let described: Vec<_> = snapshotter.snapshot().into_vec();
    let calls = described
        .iter()
        .find(|(key, ..)| key.key().name() == "seawall.calls")
        .expect("registered at build");
    assert_eq!(calls.1, Some(metrics::Unit::Count));
    assert!(calls.2.as_ref().is_some_and(|d| d.contains("Calls")));
}

/// gRFC A96: one `grpc.client.call.retries` value per retried call (none for a call
/// that was not retried), and the time it spent between attempts.
#[test]
fn grpc_retry_metrics_record_retried_calls_only() {
    let all = record(|| async {
        let layer = RetryLayer::builder()
            .max_attempts(3)
            .constant(Duration::from_millis(5))
            .jitter(Jitter::None)
            .grpc_metrics("inventory.v1.Stock/Reserve", "dns:///inventory")
            .build()
            .unwrap();
        let mut svc = layer.layer(backend());
        let _ = call(&mut svc, OK).await;
        let _ = call(&mut svc, FAIL).await;
    });
    let labels = [
        "grpc.method=inventory.v1.Stock/Reserve",
        "grpc.target=dns:///inventory",
    ];
    let retries = find(&all, "grpc.client.call.retries", &labels);
    assert_eq!(retries, Some(&DebugValue::Histogram(vec![2.0.into()])));
    let Some(DebugValue::Histogram(delays)) = find(&all, "grpc.client.call.retry_delay", &labels)
    else {
        panic!("no retry_delay in {all:?}");
    };
    assert_eq!(delays.len(), 1);
    assert!((delays[0].into_inner() - 0.010).abs() < 1e-6, "{delays:?}");
}

#[test]
fn grpc_hedge_metrics_record_hedged_calls_only() {
    use seawall::hedge::HedgeLayer;
    let all = record(|| async {
        let layer = HedgeLayer::builder()
            .delay(Duration::from_millis(10))
            .max_extra_load(seawall::Ratio::percent(100.0), 10)
            .grpc_metrics("search.v1.Index/Query", "dns:///search")
            .build()
            .unwrap();
        let mut svc = layer.layer(backend());
        let _ = call(&mut svc, OK).await;
        let _ = call(&mut svc, slow(50, false)).await;
    });
    let hedges = find(
        &all,
        "grpc.client.call.hedges",
        &[
            "grpc.method=search.v1.Index/Query",
            "grpc.target=dns:///search",
        ],
    );
    assert_eq!(hedges, Some(&DebugValue::Histogram(vec![1.0.into()])));
}
