//! Calls through a breaker allocate nothing: counted by a global allocator, on this
//! thread only, after each path has run once (metric handles are kept from first use).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tower::{Layer, Service, service_fn};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the counter is a
// const-initialised thread-local `Cell`, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

type Reply = Result<(), seawall::Error<&'static str>>;

/// One call: ready, call, and poll once (the inner service answers at once).
fn once<S: Service<bool, Response = (), Error = seawall::Error<&'static str>>>(
    svc: &mut S,
    fail: bool,
) -> Reply {
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(matches!(svc.poll_ready(cx), Poll::Ready(Ok(()))));
    match pin!(svc.call(fail)).poll(cx) {
        Poll::Ready(reply) => reply,
        Poll::Pending => unreachable!("the inner service answers at once"),
    }
}

fn inner(fail: bool) -> Ready<Reply> {
    ready(if fail {
        Err(seawall::Error::Service("down"))
    } else {
        Ok(())
    })
}

/// Allocations made by `calls` calls of `call`, after one call to warm up.
fn allocated_by(calls: u32, mut call: impl FnMut()) -> u64 {
    call();
    let before = allocations();
    for _ in 0..calls {
        call();
    }
    allocations() - before
}

/// Without this, a counter that never counted would pass every test below.
#[test]
fn the_counter_sees_each_allocation() {
    let boxed = allocated_by(10, || drop(std::hint::black_box(Box::new(7_u64))));
    assert_eq!(boxed, 10);
}

#[test]
fn closed_calls_allocate_nothing() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(10)
        .build()
        .unwrap();
    let mut svc = layer.layer(service_fn(inner));
    assert_eq!(allocated_by(1000, || once(&mut svc, false).unwrap()), 0);
    // Failures below the threshold are recorded into the window, still without allocating.
    let mut outcomes = [false, false, true, false].into_iter().cycle();
    let n = allocated_by(1000, || {
        let _ = once(&mut svc, outcomes.next().unwrap());
    });
    assert_eq!(n, 0);
    assert_eq!(layer.handle().state(), State::Closed);
}

#[test]
fn rejected_calls_allocate_nothing() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .build()
        .unwrap();
    let mut svc = layer.layer(service_fn(inner));
    // Opened inside a runtime, so that rejections take the path without a clock read.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let _ = once(&mut svc, true);
    assert_eq!(layer.handle().state(), State::Open);
    let n = allocated_by(1000, || {
        let reply = once(&mut svc, false);
        assert!(matches!(reply, Err(seawall::Error::Rejected(_))));
    });
    assert_eq!(n, 0);

    layer.handle().force_open();
    let n = allocated_by(1000, || assert!(once(&mut svc, false).is_err()));
    assert_eq!(n, 0);
}

/// With the `metrics` feature and a recorder installed, metric handles are registered on
/// first use and then kept: later calls and rejections allocate nothing either.
#[cfg(feature = "metrics")]
#[test]
fn calls_allocate_nothing_with_a_metrics_recorder() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        closed_calls_allocate_nothing();
        rejected_calls_allocate_nothing();
    });
}

/// Every layer's happy path, one at a time: a call that succeeds at once allocates
/// nothing.
#[test]
fn every_layers_happy_path_allocates_nothing() {
    use seawall::{bulkhead, deadline, rate_limit, retry, throttle, timeout};
    use std::time::Duration;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let second = Duration::from_secs(1);
    let mut counts = Vec::new();
    let mut timeout = timeout::AttemptTimeoutLayer::new(second)
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "attempt timeout",
        allocated_by(1000, || once(&mut timeout, false).unwrap()),
    ));
    let mut bulkhead = bulkhead::BulkheadLayer::builder()
        .build()
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "bulkhead",
        allocated_by(1000, || once(&mut bulkhead, false).unwrap()),
    ));
    let mut limit = rate_limit::RateLimitLayer::builder(1_000_000_000, second)
        .build()
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "rate limit",
        allocated_by(1000, || once(&mut limit, false).unwrap()),
    ));
    let mut throttled = throttle::ThrottleLayer::builder()
        .build()
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "throttle",
        allocated_by(1000, || once(&mut throttled, false).unwrap()),
    ));
    let mut retried = retry::RetryLayer::builder()
        .build()
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "retry",
        allocated_by(1000, || once(&mut retried, false).unwrap()),
    ));
    let mut deadline = deadline::DeadlineLayer::new(second)
        .unwrap()
        .layer(service_fn(inner));
    counts.push((
        "deadline",
        allocated_by(1000, || once(&mut deadline, false).unwrap()),
    ));
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
}

/// The whole standard pipeline: retry clones the service below it for each call (to
/// replay the request), and a breaker service's clone shares its reference count, so a
/// call allocates nothing.
#[test]
fn the_standard_pipelines_happy_path_allocates_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let mut standard = seawall::pipeline::StandardPipeline::builder()
        .build()
        .unwrap()
        .layer(service_fn(inner));
    assert_eq!(
        allocated_by(1000, || once(&mut standard, false).unwrap()),
        0
    );
}

