//! Fleet membership against a real `redis-server` (Debian's package): started by each
//! test, or the one `.ci/run` started. Skipped, saying why, where none is installed.
//!
//! Redis keeps real time, so these tests run in real time: each waits for a condition
//! with a generous bound, never for a fixed time.
#![cfg(feature = "redis")]

mod backoff;
mod breaker;
mod prober;
mod processes;
mod server;

use std::time::Duration;

use seawall::fleet::Fleet;
use server::Server;

const INTERVAL: Duration = Duration::from_millis(20);

fn fleet(server: &Server, namespace: &str) -> Fleet {
    Fleet::builder(server.url.clone())
        .namespace(namespace)
        .sync_interval(INTERVAL)
        .redis_timeout(INTERVAL)
        .start()
        .expect("valid settings")
}

/// Waits (polling, at most 10 s) until `condition` holds.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn unique(name: &str) -> String {
    format!("test-{name}-{}", rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_learn_of_each_other_and_one_dropped_cleanly_leaves_at_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("members");
    let fleets: Vec<Fleet> = (0..3).map(|_| fleet(&server, &ns)).collect();
    until("all three see three", || {
        fleets
            .iter()
            .all(|f| f.live_instances() == 3 && f.redis_up())
    })
    .await;
    let mut fleets = fleets;
    drop(fleets.pop());
    until("the other two see two", || {
        fleets.iter().all(|f| f.live_instances() == 2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleets_in_different_namespaces_do_not_see_each_other() {
    let Some(server) = Server::start() else {
        return;
    };
    let (a, b) = (fleet(&server, &unique("a")), fleet(&server, &unique("b")));
    until("both synced", || a.syncs() > 2 && b.syncs() > 2).await;
    assert_eq!((a.live_instances(), b.live_instances()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_dies_without_leaving_is_forgotten_after_three_intervals() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("crash");
    let survivor = fleet(&server, &ns);
    // The other instance runs on a runtime of its own, shut down without dropping its
    // `Fleet`: its sync task stops as a crashed process's would.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let crashed = {
        let _on_it = runtime.enter();
        fleet(&server, &ns)
    };
    until("two", || survivor.live_instances() == 2).await;
    runtime.shutdown_background();
    std::mem::forget(crashed);
    until("one, once the entry expired", || {
        survivor.live_instances() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_away_the_last_count_stays_and_the_fleet_resyncs_when_it_returns() {
    let Some(mut server) = Server::start_own() else {
        return;
    };
    let ns = unique("away");
    let (a, b) = (fleet(&server, &ns), fleet(&server, &ns));
    until("two", || a.live_instances() == 2 && b.live_instances() == 2).await;
    server.kill();
    until("redis seen away", || !a.redis_up() && !b.redis_up()).await;
    assert_eq!(
        (a.live_instances(), b.live_instances()),
        (2, 2),
        "the last known count"
    );
    let before = a.syncs();
    server.restart(); // empty: the instances register again
    until("synced again, both back", || {
        a.redis_up() && a.syncs() > before + 1 && a.live_instances() == 2
    })
    .await;
}

#[test]
fn settings_out_of_range_are_named() {
    let err = Fleet::builder("redis://127.0.0.1/")
        .namespace("")
        .start()
        .unwrap_err();
    assert!(err.to_string().starts_with("fleet.namespace"), "{err}");
    let err = Fleet::builder("http://x").start().unwrap_err();
    assert!(err.to_string().starts_with("fleet.url"), "{err}");
}

/// Runs `instances` instances of one fleet limiter (`rate` a second, `burst`), each
/// calling as fast as it can for `run` (after `synced_first` syncs of its own), and
/// returns how many calls the fleet admitted.
async fn fleet_admits(
    server: &Server,
    name: &str,
    instances: usize,
    (rate, burst): (u32, u32),
    synced_first: u32,
    run: Duration,
) -> u32 {
    use seawall::rate_limit::RateLimitLayer;
    use tower::{Layer, Service, ServiceExt, service_fn};
    let ns = unique(name);
    let mut tasks = Vec::new();
    for _ in 0..instances {
        let fleet = fleet(server, &ns);
        let layer = RateLimitLayer::builder(rate, Duration::from_secs(1))
            .name("api")
            .burst(burst)
            .fleet(&fleet)
            .build()
            .unwrap();
        let mut svc = layer.layer(service_fn(|()| async { Ok::<_, seawall::Error<()>>(()) }));
        tasks.push(tokio::spawn(async move {
            until("synced", || fleet.syncs() >= synced_first).await;
            let start = tokio::time::Instant::now();
            let mut admitted = 0_u32;
            while start.elapsed() < run {
                match svc.ready().await.unwrap().call(()).await {
                    Ok(()) => admitted += 1,
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
            admitted
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.unwrap();
    }
    admitted
}

/// Four instances share one limit of 200 calls a second: over two seconds of calls as
/// fast as each can make them, the fleet admits about 400 (plus the burst, and what
/// each instance admits on its own before its first sync), not 4 × 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_share_one_rate_limit() {
    let Some(server) = Server::start() else {
        return;
    };
    let (rate, burst) = (200_u32, 20_u32);
    let admitted = fleet_admits(&server, "rate", 4, (rate, burst), 0, Duration::from_secs(2)).await;
    let expected = rate * 2;
    // Before its first sync each instance may admit its own burst; the bucket starts full.
    let most = expected * 105 / 100 + 4 * burst + burst;
    assert!(
        admitted >= expected * 85 / 100 && admitted <= most,
        "admitted {admitted}, expected about {expected} (at most {most})"
    );
}

/// A burst smaller than one interval's permits does not cap the fleet at a burst per
/// sync: two instances with a limit of 1000/s and a burst of 1 admit about 1000 in 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_burst_does_not_cap_a_fleet_limit_below_its_rate() {
    let Some(server) = Server::start() else {
        return;
    };
    let admitted = fleet_admits(
        &server,
        "small-burst",
        2,
        (1_000, 1),
        2,
        Duration::from_secs(1),
    )
    .await;
    assert!(
        (800..=1_150).contains(&admitted),
        "admitted {admitted} in 1 s against 1000"
    );
}

/// With Redis away, each instance keeps limiting on its own, to its share of the fleet's
/// rate: no call waits on Redis or fails because of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_away_each_instance_limits_itself_to_its_share() {
    use seawall::rate_limit::RateLimitLayer;
    use tower::{Layer, Service, ServiceExt, service_fn};
    let Some(mut server) = Server::start_own() else {
        return;
    };
    let ns = unique("share");
    let fleets = [fleet(&server, &ns), fleet(&server, &ns)];
    let layers = fleets.clone().map(|fleet| {
        RateLimitLayer::builder(100, Duration::from_secs(1))
            .name("api")
            .fleet(&fleet)
            .build()
            .unwrap()
    });
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    server.kill();
    until("redis seen away", || fleets.iter().all(|f| !f.redis_up())).await;
    until("each limits itself to half", || {
        layers
            .iter()
            .all(|l| l.handle().rate() == (50, Duration::from_secs(1)))
    })
    .await;
    let mut svc = layers[0].layer(service_fn(|()| async { Ok::<_, seawall::Error<()>>(()) }));
    // Admitted by the local limiter, Redis untouched on the call's path.
    svc.ready().await.unwrap().call(()).await.unwrap();
}

/// Four instances whose dependency fails every call, with a budget of a reserve of 12
/// retries a second and no share of requests: as one fleet they retry about 12 times
/// at once, not 4 × 12. (Each instance's reserve holds one second of its share.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_share_one_retry_reserve() {
    use seawall::Ratio;
    use seawall::retry::RetryLayer;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::{Layer, Service, ServiceExt, service_fn};
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("retries");
    let attempts = Arc::new(AtomicU32::new(0));
    let fleets: Vec<Fleet> = (0..4).map(|_| fleet(&server, &ns)).collect();
    until("four", || fleets.iter().all(|f| f.live_instances() == 4)).await;
    let mut services: Vec<_> = fleets
        .iter()
        .map(|fleet| {
            let attempts = attempts.clone();
            RetryLayer::builder()
                .max_attempts(2)
                .constant(Duration::ZERO)
                .budget(Duration::from_secs(10), 12, Ratio::percent(0.0))
                .fleet(fleet)
                .build()
                .unwrap()
                .layer(service_fn(move |()| {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>(seawall::Error::Service("down")) }
                }))
        })
        .collect();
    // Each instance learns the fleet's size at its next sync.
    let synced: Vec<u32> = fleets.iter().map(Fleet::syncs).collect();
    until("a sync after all four joined", || {
        fleets.iter().zip(&synced).all(|(f, s)| f.syncs() > s + 1)
    })
    .await;
    for svc in &mut services {
        for _ in 0..20 {
            let _ = svc.ready().await.unwrap().call(()).await;
        }
    }
    let retries = attempts.load(Ordering::SeqCst) - 80;
    assert!(
        retries <= 12 + 4,
        "{retries} retries: the fleet's reserve is 12"
    );
    assert!(
        retries >= 4,
        "{retries} retries: each instance keeps its share"
    );
}

/// The fleet's state is told through metrics: live instances, Redis up, round trips.
#[cfg(feature = "metrics")]
#[test]
fn the_fleet_reports_its_state_as_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use seawall::telemetry::names;
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("metrics");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let fleet = fleet(&server, &ns);
            until("two syncs", || fleet.syncs() >= 2).await;
        });
    });
    let recorded: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().labels().any(|l| l.value() == ns))
        .map(|(key, _, _, value)| (key.key().name().to_owned(), value))
        .collect();
    let value = |name: &str| recorded.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    assert_eq!(
        value(names::FLEET_INSTANCES),
        Some(&DebugValue::Gauge(1.0.into()))
    );
    assert_eq!(
        value(names::FLEET_REDIS_UP),
        Some(&DebugValue::Gauge(1.0.into()))
    );
    assert!(
        matches!(value(names::FLEET_SYNCS), Some(DebugValue::Counter(n)) if *n >= 2),
        "{recorded:?}"
    );
}

/// A Redis that hangs (stopped with SIGSTOP, its connections open) costs no call
/// anything: each round trip gives up at its timeout, the limiter falls back to its
/// share, and the fleet resyncs once Redis runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_slows_no_call_and_the_fleet_resyncs_when_it_runs_again() {
    use seawall::rate_limit::RateLimitLayer;
    use tower::{Layer, Service, ServiceExt, service_fn};
    let Some(server) = Server::start_own() else {
        return;
    };
    let ns = unique("hang");
    let fleets = [fleet(&server, &ns), fleet(&server, &ns)];
    let layer = RateLimitLayer::builder(1_000, Duration::from_secs(1))
        .name("api")
        .fleet(&fleets[0])
        .build()
        .unwrap();
    let mut svc = layer.layer(service_fn(|()| async { Ok::<_, seawall::Error<()>>(()) }));
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    server.freeze(true);
    until("redis seen away", || fleets.iter().all(|f| !f.redis_up())).await;
    // Calls at the share's pace (500/s, one per 2 ms) all pass: the local limiter
    // decides, without its saved burst, and nothing waits on Redis.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        svc.ready().await.unwrap().call(()).await.unwrap();
    }
    assert_eq!(
        layer.handle().rate(),
        (500, Duration::from_secs(1)),
        "its share"
    );
    let before = fleets[0].syncs();
    server.freeze(false);
    until("synced again", || {
        fleets.iter().all(|f| f.redis_up()) && fleets[0].syncs() > before + 1
    })
    .await;
    svc.ready().await.unwrap().call(()).await.unwrap();
}

