//! The wait between attempts: backoff, jitter, hints, and a timed-out attempt's time.

use std::time::Duration;

use seawall::retry::{Hint, Jitter, RetryLayer};
use seawall::{Reason, Rejected};
use tower::{BoxError, Layer, ServiceExt};

use crate::{MS, Scripted, always_fails, fails_until, plain};

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
async fn a_custom_hint_sets_the_delay() {
    let inner = Scripted::new(fails_until(1));
    let layer = plain(3, MS)
        .hints(|_: &Result<u32, BoxError>| Hint::After(700 * MS))
        .build()
        .unwrap();
    layer.layer(inner.clone()).oneshot(0).await.unwrap();
    assert_eq!(inner.times(), vec![Duration::ZERO, 700 * MS]);
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
