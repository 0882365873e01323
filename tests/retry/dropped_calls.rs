//! A call dropped mid-way: its attempt is cancelled and its retry goes back to the budget.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, ServiceExt};

use crate::common;
use crate::{MS, Scripted, always_fails, plain};

fn futures_poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn dropping_a_sleeping_call_gives_its_retry_back_to_the_budget() {
    let inner = Scripted::new(always_fails);
    let layer = plain(2, Duration::from_secs(1))
        .budget(Duration::from_secs(1), 1, seawall::Ratio::percent(0.0))
        .build()
        .unwrap();
    let handle = layer.handle();
    let service = layer.layer(inner.clone());
    let mut sleeping = Box::pin(service.clone().oneshot(0));
    assert!(futures_poll_once(sleeping.as_mut()).is_pending());
    assert_eq!(inner.calls(), 1);
    assert_eq!(
        handle.retries_waiting(),
        1,
        "its retry is held while it sleeps"
    );
    drop(sleeping);
    assert_eq!(handle.retries_waiting(), 0);
    // The one retry of the budget is back: this call uses it.
    let _ = service.oneshot(1).await;
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_cancels_the_attempt_in_flight() {
    let (dropped, inner) = common::tracked(Duration::from_secs(3600));
    let mut call = Box::pin(plain(3, MS).build().unwrap().layer(inner).oneshot(()));
    assert!(futures_poll_once(call.as_mut()).is_pending());
    drop(call);
    assert!(common::is_gone(&dropped));
}