/// A fleet-wide layer keeps its fleet's sync running: dropping the `Fleet` handle after
/// building the layer does not starve the limiter of permits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_limiter_keeps_its_fleet_running_after_the_fleet_handle_is_dropped() {
    use seawall::rate_limit::RateLimitLayer;
    use tower::{Layer, Service, ServiceExt, service_fn};
    let Some(server) = Server::start() else {
        return;
    };
    let fleet = fleet(&server, &unique("kept"));
    let layer = RateLimitLayer::builder(1_000, Duration::from_secs(1))
        .name("api")
        .burst(10)
        .fleet(&fleet)
        .build()
        .unwrap();
    until("synced", || fleet.syncs() > 1).await;
    drop(fleet);
    let mut svc = layer.layer(service_fn(|()| async { Ok::<_, seawall::Error<()>>(()) }));
    let (mut admitted, start) = (0, tokio::time::Instant::now());
    while admitted < 100 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "starved: {admitted} admitted"
        );
        match svc.ready().await.unwrap().call(()).await {
            Ok(()) => admitted += 1,
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// One layer's part failing on the server (here its key holds the wrong type) fails
/// that part alone: membership goes on, and that limiter decides on local state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_part_of_the_round_trip_fails_only_its_layer() {
    use seawall::rate_limit::RateLimitLayer;
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("wrongtype");
    server.set(&format!("{ns}:seawall:rate:api"), "not a bucket");
    let fleets = [fleet(&server, &ns), fleet(&server, &ns)];
    let layer = RateLimitLayer::builder(100, Duration::from_secs(1))
        .name("api")
        .fleet(&fleets[0])
        .build()
        .unwrap();
    until("membership goes on", || {
        fleets
            .iter()
            .all(|f| f.live_instances() == 2 && f.redis_up())
    })
    .await;
    until("the limiter falls back to its share", || {
        layer.handle().rate() == (50, Duration::from_secs(1))
    })
    .await;
}
