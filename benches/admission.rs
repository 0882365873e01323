//! Admission control on its allowed path against its peers, same inner service, one run:
//! the bulkhead's free-permit path against `tower::limit::ConcurrencyLimit`, and the rate
//! limiter's allowed path against `governor`'s direct limiter.
//!
//! cargo bench -p seawall-benches --bench admission

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use common::{Ready, drive};
use criterion::{Criterion, criterion_group, criterion_main};
use seawall::bulkhead::{BulkheadLayer, Mode};
use seawall::rate_limit::RateLimitLayer;
use std::hint::black_box;
use tower::Layer;

fn bulkhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulkhead/free permit");
    let mut bare = Ready;
    g.bench_function("no limit", |b| b.iter(|| drive(&mut bare, black_box(1))));
    let mut tower = tower::limit::ConcurrencyLimitLayer::new(64).layer(Ready);
    g.bench_function("tower ConcurrencyLimit", |b| {
        b.iter(|| drive(&mut tower, black_box(1)))
    });
    let layer = BulkheadLayer::builder().max_concurrent(64).build().unwrap();
    let mut fail_fast = layer.layer(Ready);
    g.bench_function("seawall Bulkhead (fail fast)", |b| {
        b.iter(|| drive(&mut fail_fast, black_box(1)))
    });
    let layer = BulkheadLayer::builder()
        .max_concurrent(64)
        .mode(Mode::Backpressure)
        .build()
        .unwrap();
    let mut backpressure = layer.layer(Ready);
    g.bench_function("seawall Bulkhead (backpressure)", |b| {
        b.iter(|| drive(&mut backpressure, black_box(1)))
    });
    g.finish();
}

fn rate_limit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    // A rate no benchmark loop can reach: every call takes the allowed path.
    let mut g = c.benchmark_group("rate limit/allowed");
    let governor = governor::RateLimiter::direct(governor::Quota::per_second(
        NonZeroU32::new(1_000_000_000).unwrap(),
    ));
    g.bench_function("governor check()", |b| {
        b.iter(|| black_box(governor.check().is_ok()))
    });
    let mut bare = Ready;
    g.bench_function("governor check() + call", |b| {
        b.iter(|| {
            if governor.check().is_ok() {
                drive(&mut bare, black_box(1))
            } else {
                0
            }
        })
    });
    // What the clock read alone costs (GCRA needs the time; governor reads a TSC clock,
    // seawall tokio's, which adds a check for a paused clock when `test-util` is on, as
    // it is in this crate's dev builds).
    g.bench_function("clock: tokio Instant::now()", |b| {
        b.iter(|| black_box(tokio::time::Instant::now()))
    });
    g.bench_function("clock: std Instant::now()", |b| {
        b.iter(|| black_box(std::time::Instant::now()))
    });
    let layer = RateLimitLayer::builder(1_000_000_000, Duration::from_secs(1))
        .build()
        .unwrap();
    let mut seawall = layer.layer(Ready);
    g.bench_function("seawall RateLimit call", |b| {
        b.iter(|| drive(&mut seawall, black_box(1)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short_runs();
    targets = bulkhead, rate_limit
}
criterion_main!(benches);
