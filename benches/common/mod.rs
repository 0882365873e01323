//! What the benches share: criterion's settings, an inner service that answers at once,
//! and a driver that readies, calls and polls with a no-op waker (no executor in the
//! measurement). Each bench uses the part it needs.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use std::future::ready;
use std::sync::Arc;
use tower::retry::Policy;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{BoxError, Service};

/// Answers at once.
#[derive(Clone, Copy)]
pub struct Ready;

impl Service<u64> for Ready {
    type Response = u64;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u64, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, x: u64) -> Self::Future {
        std::future::ready(Ok(x))
    }
}

/// Readies, calls once and polls to completion with a no-op waker.
pub fn drive<S: Service<u64, Response = u64>>(svc: &mut S, x: u64) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    let _ = svc.poll_ready(&mut cx);
    let mut future = pin!(svc.call(x));
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out.ok().unwrap_or(0);
        }
    }
}

/// Criterion settings for benches of a layer's per-call cost: short runs, 30 samples.
pub fn short_runs() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

/// tower's documented budget policy: deposit on success,
/// withdraw to retry an error, at most `attempts_left` retries.
#[derive(Clone)]
pub struct BudgetPolicy {
    budget: Arc<TpsBudget>,
    attempts_left: u32,
}

impl BudgetPolicy {
    /// The budget seawall's default matches: 20 % over 10 s, plus 10 retries a second;
    /// two retries (three attempts), as seawall's default.
    pub fn new() -> Self {
        BudgetPolicy {
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
            attempts_left: 2,
        }
    }
}

impl<E> Policy<u64, u64, E> for BudgetPolicy {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut u64, result: &mut Result<u64, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(_) if self.attempts_left > 0 && self.budget.withdraw() => {
                self.attempts_left -= 1;
                Some(ready(()))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}
