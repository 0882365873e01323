//! Settings: the limit changed at run time, and out-of-range values named by field.

use std::time::Duration;

use seawall::Reason;
use seawall::bulkhead::BulkheadLayer;
use tokio::time::advance;
use tokio_test::{assert_pending, task};
use tower::{Service, ServiceExt};

use crate::common::*;
use crate::{bulkhead, reason};

#[tokio::test(start_paused = true)]
async fn raising_the_limit_at_run_time_starts_queued_calls() {
    let (handle, mut svc, log) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .max_wait(Duration::from_secs(10)),
    );
    let mut running = task::spawn(svc.ready().await.unwrap().call((0, 1_000)));
    let mut queued = task::spawn(svc.call((1, 1_000)));
    assert_pending!(running.poll());
    assert_pending!(queued.poll());
    handle.set_max_concurrent(2).unwrap();
    assert!(queued.is_woken());
    assert_pending!(queued.poll());
    assert_eq!((handle.in_flight(), handle.queued()), (2, 0));
    assert_eq!(*log.lock().unwrap(), vec![0, 1]);
}

#[tokio::test(start_paused = true)]
async fn lowering_the_limit_lets_running_calls_finish_and_admits_below_it() {
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().max_concurrent(2));
    let a = svc.ready().await.unwrap().call((0, 100));
    let b = svc.ready().await.unwrap().call((1, 200));
    handle.set_max_concurrent(1).unwrap();
    let (a, b) = (tokio::spawn(a), tokio::spawn(b));
    advance(ms(1)).await;
    assert_eq!(handle.in_flight(), 2);
    let c = svc.ready().await.unwrap().call((2, 0)).await;
    assert_eq!(reason(&c), Some(Reason::BulkheadFull { limit: 1 }));
    a.await.unwrap().unwrap();
    let d = svc.ready().await.unwrap().call((3, 0)).await;
    assert_eq!(
        reason(&d),
        Some(Reason::BulkheadFull { limit: 1 }),
        "still 1 running"
    );
    b.await.unwrap().unwrap();
    assert_eq!(svc.ready().await.unwrap().call((4, 0)).await.unwrap(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_limit_change_emits_one_event_and_calls_emit_none() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let (handle, mut svc, _) = bulkhead(BulkheadLayer::builder().name("db").max_concurrent(1));
    for id in 0..10 {
        let _ = svc.ready().await.unwrap().call((id, 0)).await;
    }
    assert!(recorder.take().is_empty(), "no per-call events");
    handle.set_max_concurrent(7).unwrap();
    let events = recorder.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, "seawall::bulkhead");
    assert_eq!(events[0].field("seawall.name"), Some("db"));
    assert_eq!(events[0].field("from"), Some("1"));
    assert_eq!(events[0].field("to"), Some("7"));
}

#[test]
fn build_names_the_setting_that_is_out_of_range() {
    let err = BulkheadLayer::builder()
        .max_concurrent(100_001)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bulkhead.max_concurrent: 100001 is outside 1..=100000"
    );
    let err = BulkheadLayer::builder()
        .max_queued(200_000)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "bulkhead.max_queued");
    let err = BulkheadLayer::builder()
        .max_wait(Duration::from_secs(90_000))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "bulkhead.max_wait");
    let handle = BulkheadLayer::builder().build().unwrap().handle();
    let err = handle.set_max_concurrent(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bulkhead.max_concurrent: 0 is outside 1..=100000"
    );
    assert_eq!(handle.max_concurrent(), 1000, "the default, unchanged");
}
