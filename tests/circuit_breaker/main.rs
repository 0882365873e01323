//! The circuit breaker's behaviour, one rule per test, in paused tokio time: one module
//! per part of the breaker, the model-based property tests and the window kinds included.

#[path = "../common/mod.rs"]
mod common;

mod closed;
mod events;
mod group;
mod half_open;
mod manual;
mod model;
mod open;
mod open_timer;
mod outside_tower;
mod probe_lifecycle;
mod probe_slots;
mod readiness;
mod settings;
mod shared_state;
mod slow_calls;
mod windows;

use common::*;
use seawall::circuit_breaker::{Builder, CircuitBreakerLayer, State};
use tokio::time::advance;
use tower::{Layer, Service};

fn breaker(
    builder: Builder,
) -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let layer = builder.build().expect("valid config");
    let svc = layer.layer(backend());
    (layer, svc)
}

async fn run_many<S>(svc: &mut S, req: Req, n: usize)
where
    S: Service<Req, Response = (), Error = Err>,
{
    for _ in 0..n {
        let _ = call(svc, req).await;
    }
}

async fn tripped(
    builder: Builder,
) -> (
    CircuitBreakerLayer,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let (layer, mut svc) = breaker(builder.count_window(1).open_duration(secs(10)));
    let _ = call(&mut svc, FAIL).await;
    assert_eq!(layer.handle().state(), State::Open);
    advance(secs(10)).await;
    (layer, svc)
}
