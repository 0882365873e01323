//! The rate limiter's behaviour, one rule per test, in paused tokio time; its property
//! test in `property`.

#[path = "../common/mod.rs"]
mod common;

mod property;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use common::*;
use seawall::rate_limit::{Builder, RateLimitHandle, RateLimitLayer};
use seawall::{Reason, RejectedBy, deadline};
use tokio::time::{Instant, advance};
use tokio_test::{assert_pending, task};
use tower::{Layer, Service, ServiceExt};

fn limited(
    builder: Builder,
) -> (
    RateLimitHandle,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send,
) {
    let layer = builder.build().expect("valid config");
    (layer.handle(), layer.layer(backend()))
}

#[tokio::test(start_paused = true)]
async fn a_burst_passes_at_once_then_calls_are_rejected_with_a_retry_after_hint() {
    let (_, mut svc) = limited(RateLimitLayer::builder(10, secs(1)).burst(3));
    for _ in 0..3 {
        call(&mut svc, OK).await.unwrap();
    }
    let over = call(&mut svc, OK).await;
    let rejection = rejected(&over).expect("over the burst");
    assert_eq!(rejection.reason(), Reason::RateLimited);
    assert_eq!(rejection.layer(), RejectedBy::RateLimiter);
    assert_eq!(rejection.retry_after(), Some(ms(100)));
}

