//! Settings: out-of-range values named by field and range, and reconfiguration at run
//! time.

use std::time::Duration;

use seawall::circuit_breaker::{Builder, CircuitBreakerLayer, State};
use tower::Layer;

use crate::common::*;
use crate::{breaker, run_many};

#[test]
fn invalid_settings_are_reported_by_field_and_range() {
    let b = CircuitBreakerLayer::builder;
    let cases: Vec<(Builder, &str)> = vec![
        (
            b().failure_rate_threshold(seawall::Ratio::percent(0.0)),
            "circuit_breaker.failure_rate_threshold: 0 is outside (0, 100]",
        ),
        (
            b().failure_rate_threshold(seawall::Ratio::percent(100.5)),
            "circuit_breaker.failure_rate_threshold: 100.5 is outside (0, 100]",
        ),
        (
            b().failure_rate_threshold(seawall::Ratio::percent(f64::NAN)),
            "circuit_breaker.failure_rate_threshold: NaN is outside (0, 100]",
        ),
        (
            b().slow_call_rate_threshold(seawall::Ratio::percent(-1.0)),
            "circuit_breaker.slow_call_rate_threshold: -1 is outside (0, 100]",
        ),
        (
            b().count_window(0),
            "circuit_breaker.window.count: 0 is outside 1..=100000",
        ),
        (
            b().count_window(10).minimum_calls(11),
            "circuit_breaker.minimum_calls: 11 is outside 1..=10 (the count window's size)",
        ),
        (
            b().minimum_calls(0),
            "circuit_breaker.minimum_calls: 0 is outside 1..=100 (the count window's size)",
        ),
        (
            b().time_window(secs(10), 0),
            "circuit_breaker.window.time.buckets: 0 is outside 1..=1000",
        ),
        (
            b().time_window(Duration::ZERO, 10),
            "circuit_breaker.window.time.window: 0ns is outside [1ms × buckets, 7 days]",
        ),
        (
            b().consecutive_failures(0),
            "circuit_breaker.window.consecutive_failures: 0 is outside 1..=1000000",
        ),
        (
            b().half_open_calls(0),
            "circuit_breaker.half_open_calls: 0 is outside 1..=1000",
        ),
        (
            b().open_duration(Duration::ZERO),
            "circuit_breaker.open_duration: 0ns is outside (0s, 7 days]",
        ),
        (
            b().max_wait_in_half_open(Duration::ZERO),
            "circuit_breaker.max_wait_in_half_open: 0ns is outside (0s, 7 days]",
        ),
        (
            b().slow_call_duration(Duration::ZERO),
            "circuit_breaker.slow_call_duration: 0ns is outside (0s, 7 days]",
        ),
        (
            b().open_backoff_decay(Duration::ZERO),
            "circuit_breaker.open_backoff_decay: 0ns is outside (0s, 7 days]",
        ),
        (
            b().open_backoff(0.5, secs(100)),
            "circuit_breaker.open_backoff.multiplier: 0.5 is outside [1, 100]",
        ),
        (
            b().open_duration(secs(5)).open_backoff(2.0, secs(1)),
            "circuit_breaker.open_backoff.max: 1s is outside [open_duration, 7 days]",
        ),
        (
            b().confidence(Some(seawall::Ratio::percent(50.0))),
            "circuit_breaker.confidence: 50% is outside (50%, 100%)",
        ),
        (
            b().confidence(Some(seawall::Ratio::fraction(1.0))),
            "circuit_breaker.confidence: 100% is outside (50%, 100%)",
        ),
        (
            b().open_jitter(1.0),
            "circuit_breaker.open_jitter: 1 is outside [0, 1)",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), message);
    }
}

#[tokio::test(start_paused = true)]
async fn reconfigure_changes_thresholds_while_keeping_the_counted_calls() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(10)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 7).await;
    run_many(&mut svc, FAIL, 3).await; // 30 %: below 50 %
    assert_eq!(layer.handle().state(), State::Closed);
    let mut config = layer.handle().config();
    config.failure_rate_threshold = seawall::Ratio::percent(30.0);
    layer.handle().reconfigure(&config).unwrap();
    assert_eq!(layer.handle().metrics().failures, 3, "the window is kept");
    run_many(&mut svc, FAIL, 1).await; // 40 % >= 30 %
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_reconfiguration_is_refused_with_an_error_event_and_the_old_settings_stay() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (layer, _svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("db")
            .half_open_calls(4),
    );
    let before = layer.handle().config();
    let mut bad = before.clone();
    bad.half_open_calls = 0;
    let err = layer.handle().reconfigure(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.half_open_calls: 0 is outside 1..=1000"
    );
    assert_eq!(layer.handle().config(), before);
    let events = recorder.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field("seawall.name"), Some("db"));
    assert_eq!(events[0].field("error"), Some(err.to_string().as_str()));
}

#[test]
fn the_window_cannot_change_at_run_time() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(10)
        .build()
        .unwrap();
    let mut config = layer.handle().config();
    config.window = seawall::circuit_breaker::WindowConfig::Count(20);
    let err = layer.handle().reconfigure(&config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.window: Count(20) is outside Count(10) (fixed once built)"
    );
}

#[test]
fn reconfiguring_under_parallel_load_never_loses_a_call_or_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(50)
            .build()
            .unwrap();
        let svc = layer.layer(backend());
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let mut svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..5_000 {
                    call(&mut svc, OK).await.unwrap();
                }
            }));
        }
        let handle = layer.handle();
        for i in 0..2_000u32 {
            let mut config = handle.config();
            config.failure_rate_threshold = seawall::Ratio::percent(f64::from(1 + i % 100));
            config.slow_call_duration = (i % 2 == 0).then(|| Duration::from_secs(1));
            handle.reconfigure(&config).unwrap();
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(handle.state(), State::Closed);
        assert_eq!(handle.metrics().calls, 50);
    });
}
