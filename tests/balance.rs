//! Per-endpoint health under `tower::balance::p2c`, in paused time: five replicas behind
//! one balancer, one of them failing, hanging, healing; several failing at once.
#![cfg(feature = "balance")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use seawall::Ratio;
use seawall::balance::Endpoints;
use tower::balance::p2c::Balance;
use tower::buffer::Buffer;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequests};
use tower::{BoxError, ServiceExt, service_fn};

const OK: u8 = 0;
const FAILING: u8 = 1;
const HANGING: u8 = 2;
/// Fails every third call.
const WORSE: u8 = 3;

#[derive(Default)]
struct Replica {
    mode: AtomicU8,
    hits: AtomicU64,
}

/// p2c's choices from a fixed seed.
struct Seeded(u64);

impl tower::util::rng::Rng for Seeded {
    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

type Client = tower::util::BoxCloneService<u32, u32, BoxError>;

/// Every attempt: the request, the replica that took it, whether it failed there.
type Attempts = Arc<std::sync::Mutex<Vec<(u32, usize, bool)>>>;

struct Fleet {
    replicas: Vec<Arc<Replica>>,
    endpoints: Endpoints,
    client: Client,
    attempts: Attempts,
}

/// Five replicas, each behind a 100 ms attempt timeout, balanced by p2c on pending
/// requests, with seawall's health per endpoint.
fn five(builder: seawall::balance::Builder) -> Fleet {
    let endpoints = builder.build().unwrap();
    let replicas: Vec<Arc<Replica>> = (0..5).map(|_| Arc::default()).collect();
    let attempts = Attempts::default();
    let services: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(i, replica)| {
            let replica = replica.clone();
            let attempts = attempts.clone();
            let backend = service_fn(move |n: u32| {
                let replica = replica.clone();
                let attempts = attempts.clone();
                async move {
                    let hit = replica.hits.fetch_add(1, Relaxed);
                    let mode = replica.mode.load(Relaxed);
                    let failed = mode == FAILING || (mode == WORSE && hit % 3 == 0);
                    attempts.lock().unwrap().push((n, i, failed));
                    match mode {
                        OK => Ok(n),
                        WORSE if hit % 3 != 0 => Ok(n),
                        FAILING | WORSE => Err::<u32, BoxError>("503".into()),
                        _ => std::future::pending().await,
                    }
                }
            });
            let timed = tower::timeout::Timeout::new(backend, Duration::from_millis(100));
            let boxed = tower::util::BoxService::new(timed);
            endpoints.endpoint(
                i,
                PendingRequests::new(boxed, CompleteOnResponse::default()),
            )
        })
        .collect();
    let balancer = Balance::from_rng(ServiceList::new(services), Seeded(7));
    Fleet {
        replicas,
        endpoints,
        client: tower::util::BoxCloneService::new(Buffer::new(balancer, 1024)),
        attempts,
    }
}

struct Run {
    ok: u64,
    calls: u64,
}

