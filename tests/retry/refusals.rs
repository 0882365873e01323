//! Refusals by other seawall layers: returned at once by default, retried after their hint
//! when asked.

use std::time::Duration;

use seawall::{AsRejected, Reason, Rejected};
use tower::{BoxError, Layer, ServiceExt};

use crate::{MS, Scripted, open_breaker, plain};

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
