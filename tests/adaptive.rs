//! The adaptive concurrency limiter's behaviour, one rule per test, in paused tokio time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use common::*;
use seawall::adaptive::{AdaptiveLimitHandle, AdaptiveLimitLayer, Aimd, Builder, Gradient2, Vegas};
use seawall::{Outcome, Reason, RejectedBy};
use tokio_test::{assert_pending, task};
use tower::{Layer, Service, ServiceExt};

fn limited(
    builder: Builder,
) -> (
    AdaptiveLimitHandle,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let layer = builder.build().expect("valid config");
    (layer.handle(), layer.layer(backend()))
}

/// Runs as many concurrent calls as the limit allows, and waits for them all.
async fn full_round<S, R>(handle: &AdaptiveLimitHandle, svc: &S, req: R)
where
    R: Copy + Send + 'static,
    S: Service<R, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
{
    let calls: Vec<_> = (0..handle.limit())
        .map(|_| tokio::spawn(svc.clone().oneshot(req)))
        .collect();
    for call in calls {
        let _ = call.await.unwrap();
    }
}

/// Runs 50 full rounds of `()` calls; the limits before each of the last 20 show where
/// the limit settled.
async fn settled_limits<S>(handle: &AdaptiveLimitHandle, svc: &S) -> Vec<u32>
where
    S: Service<(), Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
{
    let mut settled = Vec::new();
    for round in 0..50 {
        if round >= 30 {
            settled.push(handle.limit());
        }
        full_round(handle, svc, ()).await;
    }
    settled
}

#[tokio::test(start_paused = true)]
async fn aimd_converges_up_to_the_maximum_on_a_fast_healthy_backend() {
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(Aimd::default()).max_limit(60));
    assert_eq!(handle.limit(), 20);
    for _ in 0..20 {
        full_round(&handle, &svc, slow(10, false)).await;
    }
    assert_eq!(handle.limit(), 60);
}

#[tokio::test(start_paused = true)]
async fn aimd_converges_down_to_the_minimum_on_a_failing_backend() {
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(Aimd::default()).min_limit(2));
    for _ in 0..10 {
        full_round(&handle, &svc, slow(10, true)).await;
    }
    assert_eq!(handle.limit(), 2);
}

#[tokio::test(start_paused = true)]
async fn aimd_converges_down_on_a_backend_slower_than_its_timeout() {
    let aimd = Aimd::default().timeout(Duration::from_millis(100));
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(aimd).min_limit(3));
    for _ in 0..10 {
        full_round(&handle, &svc, slow(150, false)).await;
    }
    assert_eq!(handle.limit(), 3);
}

#[tokio::test(start_paused = true)]
async fn aimd_does_not_grow_while_the_limiter_is_mostly_idle() {
    let (handle, mut svc) = limited(AdaptiveLimitLayer::builder(Aimd::default()));
    for _ in 0..100 {
        call(&mut svc, slow(10, false)).await.unwrap();
    }
    assert_eq!(
        handle.limit(),
        20,
        "one call at a time never needs more room"
    );
}

#[tokio::test(start_paused = true)]
async fn gradient2_converges_up_to_the_maximum_on_a_fast_steady_backend() {
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(Gradient2::default()).max_limit(80));
    for _ in 0..40 {
        full_round(&handle, &svc, slow(10, false)).await;
    }
    assert_eq!(handle.limit(), 80);
}

/// A backend with room for `capacity` concurrent calls of 10 ms: past that, calls queue
/// and every call takes longer in proportion.
fn saturating_backend(
    capacity: usize,
) -> impl Service<(), Response = (), Error = Err, Future: Send> + Clone + Send + 'static {
    queueing_backend(Arc::new(AtomicUsize::new(capacity)))
}