#[tokio::test(start_paused = true)]
async fn the_retry_after_hint_is_exactly_when_the_next_call_passes() {
    let (_, mut svc) = limited(RateLimitLayer::builder(4, secs(1)).burst(1));
    call(&mut svc, OK).await.unwrap();
    advance(ms(100)).await;
    let wait = rejected(&call(&mut svc, OK).await)
        .unwrap()
        .retry_after()
        .unwrap();
    assert_eq!(wait, ms(150));
    advance(wait - Duration::from_nanos(1)).await;
    assert!(rejected(&call(&mut svc, OK).await).is_some());
    advance(Duration::from_nanos(1)).await;
    call(&mut svc, OK).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_steady_caller_gets_exactly_the_rate_after_the_burst() {
    let (_, mut svc) = limited(RateLimitLayer::builder(10, secs(1)).burst(5));
    let mut passed = 0;
    // Ten seconds of one attempt per millisecond.
    for _ in 0..10_000 {
        if call(&mut svc, OK).await.is_ok() {
            passed += 1;
        }
        advance(ms(1)).await;
    }
    assert_eq!(passed, 5 + 10 * 10 - 1, "the burst, then one per 100 ms");
}

#[tokio::test(start_paused = true)]
async fn a_quiet_period_refills_the_burst_but_no_more() {
    let (_, mut svc) = limited(RateLimitLayer::builder(10, secs(1)).burst(3));
    for _ in 0..3 {
        call(&mut svc, OK).await.unwrap();
    }
    advance(secs(60)).await;
    for _ in 0..3 {
        call(&mut svc, OK).await.unwrap();
    }
    assert!(rejected(&call(&mut svc, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn in_wait_mode_a_call_waits_for_its_slot_and_waiting_calls_keep_their_order() {
    let (_, svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(secs(1)),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let call = svc.clone().oneshot(OK);
        tasks.push(tokio::spawn(async move {
            call.await.unwrap();
            Instant::now() - started
        }));
    }
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.unwrap());
    }
    assert_eq!(finished, vec![ms(0), ms(100), ms(200), ms(300)]);
}

#[tokio::test(start_paused = true)]
async fn in_wait_mode_a_slot_beyond_the_maximum_wait_is_rejected_at_once() {
    let (_, mut svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(ms(150)),
    );
    let started = Instant::now();
    call(&mut svc, OK).await.unwrap();
    let _waiting = tokio::spawn(svc.clone().oneshot(OK)); // takes the slot at 100 ms
    tokio::task::yield_now().await;
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).expect("the slot at 200 ms is too far");
    assert_eq!(rejection.reason(), Reason::RateLimited);
    assert_eq!(rejection.retry_after(), Some(ms(200)));
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "rejected without waiting"
    );
}

#[tokio::test(start_paused = true)]
async fn in_wait_mode_a_slot_beyond_the_calls_deadline_is_rejected_at_once() {
    let (_, mut svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(secs(10)),
    );
    call(&mut svc, OK).await.unwrap();
    let started = Instant::now();
    let ready = svc.ready().await.unwrap();
    let result = deadline::scope(started + ms(50), async { ready.call(OK).await }).await;
    let rejection = rejected(&result).expect("the slot at 100 ms is past the deadline");
    assert_eq!(rejection.reason(), Reason::RateLimited);
    assert_eq!(rejection.retry_after(), Some(ms(100)));
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn in_wait_mode_a_call_whose_deadline_passed_is_rejected_as_such() {
    let (_, mut svc) = limited(RateLimitLayer::builder(10, secs(1)).max_wait(secs(10)));
    let ready = svc.ready().await.unwrap();
    let result = deadline::scope(Instant::now(), async { ready.call(OK).await }).await;
    assert_eq!(
        rejected(&result).unwrap().reason(),
        Reason::DeadlineExceeded
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiting_call_dropped_gives_its_slot_back() {
    let (_, mut svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(secs(1)),
    );
    call(&mut svc, OK).await.unwrap();
    let mut waiting = task::spawn(svc.ready().await.unwrap().call(OK));
    assert_pending!(waiting.poll());
    drop(waiting);
    advance(ms(100)).await;
    let at = Instant::now();
    call(&mut svc, OK).await.unwrap();
    assert_eq!(
        at.elapsed(),
        Duration::ZERO,
        "the dropped call's slot is free again"
    );
    call(&mut svc, OK).await.unwrap();
    assert_eq!(at.elapsed(), ms(100), "and was not counted twice");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_with_later_waiters_behind_it_never_lets_two_calls_share_a_slot() {
    let (_, mut svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(secs(1)),
    );
    let started = Instant::now();
    let admitted_after = |call: Pin<Box<dyn Future<Output = Result<(), Err>> + Send>>| {
        tokio::spawn(async move {
            call.await.unwrap();
            started.elapsed()
        })
    };
    let first = admitted_after(Box::pin(svc.ready().await.unwrap().call(OK)));
    let dropped = svc.ready().await.unwrap().call(OK); // reserves the slot at 100 ms
    let second = admitted_after(Box::pin(svc.ready().await.unwrap().call(OK)));
    let third = admitted_after(Box::pin(svc.ready().await.unwrap().call(OK)));
    drop(dropped);
    let late = admitted_after(Box::pin(svc.ready().await.unwrap().call(OK)));
    assert_eq!(first.await.unwrap(), ms(0));
    assert_eq!(second.await.unwrap(), ms(200));
    assert_eq!(third.await.unwrap(), ms(300));
    assert_eq!(
        late.await.unwrap(),
        ms(400),
        "the dropped slot is not handed out again behind later reservations"
    );
}

#[tokio::test(start_paused = true)]
async fn clones_of_the_layer_and_of_its_services_share_one_rate() {
    let layer = RateLimitLayer::builder(2, secs(1)).build().unwrap();
    let layer_clone = layer.clone();
    let mut a = layer.layer(backend());
    let mut b = layer_clone.layer(backend());
    let mut c = a.clone();
    call(&mut a, OK).await.unwrap();
    call(&mut b, OK).await.unwrap();
    assert!(rejected(&call(&mut c, OK).await).is_some());
    assert!(rejected(&call(&mut a, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn the_rate_can_change_at_run_time_and_says_so_once() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (handle, mut svc) = limited(RateLimitLayer::builder(1, secs(1)).name("geo"));
    call(&mut svc, OK).await.unwrap();
    assert!(recorder.take().is_empty(), "no per-call events");
    handle.set_rate(10, secs(1)).unwrap();
    let events = recorder.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, "seawall::rate_limit");
    assert_eq!(events[0].field("to_permits"), Some("10"));
    advance(ms(1_000)).await; // the slot booked at the old rate
    call(&mut svc, OK).await.unwrap();
    advance(ms(100)).await;
    call(&mut svc, OK).await.unwrap();
    assert_eq!(handle.rate(), (10, secs(1)));
}

#[test]
fn build_names_the_setting_that_is_out_of_range() {
    let err = RateLimitLayer::builder(5, Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "rate_limit.per");
    let err = RateLimitLayer::builder(5, secs(1))
        .burst(0)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rate_limit.burst: 0 is outside 1..=1000000"
    );
    let err = RateLimitLayer::builder(5, secs(1))
        .max_wait(secs(100_000))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "rate_limit.max_wait");
}

/// The time-stamp-counter clock keeps the limit: a burst passes, the next call is
/// refused with a hint no longer than one interval (an hour apart, so no real time
/// passing in the test can free a slot).
#[cfg(feature = "fast-clock")]
#[tokio::test]
async fn the_fast_clock_keeps_the_limit() {
    let (handle, mut svc) = limited(
        RateLimitLayer::builder(1, secs(3600))
            .burst(2)
            .fast_clock(true),
    );
    assert!(handle.fast_clock());
    for _ in 0..2 {
        call(&mut svc, OK).await.unwrap();
    }
    let over = call(&mut svc, OK).await;
    let rejection = rejected(&over).expect("over the burst");
    assert_eq!(rejection.reason(), Reason::RateLimited);
    let hint = rejection.retry_after().expect("a hint");
    assert!(hint > secs(3500) && hint <= secs(3600), "{hint:?}");
}

/// A call that waits for its slot sleeps on tokio's clock for the wait measured on the
/// time-stamp counter, counted from tokio's now: the two clocks' drift never moves it.
#[cfg(feature = "fast-clock")]
#[tokio::test(start_paused = true)]
async fn with_the_fast_clock_a_waiting_call_sleeps_its_wait_on_tokios_clock() {
    let (_, mut svc) = limited(
        RateLimitLayer::builder(10, secs(1))
            .burst(1)
            .max_wait(secs(1))
            .fast_clock(true),
    );
    call(&mut svc, OK).await.unwrap();
    let start = Instant::now();
    call(&mut svc, OK).await.unwrap();
    let waited = start.elapsed();
    // One interval (100 ms), less the real time that passed between the two calls.
    assert!(waited > ms(50) && waited <= ms(100), "{waited:?}");
}
