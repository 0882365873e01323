//! Time limits: the call's deadline and `max_elapsed` stop the retries.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use seawall::retry::Hint;
use seawall::{Reason, Rejected, deadline};
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::{MS, Scripted, always_fails, open_breaker, plain};

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
