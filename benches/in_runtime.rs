//! Per-call cost as users pay it: inside a tokio runtime, through `ready().await` and
//! `call().await`, one service used call after call, beside tower's own layers and the
//! peer crates in the same run. (The other benches poll each future in place with a
//! no-op waker; this one includes the runtime's polling, the moves of the futures and the
//! `async` machinery.)
//!
//! Every row is `case/contender`, in a current-thread runtime and in a two-worker one.
//! The fleet-wide rows (`*/seawall_fleet*`, feature `redis`) sync with the Redis at
//! `SEAWALL_REDIS_URL`, or with a `redis-server` this bench starts on a free loopback
//! port and stops at its end (without one, the leased limiter's row is skipped).
//! Peers without a tower layer (recloser, failsafe, governor) are wrapped in a small
//! `tower::Service` (`in_runtime/peers.rs`) so that every contender is driven alike.
//!
//! ```sh
//! cargo bench -p seawall-benches --bench in_runtime
//! cargo bench -p seawall-benches --bench in_runtime -- 'current_thread/breaker_'
//! cargo bench -p seawall-benches --bench in_runtime -- 'balance/'
//! ```

mod common;
#[path = "in_runtime/fleet.rs"]
mod fleet;
#[path = "in_runtime/peers.rs"]
mod peers;
/// The fleet example's: finds or starts a Redis, and stops the one it started.
#[path = "../examples/fleet/redis.rs"]
mod redis_server;

use std::cell::OnceCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BudgetPolicy, Ready, short_runs};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use fleet::{Fleets, LeaseStats, leased_calls};
use peers::{
    Failing, FailsafeService, Governed, HttpOk, NeverRetry, ReadsClock, RecloserLayer,
    RecloserService, http_request,
};
use recloser::AsyncRecloser;
use seawall::AsRejected;
use seawall::bulkhead::{BulkheadLayer, Mode};
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::pipeline::StandardPipeline;
use seawall::rate_limit::RateLimitLayer;
use seawall::retry::RetryLayer;
use seawall::timeout::AttemptTimeoutLayer;
use tokio::runtime::{Builder, Runtime};
use tower::balance::p2c::Balance;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequests};
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
/// The closed breakers judge the last 100 calls (failsafe: 100 failures in a row).
const WINDOW: u32 = 100;
/// A rate no benchmark loop can reach: every call takes the allowed path.
const HUGE_RATE: u32 = 1_000_000_000;
/// The replicas behind each balancer.
const REPLICAS: usize = 5;

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn two_workers() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `iters` calls through one service made by `make`, on `rt`, with the requests
/// `request` makes, and times them. `make` runs inside the runtime, in the measuring task.
fn requests<S, R, F, Q>(rt: &Runtime, iters: u64, make: F, request: Q) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    Q: Fn(u64) -> R + Send + 'static,
    R: Send,
    S: Service<R> + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut svc = make();
            let start = Instant::now();
            for i in 0..iters {
                let req = request(black_box(i));
                let out = svc.ready().await.unwrap().call(req).await.unwrap();
                black_box(out);
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

/// [`requests`] with the request `u64`s themselves.
fn calls<S, F>(rt: &Runtime, iters: u64, make: F) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    S: Service<u64, Response = u64> + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    requests(rt, iters, make, |i| i)
}

