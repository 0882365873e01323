//! The circuit breaker's behaviour, one rule per test, in paused tokio time.

mod common;

use std::time::Duration;

use common::*;
use seawall::circuit_breaker::{Builder, CircuitBreakerLayer, State};
use seawall::{AsRejected, Outcome, Reason, RejectedBy};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn breaker(
    builder: Builder,
) -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let layer = builder.build().expect("valid config");
    let svc = layer.layer(backend());
    (layer, svc)
}

async fn run_many<S>(svc: &mut S, req: Req, n: usize)
where
    S: Service<Req, Response = (), Error = Err>,
{
    for _ in 0..n {
        let _ = call(svc, req).await;
    }
}

// ---------------------------------------------------------------- closed: count window

#[tokio::test(start_paused = true)]
async fn count_window_opens_when_failure_rate_reaches_threshold() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(
        layer.handle().state(),
        State::Closed,
        "1 of 3 is below minimum calls of 4"
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open, "2 of 4 is 50 %");
}

#[tokio::test(start_paused = true)]
async fn minimum_calls_governs_without_a_full_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(100)
            .minimum_calls(4),
    );
    run_many(&mut svc, FAIL, 3).await;
    assert_eq!(layer.handle().state(), State::Closed);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn count_window_of_ten_opens_within_five_failures_after_a_thousand_successes() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(10)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 1000).await;
    for failures in 1..=5 {
        let _ = call(&mut svc, FAIL).await;
        if layer.handle().state() == State::Open {
            assert_eq!(failures, 5);
            return;
        }
    }
    panic!("still closed after 5 failures");
}

#[tokio::test(start_paused = true)]
async fn count_window_slides_old_failures_out() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .failure_rate_threshold(seawall::Ratio::percent(75.0)),
    );
    run_many(&mut svc, FAIL, 2).await;
    run_many(&mut svc, OK, 4).await; // the two failures leave the window
    run_many(&mut svc, FAIL, 2).await; // 2 of the last 4: 50 %
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().failures, 2);
}

#[tokio::test(start_paused = true)]
async fn ignored_calls_count_toward_no_rate() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .classifier(|r: &Result<(), Err>| match r {
            Ok(()) => Outcome::Success,
            Err(_) => Outcome::Ignored,
        })
        .build()
        .unwrap();
    let mut svc = layer.layer(backend());
    run_many(&mut svc, FAIL, 10).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn responses_can_be_classified_as_failures() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .classifier(|r: &Result<u16, Err>| match r {
            Ok(status) if *status >= 500 => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        })
        .build()
        .unwrap();
    let mut svc = layer.layer(tower::service_fn(|status: u16| async move {
        Ok::<_, Err>(status)
    }));
    svc.ready().await.unwrap().call(503).await.unwrap();
    svc.ready().await.unwrap().call(503).await.unwrap();
    assert_eq!(layer.handle().state(), State::Open);
}

// ---------------------------------------------------------------- closed: time window

#[tokio::test(start_paused = true)]
async fn time_window_opens_on_failures_within_the_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .time_window(secs(10), 10)
            .minimum_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    advance(secs(3)).await;
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_calls_older_than_the_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .time_window(secs(10), 10)
            .minimum_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, FAIL, 3).await;
    advance(secs(11)).await; // the failures expire
    run_many(&mut svc, OK, 3).await;
    run_many(&mut svc, FAIL, 1).await; // 1 of 4 in the window
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 4);
}

// ---------------------------------------------------------------- closed: consecutive

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_the_breaker() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .consecutive_failures(3),
    );
    run_many(&mut svc, FAIL, 2).await;
    run_many(&mut svc, OK, 1).await; // the run starts over
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Closed);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().state(), State::Open);
}

// ---------------------------------------------------------------- slow calls

