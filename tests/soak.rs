//! A soak through a faulty network: real HTTP calls from a hyper client through the
//! standard pipeline, across the toxic proxy (resets, hangs, slow bytes, truncation,
//! latency, 5xx bursts on a timeline), to a real hyper server, with random caller
//! cancellations. Every call resolves; nothing is left held; memory stays flat.
//! CI runs 50,000 calls; `SOAK_CALLS=1000000 cargo test --release --all-features
//! --test soak -- --nocapture` runs the long one.
#![cfg(all(feature = "toxic", feature = "http"))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response, StatusCode};
use seawall::chaos::toxic::{Toxic, ToxicProxy};
use seawall::pipeline::StandardPipeline;
use tower::{BoxError, ServiceBuilder, ServiceExt, service_fn};

/// Resident memory of this process, in bytes (Linux; 0 elsewhere).
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

async fn server(failing: Arc<AtomicBool>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let failing = failing.clone();
            let app = service_fn(move |_: Request<hyper::body::Incoming>| {
                let failing = failing.load(Relaxed);
                async move {
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(b"a body of some length")));
                    if failing {
                        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            common::serve_http1(stream, app);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_through_a_faulty_network_resolves_and_nothing_is_left_held() {
    let calls: u64 = std::env::var("SOAK_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let failing = Arc::new(AtomicBool::new(false));
    let proxy = Arc::new(
        ToxicProxy::start(server(failing.clone()).await)
            .await
            .unwrap(),
    );
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(1))
        .build_http::<Empty<Bytes>>();
    let pipeline = StandardPipeline::http()
        .attempt_timeout(Duration::from_millis(200))
        .total_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let (bulkhead, breaker, retry) = (
        pipeline.bulkhead(),
        pipeline.circuit_breaker(),
        pipeline.retry(),
    );
    let client = ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .service(http);
    let url: Arc<str> = format!("http://{}/", proxy.addr()).into();
    let (ok, failed, cancelled) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut memory = Vec::new();
    let timeline = [
        Toxic::None,
        Toxic::Latency(Duration::from_millis(2)),
        Toxic::None, // with a 5xx burst from the server
        Toxic::Reset,
        Toxic::None,
        Toxic::Truncate(30),
        Toxic::SlowBytes(200_000),
        Toxic::Hang,
        Toxic::None,
    ];
    let concurrency = 32;
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..calls {
        let phase = (n * timeline.len() as u64 / calls) as usize;
        proxy.set(timeline[phase]);
        failing.store(phase == 2, Relaxed);
        if n % (calls / 4).max(1) == 0 {
            memory.push(resident());
        }
        let permit = limit.clone().acquire_owned().await.unwrap();
        let (client, url) = (client.clone(), url.clone());
        let (ok, failed, cancelled) = (ok.clone(), failed.clone(), cancelled.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let request = Request::get(&*url).body(Empty::new()).unwrap();
            let call = async {
                let response = client
                    .oneshot(request)
                    .await
                    .map_err(|e| BoxError::from(e.to_string()))?;
                let _ = response.into_body().collect().await?;
                Ok::<_, BoxError>(())
            };
            // One call in ten is given up by its caller after a few milliseconds.
            let outcome = if n % 10 == 3 {
                tokio::time::timeout(Duration::from_millis(n % 7), call)
                    .await
                    .ok()
            } else {
                Some(call.await)
            };
            match outcome {
                Some(Ok(())) => ok.fetch_add(1, Relaxed),
                Some(Err(_)) => failed.fetch_add(1, Relaxed),
                None => cancelled.fetch_add(1, Relaxed),
            };
        });
        while let Some(done) = tasks.try_join_next() {
            done.expect("no call panics");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no call panics");
    }
    memory.push(resident());
    let (ok, failed, cancelled) = (
        ok.load(Relaxed),
        failed.load(Relaxed),
        cancelled.load(Relaxed),
    );
    eprintln!(
        "{calls} calls: {ok} answered, {failed} typed errors, {cancelled} given up; resident memory by quarter {:?} MB",
        memory.iter().map(|b| b / 1_000_000).collect::<Vec<_>>()
    );
    assert_eq!(ok + failed + cancelled, calls, "every call resolved");
    // The breaker sheds most calls of the faulty phases (and for its open periods after
    // them): what matters here is that every call ended and none hung or leaked.
    assert!(ok > 0, "calls were answered");
    assert_eq!(bulkhead.in_flight(), 0, "no bulkhead permit left held");
    assert_eq!(bulkhead.queued(), 0);
    assert_eq!(
        breaker.metrics().probes_running,
        0,
        "no probe slot left held"
    );
    assert_eq!(retry.retries_waiting(), 0, "no budget retry left held");
    if memory.len() >= 5 && memory[1] > 0 {
        let (second, last) = (memory[1] as f64, memory[4] as f64);
        assert!(
            last <= second * 1.05 + 4_000_000.0,
            "memory grew: {memory:?}"
        );
    }
}
