//! Keyed partitions' behaviour, one rule per test, in paused tokio time.

mod common;

use std::time::Duration;

use common::*;
use seawall::bulkhead::BulkheadLayer;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::keyed::KeyedLayer;
use seawall::rate_limit::RateLimitLayer;
use seawall::{Reason, RejectedBy};
use tokio::time::advance;
use tokio_test::{assert_pending, task};
use tower::{Layer, Service, ServiceExt, service_fn};

type KeyedReq = (u32, Req);

/// The common backend, taking a key it ignores.
fn keyed_backend()
-> impl Service<KeyedReq, Response = (), Error = Err, Future: Send> + Clone + Send + 'static {
    service_fn(|(_, req): KeyedReq| backend().oneshot(req))
}

fn key(req: &KeyedReq) -> u32 {
    req.0
}

async fn call_key<S>(svc: &mut S, key: u32, req: Req) -> Result<(), Err>
where
    S: Service<KeyedReq, Response = (), Error = Err>,
{
    svc.ready().await?.call((key, req)).await
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_bulkhead() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder().max_concurrent(1), key)
        .build()
        .unwrap();
    let mut svc = layer.layer(keyed_backend());
    let mut busy = task::spawn(svc.ready().await.unwrap().call((1, slow(100, false))));
    assert_pending!(busy.poll());
    let same_key = call_key(&mut svc, 1, OK).await;
    assert_eq!(
        rejected(&same_key).unwrap().reason(),
        Reason::BulkheadFull { limit: 1 }
    );
    call_key(&mut svc, 2, OK).await.unwrap();
    assert_eq!(layer.partition(&1).unwrap().handle().in_flight(), 1);
    assert_eq!(layer.partition(&2).unwrap().handle().in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_rate_limit() {
    let template = RateLimitLayer::builder(1, Duration::from_secs(1));
    let layer = KeyedLayer::builder(template, key).build().unwrap();
    let mut svc = layer.layer(keyed_backend());
    call_key(&mut svc, 1, OK).await.unwrap();
    let again = call_key(&mut svc, 1, OK).await;
    assert_eq!(rejected(&again).unwrap().layer(), RejectedBy::RateLimiter);
    call_key(&mut svc, 2, OK).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_circuit_breaker() {
    let template = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2);
    let layer = KeyedLayer::builder(template, key).build().unwrap();
    let mut svc = layer.layer(keyed_backend());
    for _ in 0..2 {
        let _ = call_key(&mut svc, 1, FAIL).await;
    }
    assert_eq!(layer.partition(&1).unwrap().handle().state(), State::Open);
    let refused = call_key(&mut svc, 1, OK).await;
    assert_eq!(rejected(&refused).unwrap().reason(), Reason::CircuitOpen);
    call_key(&mut svc, 2, OK).await.unwrap();
    assert_eq!(layer.partition(&2).unwrap().handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_new_key_at_the_cap_evicts_the_least_recently_used_idle_key() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .max_keys(3)
        .build()
        .unwrap();
    let mut svc = layer.layer(keyed_backend());
    for k in [1, 2, 3] {
        call_key(&mut svc, k, OK).await.unwrap();
        advance(Duration::from_millis(1)).await;
    }
    call_key(&mut svc, 1, OK).await.unwrap(); // 2 is now the least recently used
    advance(Duration::from_millis(1)).await;
    call_key(&mut svc, 4, OK).await.unwrap();
    assert_eq!(layer.live_keys(), 3);
    assert!(layer.partition(&2).is_none(), "evicted");
    for k in [1, 3, 4] {
        assert!(layer.partition(&k).is_some(), "key {k} kept");
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_key_at_the_cap_is_rejected_when_every_key_is_busy() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .max_keys(2)
        .build()
        .unwrap();
    let mut svc = layer.layer(keyed_backend());
    let mut a = task::spawn(svc.ready().await.unwrap().call((1, slow(100, false))));
    let mut b = task::spawn(svc.ready().await.unwrap().call((2, slow(100, false))));
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    let third = call_key(&mut svc, 3, OK).await;
    let rejection = rejected(&third).expect("no room for a third key");
    assert_eq!(rejection.reason(), Reason::TooManyKeys { max_keys: 2 });
    assert_eq!(rejection.layer(), RejectedBy::Keyed);
    call_key(&mut svc, 1, OK).await.unwrap();
    drop(a);
    call_key(&mut svc, 3, OK).await.unwrap();
    assert!(layer.partition(&1).is_none(), "the idle key made room");
}

#[tokio::test(start_paused = true)]
async fn idle_keys_are_evicted_after_the_idle_ttl() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .idle_ttl(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut svc = layer.layer(keyed_backend());
    for k in 0..50 {
        call_key(&mut svc, k, OK).await.unwrap();
    }
    assert_eq!(layer.live_keys(), 50);
    advance(Duration::from_secs(11)).await;
    call_key(&mut svc, 1_000, OK).await.unwrap();
    assert_eq!(layer.live_keys(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_key_with_a_call_in_flight_is_never_evicted() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .idle_ttl(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut svc = layer.layer(keyed_backend());
    let mut long = task::spawn(svc.ready().await.unwrap().call((1, slow(60_000, false))));
    assert_pending!(long.poll());
    advance(Duration::from_secs(30)).await;
    call_key(&mut svc, 2, OK).await.unwrap();
    assert!(layer.partition(&1).is_some());
    assert_eq!(layer.partition(&1).unwrap().handle().in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn every_service_and_clone_of_a_layer_shares_one_key_map() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .build()
        .unwrap();
    let mut a = layer.layer(keyed_backend());
    let mut b = a.clone();
    let mut c = layer.clone().layer(keyed_backend());
    call_key(&mut a, 1, OK).await.unwrap();
    call_key(&mut b, 1, OK).await.unwrap();
    call_key(&mut c, 2, OK).await.unwrap();
    assert_eq!(layer.live_keys(), 2);
}

#[test]
fn build_names_the_setting_that_is_out_of_range() {
    let err = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .max_keys(0)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "keyed.max_keys: 0 is outside 1..=1000000");
    let err = KeyedLayer::builder(BulkheadLayer::builder(), key)
        .idle_ttl(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "keyed.idle_ttl");
    let template = RateLimitLayer::builder(0, Duration::from_secs(1));
    let err = KeyedLayer::builder(template, key).build().unwrap_err();
    assert_eq!(err.field(), "keyed.rate_limit.permits");
}

/// A flood of distinct keys (attacker-chosen, say): a million calls, each with a key
/// never seen before, through a layer capped at 1,024 keys. The live keys never pass
/// the cap, every call is answered (an idle key makes room), and eviction stays cheap:
/// the time is printed (`--nocapture`) rather than asserted.
#[tokio::test(start_paused = true)]
async fn a_flood_of_new_keys_is_bounded_by_the_cap_and_evicts_cheaply() {
    let layer = KeyedLayer::builder(BulkheadLayer::builder().max_concurrent(1), key)
        .max_keys(1024)
        .build()
        .unwrap();
    let mut service = layer.layer(keyed_backend());
    let started = std::time::Instant::now(); // wall time, reported only
    for k in 0..1_000_000u32 {
        call_key(&mut service, k, OK).await.unwrap();
        if k % 100_000 == 0 {
            assert!(layer.live_keys() <= 1024, "{} live keys", layer.live_keys());
        }
    }
    assert_eq!(layer.live_keys(), 1024);
    eprintln!(
        "1,000,000 distinct keys through a 1,024-key cap: {:?}",
        started.elapsed()
    );
}
