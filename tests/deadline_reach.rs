//! Where a deadline reaches: into a retry waiting for its inner service, and into
//! scopes made inside it and run on another task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::time::Duration;

use seawall::deadline;
use seawall::retry::RetryLayer;
use tokio::time::Instant;
use tower::{BoxError, Layer, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Ready once, then never again: a full pool or buffer.
#[derive(Clone, Default)]
struct StuckAfterOne(Arc<AtomicUsize>);

impl tower::Service<u32> for StuckAfterOne {
    type Response = u32;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u32, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.0.load(SeqCst) == 0 {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn call(&mut self, _: u32) -> Self::Future {
        self.0.fetch_add(1, SeqCst);
        std::future::ready(Err("failed".into()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_waiting_for_its_inner_service_returns_the_last_failure_at_the_deadline() {
    let svc = RetryLayer::builder()
        .no_budget()
        .constant(ms(10))
        .build()
        .unwrap()
        .layer(StuckAfterOne::default());
    let deadline = Instant::now() + ms(1000);
    let call = deadline::scope(deadline, svc.oneshot(1));
    let result = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("returned by the deadline, not by the outer timeout");
    assert_eq!(result.unwrap_err().to_string(), "failed");
    assert!(Instant::now().saturating_duration_since(deadline) < ms(10));
}

#[tokio::test(start_paused = true)]
async fn a_scope_made_inside_a_tighter_one_keeps_it_when_spawned() {
    let tight = Instant::now() + ms(1000);
    let seen = deadline::scope(tight, async {
        let sub = deadline::scope(Instant::now() + ms(60_000), async { deadline::current() });
        tokio::spawn(sub).await.unwrap()
    })
    .await;
    assert_eq!(seen, Some(tight));
}