/// Calls at 200/s for `seconds`; a failed call is tried again (the balancer picks
/// again), up to 3 attempts.
async fn drive(fleet: &Fleet, seconds: u64) -> Run {
    let mut calls = Vec::new();
    for n in 0..seconds * 200 {
        let client = fleet.client.clone();
        calls.push(tokio::spawn(async move {
            for _ in 0..3 {
                if client.clone().oneshot(n as u32).await.is_ok() {
                    return true;
                }
            }
            false
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut ok = 0;
    for call in calls {
        ok += u64::from(call.await.unwrap());
    }
    Run {
        ok,
        calls: seconds * 200,
    }
}

fn hits(fleet: &Fleet) -> Vec<u64> {
    fleet
        .replicas
        .iter()
        .map(|r| r.hits.load(Relaxed))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_fails_fast_is_ejected_within_a_second_and_then_sees_almost_no_calls() {
    let fleet = five(Endpoints::builder());
    fleet.replicas[0].mode.store(FAILING, Relaxed);
    let detection = drive(&fleet, 1).await;
    assert_eq!(
        fleet.endpoints.ejected(),
        1,
        "ejected within the first second"
    );
    let before = hits(&fleet)[0];
    let run = drive(&fleet, 10).await;
    let after = hits(&fleet)[0] - before;
    assert!(
        after * 100 <= run.calls,
        "{after} of {} calls reached the failing replica after it was ejected",
        run.calls
    );
    let ok = detection.ok + run.ok;
    let calls = detection.calls + run.calls;
    assert!(ok * 1000 >= calls * 999, "{ok} of {calls} succeeded");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_replica_is_ejected_through_its_timeouts() {
    let fleet = five(Endpoints::builder());
    fleet.replicas[2].mode.store(HANGING, Relaxed);
    // p2c already sends it less (its calls pile up), so its timeouts in a row take
    // longer to gather than a fast failure's.
    drive(&fleet, 3).await;
    assert_eq!(fleet.endpoints.ejected(), 1, "ejected within three seconds");
    let before = hits(&fleet)[2];
    let run = drive(&fleet, 10).await;
    let after = hits(&fleet)[2] - before;
    assert!(
        after * 100 <= run.calls,
        "{after} calls reached the hanging replica"
    );
    assert!(
        run.ok * 100 >= run.calls * 99,
        "{} of {} succeeded",
        run.ok,
        run.calls
    );
}

#[tokio::test(start_paused = true)]
async fn a_healed_replica_gets_its_share_back_after_one_probe() {
    let fleet = five(Endpoints::builder());
    fleet.replicas[0].mode.store(FAILING, Relaxed);
    drive(&fleet, 2).await;
    assert_eq!(fleet.endpoints.ejected(), 1);
    fleet.replicas[0].mode.store(OK, Relaxed);
    // Its ejection (at most the breaker's longest open period so far) and a probe.
    drive(&fleet, 5).await;
    assert_eq!(fleet.endpoints.ejected(), 0, "re-admitted");
    let before = hits(&fleet);
    drive(&fleet, 5).await;
    let share: Vec<u64> = hits(&fleet)
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    assert!(
        share[0] >= 1000 / 5 / 2,
        "the healed replica's calls: {share:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_the_max_ejection_share_is_ejected_counting_the_candidate() {
    let fleet = five(Endpoints::builder().max_ejection(Ratio::percent(40.0)));
    for replica in &fleet.replicas[..3] {
        replica.mode.store(FAILING, Relaxed);
    }
    drive(&fleet, 3).await;
    assert_eq!(
        fleet.endpoints.ejected(),
        2,
        "2 of 5 is 40 %; a third would be 60 %"
    );
}

#[tokio::test(start_paused = true)]
async fn below_the_panic_share_every_replica_takes_calls_again() {
    let fleet = five(
        Endpoints::builder()
            .max_ejection(Ratio::percent(100.0))
            .panic_below(Ratio::percent(50.0)),
    );
    for replica in &fleet.replicas[..3] {
        replica.mode.store(FAILING, Relaxed);
    }
    drive(&fleet, 3).await;
    assert!(fleet.endpoints.ejected() >= 3);
    assert!(fleet.endpoints.panicking(), "2 of 5 healthy is below 50 %");
    let before = hits(&fleet);
    drive(&fleet, 2).await;
    let calls: Vec<u64> = hits(&fleet)
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    assert!(
        calls[..3].iter().all(|c| *c > 20),
        "in panic the ejected replicas take calls too: {calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_replica_worse_than_its_peers_is_ejected_as_a_success_rate_outlier() {
    // A third of its calls fail: under the breaker's 50 %, far under its peers' 100 %.
    let plain = five(Endpoints::builder().passed_over_after_failure(0));
    plain.replicas[0].mode.store(WORSE, Relaxed);
    drive(&plain, 5).await;
    assert_eq!(
        plain.endpoints.ejected(),
        0,
        "no absolute threshold catches it"
    );

    let opened = Arc::new(AtomicU64::new(0));
    let count = opened.clone();
    // (Without passing over a failed replica, to see the detector alone.)
    let fleet = five(
        Endpoints::builder()
            .passed_over_after_failure(0)
            .success_rate_outliers(1.5)
            .breaker(move |b| {
                b.on_state_change(move |change| {
                    if change.to == seawall::circuit_breaker::State::Open {
                        count.fetch_add(1, Relaxed);
                    }
                })
            }),
    );
    fleet.replicas[0].mode.store(WORSE, Relaxed);
    drive(&fleet, 5).await;
    assert!(opened.load(Relaxed) >= 1, "its peers show it up");
    let share: Vec<u64> = hits(&fleet);
    assert!(
        share[1..].iter().all(|peer| share[0] * 3 < peer * 2),
        "ejected at times, it takes fewer calls: {share:?}"
    );
}

/// Of the attempts that follow a failed one of the same request, how many went to the
/// replica that just failed; and the share of all attempts replica 0 took.
fn repeats_and_share(fleet: &Fleet) -> (usize, usize, f64) {
    let attempts = fleet.attempts.lock().unwrap();
    let mut last_failed: std::collections::HashMap<u32, usize> = Default::default();
    let (mut retries, mut repeats) = (0, 0);
    for &(n, replica, failed) in attempts.iter() {
        if let Some(previous) = last_failed.remove(&n) {
            retries += 1;
            repeats += usize::from(previous == replica);
        }
        if failed {
            last_failed.insert(n, replica);
        }
    }
    let zero = attempts.iter().filter(|a| a.1 == 0).count();
    (repeats, retries, zero as f64 / attempts.len() as f64)
}

/// A replica failing a third of its calls, under every threshold: passed over after
/// each failure, the retry of a call it failed goes to another replica, and its share
/// of the calls falls below a fifth.
#[tokio::test(start_paused = true)]
async fn a_retry_goes_to_another_replica_than_the_one_that_just_failed() {
    let off = five(Endpoints::builder().passed_over_after_failure(0));
    off.replicas[0].mode.store(WORSE, Relaxed);
    drive(&off, 5).await;
    let (off_repeats, off_retries, off_share) = repeats_and_share(&off);
    assert!(
        off_repeats * 20 > off_retries,
        "without it, p2c sends some retries back: {off_repeats} of {off_retries}"
    );

    let on = five(Endpoints::builder());
    on.replicas[0].mode.store(WORSE, Relaxed);
    drive(&on, 5).await;
    let (repeats, retries, share) = repeats_and_share(&on);
    assert_eq!(
        repeats, 0,
        "retries sent back to the replica that failed them"
    );
    assert!(retries > 0);
    assert!(
        share < off_share && share < 0.2,
        "its share of attempts: {share:.3} (without: {off_share:.3})"
    );
    eprintln!(
        "retries back to the failed replica: {off_repeats}/{off_retries} -> {repeats}/{retries}; \
         its share of attempts {off_share:.3} -> {share:.3}"
    );
}

#[test]
fn an_endpoints_ejection_time_doubles_to_30_s_and_decays_by_default() {
    let endpoints = Endpoints::builder().build().unwrap();
    let config = endpoints.endpoint("a", ()).breaker().config();
    assert_eq!(config.open_duration, Duration::from_secs(1));
    let backoff = config.open_backoff.unwrap();
    assert_eq!(
        (backoff.multiplier, backoff.max),
        (2.0, Duration::from_secs(30))
    );
    assert_eq!(config.open_backoff_decay, Some(Duration::from_secs(10)));
    assert_eq!(config.open_jitter, 0.1);
}

#[tokio::test]
async fn the_success_rate_detectors_settings_are_checked_by_name() {
    for (builder, field) in [
        (
            Endpoints::builder().success_rate_outliers(0.0),
            "success_rate_outliers",
        ),
        (
            Endpoints::builder().success_rate_volume(0, 5),
            "success_rate_volume.minimum_calls",
        ),
        (
            Endpoints::builder().success_rate_volume(10, 1),
            "success_rate_volume.minimum_endpoints",
        ),
    ] {
        let err = builder.build().unwrap_err().to_string();
        assert!(err.starts_with(&format!("endpoints.{field}:")), "{err}");
    }
}