#[tokio::test(start_paused = true)]
async fn slow_successful_calls_open_the_breaker_by_slow_call_rate() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 2).await;
    run_many(&mut svc, slow(150, false), 2).await;
    let m = layer.handle().metrics();
    assert_eq!(layer.handle().state(), State::Open, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn calls_faster_than_the_slow_duration_are_not_slow() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, slow(99, false), 4).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().slow_calls, 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_shorter_than_the_slow_duration_is_never_slow_whatever_its_start() {
    // 99.2 ms from 0.9 ms to 100.1 ms after the breaker was built: it crosses 100
    // millisecond ticks but took less than the 100 ms limit. (A permit, because a
    // sleeping service would wake on a whole millisecond.)
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .slow_call_duration(Duration::from_millis(100))
        .slow_call_rate_threshold(seawall::Ratio::percent(50.0))
        .build()
        .unwrap();
    advance(Duration::from_micros(900)).await;
    let permit = layer.handle().try_acquire().expect("closed");
    advance(Duration::from_micros(99_200)).await;
    permit.success();
    assert_eq!(layer.handle().metrics().slow_calls, 0);
    assert_eq!(layer.handle().state(), State::Closed);
}

// ---------------------------------------------------------------- open

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

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// A breaker opened (for 10 s) in a paused runtime of its own, returned with it.
fn opened_in_a_runtime() -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
    tokio::runtime::Runtime,
) {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(10)),
    );
    let runtime = paused_runtime();
    runtime
        .block_on(async { call(&mut svc, FAIL).await })
        .unwrap_err();
    assert_eq!(layer.handle().state(), State::Open);
    (layer, svc, runtime)
}

/// A breaker opened in one runtime and used in another after the first is gone: the
/// first runtime's shutdown ends the shortcut, so the open period still ends on time.
#[test]
fn a_breaker_opened_in_a_runtime_that_is_gone_still_half_opens() {
    let (layer, mut svc, first) = opened_in_a_runtime();
    drop(first);
    paused_runtime().block_on(async {
        advance(secs(3600)).await;
        call(&mut svc, OK)
            .await
            .expect("half-open: the open period is long over");
    });
    assert_eq!(layer.handle().state(), State::Closed);
}

/// A breaker opened in a runtime that is alive but not running (kept for `block_on` from
/// synchronous code): its timer cannot fire, and the breaker still half-opens within a
/// bounded number of calls.
#[test]
fn a_breaker_whose_timer_cannot_fire_still_half_opens() {
    let (layer, mut svc, idle) = opened_in_a_runtime();
    paused_runtime().block_on(async {
        advance(secs(3600)).await;
        let mut refused = 0;
        while call(&mut svc, OK).await.is_err() {
            refused += 1;
            assert!(refused < 64, "still refused after {refused} calls");
        }
    });
    assert_eq!(layer.handle().state(), State::Closed);
    drop(idle);
}

/// On a runtime built without a timer, a breaker with `open_timer(false)` opens without
/// touching tokio's timer (which would panic there), rejects, and half-opens later.
#[test]
fn without_the_open_timer_a_breaker_trips_on_a_runtime_without_timers() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .half_open_calls(1)
            .open_duration(secs(10))
            .open_timer(false),
    );
    let no_timers = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    no_timers.block_on(async {
        call(&mut svc, FAIL).await.unwrap_err();
        let err = call(&mut svc, OK).await.unwrap_err();
        let rejected = err.as_rejected().expect("a rejection");
        assert_eq!(rejected.reason(), Reason::CircuitOpen);
        // At most the open duration, plus the millisecond it is rounded up to.
        let longest = secs(10) + Duration::from_millis(1);
        assert!(rejected.retry_after().is_some_and(|left| left <= longest));
    });
    assert_eq!(layer.handle().state(), State::Open);
    paused_runtime().block_on(async {
        advance(secs(11)).await;
        call(&mut svc, OK)
            .await
            .expect("a probe once the period is over");
    });
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

// ---------------------------------------------------------------- half-open

async fn tripped(
    builder: Builder,
) -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let (layer, mut svc) = breaker(builder.count_window(1).open_duration(secs(10)));
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().state(), State::Open);
    advance(secs(10)).await;
    (layer, svc)
}

