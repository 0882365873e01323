//! The circuit breaker's per-call cost against `recloser` and `failsafe`, all around the
//! same trivial inner call (an immediately ready `Result<(), Fail>`).
//!
//! Futures are polled once with a no-op waker, so the numbers measure the breakers, not
//! an executor. Results and the targets they meet are in `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p seawall-benches --bench circuit_breaker
//! ```

mod common;

use std::fmt;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use failsafe::futures::CircuitBreaker as _;
use failsafe::{StateMachine, backoff, failure_policy};
use recloser::{AsyncRecloser, Recloser};
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::{AsRejected, Rejected};
use tokio::runtime::Runtime;
use tower::{BoxError, Layer, Service, service_fn};

const HOUR: Duration = Duration::from_secs(3600);
const WINDOW: u32 = 100;

/// The inner service's own error: small and `Copy`.
#[derive(Clone, Copy, Debug)]
struct Fail;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inner call failed")
    }
}

impl std::error::Error for Fail {}

type Failsafe = StateMachine<failure_policy::ConsecutiveFailures<backoff::Constant>, ()>;

/// The inner work every contender wraps.
fn outcome(fail: bool) -> Result<(), Fail> {
    if black_box(fail) { Err(Fail) } else { Ok(()) }
}

fn work(fail: bool) -> Ready<Result<(), Fail>> {
    ready(outcome(fail))
}

/// Polls a future that must be ready at once. Inlined, like the rest of each call, so
/// that every contender is measured as one piece of code.
#[inline(always)]
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("every future here is immediately ready"),
    }
}

/// One tower call: `poll_ready`, `call`, then the response future.
///
/// The breaker bench keeps its own driver rather than `common::drive` (unit requests, its
/// own error type, inlined into each contender): where the measured code lands in the
/// binary moved seawall's closed row from 4.7 to 5.0 ns when its helpers were merged
/// (reverted in ad84202).
#[inline(always)]
fn tower_call<S: Service<()>>(service: &mut S) -> Result<S::Response, S::Error> {
    let ready = service.poll_ready(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(ready, Poll::Ready(Ok(()))));
    now(service.call(()))
}

// One closure per contender, each doing one call; clones are independent handles on one
// shared breaker.

fn bare(fail: bool) -> impl FnMut() -> Result<(), Fail> + Clone + Send + 'static {
    let mut service = service_fn(move |()| work(fail));
    move || tower_call(&mut service)
}

/// `wrap` turns the inner error into one that can also hold a rejection. It is a
/// function item (known at compile time), not a function pointer: an indirect call in
/// the inner service would be the bench's cost, not the breaker's.
fn seawall<E, W>(
    layer: &CircuitBreakerLayer,
    fail: bool,
    wrap: W,
) -> impl FnMut() -> Result<(), E> + Clone + Send + 'static
where
    E: From<Rejected> + 'static,
    W: Fn(Fail) -> E + Copy + Send + 'static,
{
    let mut service = layer.layer(service_fn(move |()| ready(outcome(fail).map_err(wrap))));
    move || tower_call(&mut service)
}

fn recloser_async(
    breaker: &AsyncRecloser,
    fail: bool,
) -> impl FnMut() -> Result<(), recloser::Error<Fail>> + Clone + Send + 'static {
    let breaker = breaker.clone();
    move || now(breaker.call(work(fail)))
}

/// recloser around an inner call whose error is a `tower::BoxError`, to set beside
/// seawall's `BoxError` row.
fn recloser_async_boxed(
    breaker: &AsyncRecloser,
) -> impl FnMut() -> Result<(), recloser::Error<BoxError>> {
    let breaker = breaker.clone();
    move || now(breaker.call(ready(outcome(false).map_err(BoxError::from))))
}

fn recloser_sync(
    breaker: &Arc<Recloser>,
    fail: bool,
) -> impl FnMut() -> Result<(), recloser::Error<Fail>> + Clone + Send + 'static {
    let breaker = breaker.clone();
    move || breaker.call(|| outcome(fail))
}

fn failsafe_async(
    breaker: &Failsafe,
    fail: bool,
) -> impl FnMut() -> Result<(), failsafe::Error<Fail>> + Clone + Send + 'static {
    let breaker = breaker.clone();
    move || now(breaker.call(work(fail)))
}