/// Trips the service's breaker (calls until `rejected` says an error is the breaker's
/// refusal), then times `iters` rejected calls.
fn rejections<S, F>(rt: &Runtime, iters: u64, make: F, rejected: fn(&S::Error) -> bool) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    S: Service<u64, Response = u64> + Send + 'static,
    S::Error: std::fmt::Debug + Send,
    S::Future: Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut svc = make();
            let mut tripped = false;
            for i in 0..1000 {
                let out = svc.ready().await.unwrap().call(i).await;
                if out.as_ref().is_err_and(rejected) {
                    tripped = true;
                    break;
                }
            }
            assert!(tripped, "the breaker did not open");
            let start = Instant::now();
            for i in 0..iters {
                let out = svc.ready().await.unwrap().call(black_box(i)).await;
                black_box(out.unwrap_err());
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

/// Runs `iters` calls of the closure `make` returns, in a task on `rt`: the APIs used
/// outside tower.
fn loops<F, C>(rt: &Runtime, iters: u64, make: F) -> Duration
where
    F: FnOnce() -> C + Send + 'static,
    C: FnMut(u64) -> u64,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut call = make();
            let start = Instant::now();
            for i in 0..iters {
                black_box(call(black_box(i)));
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

/// Boxes the inner error so that seawall's layers can return their rejections.
fn boxed()
-> impl Service<u64, Response = u64, Error = BoxError, Future: Send> + Clone + Send + 'static {
    Ready
}

/// A breaker that opens on the first failure and stays open for an hour.
fn seawall_tripping() -> seawall::circuit_breaker::Builder {
    CircuitBreakerLayer::builder()
        .count_window(1)
        .minimum_calls(1)
        .confidence(None)
        .open_duration(HOUR)
}

/// With `BoxError` as the error type, a rejection is boxed.
fn is_seawall_rejection(e: &BoxError) -> bool {
    e.as_rejected().is_some()
}

/// With `seawall::Error` as the error type, a rejection is carried unboxed.
fn is_seawall_typed_rejection(e: &seawall::Error<BoxError>) -> bool {
    e.as_rejected().is_some()
}

/// seatbelt's breaker's refusal.
#[derive(Debug)]
struct SeatbeltOpen;

impl std::fmt::Display for SeatbeltOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("circuit open")
    }
}

impl std::error::Error for SeatbeltOpen {}

type SeatbeltLayer = seatbelt::breaker::BreakerLayer<
    u64,
    Result<u64, BoxError>,
    seatbelt::typestates::Set,
    seatbelt::typestates::Set,
>;

/// seatbelt's breaker layer (its defaults: 10 % failures over 30 s, at least 100 calls),
/// on a clock driven by the current runtime, so made inside it. `tripping` opens it on
/// the first failure.
fn seatbelt_layer(tripping: bool) -> SeatbeltLayer {
    use seatbelt::breaker::Breaker;
    use seatbelt::{RecoveryInfo, ResilienceContext};
    let context = ResilienceContext::<u64, Result<u64, BoxError>>::new(tick::Clock::new_tokio());
    let layer = Breaker::layer("in_runtime", &context)
        .recovery_with(|out: &Result<u64, BoxError>, _| match out {
            Ok(_) => RecoveryInfo::never(),
            Err(_) => RecoveryInfo::retry(),
        })
        .rejected_input_error(|_, _| BoxError::from(SeatbeltOpen))
        .break_duration(HOUR);
    if tripping {
        layer.min_throughput(1).failure_threshold(0.01)
    } else {
        layer
    }
}

type TowerResilienceBreaker = tower_resilience::circuitbreaker::CircuitBreakerLayer;

fn tower_resilience_breaker(tripping: bool) -> TowerResilienceBreaker {
    let window = if tripping { 1 } else { WINDOW as usize };
    TowerResilienceBreaker::builder()
        .sliding_window_size(window)
        .minimum_number_of_calls(window)
        .wait_duration_in_open(HOUR)
        .build()
        .unwrap()
}