#[tokio::test(start_paused = true)]
async fn slow_probes_open_the_breaker_again() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .slow_call_duration(Duration::from_millis(100))
            .slow_call_rate_threshold(seawall::Ratio::percent(50.0))
            .failure_rate_threshold(seawall::Ratio::percent(100.0))
            .half_open_calls(2),
    )
    .await;
    call(&mut svc, slow(200, false))
        .await
        .expect("a slow success");
    assert_eq!(
        layer.handle().state(),
        State::Open,
        "1 of 2 probes slow is 50 %"
    );
}

#[tokio::test(start_paused = true)]
async fn an_ignored_probe_gives_its_slot_back() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .open_duration(secs(10))
        .half_open_calls(1)
        .classifier(|r: &Result<(), Err>| match r {
            Err(seawall::Error::Service(_)) => Outcome::Failure,
            Err(_) => Outcome::Ignored,
            Ok(()) => Outcome::Success,
        })
        .build()
        .unwrap();
    let mut plain = layer.layer(backend());
    let _ = call(&mut plain, FAIL).await;
    advance(secs(10)).await;
    // A probe whose result is ignored (here a rejection from a layer further in) frees
    // its slot without deciding anything.
    let mut refusing = layer.layer(tower::service_fn(|_: Req| async {
        Err::<(), Err>(seawall::Error::Rejected(seawall::Rejected::new(
            Reason::RateLimited,
            None,
        )))
    }));
    assert!(call(&mut refusing, OK).await.is_err());
    assert_eq!(layer.handle().state(), State::HalfOpen);
    call(&mut plain, OK)
        .await
        .expect("the freed slot admits a new probe");
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn consecutive_trips_are_counted_until_a_healthy_close() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    assert_eq!(layer.handle().metrics().consecutive_trips, 1);
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(
        layer.handle().metrics().consecutive_trips,
        2,
        "a failed probe"
    );
    advance(secs(10)).await;
    call(&mut svc, OK).await.expect("a good probe");
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().consecutive_trips, 0);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_successful_probes() {
    let builder = CircuitBreakerLayer::builder()
        .confidence(None)
        .half_open_calls(3)
        .failure_rate_threshold(seawall::Ratio::percent(30.0));
    let (layer, mut svc) = tripped(builder).await;
    run_many(&mut svc, OK, 2).await;
    assert_eq!(layer.handle().state(), State::HalfOpen);
    run_many(&mut svc, OK, 1).await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(
        layer.handle().metrics().calls,
        0,
        "closing starts an empty window"
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_decides_as_soon_as_the_outcome_is_certain() {
    let builder = CircuitBreakerLayer::builder()
        .confidence(None)
        .half_open_calls(3)
        .failure_rate_threshold(seawall::Ratio::percent(50.0));
    let (layer, mut svc) = tripped(builder).await;
    run_many(&mut svc, OK, 2).await; // even a failing third probe would be 33 % < 50 %
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_reopens_when_probes_reach_the_failure_threshold() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(4)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    )
    .await;
    run_many(&mut svc, FAIL, 1).await;
    run_many(&mut svc, OK, 1).await;
    assert_eq!(layer.handle().state(), State::HalfOpen);
    run_many(&mut svc, FAIL, 1).await; // 2 of 4 fail whatever the last one does
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_at_most_the_probe_limit_at_once() {
    let (layer, svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(3),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            call(&mut svc, slow(1000, false)).await
        }));
    }
    tokio::task::yield_now().await;
    let mut admitted = 0;
    let mut saturated = 0;
    for task in tasks {
        match rejected(&task.await.unwrap()) {
            None => admitted += 1,
            Some(r) => {
                assert_eq!(r.reason(), Reason::HalfOpenSaturated);
                saturated += 1;
            }
        }
    }
    assert_eq!((admitted, saturated), (3, 17));
    assert_eq!(layer.handle().state(), State::Closed);
}

