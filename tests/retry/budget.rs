//! The retry budget and the gRPC throttle, shared by every service of a layer.

use std::time::Duration;

use seawall::retry::RetryLayer;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::{MS, Scripted, always_fails, plain};

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