fn breakers(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, fleets: &Fleets<'_>) {
    g.bench_function("breaker_closed/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = CircuitBreakerLayer::builder().build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    // The same breaker in a fleet: a closed breaker counts each call for the next sync.
    g.bench_function("breaker_closed/seawall_fleet", |b| {
        let fleet = fleets.fleet();
        b.iter_custom(|n| {
            let fleet = fleet.clone();
            calls(rt, n, move || {
                let layer = CircuitBreakerLayer::builder()
                    .build()
                    .unwrap()
                    .fleet(&fleet);
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("breaker_closed/seawall_typed_error", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = CircuitBreakerLayer::builder().build().unwrap();
                ServiceBuilder::new()
                    .layer(layer)
                    .map_err(seawall::Error::Service)
                    .service(Ready)
            })
        })
    });
    g.bench_function("breaker_closed/seawall_static", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                // Never freed: no reference count per call (one leaked breaker per sample).
                let layer = CircuitBreakerLayer::builder().build_static().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("breaker_closed/recloser", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let breaker = AsyncRecloser::from(peers::recloser(WINDOW as usize, HOUR));
                RecloserLayer(breaker).layer(boxed())
            })
        })
    });
    g.bench_function("breaker_closed/failsafe", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                FailsafeService::new(peers::failsafe(WINDOW, HOUR), boxed())
            })
        })
    });
    g.bench_function("breaker_closed/tower_resilience", |b| {
        b.iter_custom(|n| calls(rt, n, || tower_resilience_breaker(false).layer(boxed())))
    });
    g.bench_function("breaker_closed/seatbelt", |b| {
        b.iter_custom(|n| calls(rt, n, || seatbelt_layer(false).layer(Ready)))
    });

    g.bench_function("breaker_open/seawall", |b| {
        b.iter_custom(|n| {
            let make = || {
                let layer = seawall_tripping().build().unwrap();
                ServiceBuilder::new().layer(layer).service(Failing)
            };
            rejections(rt, n, make, is_seawall_rejection)
        })
    });
    g.bench_function("breaker_open/seawall_forced", |b| {
        b.iter_custom(|n| {
            let make = || {
                let layer = CircuitBreakerLayer::builder().build().unwrap();
                layer.handle().force_open();
                assert_eq!(layer.handle().state(), State::ForcedOpen);
                ServiceBuilder::new().layer(layer).service(Failing)
            };
            rejections(rt, n, make, is_seawall_rejection)
        })
    });
    g.bench_function("breaker_open/seawall_typed_error", |b| {
        b.iter_custom(|n| {
            let make = || {
                let layer = seawall_tripping().build().unwrap();
                ServiceBuilder::new()
                    .layer(layer)
                    .map_err(seawall::Error::Service)
                    .service(Failing)
            };
            rejections(rt, n, make, is_seawall_typed_rejection)
        })
    });
    g.bench_function("breaker_open/recloser", |b| {
        b.iter_custom(|n| {
            let make = || {
                let breaker = AsyncRecloser::from(peers::recloser(1, HOUR));
                RecloserLayer(breaker).layer(Failing)
            };
            rejections(rt, n, make, |e| matches!(e, recloser::Error::Rejected))
        })
    });
    g.bench_function("breaker_open/failsafe", |b| {
        b.iter_custom(|n| {
            let make = || FailsafeService::new(peers::failsafe(1, HOUR), Failing);
            rejections(rt, n, make, |e| matches!(e, failsafe::Error::Rejected))
        })
    });
    g.bench_function("breaker_open/tower_resilience", |b| {
        b.iter_custom(|n| {
            let make = || tower_resilience_breaker(true).layer(Failing);
            rejections(rt, n, make, |e| e.is_circuit_open())
        })
    });
    g.bench_function("breaker_open/seatbelt", |b| {
        b.iter_custom(|n| {
            let make = || seatbelt_layer(true).layer(Failing);
            rejections(rt, n, make, |e| e.is::<SeatbeltOpen>())
        })
    });
}

fn timeouts(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("attempt_timeout/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = AttemptTimeoutLayer::new(SECOND).unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("attempt_timeout/tower", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new().timeout(SECOND).service(boxed())
            })
        })
    });
}

fn retries(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("retry_budget_on/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = RetryLayer::builder().build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("retry_budget_on/tower_tps_budget", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new()
                    .retry(BudgetPolicy::new())
                    .service(boxed())
            })
        })
    });
    g.bench_function("retry_budget_off/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = RetryLayer::builder().no_budget().build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("retry_budget_off/tower_never_retries", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new().retry(NeverRetry).service(boxed())
            })
        })
    });
}

