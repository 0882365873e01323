//! Open: refusals with the time left, the open period's length, its growth on repeated
//! trips and its jitter.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::{Reason, RejectedBy};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use crate::breaker;
use crate::common::*;

#[tokio::test(start_paused = true)]
async fn open_breaker_rejects_with_the_time_left_open() {
    let (_, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(secs(30)),
    );
    let _ = call(&mut svc, FAIL).await;
    advance(secs(10)).await;
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).expect("rejected");
    assert_eq!(rejection.reason(), Reason::CircuitOpen);
    assert_eq!(rejection.layer(), RejectedBy::CircuitBreaker);
    assert_eq!(rejection.retry_after(), Some(secs(20)));
}

#[tokio::test(start_paused = true)]
async fn an_open_period_lasts_at_least_its_configured_length_whatever_its_start() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(Duration::from_millis(100)),
    );
    advance(Duration::from_micros(500)).await; // trips between two millisecond ticks
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().state(), State::Open);
    advance(Duration::from_micros(99_600)).await; // 99.6 ms open
    let result = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::CircuitOpen),
        "refused until 100 ms have passed"
    );
    assert!(rejected(&result).unwrap().retry_after() > Some(Duration::ZERO));
    // The period is kept to the millisecond, rounded up: it ends within 1 ms after.
    advance(Duration::from_micros(1_400)).await;
    call(&mut svc, OK)
        .await
        .expect("a probe once the period is over");
}

#[tokio::test(start_paused = true)]
async fn an_open_breakers_hint_is_the_time_left_when_it_is_read() {
    let (_, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(secs(30)),
    );
    let _ = call(&mut svc, FAIL).await;
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).expect("rejected");
    assert_eq!(rejection.retry_after(), Some(secs(30)));
    advance(Duration::from_millis(12_345)).await;
    // The same rejection, read later: the open period's end does not move.
    assert_eq!(rejection.retry_after(), Some(Duration::from_millis(17_655)));
    assert!(rejection.to_string().contains("17.655s"), "{rejection}");
}

#[tokio::test(start_paused = true)]
async fn an_open_period_ends_on_time_however_many_calls_were_refused() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(10)),
    );
    let _ = call(&mut svc, FAIL).await;
    for _ in 0..200 {
        let result = call(&mut svc, OK).await;
        assert_eq!(
            rejected(&result).map(|r| r.reason()),
            Some(Reason::CircuitOpen)
        );
    }
    advance(Duration::from_millis(9_999)).await;
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).expect("still open 1 ms before the end");
    assert_eq!(rejection.retry_after(), Some(Duration::from_millis(1)));
    advance(Duration::from_millis(1)).await;
    call(&mut svc, OK)
        .await
        .expect("the first call after the open period is a probe");
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_never_calls_the_inner_service() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .build()
        .unwrap();
    let mut svc = layer.layer(tower::service_fn(move |_: ()| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Err::<(), Err>(seawall::Error::Service(Boom)) }
    }));
    for _ in 0..5 {
        let _ = svc.ready().await.unwrap().call(()).await;
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_half_opens_after_the_open_duration() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(secs(30))
            .half_open_calls(2),
    );
    let _ = call(&mut svc, FAIL).await;
    advance(secs(30)).await;
    assert_eq!(
        layer.handle().state(),
        State::Open,
        "half-open is entered by the next call"
    );
    assert!(call(&mut svc, OK).await.is_ok());
    assert_eq!(layer.handle().state(), State::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn open_duration_grows_on_repeated_trips_and_resets_after_a_healthy_close() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(1))
            .open_backoff(2.0, secs(5)),
    );
    let _ = call(&mut svc, FAIL).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(layer.handle().metrics().remaining_open.unwrap());
        advance(*seen.last().unwrap()).await;
        let _ = call(&mut svc, FAIL).await; // the probe fails: open again, longer
    }
    assert_eq!(seen, vec![secs(1), secs(2), secs(4), secs(5)]);
    advance(secs(5)).await;
    call(&mut svc, OK).await.unwrap(); // healthy probe: closed
    assert_eq!(layer.handle().state(), State::Closed);
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().metrics().remaining_open, Some(secs(1)));
}

/// One failure opens it for 1 s, doubling per trip up to 60 s, forgetting one trip per
/// `decay` closed.
fn doubling_with_decay(decay: Duration) -> seawall::circuit_breaker::Builder {
    CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .half_open_calls(1)
        .open_duration(secs(1))
        .open_backoff(2.0, secs(60))
        .open_backoff_decay(decay)
}

