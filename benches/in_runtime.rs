//! Per-call cost as users pay it: inside a tokio runtime, through `ready().await` and
//! `call().await`, one service used call after call, beside tower's own layers in the
//! same run. (The other benches poll each future in place with a no-op waker; this one
//! includes the runtime's polling, the moves of the futures and the `async` machinery.)
//!
//! ```sh
//! cargo bench -p seawall-benches --bench in_runtime
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{Ready, short_runs};
use criterion::{Criterion, criterion_group, criterion_main};
use seawall::bulkhead::BulkheadLayer;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::pipeline::StandardPipeline;
use seawall::retry::RetryLayer;
use seawall::timeout::AttemptTimeoutLayer;
use tokio::runtime::{Builder, Runtime};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

const SECOND: Duration = Duration::from_secs(1);

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

/// Runs `iters` calls through one service made by `make`, on `rt`, and times them.
fn calls<S, F>(rt: &Runtime, iters: u64, make: F) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    S: Service<u64, Response = u64> + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut svc = make();
            let start = Instant::now();
            for i in 0..iters {
                let out = svc.ready().await.unwrap().call(black_box(i)).await.unwrap();
                black_box(out);
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

fn bench_on(c: &mut Criterion, runtime: &str, rt: &Runtime) {
    let mut g = c.benchmark_group(format!("in_runtime_{runtime}"));
    g.bench_function("bare", |b| b.iter_custom(|n| calls(rt, n, boxed)));
    g.bench_function("breaker_closed/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = CircuitBreakerLayer::builder().build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
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
    g.bench_function("bulkhead/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = BulkheadLayer::builder().max_concurrent(64).build().unwrap();
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
    g.bench_function("retry_budget_on/seawall", |b| {
        b.iter_custom(|n| {
            calls(rt, n, || {
                let layer = RetryLayer::builder().build().unwrap();
                ServiceBuilder::new().layer(layer).service(boxed())
            })
        })
    });
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
    g.finish();
}

fn in_runtime(c: &mut Criterion) {
    bench_on(c, "current_thread", &current_thread());
    bench_on(c, "two_workers", &two_workers());
}

criterion_group! {
    name = benches;
    config = short_runs();
    targets = in_runtime
}
criterion_main!(benches);