fn admission(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, fleets: &Fleets<'_>) {
    g.bench_function("bulkhead/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = BulkheadLayer::builder().max_concurrent(64).build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("bulkhead/seawall_backpressure", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = BulkheadLayer::builder()
                    .max_concurrent(64)
                    .mode(Mode::Backpressure)
                    .build()
                    .unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("bulkhead/seawall_static", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                // Never freed: no reference count per permit (one leaked bulkhead per sample).
                let layer = BulkheadLayer::builder()
                    .max_concurrent(64)
                    .build_static()
                    .unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("bulkhead/tower_concurrency_limit", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new().concurrency_limit(64).service(boxed())
            })
        })
    });
    g.bench_function("bulkhead/tower_resilience", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                tower_resilience::bulkhead::BulkheadLayer::builder()
                    .max_concurrent_calls(64)
                    .reject_when_full()
                    .build()
                    .unwrap()
                    .layer(boxed())
            })
        })
    });
    g.bench_function("bulkhead/tower_resilience_backpressure", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                tower_resilience::bulkhead::BulkheadLayer::builder()
                    .max_concurrent_calls(64)
                    .backpressure()
                    .build()
                    .unwrap()
                    .layer(boxed())
            })
        })
    });

    g.bench_function("rate_limit_allowed/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = RateLimitLayer::builder(HUGE_RATE, SECOND).build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    g.bench_function("rate_limit_allowed/seawall_fast_clock", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = RateLimitLayer::builder(HUGE_RATE, SECOND)
                    .fast_clock(true)
                    .build()
                    .unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
    leased_limiter(g, rt, fleets);
    g.bench_function("rate_limit_allowed/governor", |b| {
        b.iter_custom(|n| calls(rt, n, || Governed::new(HUGE_RATE, boxed())))
    });
    g.bench_function("rate_limit_allowed/clock_std_instant", |b| {
        b.iter_custom(|n| calls(rt, n, || ReadsClock::new(Instant::now, boxed())))
    });
    g.bench_function("rate_limit_allowed/clock_tokio_instant", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ReadsClock::new(tokio::time::Instant::now, boxed())
            })
        })
    });
}

/// The fleet's limiter, its calls spending the lease its instance holds: one limiter
/// for the whole row, so that its lease is in use from the first sample (a limiter
/// joining the fleet uses its local limiter until its first sync).
fn leased_limiter(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, fleets: &Fleets<'_>) {
    const ROW: &str = "rate_limit_allowed/seawall_fleet_leased";
    if !fleets.has_redis() {
        return;
    }
    let leased = OnceCell::new();
    let stats = Arc::new(LeaseStats::default());
    g.bench_function(ROW, |b| {
        let layer = leased.get_or_init(|| {
            let layer = RateLimitLayer::builder(HUGE_RATE, SECOND)
                .name("bench")
                .fleet(fleets.fleet())
                .build()
                .unwrap();
            fleets.sync(2);
            layer
        });
        b.iter_custom(|n| {
            let layer = layer.clone();
            let make = move || ServiceBuilder::new().layer(layer).service(boxed());
            leased_calls(rt, n, fleets.fleet().clone(), stats.clone(), make)
        })
    });
    if leased.get().is_some() {
        stats.report(ROW);
    }
}

/// A breaker's own API, outside tower: ask, do the work, report.
fn permits(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("permit_api/seawall_try_acquire", |b| {
        b.iter_custom(|n| {
            loops(rt, n, || {
                let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
                move |i| match handle.try_acquire() {
                    Ok(permit) => {
                        let answer = black_box(i);
                        permit.success();
                        answer
                    }
                    Err(_) => 0,
                }
            })
        })
    });
    g.bench_function("permit_api/recloser_call", |b| {
        b.iter_custom(|n| {
            loops(rt, n, || {
                let breaker = peers::recloser(WINDOW as usize, HOUR);
                move |i| {
                    breaker
                        .call(|| Ok::<_, peers::Fail>(black_box(i)))
                        .unwrap_or(0)
                }
            })
        })
    });
    g.bench_function("permit_api/failsafe_call", |b| {
        b.iter_custom(|n| {
            loops(rt, n, || {
                let breaker = peers::failsafe(WINDOW, HOUR);
                move |i| {
                    failsafe::CircuitBreaker::call(&breaker, || Ok::<_, peers::Fail>(black_box(i)))
                        .unwrap_or(0)
                }
            })
        })
    });
}

