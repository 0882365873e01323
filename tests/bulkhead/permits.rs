//! Permits: one pool per layer, and every permit and queue place comes back however a call
//! ends or is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall::Reason;
use seawall::bulkhead::{BulkheadLayer, Mode};
use tokio_test::{assert_pending, assert_ready, task};
use tower::{Layer, Service, ServiceExt};

use crate::common::*;
use crate::{bulkhead, logging_backend, reason};

#[tokio::test(start_paused = true)]
async fn a_ready_service_dropped_before_calling_gives_its_permit_back() {
    let (handle, mut svc, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .mode(Mode::Backpressure),
    );
    svc.ready().await.unwrap();
    assert_eq!(handle.in_flight(), 1);
    drop(svc);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_service_dropped_while_waiting_for_readiness_leaves_the_queue() {
    let (handle, mut a, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .mode(Mode::Backpressure),
    );
    let mut b = a.clone();
    a.ready().await.unwrap();
    assert!(task::spawn(b.ready()).poll().is_pending());
    assert_eq!(handle.queued(), 1);
    drop(b);
    assert_eq!(handle.queued(), 0);
    drop(a);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_running_call_dropped_gives_its_permit_back() {
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(1));
    let mut running = task::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    assert_pending!(running.poll());
    assert_eq!(handle.in_flight(), 1);
    drop(running);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_before_its_first_poll_gives_its_permit_back() {
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(1));
    let never_polled = svc.ready().await.unwrap().call((0, 1_000));
    assert_eq!(handle.in_flight(), 1);
    drop(never_polled);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_dropped_leaves_the_queue() {
    let (handle, mut svc, log) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(1)),
    );
    let running = svc.ready().await.unwrap().call((0, 100));
    let mut queued = task::spawn(svc.call((1, 0)));
    assert_pending!(queued.poll());
    assert_eq!(handle.queued(), 1);
    drop(queued);
    assert_eq!(handle.queued(), 0);
    running.await.unwrap();
    assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
    assert_eq!(*log.lock().unwrap(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_granted_a_permit_but_dropped_before_running_gives_it_back() {
    let (handle, mut svc, log) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(1)),
    );
    let running = svc.ready().await.unwrap().call((0, 10));
    let mut queued = task::spawn(svc.call((1, 0)));
    assert_pending!(queued.poll());
    running.await.unwrap();
    assert!(queued.is_woken());
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0), "handed on");
    drop(queued);
    assert_eq!(handle.in_flight(), 0);
    assert_eq!(*log.lock().unwrap(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn permits_come_back_after_success_and_after_failure() {
    let layer = BulkheadLayer::builder().max_concurrent(1).build().unwrap();
    let mut svc = layer.layer(backend());
    call(&mut svc, OK).await.unwrap();
    assert_eq!(layer.handle().in_flight(), 0);
    let failed = call(&mut svc, FAIL).await;
    assert!(matches!(failed, Err(seawall::Error::Service(Boom))));
    assert_eq!(layer.handle().in_flight(), 0);
    call(&mut svc, slow(10, false)).await.unwrap();
    assert_eq!(layer.handle().in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_completed_call_holds_no_permit_even_before_its_future_is_dropped() {
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(1));
    let mut done = task::spawn(svc.ready().await.unwrap().call((0, 0)));
    assert_eq!(assert_ready!(done.poll()).unwrap(), 0);
    assert_eq!(handle.in_flight(), 0);
    drop(done);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn every_service_and_clone_of_a_layer_shares_one_bulkhead() {
    let layer = BulkheadLayer::builder().max_concurrent(1).build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut a = layer.layer(logging_backend(log.clone()));
    let mut b = layer.layer(logging_backend(log.clone()));
    let mut c = a.clone();
    let running = a.ready().await.unwrap().call((0, 100));
    assert_eq!(
        reason(&b.ready().await.unwrap().call((1, 0)).await),
        Some(Reason::BulkheadFull { limit: 1 })
    );
    assert_eq!(
        reason(&c.ready().await.unwrap().call((2, 0)).await),
        Some(Reason::BulkheadFull { limit: 1 })
    );
    assert_eq!(layer.handle().in_flight(), 1);
    assert_eq!(c.handle().in_flight(), 1);
    drop(running);
}

/// A bulkhead built to live as long as the process keeps its limit, its queue and its
/// handle exactly as a counted one does.
#[tokio::test(start_paused = true)]
async fn a_static_bulkhead_limits_queues_and_gives_permits_back_like_any_other() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(1)
        .max_wait(Duration::from_secs(1))
        .build_static()
        .unwrap();
    let handle = layer.handle();
    let mut svc = layer.layer(logging_backend(Arc::new(Mutex::new(Vec::new()))));
    let slow = svc.ready().await.unwrap().call((1, 100));
    let mut queued = task::spawn(svc.ready().await.unwrap().call((2, 0)));
    assert_pending!(queued.poll());
    assert_eq!((handle.in_flight(), handle.queued()), (1, 1));
    assert_eq!(slow.await.unwrap(), 1);
    assert_eq!(assert_ready!(queued.poll()).unwrap(), 2);
    assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
    let full = {
        let _held = svc.ready().await.unwrap().call((3, 10_000));
        let mut other = layer.layer(logging_backend(Arc::new(Mutex::new(Vec::new()))));
        let waits = other.ready().await.unwrap().call((4, 0));
        tokio::time::advance(Duration::from_secs(2)).await;
        waits.await
    };
    assert_eq!(
        reason(&full),
        Some(Reason::QueueTimeout {
            after: Duration::from_secs(1)
        })
    );
    assert_eq!(
        handle.in_flight(),
        0,
        "the dropped call gave its permit back"
    );
}
