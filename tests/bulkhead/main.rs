//! The bulkhead's behaviour, one rule per test, in paused tokio time: one module per part
//! of the bulkhead, the property test included.

#[path = "../common/mod.rs"]
mod common;

mod backpressure;
mod permits;
mod property;
mod queue;
mod settings;

use std::sync::{Arc, Mutex};

use common::*;
use seawall::Reason;
use seawall::bulkhead::{Builder, BulkheadHandle};
use tower::{Layer, Service, service_fn};

/// A backend that logs each call's id when it starts and answers after `delay` ms.
fn logging_backend(
    log: Log,
) -> impl Service<(u32, u64), Response = u32, Error = Err, Future: Send> + Clone + Send {
    service_fn(move |(id, delay): (u32, u64)| {
        log.lock().unwrap().push(id);
        async move {
            tokio::time::sleep(ms(delay)).await;
            Ok::<_, Err>(id)
        }
    })
}

type Log = Arc<Mutex<Vec<u32>>>;

fn bulkhead(
    builder: Builder,
) -> (
    BulkheadHandle,
    impl Service<(u32, u64), Response = u32, Error = Err, Future: Send> + Clone + Send,
    Log,
) {
    let layer = builder.build().expect("valid config");
    let log = Arc::new(Mutex::new(Vec::new()));
    (
        layer.handle(),
        layer.layer(logging_backend(log.clone())),
        log,
    )
}

fn reason<T>(result: &Result<T, Err>) -> Option<Reason> {
    match result {
        Err(seawall::Error::Rejected(r)) => Some(r.reason()),
        _ => None,
    }
}
