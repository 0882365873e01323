//! Backpressure mode: callers wait in `poll_ready`, up to the maximum wait or their
//! deadline.

use std::time::Duration;

use seawall::bulkhead::{Builder, BulkheadHandle, BulkheadLayer, Mode};
use seawall::{Reason, deadline};
use tokio::time::{Instant, advance};
use tokio_test::{assert_ready, task};
use tower::{Service, ServiceExt};

use crate::common::*;
use crate::{bulkhead, reason};

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
