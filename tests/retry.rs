//! Retry behaviour, one behaviour per test, on paused tokio time.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use proptest::prelude::*;
use seawall::retry::{Hint, Jitter, NoHint, Replay, RetryLayer};
use seawall::{AsRejected, Outcome, Reason, Rejected, deadline};
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt};

const MS: Duration = Duration::from_millis(1);

/// An inner service that runs a script: call number `n` (from 0) gets `script(n)`, and
/// every call's time since the test started is recorded.
#[derive(Clone)]
struct Scripted<F> {
    script: F,
    log: Arc<Mutex<Vec<Duration>>>,
    start: Instant,
}

impl<F> Scripted<F> {
    fn new(script: F) -> Self {
        Scripted {
            script,
            log: Arc::default(),
            start: Instant::now(),
        }
    }

    fn calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    fn times(&self) -> Vec<Duration> {
        self.log.lock().unwrap().clone()
    }
}

impl<F, T> Service<u8> for Scripted<F>
where
    F: Fn(u32) -> Result<T, BoxError>,
{
    type Response = T;
    type Error = BoxError;
    type Future = std::future::Ready<Result<T, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u8) -> Self::Future {
        let mut log = self.log.lock().unwrap();
        let n = log.len() as u32;
        log.push(self.start.elapsed());
        std::future::ready((self.script)(n))
    }
}

fn always_fails(_: u32) -> Result<u32, BoxError> {
    Err("connection reset".into())
}

fn fails_until(ok_from: u32) -> impl Fn(u32) -> Result<u32, BoxError> + Clone {
    move |n| {
        if n >= ok_from {
            Ok(n)
        } else {
            Err("connection reset".into())
        }
    }
}

/// Constant delays, no budget, so tests see the attempt logic alone.
fn plain(attempts: u32, delay: Duration) -> seawall::retry::Builder {
    RetryLayer::builder()
        .max_attempts(attempts)
        .constant(delay)
        .jitter(Jitter::None)
        .no_budget()
}

