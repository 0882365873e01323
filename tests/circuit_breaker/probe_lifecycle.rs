//! A probe's slot and the open period that follows a probe, through failures of user
//! code (a panicking classifier or listener) and hung or late probes, in paused time.

use crate::common::ms;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::{Outcome, Reason};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use tokio::time::advance;
use tower::{BoxError, Layer, ServiceExt, service_fn};

/// One failure opens it for 1 s; one probe; 5 s of maximum wait in half-open.
fn one_probe() -> seawall::circuit_breaker::Builder {
    CircuitBreakerLayer::builder()
        .count_window(1)
        .confidence(None)
        .open_duration(ms(1000))
        .half_open_calls(1)
        .max_wait_in_half_open(ms(5000))
}

#[tokio::test(start_paused = true)]
async fn the_probes_running_are_counted_until_they_end_or_are_dropped() {
    let layer = one_probe().build().unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|x: u32| async move {
        if x == 0 {
            Err::<u32, BoxError>("down".into())
        } else {
            std::future::pending().await
        }
    }));
    let _ = svc.clone().oneshot(0).await;
    advance(ms(1000)).await;
    let probe = tokio::spawn(svc.clone().oneshot(1));
    tokio::task::yield_now().await;
    assert_eq!(handle.state(), State::HalfOpen);
    assert_eq!(handle.metrics().probes_running, 1);
    probe.abort();
    let _ = probe.await;
    assert_eq!(
        handle.metrics().probes_running,
        0,
        "the dropped probe's slot is back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_whose_classifier_panics_gives_its_slot_back() {
    let layer = one_probe()
        .classifier(|r: &Result<u32, BoxError>| match r {
            Ok(7) => panic!("classifier bug"),
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        })
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|x: u32| async move {
        if x == 0 {
            Err::<u32, BoxError>("down".into())
        } else {
            Ok(x)
        }
    }));
    let _ = svc.clone().oneshot(0).await;
    assert_eq!(handle.state(), State::Open);
    advance(ms(1000)).await;
    let probe = tokio::spawn(svc.clone().oneshot(7));
    assert!(probe.await.is_err(), "the classifier panicked in the probe");
    svc.clone()
        .oneshot(1)
        .await
        .expect("the slot came back: a new probe");
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_neither_leaks_a_probe_slot_nor_stops_the_change() {
    let armed = Arc::new(AtomicBool::new(true));
    let flag = armed.clone();
    let handle = one_probe()
        .on_state_change(move |c| {
            if c.to == State::HalfOpen && flag.swap(false, SeqCst) {
                panic!("listener bug");
            }
        })
        .build()
        .unwrap()
        .handle();
    handle.try_acquire().unwrap().failure();
    advance(ms(1000)).await;
    let probe = handle
        .try_acquire()
        .expect("the probe, despite the listener");
    assert_eq!(handle.state(), State::HalfOpen);
    assert!(!armed.load(SeqCst), "the listener ran");
    probe.success();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_expired_half_open_period_opens_for_the_open_duration() {
    for steady in [false, true] {
        let handle = one_probe().steady_probing(steady).build().unwrap().handle();
        handle.try_acquire().unwrap().failure();
        advance(ms(1000)).await;
        let hung = handle.try_acquire().expect("the probe");
        advance(ms(5000)).await;
        let refused = handle.try_acquire().map(drop).unwrap_err();
        assert_eq!(
            (refused.reason(), handle.state()),
            (Reason::CircuitOpen, State::Open),
            "steady_probing({steady})"
        );
        assert_eq!(handle.metrics().remaining_open, Some(ms(1000)));
        drop(hung);
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_probe_that_fails_opens_until_its_own_start_plus_the_open_duration() {
    let handle = CircuitBreakerLayer::builder()
        .count_window(1)
        .confidence(None)
        .open_duration(ms(1000))
        .half_open_calls(2)
        .build()
        .unwrap()
        .handle();
    handle.try_acquire().unwrap().failure();
    advance(ms(1000)).await;
    let _first = handle.try_acquire().expect("probe 1, at 1.0 s");
    advance(ms(900)).await;
    let late = handle.try_acquire().expect("probe 2, at 1.9 s");
    advance(ms(100)).await;
    late.failure(); // 1 of 2 is 50 %: opens until 1.9 s + 1 s
    assert_eq!(handle.state(), State::Open);
    assert_eq!(handle.metrics().remaining_open, Some(ms(900)));
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_hangs_until_its_timeout_keeps_the_probe_pace() {
    let handle = one_probe().build().unwrap().handle();
    handle.try_acquire().unwrap().failure();
    advance(ms(1000)).await;
    let probe = handle.try_acquire().expect("the probe, at 1 s");
    advance(ms(1000)).await; // it hangs until an attempt timeout of 1 s
    probe.failure();
    handle
        .try_acquire()
        .expect("the next probe follows the last one's start by 1 s: now")
        .success();
    assert_eq!(handle.state(), State::Closed);
}
