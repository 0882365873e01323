//! The standard pipeline: order, defaults, cross-checks, in paused time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use seawall::circuit_breaker::{State, WindowConfig};
use seawall::pipeline::StandardPipeline;
use seawall::{Reason, RejectedBy};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A backend that counts calls and always does what `req` says.
fn counted() -> (
    Arc<AtomicU32>,
    impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send + 'static,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let svc = service_fn(move |req: Req| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(req.delay).await;
            if req.fail {
                Err(seawall::Error::Service(Boom))
            } else {
                Ok(())
            }
        }
    });
    (calls, svc)
}

#[test]
fn the_defaults_are_each_layers_own_with_microsofts_limits_and_timeouts() {
    let pipeline = StandardPipeline::builder().build().unwrap();
    assert_eq!(pipeline.bulkhead().max_concurrent(), 1000);
    let breaker = pipeline.circuit_breaker().config();
    let standalone = seawall::circuit_breaker::CircuitBreakerLayer::builder()
        .build()
        .unwrap()
        .handle()
        .config();
    assert_eq!(breaker.name, "standard");
    let mut renamed = breaker;
    renamed.name = standalone.name.clone();
    assert_eq!(renamed, standalone);
    assert_eq!(standalone.window, WindowConfig::Count(100));
    assert_eq!(standalone.open_duration, secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_failing_call_is_retried_twice_with_growing_jittered_delays() {
    let (calls, backend) = counted();
    let mut svc = StandardPipeline::builder().build().unwrap().layer(backend);
    let start = Instant::now();
    let result = call(&mut svc, FAIL).await;
    assert!(matches!(result, Err(seawall::Error::Service(Boom))));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");
    assert!(start.elapsed() < secs(30), "within the total timeout");
}

#[tokio::test(start_paused = true)]
async fn each_attempt_times_out_and_the_total_timeout_ends_the_call() {
    let (calls, backend) = counted();
    let pipeline = StandardPipeline::builder()
        .total_timeout(secs(25))
        .attempt_timeout(secs(10))
        .retry(|r| r.constant(secs(1)).jitter(seawall::retry::Jitter::None))
        .build()
        .unwrap();
    let mut svc = pipeline.layer(backend);
    let start = Instant::now();
    let result = call(&mut svc, slow(60_000, false)).await;
    // 10 s attempt, 1 s, 10 s attempt, 1 s, then the third attempt is cut at 25 s.
    assert_eq!(
        rejected(&result).map(|r| r.layer()),
        Some(RejectedBy::Deadline)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), secs(25));
}

#[tokio::test(start_paused = true)]
async fn the_breaker_sees_every_attempt_and_its_open_rejection_stops_the_retries() {
    let (calls, backend) = counted();
    let pipeline = StandardPipeline::builder()
        .retry(|r| r.max_attempts(4).no_budget())
        .circuit_breaker(|b| {
            b.count_window(2)
                .minimum_calls(2)
                .confidence(None)
                .open_duration(secs(20))
        })
        .build()
        .unwrap();
    let handle = pipeline.circuit_breaker();
    let mut svc = pipeline.layer(backend);
    let result = call(&mut svc, FAIL).await;
    assert_eq!(handle.state(), State::Open);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "two attempts opened the breaker"
    );
    let rejection = rejected(&result).expect("the third attempt was refused");
    assert_eq!(rejection.reason(), Reason::CircuitOpen);
}

#[tokio::test(start_paused = true)]
async fn the_bulkhead_refuses_calls_beyond_the_limit_at_once() {
    let (_, backend) = counted();
    let pipeline = StandardPipeline::builder()
        .max_concurrent(1)
        .build()
        .unwrap();
    let mut svc = pipeline.layer(backend);
    let busy = svc.ready().await.unwrap().call(slow(1000, false));
    let refused = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&refused).map(|r| r.layer()),
        Some(RejectedBy::Bulkhead)
    );
    busy.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn services_and_clones_from_one_pipeline_share_its_state() {
    let pipeline = StandardPipeline::builder()
        .retry(|r| r.max_attempts(1))
        .circuit_breaker(|b| b.count_window(2).minimum_calls(2).confidence(None))
        .build()
        .unwrap();
    let (_, backend) = counted();
    let mut a = pipeline.layer(backend.clone());
    let mut b = pipeline.layer(backend).clone();
    let _ = call(&mut a, FAIL).await;
    let _ = call(&mut b, FAIL).await;
    assert_eq!(pipeline.circuit_breaker().state(), State::Open);
}

/// A pipeline built to live as long as the process behaves as any other: its breaker
/// opens on the attempts of every service, its bulkhead refuses beyond the limit.
#[tokio::test(start_paused = true)]
async fn a_static_pipeline_shares_its_breaker_and_bulkhead_like_any_other() {
    let pipeline = StandardPipeline::builder()
        .max_concurrent(1)
        .retry(|r| r.max_attempts(1))
        .circuit_breaker(|b| b.count_window(2).minimum_calls(2).confidence(None))
        .build_static()
        .unwrap();
    let (_, backend) = counted();
    let mut a = pipeline.layer(backend.clone());
    let mut b = pipeline.layer(backend).clone();
    let busy = a.ready().await.unwrap().call(slow(1000, false));
    let refused = call(&mut b, OK).await;
    assert_eq!(
        rejected(&refused).map(|r| r.layer()),
        Some(RejectedBy::Bulkhead)
    );
    busy.await.unwrap();
    let _ = call(&mut a, FAIL).await;
    let _ = call(&mut b, FAIL).await;
    assert_eq!(pipeline.circuit_breaker().state(), State::Open);
}

