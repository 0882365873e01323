//! Attempts: which results are retried, and how many times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use seawall::Outcome;
use seawall::retry::{NoHint, Replay, RetryLayer};
use tower::{BoxError, Layer, ServiceExt};

use crate::{MS, Scripted, always_fails, fails_until, plain};

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
async fn an_inner_concurrency_limit_is_respected_by_retries() {
    let inner = Scripted::new(fails_until(2));
    let limited = tower::limit::ConcurrencyLimit::new(inner.clone(), 1);
    let service = plain(3, 10 * MS).build().unwrap().layer(limited);
    assert_eq!(service.oneshot(0).await.unwrap(), 2);
    assert_eq!(inner.calls(), 3);
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
