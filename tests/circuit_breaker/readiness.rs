//! `poll_ready` in front of an inner service that is not ready: a refusing breaker is ready
//! at once, an admitting one waits for the inner service.

use std::time::Duration;

use seawall::Reason;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use crate::common::*;

/// Whether `svc` became ready within a second (of paused time).
async fn ready_soon<S: Service<Req>>(svc: &mut S) -> bool {
    tokio::time::timeout(secs(1), svc.ready()).await.is_ok()
}

/// A breaker that opens on one failure for 10 s, one probe, in front of a [`Gate`].
fn gated() -> (
    CircuitBreakerLayer,
    seawall::circuit_breaker::CircuitBreaker<Gate>,
    Gate,
) {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .half_open_calls(1)
        .open_duration(secs(10))
        .build()
        .unwrap();
    let gate = Gate::new();
    let svc = layer.layer(gate.clone());
    (layer, svc, gate)
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_in_front_of_a_service_that_is_not_ready() {
    let (layer, mut svc, gate) = gated();
    call(&mut svc, FAIL).await.unwrap_err();
    gate.set_ready(false);

    let asked = tokio::time::Instant::now();
    assert!(
        ready_soon(&mut svc).await,
        "ready at once: the call will be refused"
    );
    assert_eq!(asked.elapsed(), Duration::ZERO);
    let refused = rejected(&svc.call(OK).await).expect("a rejection");
    assert_eq!(refused.reason(), Reason::CircuitOpen);
    assert_eq!(refused.retry_after(), Some(secs(10)));

    layer.handle().force_open();
    assert!(ready_soon(&mut svc).await);
    let refused = rejected(&svc.call(OK).await).expect("a rejection");
    assert_eq!(refused.reason(), Reason::CircuitForcedOpen);
    assert_eq!(
        gate.calls(),
        1,
        "only the call that tripped the breaker got through"
    );
}

/// tower's rule: once `poll_ready` said ready, it stays ready until the call, even when
/// the open period ends in between and the inner service is still not ready.
#[tokio::test(start_paused = true)]
async fn a_refused_service_stays_ready_until_its_call() {
    let (_layer, mut svc, gate) = gated();
    call(&mut svc, FAIL).await.unwrap_err();
    gate.set_ready(false);
    assert!(ready_soon(&mut svc).await);
    advance(secs(11)).await;
    assert!(ready_soon(&mut svc).await, "still ready");
    let refused = rejected(&svc.call(OK).await).expect("the refusal it was readied for");
    assert_eq!(refused.reason(), Reason::CircuitOpen);
    assert_eq!(gate.calls(), 1);
}

/// Half-open with every slot taken, `poll_ready` refuses at once; past the maximum wait it
/// opens the breaker again and refuses, as a call would, rather than wait on an unready
/// service.
#[tokio::test(start_paused = true)]
async fn an_expired_half_open_breaker_fails_fast_in_front_of_an_unready_service() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .half_open_calls(1)
        .open_duration(secs(10))
        .max_wait_in_half_open(secs(5))
        .build()
        .unwrap();
    let gate = Gate::new();
    let mut gated = layer.layer(gate.clone());
    let mut plain = layer.layer(backend());
    call(&mut plain, FAIL).await.unwrap_err();
    advance(secs(10)).await;
    let _hung = plain.ready().await.unwrap().call(slow(60_000, false));
    gate.set_ready(false);
    assert!(
        ready_soon(&mut gated).await,
        "the one slot is taken: refused at once"
    );
    let refused = rejected(&gated.call(OK).await).expect("a rejection");
    assert_eq!(refused.reason(), Reason::HalfOpenSaturated);
    advance(secs(5)).await;
    assert!(ready_soon(&mut gated).await);
    assert_eq!(layer.handle().state(), State::Open);
    let refused = rejected(&gated.call(OK).await).expect("a rejection");
    assert_eq!(refused.reason(), Reason::CircuitOpen);
    assert_eq!(gate.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_would_admit_waits_for_its_inner_service() {
    let (layer, mut svc, gate) = gated();
    gate.set_ready(false);
    assert!(
        !ready_soon(&mut svc).await,
        "closed: waits like the inner service"
    );

    gate.set_ready(true);
    call(&mut svc, FAIL).await.unwrap_err();
    gate.set_ready(false);
    advance(secs(11)).await;
    assert!(
        !ready_soon(&mut svc).await,
        "a probe waits for the inner service too"
    );
    gate.set_ready(true);
    call(&mut svc, OK).await.expect("the probe runs");
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(gate.calls(), 2);
}

/// `poll_ready` found the breaker refusing while the inner service was not ready; the
/// breaker then closes before the call. The inner service was never ready, so it is not
/// called: the call gets the refusal it was readied for.
#[tokio::test(start_paused = true)]
async fn a_call_readied_by_a_refusal_never_reaches_the_unready_service() {
    let gate = Gate::new();
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .build()
        .unwrap();
    let mut svc = layer.layer(gate.clone());
    layer.handle().force_open();
    gate.set_ready(false);
    assert!(ready_soon(&mut svc).await);
    layer.handle().reset();
    let refused = rejected(&svc.call(OK).await).expect("a rejection");
    assert_eq!(refused.reason(), Reason::CircuitForcedOpen);
    assert_eq!(gate.calls(), 0);

    gate.set_ready(true);
    call(&mut svc, OK)
        .await
        .expect("closed, and the inner service is ready");
    assert_eq!(gate.calls(), 1);
}
