//! Retry behaviour, one behaviour per test, on paused tokio time: one module per part of
//! the retry layer.

#[path = "../common/mod.rs"]
mod common;

mod attempts;
mod backoff;
mod budget;
mod budget_property;
mod deadline;
mod dropped_calls;
mod events;
mod handle;
#[cfg(feature = "http")]
mod http;
mod refusals;
mod settings;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use seawall::retry::{Jitter, RetryLayer};
use seawall::{Reason, Rejected};
use tokio::time::Instant;
use tower::{BoxError, Service};

const MS: Duration = Duration::from_millis(1);

/// An inner service that runs a script: call number `n` (from 0) gets `script(n)`, and
/// every call's time since the test started is recorded.
#[derive(Clone)]
struct Scripted<F> {
    script: F,
    log: Arc<Mutex<Vec<Duration>>>,
    start: Instant,
}

impl<F> Scripted<F> {
    fn new(script: F) -> Self {
        Scripted {
            script,
            log: Arc::default(),
            start: Instant::now(),
        }
    }

    fn calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    fn times(&self) -> Vec<Duration> {
        self.log.lock().unwrap().clone()
    }
}

impl<F, T> Service<u8> for Scripted<F>
where
    F: Fn(u32) -> Result<T, BoxError>,
{
    type Response = T;
    type Error = BoxError;
    type Future = std::future::Ready<Result<T, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u8) -> Self::Future {
        let mut log = self.log.lock().unwrap();
        let n = log.len() as u32;
        log.push(self.start.elapsed());
        std::future::ready((self.script)(n))
    }
}

fn always_fails(_: u32) -> Result<u32, BoxError> {
    Err("connection reset".into())
}

fn fails_until(ok_from: u32) -> impl Fn(u32) -> Result<u32, BoxError> + Clone {
    move |n| {
        if n >= ok_from {
            Ok(n)
        } else {
            Err("connection reset".into())
        }
    }
}

/// Constant delays, no budget, so tests see the attempt logic alone.
fn plain(attempts: u32, delay: Duration) -> seawall::retry::Builder {
    RetryLayer::builder()
        .max_attempts(attempts)
        .constant(delay)
        .jitter(Jitter::None)
        .no_budget()
}

fn open_breaker(wait: Option<Duration>) -> impl Fn(u32) -> Result<u32, BoxError> + Clone {
    move |n| match n {
        0 => Err(Rejected::new(Reason::CircuitOpen, wait).into()),
        n => Ok(n),
    }
}