#[test]
fn half_open_admits_at_most_the_probe_limit_under_parallel_callers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(Duration::from_millis(1))
            .half_open_calls(5)
            .build()
            .unwrap();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max_seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inner = {
            let (gate, in_flight, max_seen) = (gate.clone(), in_flight.clone(), max_seen.clone());
            tower::service_fn(move |fail: bool| {
                let (gate, in_flight, max_seen) =
                    (gate.clone(), in_flight.clone(), max_seen.clone());
                async move {
                    if fail {
                        return Err::<(), Err>(seawall::Error::Service(Boom));
                    }
                    let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    let _permit = gate.acquire().await.unwrap();
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
            })
        };
        let mut svc = layer.layer(inner);
        let _ = svc.ready().await.unwrap().call(true).await;
        // Real time runs here (paused time needs a single thread). Each caller calls until
        // the open period has ended (the breaker's timer fires about 1 ms from now), then
        // is admitted as a probe or refused as one too many.
        let decided = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let mut svc = svc.clone();
            let decided = decided.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let mut future = Box::pin(svc.ready().await.unwrap().call(false));
                    let first =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx)))
                            .await;
                    let result = match first {
                        std::task::Poll::Ready(Err(e))
                            if e.as_rejected().map(|r| r.reason()) == Some(Reason::CircuitOpen) =>
                        {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        std::task::Poll::Ready(result) => {
                            decided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            result
                        }
                        std::task::Poll::Pending => {
                            decided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            future.await
                        }
                    };
                    return result;
                }
            }));
        }
        // Every caller has been admitted or refused before any probe may finish.
        while decided.load(std::sync::atomic::Ordering::SeqCst) < 64
            || in_flight.load(std::sync::atomic::Ordering::SeqCst) < 5
        {
            tokio::task::yield_now().await;
        }
        gate.add_permits(64);
        let mut refused = 0;
        for task in tasks {
            refused += usize::from(task.await.unwrap().is_err());
        }
        assert_eq!(max_seen.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert_eq!(refused, 59);
    });
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    let hung = svc.ready().await.unwrap().call(slow(60_000, false));
    let result = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::HalfOpenSaturated)
    );
    drop(hung);
    call(&mut svc, OK)
        .await
        .expect("the freed slot admits a new probe");
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn hung_probes_reopen_the_breaker_after_the_maximum_wait() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1)
            .max_wait_in_half_open(secs(5)),
    )
    .await;
    let hung = tokio::spawn({
        let mut svc = svc.clone();
        async move { call(&mut svc, slow(3_600_000, false)).await }
    });
    tokio::task::yield_now().await;
    advance(secs(5)).await;
    let result = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::CircuitOpen)
    );
    assert_eq!(layer.handle().state(), State::Open);
    hung.abort();
}

/// Against a dependency that never answers and no attempt timeout, probes of earlier
/// half-open periods keep their slots: across a minute of periods, never more than
/// `half_open_calls` probes are out at once.
#[tokio::test(start_paused = true)]
async fn hung_probes_keep_their_slots_across_half_open_periods() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .half_open_calls(5)
        .open_duration(secs(1))
        .max_wait_in_half_open(secs(5))
        .build()
        .unwrap();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hangs = {
        let reached = reached.clone();
        tower::service_fn(move |req: Req| {
            let first = reached.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if first && req.fail {
                    return Err(seawall::Error::Service(Boom));
                }
                std::future::pending::<Result<(), Err>>().await
            }
        })
    };
    let svc = layer.layer(hangs);
    call(&mut svc.clone(), FAIL).await.unwrap_err();
    let mut callers = Vec::new();
    for _ in 0..600 {
        let mut svc = svc.clone();
        callers.push(tokio::spawn(async move { call(&mut svc, OK).await }));
        advance(Duration::from_millis(100)).await;
    }
    let reached_now = reached.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        reached_now,
        1 + 5,
        "the failure that tripped it and 5 probes"
    );
    // Dropping the hung probes frees their slots for the next period.
    for caller in callers {
        caller.abort();
    }
    tokio::task::yield_now().await;
    advance(secs(60)).await;
    let mut svc = svc.clone();
    let probe = tokio::spawn(async move { call(&mut svc, OK).await });
    tokio::task::yield_now().await;
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 1 + 5 + 1);
    probe.abort();
}

#[tokio::test(start_paused = true)]
async fn results_of_calls_admitted_before_a_state_change_are_ignored() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(2),
    );
    let straggler = svc.ready().await.unwrap().call(slow(1000, true));
    layer.handle().reset();
    run_many(&mut svc, FAIL, 1).await;
    let _ = straggler.await;
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 1);
}

