//! Attempt timeout and deadline overhead against tower's `Timeout`, same inner services.
//!
//! cargo bench -p seawall-benches --bench timeouts

mod common;

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Ready, drive};
use criterion::{Criterion, criterion_group, criterion_main};
use seawall::deadline::DeadlineLayer;
use seawall::timeout::AttemptTimeoutLayer;
use std::hint::black_box;
use tower::{BoxError, Layer, Service};

/// Answers on the second poll (after waking itself once).
#[derive(Clone)]
struct YieldOnce;

struct YieldFuture(Option<u64>, bool);

impl Future for YieldFuture {
    type Output = Result<u64, BoxError>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.1 {
            Poll::Ready(Ok(self.0.take().unwrap_or(0)))
        } else {
            self.1 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Service<u64> for YieldOnce {
    type Response = u64;
    type Error = BoxError;
    type Future = YieldFuture;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, x: u64) -> Self::Future {
        YieldFuture(Some(x), false)
    }
}

fn bench_inner<S>(c: &mut Criterion, group: &str, inner: S)
where
    S: Service<u64, Response = u64, Error = BoxError> + Clone,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter(); // tower's Timeout and our timers need a time driver
    let limit = Duration::from_secs(10);
    let mut g = c.benchmark_group(group);
    let mut bare = inner.clone();
    g.bench_function("no timeout", |b| b.iter(|| drive(&mut bare, black_box(1))));
    let mut tower = tower::timeout::TimeoutLayer::new(limit).layer(inner.clone());
    g.bench_function("tower Timeout", |b| {
        b.iter(|| drive(&mut tower, black_box(1)))
    });
    let mut attempt = AttemptTimeoutLayer::new(limit)
        .unwrap()
        .layer(inner.clone());
    g.bench_function("seawall AttemptTimeout", |b| {
        b.iter(|| drive(&mut attempt, black_box(1)))
    });
    let mut deadline = DeadlineLayer::new(limit).unwrap().layer(inner);
    g.bench_function("seawall Deadline", |b| {
        b.iter(|| drive(&mut deadline, black_box(1)))
    });
    g.finish();
}

fn timeouts(c: &mut Criterion) {
    bench_inner(c, "timeout/ready at once", Ready);
    bench_inner(c, "timeout/yields once", YieldOnce);
}

criterion_group! {
    name = benches;
    config = common::short_runs();
    targets = timeouts
}
criterion_main!(benches);