// Breakers configured alike: judge the last 100 calls as observed (failsafe: 100 in a
// row), open for an hour. `tripping` ones open on the first failures.

fn seawall_builder(tripping: bool) -> seawall::circuit_breaker::Builder {
    let window = if tripping { 1 } else { WINDOW };
    CircuitBreakerLayer::builder()
        .count_window(window)
        .minimum_calls(window)
        .confidence(None)
        .open_duration(HOUR)
}

fn seawall_layer(tripping: bool) -> CircuitBreakerLayer {
    seawall_builder(tripping).build().expect("valid settings")
}

/// A breaker built for the life of the process (`build_static`): no reference count.
fn seawall_static_layer(tripping: bool) -> CircuitBreakerLayer {
    seawall_builder(tripping)
        .build_static()
        .expect("valid settings")
}

fn recloser(tripping: bool) -> Recloser {
    let len = if tripping { 1 } else { WINDOW as usize };
    Recloser::custom().closed_len(len).open_wait(HOUR).build()
}

fn failsafe(tripping: bool) -> Failsafe {
    let failures = if tripping { 1 } else { WINDOW };
    let policy = failure_policy::consecutive_failures(failures, backoff::constant(HOUR));
    failsafe::Config::new().failure_policy(policy).build()
}

/// Calls with a failing inner service until the breaker rejects.
fn trip<E>(call: &mut impl FnMut() -> Result<(), E>, rejected: impl Fn(&E) -> bool) {
    let tripped = (0..10).any(|_| call().is_err_and(|e| rejected(&e)));
    assert!(tripped, "the breaker did not open");
}

/// The inner service alone, returning the error type seawall's bench uses (one that can
/// hold a rejection): the floor under any layer that can reject.
///
/// One copy per error type (`bare`, `bare_wide`, `bare_boxed`, and `recloser_async` with
/// `recloser_async_boxed`) on purpose: one generic helper taking the conversion measured
/// the same seawall code at 5.0 instead of 4.7 ns closed, from where the code landed in the
/// binary (2e8c0be, reverted in ad84202).
fn bare_wide(fail: bool) -> impl FnMut() -> Result<(), seawall::Error<Fail>> {
    let mut service = service_fn(move |()| ready(outcome(fail).map_err(seawall::Error::Service)));
    move || tower_call(&mut service)
}

/// The inner service alone, returning `tower::BoxError`.
fn bare_boxed(fail: bool) -> impl FnMut() -> Result<(), BoxError> {
    let mut service = service_fn(move |()| ready(outcome(fail).map_err(BoxError::from)));
    move || tower_call(&mut service)
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed");
    g.bench_function("bare_service", |b| b.iter(bare(false)));
    g.bench_function("bare_service_seawall_error", |b| b.iter(bare_wide(false)));
    g.bench_function("bare_service_box_error", |b| b.iter(bare_boxed(false)));
    let layer = seawall_layer(false);
    g.bench_function("seawall", |b| {
        b.iter(seawall(&layer, false, seawall::Error::Service))
    });
    g.bench_function("seawall_box_error", |b| {
        b.iter(seawall(&layer, false, BoxError::from))
    });
    let layer = seawall_static_layer(false);
    g.bench_function("seawall_static", |b| {
        b.iter(seawall(&layer, false, seawall::Error::Service))
    });
    let breaker = AsyncRecloser::from(recloser(false));
    g.bench_function("recloser_async", |b| {
        b.iter(recloser_async(&breaker, false))
    });
    g.bench_function("recloser_async_box_error", |b| {
        b.iter(recloser_async_boxed(&breaker))
    });
    let breaker = Arc::new(recloser(false));
    g.bench_function("recloser_sync", |b| b.iter(recloser_sync(&breaker, false)));
    let breaker = failsafe(false);
    g.bench_function("failsafe_async", |b| {
        b.iter(failsafe_async(&breaker, false))
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    // Breakers open inside a runtime, as in a service: seawall then sets a timer for the
    // end of the open period and rejects without reading the clock until it fires.
    let runtime = Runtime::new().expect("runtime");
    let _inside = runtime.enter();
    let layer = seawall_layer(true);
    let mut call = seawall(&layer, true, seawall::Error::Service);
    trip(&mut call, |e| e.as_rejected().is_some());
    assert_eq!(layer.handle().state(), State::Open);
    g.bench_function("seawall", |b| b.iter(&mut call));

    let layer = seawall_layer(true);
    let mut call = seawall(&layer, true, BoxError::from);
    trip(&mut call, |e| e.as_rejected().is_some());
    g.bench_function("seawall_box_error", |b| b.iter(&mut call));

    let layer = seawall_static_layer(true);
    let mut call = seawall(&layer, true, seawall::Error::Service);
    trip(&mut call, |e| e.as_rejected().is_some());
    g.bench_function("seawall_static", |b| b.iter(&mut call));

    let is_rejected = |e: &recloser::Error<Fail>| matches!(e, recloser::Error::Rejected);
    let mut call = recloser_async(&AsyncRecloser::from(recloser(true)), true);
    trip(&mut call, is_rejected);
    g.bench_function("recloser_async", |b| b.iter(&mut call));
    let mut call = recloser_sync(&Arc::new(recloser(true)), true);
    trip(&mut call, is_rejected);
    g.bench_function("recloser_sync", |b| b.iter(&mut call));

    let mut call = failsafe_async(&failsafe(true), true);
    trip(&mut call, |e| matches!(e, failsafe::Error::Rejected));
    g.bench_function("failsafe_async", |b| b.iter(&mut call));
    g.finish();
}

/// Runs `tasks` clones of `call` at once on `runtime`, `iters` calls each; returns the
/// wall time from the first start to the last end.
fn on_tasks<F, R>(runtime: &Runtime, tasks: usize, iters: u64, call: &F) -> Duration
where
    F: FnMut() -> R + Clone + Send + 'static,
{
    // A blocking barrier holds each worker until all tasks run, so they overlap.
    let barrier = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (mut call, barrier) = (call.clone(), barrier.clone());
            runtime.spawn(async move {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(call());
                }
                (start, Instant::now())
            })
        })
        .collect();
    let spans: Vec<_> = handles
        .into_iter()
        .map(|h| runtime.block_on(h).unwrap())
        .collect();
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    end - start
}