// ---------------------------------------------------------------- manual control

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_everything_without_a_hint() {
    let (layer, mut svc) = breaker(CircuitBreakerLayer::builder().confidence(None));
    layer.handle().force_open();
    let result = call(&mut svc, OK).await;
    let rejection = rejected(&result).unwrap();
    assert_eq!(rejection.reason(), Reason::CircuitForcedOpen);
    assert_eq!(rejection.retry_after(), None);
    advance(secs(3600)).await;
    assert!(rejected(&call(&mut svc, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn disabled_breaker_lets_everything_through_and_counts_nothing() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1),
    );
    layer.handle().disable();
    run_many(&mut svc, FAIL, 10).await;
    assert_eq!(layer.handle().state(), State::Disabled);
    assert_eq!(layer.handle().metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn metrics_only_counts_but_never_opens() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    );
    layer.handle().metrics_only();
    run_many(&mut svc, FAIL, 10).await;
    let m = layer.handle().metrics();
    assert_eq!(m.state, State::MetricsOnly);
    assert_eq!((m.calls, m.failures, m.failure_rate), (4, 4, 100.0));
}

#[tokio::test(start_paused = true)]
async fn reset_closes_with_an_empty_window() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(2),
    );
    run_many(&mut svc, FAIL, 2).await;
    assert_eq!(layer.handle().state(), State::Open);
    layer.handle().reset();
    assert_eq!(layer.handle().state(), State::Closed);
    assert_eq!(layer.handle().metrics().calls, 0);
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(
        layer.handle().state(),
        State::Closed,
        "one failure is below the minimum"
    );
}

// ---------------------------------------------------------------- shared state

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

// ---------------------------------------------------------------- events

#[tokio::test(start_paused = true)]
async fn transitions_emit_one_event_each_and_calls_emit_none() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (_, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("payments")
            .count_window(4)
            .open_duration(secs(1))
            .half_open_calls(1),
    );
    run_many(&mut svc, OK, 100).await;
    assert!(recorder.take().is_empty(), "no per-call events");
    run_many(&mut svc, FAIL, 2).await;
    advance(secs(1)).await;
    run_many(&mut svc, OK, 1).await;
    let events = recorder.take();
    let path: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.field("from").unwrap().to_owned(),
                e.field("to").unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(path, expected);
    let opened = &events[0];
    assert_eq!(opened.target, "seawall::circuit_breaker");
    assert_eq!(opened.field("breaker"), Some("payments"));
    assert_eq!(opened.field("failure_rate"), Some("50.0"));
    assert_eq!(opened.field("calls"), Some("4"));
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_emit_no_events() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1),
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(recorder.take().len(), 1, "closed -> open");
    run_many(&mut svc, OK, 100).await;
    assert_eq!(layer.handle().state(), State::Open);
    assert!(recorder.take().is_empty(), "no per-rejection events");
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

// ---------------------------------------------------------------- outside tower

