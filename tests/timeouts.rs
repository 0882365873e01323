//! Attempt timeouts and deadlines, in paused time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use seawall::deadline::{self, DeadlineLayer};
use seawall::timeout::AttemptTimeoutLayer;
use seawall::{Reason, RejectedBy};
use tokio::time::{Instant, advance, sleep};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

#[tokio::test(start_paused = true)]
async fn attempt_timeout_fails_a_slow_attempt_and_names_the_timeout() {
    let mut svc = AttemptTimeoutLayer::new(ms(100)).unwrap().layer(backend());
    let start = Instant::now();
    let result = call(&mut svc, slow(500, false)).await;
    let rejection = rejected(&result).expect("timed out");
    assert_eq!(
        rejection.reason(),
        Reason::AttemptTimeout { after: ms(100) }
    );
    assert_eq!(rejection.layer(), RejectedBy::AttemptTimeout);
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_lets_attempts_within_it_finish() {
    let mut svc = AttemptTimeoutLayer::new(ms(100)).unwrap().layer(backend());
    assert!(call(&mut svc, slow(99, false)).await.is_ok());
    assert!(call(&mut svc, OK).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_passes_the_inner_error_through() {
    let mut svc = AttemptTimeoutLayer::new(ms(100)).unwrap().layer(backend());
    assert!(matches!(
        call(&mut svc, FAIL).await,
        Err(seawall::Error::Service(Boom))
    ));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_can_be_chosen_per_request() {
    let layer = AttemptTimeoutLayer::new(ms(100))
        .unwrap()
        .per_request(|req: &Req| (req.delay > ms(1000)).then(|| ms(5000)));
    let mut svc = layer.layer(backend());
    assert!(
        call(&mut svc, slow(2000, false)).await.is_ok(),
        "long requests get 5 s"
    );
    assert!(
        rejected(&call(&mut svc, slow(200, false)).await).is_some(),
        "others keep 100 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_drops_the_inner_future_at_once() {
    let (dropped, inner) = tracked(ms(50));
    let mut svc = AttemptTimeoutLayer::new(ms(10)).unwrap().layer(inner);
    let mut future = Box::pin(svc.ready().await.unwrap().call(()));
    assert!(futures_poll_once(future.as_mut()).await.is_none());
    advance(ms(10)).await;
    let result = future.as_mut().await;
    assert!(rejected(&result).is_some());
    assert!(
        is_gone(&dropped),
        "the inner future is gone once the timeout fires"
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_fails_the_whole_call_with_deadline_exceeded() {
    let mut svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(ms(300)).unwrap())
        .layer(AttemptTimeoutLayer::new(ms(1000)).unwrap())
        .service(backend());
    let result = call(&mut svc, slow(500, false)).await;
    let rejection = rejected(&result).unwrap();
    assert_eq!(rejection.reason(), Reason::DeadlineExceeded);
    assert_eq!(rejection.layer(), RejectedBy::Deadline);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_inside_a_longer_deadline_is_reported_as_an_attempt_timeout() {
    let mut svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(ms(3000)).unwrap())
        .layer(AttemptTimeoutLayer::new(ms(100)).unwrap())
        .service(backend());
    let result = call(&mut svc, slow(500, false)).await;
    assert_eq!(
        rejected(&result).unwrap().reason(),
        Reason::AttemptTimeout { after: ms(100) }
    );
}

/// A backend that reports the remaining time it sees in `call` and after an `.await`.
fn remaining_probe()
-> impl Service<(), Response = (Option<Duration>, Option<Duration>), Error = Err> + Clone {
    service_fn(|()| {
        let at_call = deadline::remaining();
        async move {
            sleep(ms(100)).await;
            Ok((at_call, deadline::remaining()))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn the_inner_service_reads_the_remaining_time_in_call_and_across_awaits() {
    let mut svc = DeadlineLayer::new(ms(1000))
        .unwrap()
        .layer(remaining_probe());
    let (at_call, after_await) = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(at_call, Some(ms(1000)));
    assert_eq!(after_await, Some(ms(900)));
}

#[tokio::test(start_paused = true)]
async fn nested_deadlines_keep_the_earliest() {
    let inner_later = DeadlineLayer::new(ms(5000))
        .unwrap()
        .layer(remaining_probe());
    let mut svc = DeadlineLayer::new(ms(1000)).unwrap().layer(inner_later);
    let (at_call, _) = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(
        at_call,
        Some(ms(1000)),
        "an inner, later deadline does not extend the outer"
    );

    let inner_earlier = DeadlineLayer::new(ms(200))
        .unwrap()
        .layer(remaining_probe());
    let mut svc = DeadlineLayer::new(ms(1000)).unwrap().layer(inner_earlier);
    let (at_call, _) = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(
        at_call,
        Some(ms(200)),
        "an inner, earlier deadline shrinks it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_layer_called_outside_a_tighter_scope_keeps_the_tighter_deadline() {
    let mut svc = DeadlineLayer::new(ms(10_000))
        .unwrap()
        .layer(remaining_probe());
    let future = svc.ready().await.unwrap().call(()); // made outside the scope
    let (_, after_await) = deadline::scope(Instant::now() + ms(300), future)
        .await
        .unwrap();
    assert_eq!(
        after_await,
        Some(ms(200)),
        "the outer 300 ms, not the layer's 10 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_layer_called_outside_a_tighter_scope_expires_at_the_tighter_deadline() {
    let mut svc = DeadlineLayer::new(ms(10_000)).unwrap().layer(backend());
    let start = Instant::now();
    let future = svc.ready().await.unwrap().call(slow(1000, false));
    let result = deadline::scope(start + ms(300), future).await;
    assert_eq!(
        rejected(&result).unwrap().reason(),
        Reason::DeadlineExceeded
    );
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn a_scope_made_outside_a_tighter_scope_does_not_extend_it() {
    let start = Instant::now();
    let later = deadline::scope(start + ms(10_000), async { deadline::current() });
    let seen = deadline::scope(start + ms(300), later).await;
    assert_eq!(seen, Some(start + ms(300)));
}

#[tokio::test(start_paused = true)]
async fn a_retry_under_a_deadline_layer_called_outside_a_tighter_scope_stops_at_it() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = attempts.clone();
    let mut svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(ms(10_000)).unwrap())
        .layer(
            seawall::retry::RetryLayer::builder()
                .max_attempts(3)
                .constant(ms(1000))
                .jitter(seawall::retry::Jitter::None)
                .no_budget()
                .build()
                .unwrap(),
        )
        .service(service_fn(move |()| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), Err>(seawall::Error::Service(Boom)) }
        }));
    let future = svc.ready().await.unwrap().call(());
    let result = deadline::scope(Instant::now() + ms(300), future).await;
    assert!(result.is_err());
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "a retry 1 s later would pass the outer 300 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outer_deadline_expires_an_inner_longer_one() {
    let inner = DeadlineLayer::new(ms(5000)).unwrap().layer(backend());
    let mut svc = DeadlineLayer::new(ms(100)).unwrap().layer(inner);
    let start = Instant::now();
    let result = call(&mut svc, slow(1000, false)).await;
    assert_eq!(
        rejected(&result).unwrap().reason(),
        Reason::DeadlineExceeded
    );
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_deadline_already_passed_never_reaches_the_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut svc = DeadlineLayer::new(ms(1000))
        .unwrap()
        .layer(service_fn(move |()| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Err>(()) }
        }));
    let past = Instant::now();
    advance(ms(1)).await;
    let result = deadline::scope(past, async { svc.ready().await.unwrap().call(()).await }).await;
    assert!(
        matches!(result, Err(seawall::Error::Rejected(r)) if r.reason() == Reason::DeadlineExceeded)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_deadline_call_drops_the_inner_future() {
    let (dropped, inner) = tracked(ms(500));
    let mut svc = DeadlineLayer::new(ms(1000)).unwrap().layer(inner);
    let mut future = Box::pin(svc.ready().await.unwrap().call(()));
    assert!(futures_poll_once(future.as_mut()).await.is_none());
    drop(future);
    assert!(is_gone(&dropped));
}

/// Polls a future once; `Some` if it finished.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn invalid_time_limits_are_reported_by_field_and_range() {
    let huge = Duration::from_secs(366 * 24 * 3600);
    assert_eq!(
        AttemptTimeoutLayer::new(huge).unwrap_err().to_string(),
        "attempt_timeout.timeout: 31622400s is outside (0s, 365 days]"
    );
    assert_eq!(
        DeadlineLayer::new(huge).unwrap_err().to_string(),
        "deadline.budget: 31622400s is outside (0s, 365 days]"
    );
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_can_be_changed_while_services_run() {
    let layer = AttemptTimeoutLayer::new(ms(100)).unwrap();
    let mut svc = layer.layer(backend());
    assert!(rejected(&call(&mut svc, slow(200, false)).await).is_some());
    layer.handle().set(ms(300)).unwrap();
    assert!(
        call(&mut svc, slow(200, false)).await.is_ok(),
        "the running service sees the new limit"
    );
    assert!(layer.handle().set(Duration::ZERO).is_err());
    assert_eq!(
        layer.handle().get(),
        ms(300),
        "a refused change keeps the old limit"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_budget_can_be_changed_while_services_run() {
    let layer = DeadlineLayer::new(ms(100)).unwrap();
    let mut svc = layer.layer(backend());
    assert!(rejected(&call(&mut svc, slow(200, false)).await).is_some());
    layer.handle().set(ms(1000)).unwrap();
    assert!(call(&mut svc, slow(200, false)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_drops_the_inner_future_at_once() {
    let (dropped, inner) = tracked(ms(50));
    let mut svc = DeadlineLayer::new(ms(10)).unwrap().layer(inner);
    let mut future = Box::pin(svc.ready().await.unwrap().call(()));
    let result = future.as_mut().await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::DeadlineExceeded)
    );
    assert!(
        is_gone(&dropped),
        "the inner future is gone once the deadline passes"
    );
}