/// With a decay, a healthy close keeps the trips: a dependency that fails again soon
/// opens for as long as before; each decay period it stays closed forgets one trip.
#[tokio::test(start_paused = true)]
async fn a_decaying_backoff_forgets_one_trip_per_decay_period_closed() {
    let (layer, mut svc) = breaker(doubling_with_decay(secs(10)));
    let open_for = |layer: &CircuitBreakerLayer| layer.handle().metrics().remaining_open.unwrap();
    let _ = call(&mut svc, FAIL).await; // 1 s
    advance(open_for(&layer)).await;
    let _ = call(&mut svc, FAIL).await; // the probe fails: 2 s
    assert_eq!(open_for(&layer), secs(2));
    advance(secs(2)).await;
    call(&mut svc, OK).await.unwrap(); // healthy: closed, two trips remembered
    assert_eq!(layer.handle().state(), State::Closed);
    advance(secs(5)).await; // less than one decay period
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(
        open_for(&layer),
        secs(4),
        "soon after: as long as the backoff says"
    );
    advance(secs(4)).await;
    call(&mut svc, OK).await.unwrap(); // closed with three trips
    advance(secs(25)).await; // two decay periods: one trip left
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(open_for(&layer), secs(2));
    advance(secs(2)).await;
    call(&mut svc, OK).await.unwrap(); // two trips
    advance(secs(600)).await; // every trip forgotten
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(open_for(&layer), secs(1));
    layer.handle().reset(); // an operator's reset forgets at once
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(open_for(&layer), secs(1));
}

/// Turning the decay off at run time after a healthy close forgets the trips, as a
/// close without decay does.
#[tokio::test(start_paused = true)]
async fn turning_the_decay_off_after_a_healthy_close_forgets_its_trips() {
    let (layer, mut svc) = breaker(doubling_with_decay(secs(3600)));
    let _ = call(&mut svc, FAIL).await;
    advance(secs(1)).await;
    let _ = call(&mut svc, FAIL).await; // 2 s
    advance(secs(2)).await;
    call(&mut svc, OK).await.unwrap(); // closed, two trips remembered
    let mut config = layer.handle().config();
    config.open_backoff_decay = None;
    layer.handle().reconfigure(&config).unwrap();
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().metrics().remaining_open, Some(secs(1)));
}

#[tokio::test(start_paused = true)]
async fn jittered_open_durations_stay_within_the_fraction_and_the_cap() {
    let mut durations = Vec::new();
    for seed in 0..200 {
        let (layer, mut svc) = breaker(
            CircuitBreakerLayer::builder()
                .confidence(None)
                .count_window(1)
                .open_duration(secs(10))
                .open_backoff(1.0, secs(11))
                .open_jitter(0.5)
                .seed(seed),
        );
        let _ = call(&mut svc, FAIL).await;
        durations.push(layer.handle().metrics().remaining_open.unwrap());
    }
    assert!(durations.iter().all(|d| *d >= secs(5) && *d <= secs(11)));
    assert!(
        durations.iter().any(|d| *d < secs(8)),
        "jitter spreads downwards"
    );
    assert!(
        durations.iter().any(|d| *d > secs(10)),
        "and upwards, below the cap"
    );
    assert!(
        durations.iter().filter(|d| **d == secs(11)).count() <= 1,
        "no pile-up at the cap"
    );
}

/// Without backoff the cap is the open duration itself: jitter then spreads below it,
/// evenly, instead of half the breakers opening for exactly the open duration.
#[tokio::test(start_paused = true)]
async fn jitter_at_the_cap_spreads_below_it() {
    let mut durations = Vec::new();
    for seed in 0..200 {
        let (layer, mut svc) = breaker(
            CircuitBreakerLayer::builder()
                .confidence(None)
                .count_window(1)
                .open_duration(secs(10))
                .open_jitter(0.2)
                .seed(seed),
        );
        let _ = call(&mut svc, FAIL).await;
        durations.push(layer.handle().metrics().remaining_open.unwrap());
    }
    assert!(durations.iter().all(|d| *d >= secs(8) && *d <= secs(10)));
    let at_cap = durations.iter().filter(|d| **d == secs(10)).count();
    assert!(at_cap <= 2, "{at_cap} of 200 at the cap");
    let lower_half = durations.iter().filter(|d| **d < secs(9)).count();
    assert!(
        (70..=130).contains(&lower_half),
        "{lower_half} of 200 below 9 s"
    );
}
