//! One breaker per layer: every service, clone and cloned layer shares it, and its
//! rejection crosses a `BoxError` stack.

use seawall::Reason;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tower::{Layer, Service, ServiceExt};

use crate::breaker;
use crate::common::*;

#[tokio::test(start_paused = true)]
async fn services_made_per_request_by_the_same_layer_share_one_breaker() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(3)
        .build()
        .unwrap();
    for _ in 0..3 {
        // A framework that layers a fresh service for every request.
        let mut svc = layer.layer(backend());
        let _ = call(&mut svc, FAIL).await;
    }
    let mut fresh = layer.layer(backend());
    assert!(rejected(&call(&mut fresh, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn clones_of_a_service_share_one_breaker() {
    let (layer, svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    );
    for _ in 0..4 {
        let mut clone = svc.clone();
        let _ = call(&mut clone, FAIL).await;
    }
    assert_eq!(layer.handle().state(), State::Open);
    let mut other = svc.clone();
    assert!(rejected(&call(&mut other, OK).await).is_some());
}

/// Frameworks clone layers too (axum's `Router::layer` does): a clone of the layer
/// steers the same breaker.
#[tokio::test(start_paused = true)]
async fn services_made_by_a_cloned_layer_share_one_breaker() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .build()
        .unwrap();
    let mut a = layer.clone().layer(backend());
    let mut b = layer.clone().layer(backend());
    let _ = call(&mut a, FAIL).await;
    let _ = call(&mut b, FAIL).await;
    assert_eq!(layer.handle().state(), State::Open);
    assert!(rejected(&call(&mut a, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_rejection_reaches_a_box_error_stack_and_is_found_by_downcast() {
    use seawall::AsRejected;
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .build()
        .unwrap();
    let mut svc = tower::ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(|_: ()| async {
            Err::<(), tower::BoxError>("refused".into())
        }));
    let first = svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert!(first.as_rejected().is_none());
    let second = svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert_eq!(second.as_rejected().unwrap().reason(), Reason::CircuitOpen);
}