#[tokio::test(start_paused = true)]
async fn a_first_success_is_returned_without_retry() {
    let inner = Scripted::new(fails_until(0));
    let result = plain(3, MS)
        .build()
        .unwrap()
        .layer(inner.clone())
        .oneshot(0)
        .await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn failures_are_retried_until_a_success() {
    let inner = Scripted::new(fails_until(2));
    let result = plain(5, MS)
        .build()
        .unwrap()
        .layer(inner.clone())
        .oneshot(0)
        .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn attempts_stop_at_max_attempts_and_return_the_last_error() {
    let inner = Scripted::new(always_fails);
    let result = plain(4, MS)
        .build()
        .unwrap()
        .layer(inner.clone())
        .oneshot(0)
        .await;
    assert_eq!(result.unwrap_err().to_string(), "connection reset");
    assert_eq!(inner.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn retries_wait_the_backoff_between_attempts() {
    let inner = Scripted::new(always_fails);
    let layer = RetryLayer::builder()
        .max_attempts(4)
        .exponential(100 * MS, 2.0, 300 * MS)
        .jitter(Jitter::None)
        .no_budget()
        .build()
        .unwrap();
    let _ = layer.layer(inner.clone()).oneshot(0).await;
    assert_eq!(
        inner.times(),
        vec![Duration::ZERO, 100 * MS, 300 * MS, 600 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_jittered_delays() {
    let run = |seed| async move {
        let inner = Scripted::new(always_fails);
        let layer = RetryLayer::builder()
            .max_attempts(5)
            .no_budget()
            .seed(seed)
            .build()
            .unwrap();
        let _ = layer.layer(inner.clone()).oneshot(0).await;
        inner.times()
    };
    let first = run(11).await;
    assert_eq!(first, run(11).await);
    assert_ne!(first, run(12).await);
    // Full jitter on 100 ms doubling: each delay below its backoff.
    for (i, pair) in first.windows(2).enumerate() {
        assert!(pair[1] - pair[0] <= 100 * MS * 2u32.pow(i as u32));
    }
}

#[tokio::test(start_paused = true)]
async fn failed_responses_are_retried_and_others_returned() {
    let statuses = [503_u16, 429, 400, 200];
    let inner = Scripted::new(move |n| Ok(statuses[n as usize]));
    let layer = plain(5, MS)
        .classifier(|r: &Result<u16, BoxError>| match r {
            Ok(429 | 503) | Err(_) => Outcome::Failure,
            Ok(_) => Outcome::Success,
        })
        .build()
        .unwrap();
    let status = layer.layer(inner.clone()).oneshot(0).await.unwrap();
    assert_eq!(status, 400, "a 400 is not retried");
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn ignored_errors_are_returned_without_retry() {
    let inner = Scripted::new(always_fails);
    let layer = plain(5, MS)
        .classifier(|_: &Result<u32, BoxError>| Outcome::Ignored)
        .build()
        .unwrap();
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 1);
}

fn open_breaker(wait: Option<Duration>) -> impl Fn(u32) -> Result<u32, BoxError> + Clone {
    move |n| match n {
        0 => Err(Rejected::new(Reason::CircuitOpen, wait).into()),
        n => Ok(n),
    }
}

fn timed_out_once(after: Duration) -> impl Fn(u32) -> Result<u32, BoxError> + Clone {
    move |n| match n {
        0 => Err(Rejected::new(Reason::AttemptTimeout { after }, None).into()),
        n => Ok(n),
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_counts_its_time_toward_the_backoff() {
    let inner = Scripted::new(timed_out_once(Duration::from_millis(300)));
    let layer = plain(3, Duration::from_millis(500)).build().unwrap();
    assert_eq!(layer.layer(inner.clone()).oneshot(0).await.unwrap(), 1);
    assert_eq!(
        inner.times(),
        vec![Duration::ZERO, Duration::from_millis(200)]
    );
    let inner = Scripted::new(timed_out_once(Duration::from_secs(1)));
    let layer = plain(3, Duration::from_millis(500)).build().unwrap();
    assert_eq!(layer.layer(inner.clone()).oneshot(0).await.unwrap(), 1);
    assert_eq!(
        inner.times(),
        vec![Duration::ZERO, Duration::ZERO],
        "waited enough"
    );
}

#[tokio::test(start_paused = true)]
async fn without_backoff_includes_timeout_a_timed_out_attempt_waits_the_full_backoff() {
    let inner = Scripted::new(timed_out_once(Duration::from_secs(1)));
    let layer = plain(3, Duration::from_millis(500))
        .backoff_includes_timeout(false)
        .build()
        .unwrap();
    assert_eq!(layer.layer(inner.clone()).oneshot(0).await.unwrap(), 1);
    assert_eq!(
        inner.times(),
        vec![Duration::ZERO, Duration::from_millis(500)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_refusal_goes_back_to_the_caller_at_once_by_default() {
    let inner = Scripted::new(open_breaker(Some(2 * MS * 1000)));
    let layer = plain(3, MS).build().unwrap();
    let err = layer.layer(inner.clone()).oneshot(0).await.unwrap_err();
    assert_eq!(err.as_rejected().unwrap().reason(), Reason::CircuitOpen);
    assert_eq!(inner.times(), vec![Duration::ZERO]);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_retried_after_its_hint_not_the_backoff_when_asked() {
    let inner = Scripted::new(open_breaker(Some(2 * MS * 1000)));
    let layer = plain(3, MS).retry_refusals(true).build().unwrap();
    assert_eq!(layer.layer(inner.clone()).oneshot(0).await.unwrap(), 1);
    assert_eq!(inner.times(), vec![Duration::ZERO, Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_longer_than_max_hint_is_not_retried() {
    let inner = Scripted::new(open_breaker(Some(Duration::from_secs(60))));
    let err = plain(3, MS)
        .retry_refusals(true)
        .build()
        .unwrap()
        .layer(inner.clone())
        .oneshot(0)
        .await
        .unwrap_err();
    assert_eq!(err.as_rejected().unwrap().reason(), Reason::CircuitOpen);
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_without_a_hint_is_not_retried() {
    let inner = Scripted::new(open_breaker(None));
    assert!(
        plain(3, MS)
            .build()
            .unwrap()
            .layer(inner.clone())
            .oneshot(0)
            .await
            .is_err()
    );
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_returned_rejection_carries_the_attempt_number() {
    let inner = Scripted::new(|n| match n {
        0 => Err::<u32, BoxError>("reset".into()),
        _ => Err(Rejected::new(Reason::CircuitForcedOpen, None).into()),
    });
    let err = plain(3, MS)
        .build()
        .unwrap()
        .layer(inner)
        .oneshot(0)
        .await
        .unwrap_err();
    assert_eq!(err.as_rejected().unwrap().attempt(), Some(2));
}

#[tokio::test(start_paused = true)]
async fn a_custom_hint_sets_the_delay() {
    let inner = Scripted::new(fails_until(1));
    let layer = plain(3, MS)
        .hints(|_: &Result<u32, BoxError>| Hint::After(700 * MS))
        .build()
        .unwrap();
    layer.layer(inner.clone()).oneshot(0).await.unwrap();
    assert_eq!(inner.times(), vec![Duration::ZERO, 700 * MS]);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_off_a_retry_that_would_sleep_past_it() {
    let inner = Scripted::new(always_fails);
    let service = plain(5, 100 * MS).build().unwrap().layer(inner.clone());
    let start = Instant::now();
    let call = service.oneshot(0);
    assert!(deadline::scope(start + 150 * MS, call).await.is_err());
    assert_eq!(inner.times(), vec![Duration::ZERO, 100 * MS]);
    assert_eq!(
        start.elapsed(),
        100 * MS,
        "returned at once, without sleeping"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hint_beyond_the_deadline_stops_the_retries() {
    let inner = Scripted::new(open_breaker(Some(Duration::from_secs(2))));
    let service = plain(3, MS).build().unwrap().layer(inner.clone());
    let call = deadline::scope(Instant::now() + Duration::from_secs(1), service.oneshot(0));
    assert!(call.await.is_err());
    assert_eq!(inner.calls(), 1);
}

/// An inner service whose calls each take 50 ms.
#[derive(Clone)]
struct Slow(Arc<AtomicU32>);

impl Service<u8> for Slow {
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u8) -> Self::Future {
        self.0.fetch_add(1, SeqCst);
        Box::pin(async {
            tokio::time::sleep(50 * MS).await;
            Err("timed out".into())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_once_the_deadline_has_passed_even_with_a_zero_backoff() {
    let calls = Arc::new(AtomicU32::new(0));
    let service = plain(3, Duration::ZERO)
        .build()
        .unwrap()
        .layer(Slow(calls.clone()));
    let start = Instant::now();
    let result = deadline::scope(start + 20 * MS, service.oneshot(0)).await;
    assert_eq!(result.unwrap_err().to_string(), "timed out");
    assert_eq!(
        calls.load(SeqCst),
        1,
        "the attempt ended after the deadline"
    );
    assert_eq!(start.elapsed(), 50 * MS);
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_once_the_deadline_has_passed_even_with_a_zero_hint() {
    let calls = Arc::new(AtomicU32::new(0));
    let service = plain(3, MS)
        .hints(|_: &Result<(), BoxError>| Hint::After(Duration::ZERO))
        .build()
        .unwrap()
        .layer(Slow(calls.clone()));
    let start = Instant::now();
    assert!(
        deadline::scope(start + 20 * MS, service.oneshot(0))
            .await
            .is_err()
    );
    assert_eq!(calls.load(SeqCst), 1);
}

/// An inner service whose calls fail at once and leave it unready for 200 ms.
struct BusyAfterEachCall {
    calls: Arc<AtomicU32>,
    busy_until: Arc<Mutex<Instant>>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Clone for BusyAfterEachCall {
    fn clone(&self) -> Self {
        BusyAfterEachCall {
            calls: self.calls.clone(),
            busy_until: self.busy_until.clone(),
            wait: None,
        }
    }
}

impl Service<u8> for BusyAfterEachCall {
    type Response = ();
    type Error = BoxError;
    type Future = std::future::Ready<Result<(), BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let until = *self.busy_until.lock().unwrap();
        let wait = self
            .wait
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        std::task::ready!(wait.as_mut().poll(cx));
        self.wait = None;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u8) -> Self::Future {
        self.calls.fetch_add(1, SeqCst);
        *self.busy_until.lock().unwrap() = Instant::now() + 200 * MS;
        std::future::ready(Err("overloaded".into()))
    }
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_once_the_deadline_has_passed_while_the_service_got_ready() {
    let calls = Arc::new(AtomicU32::new(0));
    let inner = BusyAfterEachCall {
        calls: calls.clone(),
        busy_until: Arc::new(Mutex::new(Instant::now())),
        wait: None,
    };
    let service = plain(3, 10 * MS).build().unwrap().layer(inner);
    let start = Instant::now();
    let result = deadline::scope(start + 100 * MS, service.oneshot(0)).await;
    assert_eq!(result.unwrap_err().to_string(), "overloaded");
    assert_eq!(
        calls.load(SeqCst),
        1,
        "ready again at 200 ms, after the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_attempts_and_sleeps() {
    let calls = Arc::new(AtomicU32::new(0));
    let layer = plain(10, 100 * MS).max_elapsed(300 * MS).build().unwrap();
    let start = Instant::now();
    assert!(layer.layer(Slow(calls.clone())).oneshot(0).await.is_err());
    // Attempts end at 50, 200 and 350 ms; a retry after the third would start at 450.
    assert_eq!(calls.load(SeqCst), 3);
    assert_eq!(start.elapsed(), 350 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_returns_the_last_error_at_once() {
    let inner = Scripted::new(always_fails);
    // A reserve of 1 retry/s over 1 s, no share of requests: one retry in all.
    let layer = plain(3, MS)
        .budget(Duration::from_secs(1), 1, seawall::Ratio::percent(0.0))
        .build()
        .unwrap();
    let mut service = layer.layer(inner.clone());
    for _ in 0..3 {
        assert!(service.ready().await.unwrap().call(0).await.is_err());
    }
    assert_eq!(inner.calls(), 3 + 1);
}

#[tokio::test(start_paused = true)]
async fn the_budget_is_shared_by_every_service_and_clone_of_a_layer() {
    // The first four calls succeed, all later ones fail.
    let inner = Scripted::new(|n| {
        if n < 4 {
            Ok(n)
        } else {
            Err::<u32, BoxError>("reset".into())
        }
    });
    let layer = plain(2, MS)
        .budget(Duration::from_secs(10), 0, seawall::Ratio::percent(50.0))
        .build()
        .unwrap();
    let a = layer.layer(inner.clone());
    for _ in 0..4 {
        a.clone().oneshot(0).await.unwrap();
    }
    // `a`'s four requests deposited two retries; another service of the layer spends
    // them (its own two requests would have paid for one).
    let b = layer.layer(inner.clone()).clone();
    for _ in 0..2 {
        assert!(b.clone().oneshot(1).await.is_err());
    }
    assert_eq!(inner.calls(), 4 + 2 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_never_retry_more_than_the_budget() {
    let inner = Scripted::new(always_fails);
    let layer = RetryLayer::builder()
        .max_attempts(3)
        .constant(Duration::ZERO)
        .budget(Duration::from_secs(60), 0, seawall::Ratio::percent(10.0))
        .build()
        .unwrap();
    let service = layer.layer(inner.clone());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                for _ in 0..250 {
                    let _ = service.clone().oneshot(0).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let retries = inner.calls() - 2000;
    assert!(
        retries <= 200,
        "{retries} retries for 2000 requests at 10 %"
    );
    assert!(
        retries >= 150,
        "{retries}: the budget should be mostly used"
    );
}

#[tokio::test(start_paused = true)]
async fn the_grpc_throttle_stops_retries_at_half_its_tokens() {
    let inner = Scripted::new(always_fails);
    let layer = plain(2, MS).throttle(10, 0.1).build().unwrap();
    let mut service = layer.layer(inner.clone());
    for _ in 0..5 {
        let _ = service.ready().await.unwrap().call(0).await;
    }
    // 10 tokens: the first two requests fail twice each (6 left), the third fails
    // once (5 left, not more than half): no retry from then on.
    assert_eq!(inner.calls(), 2 + 2 + 1 + 1 + 1);
}

#[tokio::test(start_paused = true)]
async fn an_inner_concurrency_limit_is_respected_by_retries() {
    let inner = Scripted::new(fails_until(2));
    let limited = tower::limit::ConcurrencyLimit::new(inner.clone(), 1);
    let service = plain(3, 10 * MS).build().unwrap().layer(limited);
    assert_eq!(service.oneshot(0).await.unwrap(), 2);
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_be_replayed_is_sent_once() {
    #[derive(Clone)]
    struct Never;
    impl Replay<u8> for Never {
        fn replay(&self, _: &u8) -> Option<u8> {
            None
        }
    }
    let inner = Scripted::new(always_fails);
    let layer = plain(3, MS).replay(Never);
    let layer = layer.build().unwrap();
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn errors_without_rejections_work_with_no_hint() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |_: ()| {
        let n = counter.fetch_add(1, SeqCst);
        async move {
            match n {
                0 => Err(std::io::Error::other("reset")),
                _ => Ok(n),
            }
        }
    });
    let layer = RetryLayer::builder()
        .hints(NoHint)
        .no_budget()
        .build()
        .unwrap();
    assert_eq!(layer.layer(inner).oneshot(()).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_sleeping_call_gives_its_retry_back_to_the_budget() {
    let inner = Scripted::new(always_fails);
    let layer = plain(2, Duration::from_secs(1))
        .budget(Duration::from_secs(1), 1, seawall::Ratio::percent(0.0))
        .build()
        .unwrap();
    let service = layer.layer(inner.clone());
    let mut sleeping = Box::pin(service.clone().oneshot(0));
    assert!(futures_poll_once(sleeping.as_mut()).is_pending());
    assert_eq!(inner.calls(), 1);
    drop(sleeping);
    // The one retry of the budget is back: this call uses it.
    let _ = service.oneshot(1).await;
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_cancels_the_attempt_in_flight() {
    let (dropped, inner) = common::tracked(Duration::from_secs(3600));
    let mut call = Box::pin(plain(3, MS).build().unwrap().layer(inner).oneshot(()));
    assert!(futures_poll_once(call.as_mut()).is_pending());
    drop(call);
    assert!(common::is_gone(&dropped));
}

fn futures_poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

#[test]
fn out_of_range_settings_are_named_in_the_error() {
    let cases = [
        (
            RetryLayer::builder().max_attempts(101).build(),
            "retry.max_attempts",
        ),
        (
            RetryLayer::builder().exponential(MS, 0.0, MS * 10).build(),
            "retry.backoff.multiplier",
        ),
        (
            RetryLayer::builder().exponential(MS * 10, 2.0, MS).build(),
            "retry.backoff.max",
        ),
        (
            RetryLayer::builder()
                .jitter(Jitter::Proportional(1.0))
                .build(),
            "retry.jitter",
        ),
        (
            RetryLayer::builder()
                .budget(Duration::from_secs(10), 10, seawall::Ratio::percent(1000.5))
                .build(),
            "retry.budget.percent",
        ),
        (
            RetryLayer::builder()
                .budget(Duration::ZERO, 10, seawall::Ratio::percent(20.0))
                .build(),
            "retry.budget.ttl",
        ),
        (
            RetryLayer::builder().throttle(0, 0.1).build(),
            "retry.throttle.max_tokens",
        ),
        (
            RetryLayer::builder().throttle(10, f64::NAN).build(),
            "retry.throttle.token_ratio",
        ),
        (
            RetryLayer::builder().max_elapsed(Duration::ZERO).build(),
            "retry.max_elapsed",
        ),
    ];
    for (result, field) in cases {
        assert_eq!(result.unwrap_err().field(), field);
    }
}

#[cfg(feature = "http")]
mod http {
    use super::*;
    use seawall::retry::http::{Attempt, HttpHint, HttpReplay, TransientStatus};

    type Req = ::http::Request<String>;
    type Res = ::http::Response<()>;

    #[tokio::test(start_paused = true)]
    async fn retry_after_sets_the_delay_and_the_attempt_reaches_the_inner_service() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let start = Instant::now();
        let inner = tower::service_fn(move |req: Req| {
            let attempt = Attempt::of(&req);
            log.lock().unwrap().push((attempt, start.elapsed()));
            let response = ::http::Response::builder();
            let response = match attempt {
                1 => response.status(503).header("retry-after", "2"),
                2 => response.status(429).header("retry-after", "not a number"),
                _ => response.status(200),
            };
            async move { Ok::<Res, BoxError>(response.body(()).unwrap()) }
        });
        let layer = RetryLayer::builder()
            .constant(Duration::from_millis(300))
            .jitter(Jitter::None)
            .classifier(TransientStatus)
            .hints(HttpHint)
            .replay(HttpReplay::default())
            .build()
            .unwrap();
        let request = ::http::Request::post("/").body(String::from("{}")).unwrap();
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let expected = [
            (1, Duration::ZERO),
            (2, Duration::from_secs(2)),
            (3, Duration::from_millis(2300)),
        ];
        assert_eq!(
            *seen.lock().unwrap(),
            expected,
            "the malformed hint falls back to the backoff"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_above_the_cap_is_not_retried() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let inner = tower::service_fn(move |_: Req| {
            counter.fetch_add(1, SeqCst);
            async { Ok::<Res, BoxError>(::http::Response::builder().status(502).body(()).unwrap()) }
        });
        let layer = RetryLayer::builder()
            .classifier(TransientStatus)
            .hints(HttpHint)
            .replay(HttpReplay::max_body(8))
            .build()
            .unwrap();
        let request = ::http::Request::post("/").body("x".repeat(9)).unwrap();
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        assert_eq!(response.status(), 502);
        assert_eq!(calls.load(SeqCst), 1);
    }
}

/// Sends one request per entry of `failures` through `layer`, request `i` failing its
/// first `failures[i]` attempts, in paused time; returns each request's attempts and
/// whether it succeeded.
fn attempts_per_request(layer: &RetryLayer, failures: &[u32]) -> Vec<(u64, bool)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut out = Vec::new();
        for fail in failures {
            let seen = Arc::new(AtomicU32::new(0));
            let counter = seen.clone();
            let fail = *fail;
            let inner = tower::service_fn(move |_: ()| {
                let n = counter.fetch_add(1, SeqCst);
                async move {
                    if n < fail {
                        Err::<(), BoxError>("down".into())
                    } else {
                        Ok(())
                    }
                }
            });
            let ok = layer.layer(inner).oneshot(()).await.is_ok();
            out.push((u64::from(seen.load(SeqCst)), ok));
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However requests fail, the inner service sees at most each request once plus the
    /// retries that both max attempts and the budget allow (every retry charged).
    #[test]
    fn inner_calls_never_exceed_what_attempts_and_budget_allow(
        max_attempts in 1u32..6,
        ttl_secs in 1u64..=10,
        min_per_sec in 0u32..4,
        percent in 0.0f64..100.0,
        failures in proptest::collection::vec(0u32..8, 1..60),
    ) {
        let layer = RetryLayer::builder()
            .max_attempts(max_attempts)
            .constant(Duration::ZERO)
            .budget(Duration::from_secs(ttl_secs), min_per_sec, seawall::Ratio::percent(percent))
            .refund_successful_retries(false)
            .build()
            .unwrap();
        let requests = failures.len() as u64;
        let calls: u64 = attempts_per_request(&layer, &failures).iter().map(|(a, _)| a).sum();
        let wanted: u64 = failures.iter().map(|f| u64::from((*f).min(max_attempts - 1))).sum();
        let budget = u64::from(min_per_sec) * ttl_secs + (requests as f64 * percent / 100.0).floor() as u64;
        prop_assert!(calls <= requests + wanted.min(budget), "{calls} calls");
        prop_assert!(calls >= requests);
    }

    /// With successful retries refunded (the default), the retries that fail never
    /// exceed the budget, whatever succeeds.
    #[test]
    fn failed_retries_never_exceed_the_budget_when_successes_are_refunded(
        max_attempts in 1u32..6,
        min_per_sec in 0u32..4,
        percent in 0.0f64..100.0,
        failures in proptest::collection::vec(0u32..8, 1..60),
    ) {
        let layer = RetryLayer::builder()
            .max_attempts(max_attempts)
            .constant(Duration::ZERO)
            .budget(Duration::from_secs(10), min_per_sec, seawall::Ratio::percent(percent))
            .build()
            .unwrap();
        let requests = failures.len() as u64;
        let failed_retries: u64 = attempts_per_request(&layer, &failures)
            .iter()
            .map(|(attempts, ok)| attempts - 1 - u64::from(*ok && *attempts > 1))
            .sum();
        let budget = u64::from(min_per_sec) * 10 + (requests as f64 * percent / 100.0).floor() as u64;
        prop_assert!(failed_retries <= budget, "{failed_retries} failed retries, budget {budget}");
    }
}

#[tokio::test(start_paused = true)]
async fn each_retry_emits_one_event_with_attempt_delay_and_reason() {
    let recorder = common::Recorder::default();
    let _guard = recorder.install();
    let inner = Scripted::new(fails_until(2));
    plain(5, 7 * MS)
        .build()
        .unwrap()
        .layer(inner)
        .oneshot(0)
        .await
        .unwrap();
    let retries: Vec<_> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "seawall::retry" && e.field("message") == Some("retrying"))
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0].field("attempt"), Some("2"));
    assert_eq!(retries[1].field("attempt"), Some("3"));
    assert_eq!(retries[0].field("delay"), Some("7ms"));
    assert!(retries[0].field("reason").is_some());
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_retried_after_the_backoff() {
    let slow_then_fast = Scripted::new(|n: u32| {
        if n == 0 {
            Err(Rejected::new(Reason::AttemptTimeout { after: MS }, None).into())
        } else {
            Ok(n)
        }
    });
    let result = plain(3, 5 * MS)
        .build()
        .unwrap()
        .layer(slow_then_fast.clone())
        .oneshot(0)
        .await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(slow_then_fast.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_is_not_retried() {
    let expired = Scripted::new(|_: u32| {
        Err::<u32, BoxError>(Rejected::new(Reason::DeadlineExceeded, None).into())
    });
    let result = plain(3, MS)
        .build()
        .unwrap()
        .layer(expired.clone())
        .oneshot(0)
        .await;
    assert!(result.is_err());
    assert_eq!(expired.calls(), 1);
}
