//! The HTTP parts (feature `http`): `Retry-After`, the attempt header and body replay.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall::retry::http::{Attempt, HttpHint, HttpReplay, TransientStatus};
use seawall::retry::{Jitter, RetryLayer};
use tokio::time::Instant;
use tower::{BoxError, Layer, ServiceExt};

type Req = ::http::Request<String>;
type Res = ::http::Response<()>;

#[tokio::test(start_paused = true)]
async fn retry_after_sets_the_delay_and_the_attempt_reaches_the_inner_service() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let start = Instant::now();
    let inner = tower::service_fn(move |req: Req| {
        let attempt = Attempt::of(&req);
        log.lock().unwrap().push((attempt, start.elapsed()));
        let response = ::http::Response::builder();
        let response = match attempt {
            1 => response.status(503).header("retry-after", "2"),
            2 => response.status(429).header("retry-after", "not a number"),
            _ => response.status(200),
        };
        async move { Ok::<Res, BoxError>(response.body(()).unwrap()) }
    });
    let layer = RetryLayer::builder()
        .constant(Duration::from_millis(300))
        .jitter(Jitter::None)
        .classifier(TransientStatus)
        .hints(HttpHint)
        .replay(HttpReplay::default())
        .build()
        .unwrap();
    let request = ::http::Request::post("/").body(String::from("{}")).unwrap();
    let response = layer.layer(inner).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let expected = [
        (1, Duration::ZERO),
        (2, Duration::from_secs(2)),
        (3, Duration::from_millis(2300)),
    ];
    assert_eq!(
        *seen.lock().unwrap(),
        expected,
        "the malformed hint falls back to the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_body_above_the_cap_is_not_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |_: Req| {
        counter.fetch_add(1, SeqCst);
        async { Ok::<Res, BoxError>(::http::Response::builder().status(502).body(()).unwrap()) }
    });
    let layer = RetryLayer::builder()
        .classifier(TransientStatus)
        .hints(HttpHint)
        .replay(HttpReplay::max_body(8))
        .build()
        .unwrap();
    let request = ::http::Request::post("/").body("x".repeat(9)).unwrap();
    let response = layer.layer(inner).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(calls.load(SeqCst), 1);
}