fn stacks(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("stack_limit_retry_breaker_timeout/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new()
                    .layer(BulkheadLayer::builder().max_concurrent(64).build().unwrap())
                    .layer(RetryLayer::builder().build().unwrap())
                    .layer(CircuitBreakerLayer::builder().build().unwrap())
                    .layer(AttemptTimeoutLayer::new(SECOND).unwrap())
                    .service(boxed())
            })
        })
    });
    g.bench_function("stack_limit_retry_breaker_timeout/seawall_static", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                // Bulkhead and breaker never freed (leaked once per sample).
                ServiceBuilder::new()
                    .layer(
                        BulkheadLayer::builder()
                            .max_concurrent(64)
                            .build_static()
                            .unwrap(),
                    )
                    .layer(RetryLayer::builder().build().unwrap())
                    .layer(CircuitBreakerLayer::builder().build_static().unwrap())
                    .layer(AttemptTimeoutLayer::new(SECOND).unwrap())
                    .service(boxed())
            })
        })
    });
    g.bench_function("stack_limit_retry_breaker_timeout/recloser_tower", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let breaker = AsyncRecloser::from(peers::recloser(WINDOW as usize, HOUR));
                let svc: RecloserService<_> = ServiceBuilder::new()
                    .layer(RecloserLayer(breaker))
                    .timeout(SECOND)
                    .service(boxed());
                ServiceBuilder::new()
                    .concurrency_limit(64)
                    .retry(BudgetPolicy::new())
                    .service(svc)
            })
        })
    });
    g.bench_function("stack_limit_timeout/tower_without_breaker_or_retry", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                ServiceBuilder::new()
                    .concurrency_limit(64)
                    .timeout(SECOND)
                    .service(boxed())
            })
        })
    });
    g.bench_function("standard_pipeline/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let pipeline = StandardPipeline::builder().build().unwrap();
                ServiceBuilder::new().layer(pipeline).service(boxed())
            })
        })
    });
    g.bench_function("standard_pipeline/seawall_static", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let pipeline = StandardPipeline::builder().build_static().unwrap();
                ServiceBuilder::new().layer(pipeline).service(boxed())
            })
        })
    });
    // `http::Request` in, `http::Response` out: the request is made anew for each call,
    // in every row (`bare` is that and the inner service alone).
    g.bench_function("standard_pipeline_http/bare", |b| {
        b.iter_custom(|n| requests(rt, n, || HttpOk, http_request))
    });
    g.bench_function("standard_pipeline_http/seawall", |b| {
        b.iter_custom(|n| {
            let make = || StandardPipeline::http().build().unwrap().layer(HttpOk);
            requests(rt, n, make, http_request)
        })
    });
    g.bench_function("standard_pipeline_http/tower_limit_timeout", |b| {
        b.iter_custom(|n| {
            let make = || {
                ServiceBuilder::new()
                    .concurrency_limit(64)
                    .timeout(SECOND)
                    .service(HttpOk)
            };
            requests(rt, n, make, http_request)
        })
    });
}

/// Replicas that answer at once, each counting its requests in flight (the load p2c
/// compares, as `tower::load::PendingRequestsDiscover` counts it).
fn replicas() -> Vec<PendingRequests<Ready>> {
    (0..REPLICAS)
        .map(|_| PendingRequests::new(Ready, CompleteOnResponse::default()))
        .collect()
}

/// tower's power-of-two-choices balancer over [`REPLICAS`] replicas, bare and with
/// seawall's per-endpoint health (each replica behind its own breaker, all in one group);
/// for comparison, each replica behind a plain breaker layer, and one endpoint alone.
fn balancers(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("balance/p2c_bare", |b| {
        b.iter_custom(|n| calls(rt, n, || Balance::new(ServiceList::new(replicas()))))
    });
    g.bench_function("balance/p2c_seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let endpoints = seawall::balance::Endpoints::builder().build().unwrap();
                let replicas: Vec<_> = replicas()
                    .into_iter()
                    .enumerate()
                    .map(|(i, replica)| endpoints.endpoint(i, replica))
                    .collect();
                Balance::new(ServiceList::new(replicas))
            })
        })
    });
    // The breaker layer inside each replica's load counter: no group, never pending.
    g.bench_function("balance/p2c_breaker_layer", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let replicas: Vec<_> = (0..REPLICAS)
                    .map(|_| {
                        let layer = CircuitBreakerLayer::builder().build().unwrap();
                        PendingRequests::new(layer.layer(Ready), CompleteOnResponse::default())
                    })
                    .collect();
                Balance::new(ServiceList::new(replicas))
            })
        })
    });
    // Beside `breaker_closed/seawall`: the same breaker, as an endpoint, no balancer.
    g.bench_function("balance/endpoint_alone", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let endpoints = seawall::balance::Endpoints::builder().build().unwrap();
                endpoints.endpoint(0, Ready)
            })
        })
    });
}

