//! Fail-fast mode: calls up to the limit, then a queue in arrival order that a call leaves
//! after the maximum wait or at its deadline.

use std::time::Duration;

use seawall::bulkhead::BulkheadLayer;
use seawall::{Reason, RejectedBy, deadline};
use tokio::time::Instant;
use tokio_test::{assert_pending, assert_ready, task};
use tower::{Service, ServiceExt};

use crate::common::*;
use crate::{bulkhead, reason};

#[tokio::test(start_paused = true)]
async fn calls_run_up_to_the_limit_and_a_full_bulkhead_rejects_reporting_it() {
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(2));
    let a = tokio::spawn(svc.ready().await.unwrap().call((1, 100)));
    let b = tokio::spawn(svc.ready().await.unwrap().call((2, 100)));
    tokio::task::yield_now().await;
    assert_eq!(handle.in_flight(), 2);
    let third = svc.ready().await.unwrap().call((3, 0)).await;
    assert_eq!(reason(&third), Some(Reason::BulkheadFull { limit: 2 }));
    assert_eq!(
        Reason::BulkheadFull { limit: 2 }.layer(),
        RejectedBy::Bulkhead
    );
    assert_eq!(a.await.unwrap().unwrap(), 1);
    assert_eq!(b.await.unwrap().unwrap(), 2);
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn queued_calls_start_in_arrival_order() {
    let (handle, mut svc, log) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(10)),
    );
    let mut calls = Vec::new();
    for id in 0..4 {
        // Spawned tasks are first polled in spawn order: arrival order.
        calls.push(tokio::spawn(svc.ready().await.unwrap().call((id, 100))));
    }
    tokio::task::yield_now().await;
    assert_eq!((handle.in_flight(), handle.queued()), (1, 3));
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_gives_up_after_the_maximum_wait() {
    let (handle, mut svc, log) =
        bulkhead(BulkheadLayer::builder().max_concurrent(1).max_wait(ms(50)));
    let _running = tokio::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    tokio::task::yield_now().await;
    let started = Instant::now();
    let queued = svc.ready().await.unwrap().call((1, 0)).await;
    assert_eq!(
        reason(&queued),
        Some(Reason::QueueTimeout { after: ms(50) })
    );
    assert_eq!(started.elapsed(), ms(50));
    assert_eq!(handle.queued(), 0);
    assert_eq!(
        *log.lock().unwrap(),
        vec![0],
        "the inner service never saw call 1"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_gives_up_at_its_deadline_when_that_comes_first() {
    let (handle, mut svc, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(10)),
    );
    let _running = tokio::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    tokio::task::yield_now().await;
    let started = Instant::now();
    let call = svc.ready().await.unwrap();
    let queued = deadline::scope(started + ms(30), async { call.call((1, 0)).await }).await;
    assert_eq!(reason(&queued), Some(Reason::DeadlineExceeded));
    assert_eq!(started.elapsed(), ms(30));
    assert_eq!(handle.queued(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_deadline_already_passed_is_rejected_without_queueing() {
    let (handle, mut svc, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(10)),
    );
    let _running = tokio::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    tokio::task::yield_now().await;
    let call = svc.ready().await.unwrap();
    let result = deadline::scope(Instant::now(), async { call.call((1, 0)).await }).await;
    assert_eq!(reason(&result), Some(Reason::DeadlineExceeded));
    assert_eq!(handle.queued(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_finding_the_queue_full_is_rejected_at_once() {
    let (handle, mut svc, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(1))
            .max_queued(1),
    );
    let _running = tokio::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    let mut first = task::spawn(svc.call((1, 0)));
    assert_pending!(first.poll());
    tokio::task::yield_now().await;
    let second = svc.ready().await.unwrap().call((2, 0)).await;
    assert_eq!(reason(&second), Some(Reason::BulkheadFull { limit: 1 }));
    assert_eq!(handle.queued(), 1);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_mode_is_always_ready_and_rejects_in_call() {
    let (_, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(1));
    let _running = tokio::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    tokio::task::yield_now().await;
    let mut ready = task::spawn(svc.ready());
    assert_ready!(ready.poll()).unwrap();
}