#[tokio::test(start_paused = true)]
async fn permits_judge_and_reject_like_calls() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(2)
        .open_duration(secs(10))
        .build()
        .unwrap();
    let handle = layer.handle();
    handle.try_acquire().unwrap().success();
    handle.try_acquire().unwrap().failure();
    assert_eq!(handle.state(), State::Open, "1 of 2 failed");
    let refused = handle.try_acquire().expect_err("open");
    assert_eq!(refused.reason(), Reason::CircuitOpen);
    assert_eq!(refused.retry_after(), Some(secs(10)));
    // Services of the same layer see the same breaker.
    let mut svc = layer.layer(backend());
    assert!(rejected(&call(&mut svc, OK).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_permit_gives_its_slot_back() {
    let (layer, _svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    let handle = layer.handle();
    let probe = handle.try_acquire().expect("the one probe");
    assert_eq!(
        handle.try_acquire().map(drop).unwrap_err().reason(),
        Reason::HalfOpenSaturated
    );
    drop(probe);
    handle
        .try_acquire()
        .expect("the slot is free again")
        .success();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_permit_is_timed_from_acquire_to_report() {
    let (layer, _svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .slow_call_duration(secs(1))
            .slow_call_rate_threshold(seawall::Ratio::percent(100.0)),
    );
    let handle = layer.handle();
    let permit = handle.try_acquire().unwrap();
    advance(secs(2)).await;
    permit.success();
    assert_eq!(handle.state(), State::Open, "a slow success");
}

// ---------------------------------------------------------------- configuration

#[test]
fn invalid_settings_are_reported_by_field_and_range() {
    let b = CircuitBreakerLayer::builder;
    let cases: Vec<(Builder, &str)> = vec![
        (
            b().failure_rate_threshold(seawall::Ratio::percent(0.0)),
            "circuit_breaker.failure_rate_threshold: 0 is outside (0, 100]",
        ),
        (
            b().failure_rate_threshold(seawall::Ratio::percent(100.5)),
            "circuit_breaker.failure_rate_threshold: 100.5 is outside (0, 100]",
        ),
        (
            b().failure_rate_threshold(seawall::Ratio::percent(f64::NAN)),
            "circuit_breaker.failure_rate_threshold: NaN is outside (0, 100]",
        ),
        (
            b().slow_call_rate_threshold(seawall::Ratio::percent(-1.0)),
            "circuit_breaker.slow_call_rate_threshold: -1 is outside (0, 100]",
        ),
        (
            b().count_window(0),
            "circuit_breaker.window.count: 0 is outside 1..=100000",
        ),
        (
            b().count_window(10).minimum_calls(11),
            "circuit_breaker.minimum_calls: 11 is outside 1..=10 (the count window's size)",
        ),
        (
            b().minimum_calls(0),
            "circuit_breaker.minimum_calls: 0 is outside 1..=100 (the count window's size)",
        ),
        (
            b().time_window(secs(10), 0),
            "circuit_breaker.window.time.buckets: 0 is outside 1..=1000",
        ),
        (
            b().time_window(Duration::ZERO, 10),
            "circuit_breaker.window.time.window: 0ns is outside [1ms × buckets, 7 days]",
        ),
        (
            b().consecutive_failures(0),
            "circuit_breaker.window.consecutive_failures: 0 is outside 1..=1000000",
        ),
        (
            b().half_open_calls(0),
            "circuit_breaker.half_open_calls: 0 is outside 1..=1000",
        ),
        (
            b().open_duration(Duration::ZERO),
            "circuit_breaker.open_duration: 0ns is outside (0s, 7 days]",
        ),
        (
            b().max_wait_in_half_open(Duration::ZERO),
            "circuit_breaker.max_wait_in_half_open: 0ns is outside (0s, 7 days]",
        ),
        (
            b().slow_call_duration(Duration::ZERO),
            "circuit_breaker.slow_call_duration: 0ns is outside (0s, 7 days]",
        ),
        (
            b().open_backoff(0.5, secs(100)),
            "circuit_breaker.open_backoff.multiplier: 0.5 is outside [1, 100]",
        ),
        (
            b().open_duration(secs(5)).open_backoff(2.0, secs(1)),
            "circuit_breaker.open_backoff.max: 1s is outside [open_duration, 7 days]",
        ),
        (
            b().confidence(Some(seawall::Ratio::percent(50.0))),
            "circuit_breaker.confidence: 50% is outside (50%, 100%)",
        ),
        (
            b().confidence(Some(seawall::Ratio::fraction(1.0))),
            "circuit_breaker.confidence: 100% is outside (50%, 100%)",
        ),
        (
            b().open_jitter(1.0),
            "circuit_breaker.open_jitter: 1 is outside [0, 1)",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), message);
    }
}

// ---------------------------------------------------------------- hot reload

#[tokio::test(start_paused = true)]
async fn reconfigure_changes_thresholds_while_keeping_the_counted_calls() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(10)
            .failure_rate_threshold(seawall::Ratio::percent(50.0)),
    );
    run_many(&mut svc, OK, 7).await;
    run_many(&mut svc, FAIL, 3).await; // 30 %: below 50 %
    assert_eq!(layer.handle().state(), State::Closed);
    let mut config = layer.handle().config();
    config.failure_rate_threshold = seawall::Ratio::percent(30.0);
    layer.handle().reconfigure(&config).unwrap();
    assert_eq!(layer.handle().metrics().failures, 3, "the window is kept");
    run_many(&mut svc, FAIL, 1).await; // 40 % >= 30 %
    assert_eq!(layer.handle().state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_reconfiguration_is_refused_with_an_error_event_and_the_old_settings_stay() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (layer, _svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("db")
            .half_open_calls(4),
    );
    let before = layer.handle().config();
    let mut bad = before.clone();
    bad.half_open_calls = 0;
    let err = layer.handle().reconfigure(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.half_open_calls: 0 is outside 1..=1000"
    );
    assert_eq!(layer.handle().config(), before);
    let events = recorder.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field("breaker"), Some("db"));
    assert_eq!(events[0].field("error"), Some(err.to_string().as_str()));
}

#[test]
fn the_window_cannot_change_at_run_time() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(10)
        .build()
        .unwrap();
    let mut config = layer.handle().config();
    config.window = seawall::circuit_breaker::WindowConfig::Count(20);
    let err = layer.handle().reconfigure(&config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.window: Count(20) is outside Count(10) (fixed once built)"
    );
}

