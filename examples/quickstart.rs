//! A real HTTP dependency on loopback goes down for a few seconds. The same traffic runs
//! twice through a real hyper client: once bare, once behind seawall's standard
//! pipeline. Watch the breaker open, probe and close, and compare the two runs.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use seawall::AsRejected;
use seawall::pipeline::StandardPipeline;
use tokio::time::{Instant, sleep};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

/// How long each run lasts, and when the dependency is down within it.
const RUN: Duration = Duration::from_secs(8);
const OUTAGE: std::ops::Range<Duration> = Duration::from_secs(2)..Duration::from_secs(5);
const WORKERS: usize = 4;

/// A flaky server: fast and healthy, except during the outage of each run, when it
/// answers 503 after 100 ms, and one request in four hangs for 2 s first.
async fn flaky_server(hits: Arc<[AtomicU64; 2]>) -> (SocketAddr, Arc<std::sync::Mutex<Instant>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let run_started = Arc::new(std::sync::Mutex::new(Instant::now()));
    let started = run_started.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (hits, started) = (hits.clone(), started.clone());
            tokio::spawn(async move {
                let handler =
                    hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                        let since = started.lock().expect("clock lock").elapsed();
                        let down = OUTAGE.contains(&since);
                        let n = hits[usize::from(down)].fetch_add(1, Relaxed);
                        async move {
                            if down {
                                let hang = if n % 4 == 0 { 2000 } else { 100 };
                                sleep(Duration::from_millis(hang)).await;
                            }
                            let (status, body) = if down {
                                (StatusCode::SERVICE_UNAVAILABLE, "down")
                            } else {
                                sleep(Duration::from_millis(5)).await;
                                (StatusCode::OK, "ok")
                            };
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = status;
                            Ok::<_, Infallible>(response)
                        }
                    });
                let io = TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, handler)
                    .await;
            });
        }
    });
    (addr, run_started)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    by_layer: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    waits: std::sync::Mutex<Vec<Duration>>,
}

impl Tally {
    /// The wait at quantile `q` of all calls.
    fn wait(&self, q: f64) -> Duration {
        let mut waits = self.waits.lock().expect("tally").clone();
        waits.sort();
        let i = ((waits.len() as f64 - 1.0) * q).round() as usize;
        waits.get(i).copied().unwrap_or_default()
    }
}

/// Runs `WORKERS` loops of back-to-back calls for `RUN`.
async fn drive<S>(client: S, uri: String) -> Arc<Tally>
where
    S: Service<Request<Empty<Bytes>>, Response = Response<hyper::body::Incoming>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (mut client, tally, uri) = (client.clone(), tally.clone(), uri.clone());
        workers.push(tokio::spawn(async move {
            while start.elapsed() < RUN {
                let began = Instant::now();
                let req = Request::get(&uri).body(Empty::new()).expect("request");
                let result = match client.ready().await {
                    Ok(ready) => ready.call(req).await,
                    Err(e) => Err(e),
                };
                tally.waits.lock().expect("tally").push(began.elapsed());
                match result {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.into_body().collect().await;
                        tally.ok.fetch_add(1, Relaxed);
                    }
                    Ok(_) => {
                        tally.failed.fetch_add(1, Relaxed);
                    }
                    Err(e) => match e.as_rejected() {
                        Some(r) => {
                            *tally
                                .by_layer
                                .lock()
                                .expect("tally")
                                .entry(r.layer().as_str())
                                .or_default() += 1
                        }
                        None => {
                            tally.failed.fetch_add(1, Relaxed);
                        }
                    },
                }
                sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    tally
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let hits = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let (addr, run_started) = flaky_server(hits.clone()).await;
    let take_hits = || {
        (
            hits[0].swap(0, Relaxed) + hits[1].load(Relaxed),
            hits[1].swap(0, Relaxed),
        )
    };
    let uri = format!("http://{addr}/stock");
    let http = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    println!(
        "{WORKERS} workers call http://{addr} for {}s; from {}s to {}s it answers 503 after 100 ms,\nand one request in four hangs 2 s first.\n",
        RUN.as_secs(),
        OUTAGE.start.as_secs(),
        OUTAGE.end.as_secs()
    );

    // 1. Without seawall.
    println!("run 1: bare hyper client");
    *run_started.lock().expect("clock") = Instant::now();
    let bare_client = ServiceBuilder::new()
        .map_err(BoxError::from)
        .service(http.clone());
    let bare = drive(bare_client, uri.clone()).await;
    let bare_hits = take_hits();

    // 2. With the standard pipeline, tuned for a short demo.
    println!("run 2: behind seawall's standard pipeline");
    let start = Instant::now();
    let pipeline = StandardPipeline::http()
        .name("stock")
        .total_timeout(Duration::from_secs(1))
        .attempt_timeout(Duration::from_millis(300))
        .retry(|r| r.exponential(Duration::from_millis(50), 2.0, Duration::from_millis(200)))
        .circuit_breaker(|b| {
            b.count_window(10)
                .minimum_calls(5)
                .failure_rate_threshold(seawall::Ratio::percent(50.0))
                .open_duration(Duration::from_millis(500))
                .open_backoff(2.0, Duration::from_secs(1))
                .half_open_calls(2)
                .on_state_change(move |change| {
                    println!(
                        "  t={:>4.1}s  breaker {:<9} -> {:<9} (failure rate {:.0} % of {} calls)",
                        start.elapsed().as_secs_f64(),
                        change.from.as_str(),
                        change.to.as_str(),
                        change.failure_rate,
                        change.calls
                    );
                })
        })
        .build()?;
    *run_started.lock().expect("clock") = Instant::now();
    let guarded_client = ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .service(http)
        .map_err(
            |e: seawall::Error<hyper_util::client::legacy::Error>| match e {
                seawall::Error::Rejected(r) => BoxError::from(r),
                seawall::Error::Service(e) => BoxError::from(e),
            },
        );
    let guarded = drive(guarded_client, uri).await;
    let guarded_hits = take_hits();

    println!(
        "\n{:<18}{:>6}{:>8}{:>9}{:>13}{:>16}{:>8}{:>8}{:>8}",
        "", "ok", "failed", "refused", "server hits", "during outage", "p50", "p99", "max"
    );
    for (name, t, hits) in [
        ("bare client", &bare, bare_hits),
        ("seawall pipeline", &guarded, guarded_hits),
    ] {
        let refused: u64 = t.by_layer.lock().expect("tally").values().sum();
        let ms = |q| format!("{}ms", t.wait(q).as_millis());
        println!(
            "{name:<18}{:>6}{:>8}{refused:>9}{:>13}{:>16}{:>8}{:>8}{:>8}",
            t.ok.load(Relaxed),
            t.failed.load(Relaxed),
            hits.0,
            hits.1,
            ms(0.5),
            ms(0.99),
            ms(1.0)
        );
    }
    let by_layer = guarded.by_layer.lock().expect("tally");
    let refusals: Vec<String> = by_layer
        .iter()
        .map(|(layer, n)| format!("{layer}: {n}"))
        .collect();
    println!("\nthe pipeline refused, by layer: {}", refusals.join(", "));
    println!(
        "(the bare client waits out every hung request; seawall bounds each call by its\n deadline, stops calling a dependency that is down, and probes until it is back)"
    );
    Ok(())
}