/// A saturating backend whose capacity can change while it runs.
fn queueing_backend(
    capacity: Arc<AtomicUsize>,
) -> impl Service<(), Response = (), Error = Err, Future: Send> + Clone + Send + 'static {
    let active = Arc::new(AtomicUsize::new(0));
    tower::service_fn(move |()| {
        let active = active.clone();
        let load = active.fetch_add(1, SeqCst) + 1;
        let capacity = capacity.load(SeqCst).max(1);
        async move {
            let delay = 10 * (load.max(capacity) / capacity) as u64;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            active.fetch_sub(1, SeqCst);
            Ok::<_, Err>(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn gradient2_converges_down_on_a_backend_that_slows_under_load() {
    let layer = AdaptiveLimitLayer::builder(Gradient2::default())
        .initial_limit(150)
        .min_limit(1)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(saturating_backend(10));
    let settled = settled_limits(&handle, &svc).await;
    // Bursts of `limit` calls against room for 10 settle in a band well below the start.
    assert!(
        settled.iter().all(|&l| (10..=60).contains(&l)),
        "{settled:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn vegas_converges_up_to_the_maximum_on_a_fast_steady_backend() {
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(Vegas::default()).max_limit(80));
    for _ in 0..20 {
        full_round(&handle, &svc, slow(10, false)).await;
    }
    assert_eq!(handle.limit(), 80);
}

#[tokio::test(start_paused = true)]
async fn vegas_converges_down_when_the_backend_starts_queueing() {
    let layer = AdaptiveLimitLayer::builder(Vegas::default())
        .min_limit(1)
        .max_limit(100)
        .build()
        .unwrap();
    let handle = layer.handle();
    let capacity = Arc::new(AtomicUsize::new(1_000));
    let svc = layer.layer(queueing_backend(capacity.clone()));
    for _ in 0..20 {
        full_round(&handle, &svc, ()).await;
    }
    assert_eq!(
        handle.limit(),
        100,
        "room for every call: up to the maximum"
    );
    capacity.store(10, SeqCst);
    let settled = settled_limits(&handle, &svc).await;
    // Bursts of `limit` calls against room for 10 settle in a band well below 100.
    assert!(
        settled.iter().all(|&l| (10..=60).contains(&l)),
        "{settled:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn vegas_takes_a_backend_that_got_slower_for_good_as_its_new_baseline() {
    let (handle, svc) = limited(
        AdaptiveLimitLayer::builder(Vegas::default())
            .initial_limit(60)
            .min_limit(10)
            .max_limit(60),
    );
    for _ in 0..5 {
        full_round(&handle, &svc, slow(10, false)).await;
    }
    assert_eq!(handle.limit(), 60);
    let mut lowest = handle.limit();
    for _ in 0..100 {
        full_round(&handle, &svc, slow(50, false)).await;
        lowest = lowest.min(handle.limit());
    }
    assert!(lowest < 60, "five times slower first looks like queueing");
    assert_eq!(
        handle.limit(),
        60,
        "after a probe the slower latency is the no-load latency"
    );
}

#[tokio::test(start_paused = true)]
async fn vegas_shrinks_the_limit_after_a_failure() {
    let (handle, mut svc) = limited(AdaptiveLimitLayer::builder(Vegas::default()).min_limit(1));
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(handle.limit(), 19, "20 − log10(20), rounded up to 1");
}

#[tokio::test(start_paused = true)]
async fn vegas_converges_down_to_the_minimum_on_a_failing_backend() {
    let (handle, svc) = limited(AdaptiveLimitLayer::builder(Vegas::default()).min_limit(5));
    for _ in 0..10 {
        full_round(&handle, &svc, slow(10, true)).await;
    }
    assert_eq!(handle.limit(), 5);
}

#[tokio::test(start_paused = true)]
async fn vegas_does_not_take_a_fast_failure_as_the_no_load_latency() {
    let (handle, svc) = limited(
        AdaptiveLimitLayer::builder(Vegas::default())
            .min_limit(1)
            .max_limit(50),
    );
    let _ = call(&mut svc.clone(), FAIL).await;
    assert_eq!(handle.limit(), 19);
    for _ in 0..10 {
        full_round(&handle, &svc, slow(10, false)).await;
    }
    assert_eq!(handle.limit(), 50, "the instant failure set no baseline");
}

#[tokio::test(start_paused = true)]
async fn a_call_over_the_limit_is_rejected_reporting_the_limit() {
    let (handle, mut svc) = limited(
        AdaptiveLimitLayer::builder(Aimd::default())
            .initial_limit(1)
            .min_limit(1),
    );
    let running = svc.ready().await.unwrap().call(slow(100, false));
    let over = call(&mut svc, OK).await;
    let rejection = rejected(&over).expect("over the limit");
    assert_eq!(rejection.reason(), Reason::ConcurrencyLimited { limit: 1 });
    assert_eq!(rejection.layer(), RejectedBy::AdaptiveLimit);
    running.await.unwrap();
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_gives_its_permit_back_and_moves_no_limit() {
    let (handle, mut svc) = limited(AdaptiveLimitLayer::builder(Aimd::default()).min_limit(1));
    let mut dropped = task::spawn(svc.ready().await.unwrap().call(slow(100, true)));
    assert_pending!(dropped.poll());
    assert_eq!(handle.in_flight(), 1);
    drop(dropped);
    assert_eq!((handle.in_flight(), handle.limit()), (0, 20));
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_give_the_permit_back_and_move_no_limit() {
    let layer = AdaptiveLimitLayer::builder(Aimd::default())
        .min_limit(1)
        .classifier(|_: &Result<(), Err>| Outcome::Ignored)
        .build()
        .unwrap();
    let mut svc = layer.layer(backend());
    for _ in 0..10 {
        let _ = call(&mut svc, FAIL).await;
    }
    assert_eq!(
        (layer.handle().in_flight(), layer.handle().limit()),
        (0, 20)
    );
}

#[tokio::test(start_paused = true)]
async fn limit_changes_emit_events_and_steady_calls_emit_none() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (handle, mut svc) = limited(
        AdaptiveLimitLayer::builder(Aimd::default())
            .name("db")
            .min_limit(1),
    );
    for _ in 0..10 {
        call(&mut svc, OK).await.unwrap();
    }
    assert!(recorder.take().is_empty(), "the limit did not move");
    let _ = call(&mut svc, FAIL).await;
    let events = recorder.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, "seawall::adaptive");
    assert_eq!(events[0].field("seawall.name"), Some("db"));
    assert_eq!(events[0].field("from"), Some("20"));
    assert_eq!(events[0].field("to"), Some("18"));
    assert_eq!(handle.limit(), 18);
}

#[tokio::test(start_paused = true)]
async fn every_service_and_clone_of_a_layer_shares_one_limit() {
    let layer = AdaptiveLimitLayer::builder(Aimd::default())
        .min_limit(1)
        .build()
        .unwrap();
    let mut a = layer.layer(backend());
    let mut b = a.clone();
    let mut c = layer.layer(backend());
    let _ = call(&mut a, FAIL).await;
    let _ = call(&mut b, FAIL).await;
    let _ = call(&mut c, FAIL).await;
    assert_eq!(layer.handle().limit(), 14, "20 → 18 → 16 → 14");
}

#[test]
fn build_names_the_setting_that_is_out_of_range() {
    let err = AdaptiveLimitLayer::builder(Aimd::default().backoff_ratio(1.0))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "adaptive.aimd.backoff_ratio: 1 is outside [0.5, 1)"
    );
    let err = AdaptiveLimitLayer::builder(Gradient2::default().smoothing(0.0))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "adaptive.gradient2.smoothing");
    let err = AdaptiveLimitLayer::builder(Aimd::default())
        .min_limit(0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "adaptive.min_limit");
    let err = AdaptiveLimitLayer::builder(Aimd::default())
        .max_limit(0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "adaptive.max_limit");
}

#[test]
fn vegas_settings_out_of_range_name_their_field() {
    let err = AdaptiveLimitLayer::builder(Vegas::default().probe_multiplier(0))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "adaptive.vegas.probe_multiplier: 0 is outside 1..=1000"
    );
    let err = AdaptiveLimitLayer::builder(Vegas::default().smoothing(f64::NAN))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "adaptive.vegas.smoothing");
    assert_eq!(err.allowed(), "(0, 1]");
}