#[test]
fn reconfiguring_under_parallel_load_never_loses_a_call_or_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(50)
            .build()
            .unwrap();
        let svc = layer.layer(backend());
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let mut svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..5_000 {
                    call(&mut svc, OK).await.unwrap();
                }
            }));
        }
        let handle = layer.handle();
        for i in 0..2_000u32 {
            let mut config = handle.config();
            config.failure_rate_threshold = seawall::Ratio::percent(f64::from(1 + i % 100));
            config.slow_call_duration = (i % 2 == 0).then(|| Duration::from_secs(1));
            handle.reconfigure(&config).unwrap();
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(handle.state(), State::Closed);
        assert_eq!(handle.metrics().calls, 50);
    });
}

#[tokio::test(start_paused = true)]
async fn manual_control_reports_only_changes_of_state() {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .on_state_change(move |c| log.lock().unwrap().push((c.from, c.to)))
        .build()
        .unwrap();
    let handle = layer.handle();
    handle.reset();
    handle.force_open();
    handle.force_open();
    handle.disable();
    handle.disable();
    handle.metrics_only();
    handle.metrics_only();
    handle.reset();
    handle.reset();
    assert_eq!(
        *heard.lock().unwrap(),
        vec![
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Disabled),
            (State::Disabled, State::MetricsOnly),
            (State::MetricsOnly, State::Closed),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn reset_on_a_closed_breaker_empties_its_window_without_a_transition() {
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(4),
    );
    run_many(&mut svc, FAIL, 1).await;
    assert_eq!(layer.handle().metrics().failures, 1);
    layer.handle().reset();
    assert_eq!(layer.handle().metrics().calls, 0);
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_listener_hears_every_transition_with_its_evidence() {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let (layer, mut svc) = breaker(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .name("search")
            .count_window(2)
            .open_duration(secs(1))
            .half_open_calls(1)
            .on_state_change(move |c| {
                log.lock().unwrap().push((
                    c.breaker.to_owned(),
                    c.from,
                    c.to,
                    c.failure_rate,
                    c.calls,
                ))
            }),
    );
    run_many(&mut svc, FAIL, 2).await;
    advance(secs(1)).await;
    run_many(&mut svc, OK, 1).await;
    layer.handle().force_open();
    let heard = heard.lock().unwrap().clone();
    let s = |from, to, rate, calls| ("search".to_owned(), from, to, rate, calls);
    assert_eq!(
        heard,
        vec![
            s(State::Closed, State::Open, 100.0, 2),
            s(State::Open, State::HalfOpen, 0.0, 0),
            s(State::HalfOpen, State::Closed, 0.0, 1),
            s(State::Closed, State::ForcedOpen, 0.0, 0),
        ]
    );
}
