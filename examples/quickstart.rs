//! A real HTTP dependency on loopback goes down for a few seconds. The same traffic runs
//! through two real hyper clients side by side, each against its own copy of the
//! dependency: one bare, one behind seawall's standard pipeline. Watch the breaker open,
//! probe and close, then compare the two in the closing table.
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
use seawall::circuit_breaker::State;
use seawall::pipeline::StandardPipeline;
use tokio::time::{Instant, sleep};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

/// How long each run lasts, and when the dependency is down within it.
const RUN: Duration = Duration::from_secs(7);
const OUTAGE: std::ops::Range<Duration> = Duration::from_millis(1500)..Duration::from_millis(4500);
const WORKERS: usize = 4;

/// A flaky server: fast and healthy, except during the outage of each run, when it
/// answers 503 after 100 ms, and one request in four hangs for 2 s first.
async fn flaky_server(hits: Arc<Hits>) -> (SocketAddr, Arc<std::sync::Mutex<Instant>>) {
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
                        let n = if down {
                            hits.down.fetch_add(1, Relaxed)
                        } else {
                            0
                        };
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

/// Requests that reached the service, while it was down.
#[derive(Default)]
struct Hits {
    down: AtomicU64,
}

/// What the callers of one client saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    by_layer: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    waits: std::sync::Mutex<Vec<Duration>>,
}

impl Tally {
    fn refused(&self) -> u64 {
        self.by_layer.lock().expect("tally").values().sum()
    }

    fn calls(&self) -> u64 {
        self.ok.load(Relaxed) + self.failed.load(Relaxed) + self.refused()
    }

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
                        // A refusal never reached the service; a timeout did, and failed.
                        Some(r) if r.reason().is_refusal() => {
                            *tally
                                .by_layer
                                .lock()
                                .expect("tally")
                                .entry(r.layer().as_str())
                                .or_default() += 1
                        }
                        _ => {
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
    // Two copies of the dependency, one per client, down at the same moments.
    let (bare_hits, guarded_hits) = (Arc::new(Hits::default()), Arc::new(Hits::default()));
    let (bare_addr, bare_clock) = flaky_server(bare_hits.clone()).await;
    let (guarded_addr, guarded_clock) = flaky_server(guarded_hits.clone()).await;
    let http = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    println!(
        "{WORKERS} workers per client call a loopback HTTP service for {:.0} s. From {:.1} s to {:.1} s\n\
         it is down: it answers 503 after 100 ms, and one request in four hangs 2 s first.\n",
        RUN.as_secs_f64(),
        OUTAGE.start.as_secs_f64(),
        OUTAGE.end.as_secs_f64()
    );

    let start = Instant::now();
    let bare_client = ServiceBuilder::new()
        .map_err(BoxError::from)
        .service(http.clone());
    // The standard pipeline, tuned for a short demo: a breaker that judges 10 calls and
    // opens for half a second at first.
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
                    let why = match change.to {
                        State::Open if change.from == State::HalfOpen => {
                            "a probe failed: open again, for longer".into()
                        }
                        State::Open => format!(
                            "{:.0} % of the last {} calls failed",
                            change.failure_rate, change.calls
                        ),
                        State::HalfOpen => "the open period is over: two probe calls".into(),
                        State::Closed => format!("{} probes succeeded", change.calls),
                        _ => String::new(),
                    };
                    println!(
                        "  t={:>4.1}s  breaker {:<9} -> {:<9} {why}",
                        start.elapsed().as_secs_f64(),
                        change.from.as_str(),
                        change.to.as_str(),
                    );
                })
        })
        .build()?;
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
    println!("the seawall client's breaker:");
    *bare_clock.lock().expect("clock") = Instant::now();
    *guarded_clock.lock().expect("clock") = Instant::now();
    let (bare, guarded) = tokio::join!(
        drive(bare_client, format!("http://{bare_addr}/stock")),
        drive(guarded_client, format!("http://{guarded_addr}/stock")),
    );

    println!(
        "\n{:<17}{:>7}{:>9}{:>10}{:>9}{:>14}{:>8}{:>8}",
        "", "calls", "answered", "failed", "refused", "server hits", "p50", "p99"
    );
    println!(
        "{:<17}{:>7}{:>9}{:>10}{:>9}{:>14}",
        "", "", "ok", "", "at once", "in outage"
    );
    for (name, t, hits) in [
        ("bare client", &bare, &bare_hits),
        ("seawall pipeline", &guarded, &guarded_hits),
    ] {
        let ms = |q| format!("{}ms", t.wait(q).as_millis());
        println!(
            "{name:<17}{:>7}{:>9}{:>10}{:>9}{:>14}{:>8}{:>8}",
            t.calls(),
            t.ok.load(Relaxed),
            t.failed.load(Relaxed),
            t.refused(),
            hits.down.load(Relaxed),
            ms(0.5),
            ms(0.99),
        );
    }
    let by_layer: Vec<String> = guarded
        .by_layer
        .lock()
        .expect("tally")
        .iter()
        .map(|(layer, n)| format!("{n} by the {layer}"))
        .collect();
    println!(
        "\nrefused at once: seawall answered the caller without another request to the\n\
         service ({}).",
        by_layer.join(", ")
    );
    println!(
        "server hits in outage: requests that reached the service while it was down\n\
         (retries included); the bare client's workers sat in hung requests instead."
    );
    let (ok_bare, ok_guarded) = (bare.ok.load(Relaxed), guarded.ok.load(Relaxed));
    let (down_bare, down_guarded) = (
        bare_hits.down.load(Relaxed),
        guarded_hits.down.load(Relaxed),
    );
    println!(
        "\nverdict: behind seawall, {} calls were answered ({ok_guarded} vs {ok_bare} bare), \
         the service\nwas sent {} while it was down, and 99 % of calls took at most \
         {} ms\n(bare: {} ms).",
        if ok_guarded >= ok_bare {
            format!("{} more", ok_guarded - ok_bare)
        } else {
            format!("{} fewer", ok_bare - ok_guarded)
        },
        if down_bare == 0 {
            format!("{down_guarded} requests (bare: none)")
        } else if down_guarded <= down_bare {
            format!(
                "{:.0} % fewer requests",
                100.0 * (1.0 - down_guarded as f64 / down_bare.max(1) as f64)
            )
        } else {
            format!("{down_guarded} requests (bare: {down_bare})")
        },
        guarded.wait(0.99).as_millis(),
        bare.wait(0.99).as_millis(),
    );
    Ok(())
}
