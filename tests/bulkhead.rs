//! The bulkhead's behaviour, one rule per test, in paused tokio time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use seawall::bulkhead::{Builder, BulkheadHandle, BulkheadLayer, Mode};
use seawall::{Reason, RejectedBy, deadline};
use tokio::time::{Instant, advance};
use tokio_test::{assert_pending, assert_ready, task};
use tower::{Layer, Service, ServiceExt, service_fn};

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

#[tokio::test(start_paused = true)]
async fn backpressure_mode_waits_in_poll_ready_until_a_permit_is_free() {
    let (handle, mut a, _) = bulkhead(
        BulkheadLayer::builder()
            .max_concurrent(1)
            .mode(Mode::Backpressure),
    );
    let mut b = a.clone();
    a.ready().await.unwrap();
    assert_eq!(handle.in_flight(), 1, "poll_ready took the permit");
    let mut b_ready = task::spawn(b.ready());
    assert!(b_ready.poll().is_pending());
    assert_eq!(handle.queued(), 1);
    let call = a.call((0, 100));
    assert!(b_ready.poll().is_pending());
    assert_eq!(call.await.unwrap(), 0);
    assert!(b_ready.is_woken());
    assert!(b_ready.poll().is_ready());
    drop(b_ready);
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0));
    assert_eq!(b.call((1, 0)).await.unwrap(), 1);
    assert_eq!(handle.in_flight(), 0);
}

/// Two services of one backpressure bulkhead with room for one call: the first holds
/// the permit, the second has to wait.
async fn one_holds_the_permit(
    builder: Builder,
) -> (
    BulkheadHandle,
    impl Service<(u32, u64), Response = u32, Error = Err>,
    impl Service<(u32, u64), Response = u32, Error = Err>,
) {
    let (handle, mut holder, _) = bulkhead(builder.max_concurrent(1).mode(Mode::Backpressure));
    let waiter = holder.clone();
    holder.ready().await.unwrap();
    (handle, holder, waiter)
}

/// Drives a readiness wait whose deadline is `left` from now: still waiting 1 ms before
/// it, refused with `DeadlineExceeded` at it.
async fn gives_up_at_the_deadline<T>(
    ready: &mut task::Spawn<impl Future<Output = Result<T, Err>>>,
    left: Duration,
) {
    assert!(ready.poll().is_pending());
    advance(left - ms(1)).await;
    assert!(ready.poll().is_pending());
    advance(ms(1)).await;
    let gave_up = assert_ready!(ready.poll());
    assert_eq!(reason(&gave_up), Some(Reason::DeadlineExceeded));
}

#[tokio::test(start_paused = true)]
async fn a_backpressure_wait_gives_up_at_the_deadline_and_leaves_the_queue() {
    let (handle, holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let mut ready = task::spawn(deadline::scope(Instant::now() + ms(30), waiter.ready()));
    assert!(ready.poll().is_pending());
    assert_eq!((handle.in_flight(), handle.queued()), (1, 1));
    gives_up_at_the_deadline(&mut ready, ms(30)).await;
    drop(ready);
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0), "as before");
    drop(holder);
    assert_eq!(
        (handle.in_flight(), handle.queued()),
        (0, 0),
        "nothing leaked"
    );
}

#[tokio::test(start_paused = true)]
async fn a_backpressure_wait_gives_up_after_the_maximum_wait() {
    let builder = BulkheadLayer::builder().max_wait(ms(50));
    let (handle, _holder, mut waiter) = one_holds_the_permit(builder).await;
    let started = Instant::now();
    let gave_up = waiter.ready().await.map(|_| ());
    assert_eq!(
        reason(&gave_up),
        Some(Reason::QueueTimeout { after: ms(50) })
    );
    assert_eq!(started.elapsed(), ms(50));
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_backpressure_wait_without_a_deadline_waits_as_long_as_it_takes() {
    let (handle, mut holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let mut ready = task::spawn(waiter.ready());
    assert!(ready.poll().is_pending());
    advance(Duration::from_secs(24 * 3600)).await;
    assert!(ready.poll().is_pending());
    assert_eq!(handle.queued(), 1);
    holder.call((0, 0)).await.unwrap();
    assert!(ready.is_woken());
    assert_ready!(ready.poll()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_permit_freed_before_the_deadline_goes_to_the_backpressure_waiter() {
    let (handle, mut holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let mut ready = task::spawn(deadline::scope(Instant::now() + ms(100), waiter.ready()));
    assert!(ready.poll().is_pending());
    holder.call((0, 10)).await.unwrap();
    assert!(ready.is_woken());
    assert_ready!(ready.poll()).unwrap();
    drop(ready);
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0));
    advance(ms(200)).await;
    assert_eq!(
        waiter.call((1, 0)).await.unwrap(),
        1,
        "past the deadline: no effect"
    );
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_service_that_gave_up_waits_again_until_its_new_deadline() {
    let (_, _holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let first = deadline::scope(Instant::now() + ms(10), waiter.ready()).await;
    assert_eq!(reason(&first), Some(Reason::DeadlineExceeded));
    let mut again = task::spawn(deadline::scope(Instant::now() + ms(30), waiter.ready()));
    gives_up_at_the_deadline(&mut again, ms(30)).await;
}

#[tokio::test(start_paused = true)]
async fn a_backpressure_caller_whose_deadline_passed_is_refused_without_queueing() {
    let (handle, _holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let refused = deadline::scope(Instant::now(), waiter.ready()).await;
    assert_eq!(reason(&refused), Some(Reason::DeadlineExceeded));
    assert_eq!((handle.in_flight(), handle.queued()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_service_dropped_while_waiting_with_a_deadline_frees_its_place() {
    let (handle, holder, mut waiter) = one_holds_the_permit(BulkheadLayer::builder()).await;
    let mut ready = task::spawn(deadline::scope(Instant::now() + ms(100), waiter.ready()));
    assert!(ready.poll().is_pending());
    assert_eq!(handle.queued(), 1);
    drop(ready);
    drop(waiter);
    assert_eq!(handle.queued(), 0);
    advance(ms(200)).await;
    drop(holder);
    assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
}

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
    assert_eq!(events[0].field("bulkhead"), Some("db"));
    assert_eq!(events[0].field("from"), Some("1"));
    assert_eq!(events[0].field("to"), Some("7"));
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