fn contended_one<F, R>(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, call: F)
where
    F: FnMut() -> R + Clone + Send + 'static,
{
    for tasks in [1, 2] {
        g.throughput(Throughput::Elements(tasks as u64));
        g.bench_function(BenchmarkId::new(name, tasks), |b| {
            b.iter_custom(|iters| on_tasks(rt, tasks, iters, &call))
        });
    }
}

fn contended(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("contended");
    contended_one(&mut g, &rt, "bare_service", bare(false));
    let layer = seawall_layer(false);
    contended_one(
        &mut g,
        &rt,
        "seawall",
        seawall(&layer, false, seawall::Error::Service),
    );
    let layer = seawall_static_layer(false);
    contended_one(
        &mut g,
        &rt,
        "seawall_static",
        seawall(&layer, false, seawall::Error::Service),
    );
    let breaker = AsyncRecloser::from(recloser(false));
    contended_one(
        &mut g,
        &rt,
        "recloser_async",
        recloser_async(&breaker, false),
    );
    contended_one(
        &mut g,
        &rt,
        "failsafe_async",
        failsafe_async(&failsafe(false), false),
    );
    g.finish();
}

/// What a clock read costs: the open path of every breaker takes one.
/// A closed breaker judging a time window, by its number of buckets: each recorded call
/// reads the clock and adds up the buckets.
fn time_window(c: &mut Criterion) {
    let mut g = c.benchmark_group("time_window");
    for buckets in [10, 60, 1000] {
        let layer = CircuitBreakerLayer::builder()
            .time_window(Duration::from_secs(60), buckets)
            .build()
            .expect("valid settings");
        g.bench_function(BenchmarkId::from_parameter(buckets), |b| {
            b.iter(seawall(&layer, false, seawall::Error::Service))
        });
    }
    g.finish();
}

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("std_instant_now", |b| b.iter(Instant::now));
    g.bench_function("tokio_instant_now", |b| b.iter(tokio::time::Instant::now));
    g.finish();
}

criterion::criterion_group! {
    name = benches;
    // The common settings, with the 1 s warm-up this bench's rows in docs/PERFORMANCE.md
    // were measured with.
    config = common::short_runs().warm_up_time(Duration::from_secs(1));
    targets = closed, open, contended, time_window, clock
}
criterion::criterion_main!(benches);