#[test]
fn cross_checks_are_configuration_errors() {
    let err = StandardPipeline::builder()
        .attempt_timeout(secs(40))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "standard.attempt_timeout: 40s is outside (0s, total_timeout = 30s]"
    );
    let err = StandardPipeline::builder()
        .name("payments")
        .attempt_timeout(secs(20))
        .circuit_breaker(|b| b.time_window(secs(30), 10))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "payments.circuit_breaker.window.time.window: 30s is outside [2 × attempt_timeout = 40s, 7 days]"
    );
    let err = StandardPipeline::builder()
        .retry(|r| r.max_attempts(0))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("standard.retry.max_attempts: 0 is outside"),
        "{err}"
    );
}

#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn the_http_pipeline_retries_transient_statuses_after_retry_after() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let backend = service_fn(move |_req: http::Request<String>| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let response = if n == 0 {
                http::Response::builder()
                    .status(503)
                    .header("retry-after", "3")
                    .body(())
                    .unwrap()
            } else {
                http::Response::builder().status(200).body(()).unwrap()
            };
            Ok::<_, tower::BoxError>(response)
        }
    });
    let mut svc = StandardPipeline::http().build().unwrap().layer(backend);
    let start = Instant::now();
    let response = svc
        .ready()
        .await
        .unwrap()
        .call(http::Request::new("order".to_owned()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        start.elapsed(),
        secs(3),
        "the server's Retry-After, not the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_per_key_keeps_one_keys_outage_from_opening_the_others_breaker() {
    use seawall::keyed::KeyedLayer;
    let template = StandardPipeline::builder()
        .retry(|r| r.max_attempts(1))
        .circuit_breaker(|b| b.count_window(2).minimum_calls(2).confidence(None));
    let keyed = KeyedLayer::builder(template, |req: &(char, Req)| req.0)
        .build()
        .unwrap();
    let inner = service_fn(|(_, req): (char, Req)| async move {
        if req.fail {
            Err::<(), Err>(seawall::Error::Service(Boom))
        } else {
            Ok(())
        }
    });
    let mut svc = keyed.layer(inner);
    for _ in 0..2 {
        let _ = svc.ready().await.unwrap().call(('a', FAIL)).await;
    }
    assert_eq!(
        keyed.partition(&'a').unwrap().circuit_breaker().state(),
        State::Open
    );
    svc.ready().await.unwrap().call(('b', OK)).await.unwrap();
    assert_eq!(
        keyed.partition(&'b').unwrap().circuit_breaker().state(),
        State::Closed
    );
}

#[test]
fn a_registry_hands_every_client_of_a_dependency_the_same_pipeline() {
    use seawall::registry::Registry;
    let pipelines = Registry::new(|name: &str| StandardPipeline::builder().name(name).build());
    let a = pipelines.get("payments").unwrap();
    let b = pipelines.get("payments").unwrap();
    a.circuit_breaker().force_open();
    assert_eq!(b.circuit_breaker().state(), State::ForcedOpen);
    assert_eq!(
        pipelines.get("search").unwrap().circuit_breaker().state(),
        State::Closed
    );
    assert_eq!(
        pipelines.names(),
        vec!["payments".to_owned(), "search".to_owned()]
    );
}

#[tokio::test(start_paused = true)]
async fn the_pipelines_timeouts_change_while_it_runs() {
    let (_, backend) = counted();
    let pipeline = StandardPipeline::builder()
        .total_timeout(secs(2))
        .attempt_timeout(secs(1))
        .retry(|r| r.max_attempts(1))
        .build()
        .unwrap();
    let (total, attempt) = (pipeline.total_timeout(), pipeline.attempt_timeout());
    let mut svc = pipeline.layer(backend);
    let cut = call(&mut svc, slow(1500, false)).await;
    assert_eq!(
        rejected(&cut).map(|r| r.layer()),
        Some(RejectedBy::AttemptTimeout)
    );
    // Raise the total first: the attempt timeout may never exceed it.
    total.set(secs(4)).unwrap();
    attempt.set(secs(3)).unwrap();
    call(&mut svc, slow(1500, false))
        .await
        .expect("within the new limits");
    assert!(
        total.set(std::time::Duration::ZERO).is_err(),
        "refused; 4 s kept"
    );
    assert_eq!(total.get(), secs(4));
}

#[test]
fn the_pipelines_timeout_handles_keep_its_cross_checks() {
    let pipeline = StandardPipeline::builder()
        .name("payments")
        .total_timeout(secs(5))
        .attempt_timeout(secs(1))
        .circuit_breaker(|b| b.time_window(secs(8), 10))
        .build()
        .unwrap();
    let (total, attempt) = (pipeline.total_timeout(), pipeline.attempt_timeout());
    assert_eq!(
        attempt.set(secs(6)).unwrap_err().to_string(),
        "payments.attempt_timeout: 6s is outside (0s, total_timeout = 5s]"
    );
    assert_eq!(
        total
            .set(std::time::Duration::from_millis(100))
            .unwrap_err()
            .to_string(),
        "payments.total_timeout: 100ms is outside [attempt_timeout = 1s, 365 days]"
    );
    assert_eq!(
        attempt
            .set(std::time::Duration::from_millis(4500))
            .unwrap_err()
            .to_string(),
        "payments.attempt_timeout: 4.5s is outside (0s, circuit_breaker time window / 2 = 4s]",
        "within the total, but not within half the breaker's 8 s window"
    );
    assert_eq!(
        (total.get(), attempt.get()),
        (secs(5), secs(1)),
        "both kept"
    );
    attempt.set(secs(4)).unwrap();
    total.set(secs(4)).unwrap();
}
