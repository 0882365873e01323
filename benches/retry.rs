//! Happy path of a retry layer (the first attempt succeeds, budget on): seawall's retry
//! against tower's `Retry` with a `TpsBudget` policy, in the same run.
//!
//! Run with `cargo bench -p seawall-benches --bench retry`. Futures are polled once with a no-op waker:
//! the inner service answers at once, so no runtime is involved.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::Ready;
use criterion::{Criterion, criterion_group, criterion_main};
use seawall::retry::RetryLayer;
use tower::{Layer, Service};

/// One call: ready, call, poll the response to completion.
///
/// Kept here rather than `common::drive`: it polls once with the caller's context and
/// asserts readiness, where `drive` loops and maps errors to 0. Switching would change the
/// measured code itself, and with it the rows in `docs/PERFORMANCE.md` (as moving the
/// breaker bench's helpers did: ad84202).
fn call_once<S: Service<u64, Response = u64>>(
    service: &mut S,
    cx: &mut Context<'_>,
    req: u64,
) -> u64 {
    assert!(service.poll_ready(cx).is_ready());
    let future = pin!(service.call(req));
    match future.poll(cx) {
        Poll::Ready(Ok(value)) => value,
        _ => unreachable!("the inner service answers at once"),
    }
}

fn happy_path(c: &mut Criterion) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut group = c.benchmark_group("retry happy path");

    group.bench_function("inner service alone", |b| {
        let mut service = Ready;
        b.iter(|| call_once(&mut service, &mut cx, black_box(7)))
    });

    group.bench_function("seawall Retry, default budget", |b| {
        let mut service = RetryLayer::builder().build().unwrap().layer(Ready);
        b.iter(|| call_once(&mut service, &mut cx, black_box(7)))
    });

    group.bench_function("seawall Retry, gRPC throttle", |b| {
        let layer = RetryLayer::builder().throttle(10, 0.1).build().unwrap();
        let mut service = layer.layer(Ready);
        b.iter(|| call_once(&mut service, &mut cx, black_box(7)))
    });

    group.bench_function("tower Retry, TpsBudget", |b| {
        let policy = common::BudgetPolicy::new();
        let mut service = tower::retry::Retry::new(policy, Ready);
        b.iter(|| call_once(&mut service, &mut cx, black_box(7)))
    });

    group.finish();
}

criterion_group! {
    name = benches;
    // The common settings, with the warm-up, length and samples this bench's rows in
    // docs/PERFORMANCE.md were measured with.
    config = common::short_runs()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(100);
    targets = happy_path
}
criterion_main!(benches);