/// tower's hedging policy for the comparison: every request may be hedged.
#[derive(Clone)]
struct HedgeEvery;

impl tower::hedge::Policy<u64> for HedgeEvery {
    fn clone_request(&self, request: &u64) -> Option<u64> {
        Some(*request)
    }

    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

/// The no-hedge path (the service answers at once): seawall's hedging with a fixed
/// delay and with a percentile delay, against tower's `Hedge` (its histogram's 95th
/// percentile, 10 samples before it hedges, rotated every second).
fn hedges(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("hedge/seawall_fixed", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                seawall::hedge::HedgeLayer::builder()
                    .delay(Duration::from_millis(100))
                    .build()
                    .unwrap()
                    .layer(boxed())
            })
        })
    });
    g.bench_function("hedge/seawall_percentile", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                seawall::hedge::HedgeLayer::builder()
                    .percentile(0.95, 10, Duration::from_millis(100))
                    .build()
                    .unwrap()
                    .layer(boxed())
            })
        })
    });
    g.bench_function("hedge/tower", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                tower::hedge::Hedge::new(boxed(), HedgeEvery, 10, 0.95, Duration::from_secs(1))
            })
        })
    });
}

/// What the floors are made of: one reference count taken and given back (an `Arc`
/// clone and drop, as a call's future holding its layer's state does), and one
/// uncontended atomic read-modify-write pair (a permit's take and give back).
fn floors(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    g.bench_function("floor/arc_clone_drop", |b| {
        b.iter_custom(|n| {
            loops(rt, n, || {
                let shared = std::sync::Arc::new(0_u64);
                move |i| {
                    let held = black_box(shared.clone());
                    drop(held);
                    i
                }
            })
        })
    });
    g.bench_function("floor/atomic_add_sub", |b| {
        b.iter_custom(|n| {
            loops(rt, n, || {
                let word = std::sync::atomic::AtomicU64::new(0);
                move |i| {
                    use std::sync::atomic::Ordering::{AcqRel, Release};
                    black_box(word.fetch_add(1, AcqRel));
                    word.fetch_sub(1, Release);
                    i
                }
            })
        })
    });
}

fn bench_on(c: &mut Criterion, runtime: &str, rt: &Runtime, redis: Option<&str>) {
    let fleets = Fleets::new(rt, runtime, redis);
    let mut g = c.benchmark_group(format!("in_runtime_{runtime}"));
    g.bench_function("bare", |b| b.iter_custom(|n| calls(rt, n, boxed)));
    breakers(&mut g, rt, &fleets);
    timeouts(&mut g, rt);
    retries(&mut g, rt);
    admission(&mut g, rt, &fleets);
    permits(&mut g, rt);
    stacks(&mut g, rt);
    balancers(&mut g, rt);
    hedges(&mut g, rt);
    floors(&mut g, rt);
    g.finish();
}

fn in_runtime(c: &mut Criterion) {
    let redis = redis_server::Redis::find_or_start();
    if let Err(why) = &redis {
        eprintln!("skipping rate_limit_allowed/seawall_fleet_leased: no Redis ({why})");
    }
    let url = redis.as_ref().ok().map(|redis| redis.url.as_str());
    bench_on(c, "current_thread", &current_thread(), url);
    bench_on(c, "two_workers", &two_workers(), url);
}

criterion_group! {
    name = benches;
    config = short_runs();
    targets = in_runtime
}
criterion_main!(benches);
