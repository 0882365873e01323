//! Events and listeners: one per transition, none per call.

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;

use crate::common::*;
use crate::{breaker, run_many};

#[tokio::test(start_paused = true)]
async fn transitions_emit_one_event_each_and_calls_emit_none() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (_, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("payments")
            .count_window(4)
            .open_duration(secs(1))
            .half_open_calls(1),
    );
    run_many(&mut svc, OK, 100).await;
    assert!(recorder.take().is_empty(), "no per-call events");
    run_many(&mut svc, FAIL, 2).await;
    advance(secs(1)).await;
    run_many(&mut svc, OK, 1).await;
    let events = recorder.take();
    let path: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.field("from").unwrap().to_owned(),
                e.field("to").unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(path, expected);
    let opened = &events[0];
    assert_eq!(opened.target, "seawall::circuit_breaker");
    assert_eq!(opened.field("seawall.name"), Some("payments"));
    assert_eq!(opened.field("failure_rate"), Some("50.0"));
    assert_eq!(opened.field("calls"), Some("4"));
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_emit_no_events() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1),
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(recorder.take().len(), 1, "closed -> open");
    run_many(&mut svc, OK, 100).await;
    assert_eq!(layer.handle().state(), State::Open);
    assert!(recorder.take().is_empty(), "no per-rejection events");
}

#[tokio::test(start_paused = true)]
async fn a_listener_hears_every_transition_with_its_evidence() {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("search")
            .count_window(2)
            .open_duration(secs(1))
            .half_open_calls(1)
            .on_state_change(move |c| {
                log.lock().unwrap().push((
                    c.breaker.to_owned(),
                    c.from,
                    c.to,
                    c.failure_rate,
                    c.calls,
                ))
            }),
    );
    run_many(&mut svc, FAIL, 2).await;
    advance(secs(1)).await;
    run_many(&mut svc, OK, 1).await;
    layer.handle().force_open();
    let heard = heard.lock().unwrap().clone();
    let s = |from, to, rate, calls| ("search".to_owned(), from, to, rate, calls);
    assert_eq!(
        heard,
        vec![
            s(State::Closed, State::Open, 100.0, 2),
            s(State::Open, State::HalfOpen, 0.0, 0),
            s(State::HalfOpen, State::Closed, 0.0, 1),
            s(State::Closed, State::ForcedOpen, 0.0, 0),
        ]
    );
}
