//! An axum reverse proxy in front of five real HTTP backends on loopback, balancing with
//! tower's power-of-two-choices. Backend 0 goes bad on a timeline: it fails fast (503),
//! then hangs, then heals. The same traffic runs twice: through bare p2c, and through
//! p2c with seawall's per-endpoint health. Each proxied request may try a second
//! backend once (as proxies do), and each attempt has a 200 ms timeout.
//!
//! ```text
//! cargo run --example reverse_proxy --features balance
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use http_body_util::{Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use seawall::balance::Endpoints;
use tower::balance::p2c::Balance;
use tower::buffer::Buffer;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequests};
use tower::util::{BoxCloneSyncService, BoxService};
use tower::{BoxError, ServiceExt};

const PHASES: [&str; 4] = [
    "all healthy",
    "backend 0 fails fast",
    "backend 0 hangs",
    "backend 0 healed",
];
const PHASE: Duration = Duration::from_secs(3);
const BACKENDS: usize = 5;
const RATE: u64 = 200;

/// What backend 0 does in each phase: 0 answers, 1 fails with 503, 2 hangs.
const BAD: [u8; 4] = [0, 1, 2, 0];

/// Where the run is, and what each backend and the proxy's callers saw in each phase.
#[derive(Default)]
struct Tally {
    phase: AtomicUsize,
    hits: [[AtomicU64; 4]; BACKENDS],
    ok: [AtomicU64; 4],
    calls: [AtomicU64; 4],
}

async fn backend(index: usize, tally: Arc<Tally>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tally = tally.clone();
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |_: hyper::Request<_>| {
                    let phase = tally.phase.load(Relaxed);
                    tally.hits[index][phase].fetch_add(1, Relaxed);
                    let mode = if index == 0 { BAD[phase] } else { 0 };
                    async move {
                        let status = match mode {
                            0 => StatusCode::OK,
                            1 => StatusCode::SERVICE_UNAVAILABLE,
                            _ => {
                                tokio::time::sleep(Duration::from_secs(10)).await;
                                StatusCode::OK
                            }
                        };
                        let mut response = hyper::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    addr
}

type Upstream = PendingRequests<BoxService<(), (), BoxError>>;

/// One backend as a service: a 2xx answer within 200 ms is a success.
fn upstream(addr: SocketAddr) -> Upstream {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}/").parse().expect("uri");
    let call = tower::service_fn(move |()| {
        let (client, uri) = (client.clone(), uri.clone());
        async move {
            let response = client.get(uri).await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err::<(), BoxError>(response.status().to_string().into())
            }
        }
    });
    let timed = tower::timeout::Timeout::new(call, Duration::from_millis(200));
    PendingRequests::new(BoxService::new(timed), CompleteOnResponse::default())
}

type Proxy = BoxCloneSyncService<(), (), BoxError>;

async fn proxy(State(upstreams): State<Proxy>) -> StatusCode {
    for _ in 0..2 {
        if upstreams.clone().oneshot(()).await.is_ok() {
            return StatusCode::OK;
        }
    }
    StatusCode::BAD_GATEWAY
}

async fn serve(upstreams: Proxy) -> SocketAddr {
    let app = axum::Router::new()
        .route("/", axum::routing::get(proxy))
        .with_state(upstreams);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Sends `RATE` requests a second to the proxy through every phase.
async fn run(addrs: &[SocketAddr], seawall: bool) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let upstreams: Vec<Upstream> = addrs.iter().map(|a| upstream(*a)).collect();
    let balancer: Proxy = if seawall {
        let endpoints = Endpoints::builder()
            .name("backends")
            .breaker(|b| b.consecutive_failures(5))
            .build()
            .expect("valid settings");
        let list = upstreams
            .into_iter()
            .enumerate()
            .map(|(i, u)| endpoints.endpoint(i, u));
        BoxCloneSyncService::new(Buffer::new(
            Balance::new(ServiceList::new(list.collect::<Vec<_>>())),
            1024,
        ))
    } else {
        BoxCloneSyncService::new(Buffer::new(Balance::new(ServiceList::new(upstreams)), 1024))
    };
    let proxy = serve(balancer).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = format!("http://{proxy}/").parse().expect("uri");
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let start = tokio::time::Instant::now();
    let total = PHASE * PHASES.len() as u32;
    let mut calls = Vec::new();
    while start.elapsed() < total {
        tick.tick().await;
        let phase = ((start.elapsed().as_millis() / PHASE.as_millis()) as usize).min(3);
        tally.phase.store(phase, Relaxed);
        let (client, uri, tally) = (client.clone(), uri.clone(), tally.clone());
        calls.push(tokio::spawn(async move {
            let ok = matches!(client.get(uri).await, Ok(r) if r.status().is_success());
            tally.calls[phase].fetch_add(1, Relaxed);
            tally.ok[phase].fetch_add(u64::from(ok), Relaxed);
        }));
    }
    for call in calls {
        let _ = call.await;
    }
    tally
}

#[tokio::main]
async fn main() {
    let backends = Arc::new(Tally::default());
    // The backends read the phase from whichever run is going: one shared clock.
    let mut addrs = Vec::new();
    for i in 0..BACKENDS {
        addrs.push(backend(i, backends.clone()).await);
    }
    println!(
        "{BACKENDS} backends, {RATE} requests/s through an axum proxy, {} s per phase\n",
        PHASE.as_secs()
    );
    let mut results = Vec::new();
    for seawall in [false, true] {
        for phase in 0..4 {
            for hits in &backends.hits {
                hits[phase].store(0, Relaxed);
            }
        }
        let phases = spawn_phase_clock(backends.clone());
        let tally = run(&addrs, seawall).await;
        phases.abort();
        let share: Vec<f64> = (0..4)
            .map(|p| {
                let all: u64 = backends.hits.iter().map(|h| h[p].load(Relaxed)).sum();
                100.0 * backends.hits[0][p].load(Relaxed) as f64 / all.max(1) as f64
            })
            .collect();
        results.push((tally, share));
    }
    println!(
        "| phase | bare p2c: success | backend 0's share of attempts | seawall: success | backend 0's share |"
    );
    println!("|---|---|---|---|---|");
    for (p, name) in PHASES.iter().enumerate() {
        let cell = |i: usize| {
            let (tally, share) = &results[i];
            let ok = tally.ok[p].load(Relaxed) as f64;
            let calls = tally.calls[p].load(Relaxed).max(1) as f64;
            format!("{:.1} % | {:.1} %", 100.0 * ok / calls, share[p])
        };
        println!("| {name} | {} | {} |", cell(0), cell(1));
    }
}

/// Moves the backends' phase along the same timeline as the load.
fn spawn_phase_clock(backends: Arc<Tally>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for phase in 0..4 {
            backends.phase.store(phase, Relaxed);
            tokio::time::sleep(PHASE).await;
        }
    })
}