/// Calls as users make them, inside a runtime through `ready().await` and
/// `call().await`: `calls` calls of the service `make` builds, after one to warm up,
/// and the allocations made meanwhile on this thread (a current-thread runtime polls
/// the task here).
fn allocated_in_runtime<S>(calls: u32, per_call_clone: bool, make: impl FnOnce() -> S) -> u64
where
    S: Service<bool, Response = (), Error = seawall::Error<&'static str>> + Clone,
{
    use tower::ServiceExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut svc = make();
        let mut before = 0;
        for call in 0..=calls {
            if call == 1 {
                before = allocations();
            }
            let mut this = if per_call_clone { svc.clone() } else { svc };
            this.ready().await.unwrap().call(false).await.unwrap();
            svc = this;
        }
        allocations() - before
    })
}

/// Allocations by 1,000 calls of one service, and by 1,000 calls each on a fresh clone.
fn both<S>(make: impl Fn() -> S) -> [u64; 2]
where
    S: Service<bool, Response = (), Error = seawall::Error<&'static str>> + Clone,
{
    [
        allocated_in_runtime(1000, false, &make),
        allocated_in_runtime(1000, true, &make),
    ]
}

/// Every layer, retry over a breaker and the whole pipeline, used as one service and
/// cloned before each call (as a server handler clones its client).
#[test]
fn calls_through_ready_and_call_in_a_runtime_allocate_nothing() {
    use seawall::{bulkhead, circuit_breaker, deadline, pipeline, rate_limit, retry, timeout};
    use std::time::Duration;
    use tower::ServiceBuilder;
    let second = Duration::from_secs(1);
    let counts = [
        (
            "attempt timeout",
            both(|| {
                timeout::AttemptTimeoutLayer::new(second)
                    .unwrap()
                    .layer(service_fn(inner))
            }),
        ),
        (
            "bulkhead",
            both(|| {
                bulkhead::BulkheadLayer::builder()
                    .build()
                    .unwrap()
                    .layer(service_fn(inner))
            }),
        ),
        (
            "rate limit",
            both(|| {
                rate_limit::RateLimitLayer::builder(1_000_000_000, second)
                    .build()
                    .unwrap()
                    .layer(service_fn(inner))
            }),
        ),
        (
            "deadline",
            both(|| {
                deadline::DeadlineLayer::new(second)
                    .unwrap()
                    .layer(service_fn(inner))
            }),
        ),
        (
            "retry over a breaker",
            both(|| {
                ServiceBuilder::new()
                    .layer(retry::RetryLayer::builder().build().unwrap())
                    .layer(
                        circuit_breaker::CircuitBreakerLayer::builder()
                            .build()
                            .unwrap(),
                    )
                    .service(service_fn(inner))
            }),
        ),
        (
            "standard pipeline",
            both(|| {
                pipeline::StandardPipeline::builder()
                    .build()
                    .unwrap()
                    .layer(service_fn(inner))
            }),
        ),
    ];
    assert!(counts.iter().all(|(_, n)| *n == [0, 0]), "{counts:?}");
}

/// A service built on one thread and used on another (a client built in `main`, used by
/// a server's worker threads): a clone made for each call allocates nothing, and a
/// service kept on that thread allocates only once, when it settles there.
#[test]
fn a_service_built_on_another_thread_allocates_nothing_per_call_there() {
    use seawall::{circuit_breaker, pipeline, retry};
    use tower::ServiceBuilder;
    let retry_over_breaker = ServiceBuilder::new()
        .layer(retry::RetryLayer::builder().build().unwrap())
        .layer(
            circuit_breaker::CircuitBreakerLayer::builder()
                .build()
                .unwrap(),
        )
        .service(service_fn(inner));
    let pipeline = pipeline::StandardPipeline::builder()
        .build()
        .unwrap()
        .layer(service_fn(inner));
    let counts = std::thread::spawn(move || {
        let built_elsewhere = |per_call_clone| {
            let (a, b) = (retry_over_breaker.clone(), pipeline.clone());
            [
                allocated_in_runtime(1000, per_call_clone, move || a),
                allocated_in_runtime(1000, per_call_clone, move || b),
            ]
        };
        [built_elsewhere(true), built_elsewhere(false)]
    })
    .join()
    .unwrap();
    // Kept: over its first 1,000 calls there, each service makes two allocations in
    // all, once, on its second call (the retry's policy and the breaker each take a
    // reference count homed on that thread); none per call.
    assert_eq!(
        counts,
        [[0, 0], [2, 2]],
        "[per-call clones, kept]: [retry over breaker, pipeline]"
    );
}
