//! A dependency goes down for 30 seconds. Without a breaker, every call during the outage
//! waits on it and fails; with one, the breaker opens after a few failures, fails fast,
//! probes now and then, and closes once the dependency is back.
//!
//! Runs two simulated minutes of traffic in tokio's paused time, so it finishes at once:
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seawall::circuit_breaker::CircuitBreakerLayer;
use tokio::time::{Instant, sleep};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

const OUTAGE: std::ops::Range<u64> = 20..50; // seconds into the run
const RUN: Duration = Duration::from_secs(120);
const EVERY: Duration = Duration::from_millis(100);

/// A dependency that answers in 5 ms, except during the outage, when it takes 2 s to fail.
fn dependency(
    start: Instant,
    hits: Arc<AtomicU64>,
) -> impl Service<(), Response = (), Error = BoxError> + Clone {
    service_fn(move |()| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::Relaxed);
            if OUTAGE.contains(&start.elapsed().as_secs()) {
                sleep(Duration::from_secs(2)).await;
                Err::<(), BoxError>("503 service unavailable".into())
            } else {
                sleep(Duration::from_millis(5)).await;
                Ok(())
            }
        }
    })
}

/// Stamps the breaker's events with simulated seconds since the start.
struct SimulatedClock(Instant);

impl tracing_subscriber::fmt::time::FormatTime for SimulatedClock {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "t={:>5.1}s", self.0.elapsed().as_secs_f64())
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    failed: u64,
    rejected: u64,
    waited: Duration,
}

async fn drive<S>(mut client: S, start: Instant) -> Tally
where
    S: Service<(), Response = (), Error = BoxError>,
{
    let mut tally = Tally::default();
    while start.elapsed() < RUN {
        let began = Instant::now();
        match client.ready().await.unwrap().call(()).await {
            Ok(()) => tally.ok += 1,
            Err(e) if seawall::AsRejected::as_rejected(&e).is_some() => tally.rejected += 1,
            Err(_) => tally.failed += 1,
        }
        tally.waited += began.elapsed();
        sleep(EVERY).await;
    }
    tally
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), BoxError> {
    println!(
        "A dependency fails for {}s..{}s of a {}s run; one call every {:?}.\n",
        OUTAGE.start,
        OUTAGE.end,
        RUN.as_secs(),
        EVERY
    );

    // Without seawall.
    let hits = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let bare = drive(dependency(start, hits.clone()), start).await;
    let bare_hits = hits.load(Ordering::Relaxed);

    // With a circuit breaker.
    let breaker = CircuitBreakerLayer::builder()
        .name("dependency")
        .count_window(10)
        .minimum_calls(5)
        .failure_rate_threshold(50.0)
        .slow_call_duration(Duration::from_secs(1))
        .slow_call_rate_threshold(30.0)
        .open_duration(Duration::from_secs(5))
        .open_backoff(2.0, Duration::from_secs(10))
        .half_open_calls(2)
        .build()?;
    let hits = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let events = tracing_subscriber::fmt()
        .with_timer(SimulatedClock(start))
        .with_target(false)
        .finish();
    let _guard = tracing::subscriber::set_default(events);
    let client = ServiceBuilder::new()
        .layer(breaker)
        .service(dependency(start, hits.clone()));
    let guarded = drive(client, start).await;
    let guarded_hits = hits.load(Ordering::Relaxed);

    println!(
        "\n{:<16}{:>8}{:>8}{:>10}{:>18}{:>14}",
        "", "ok", "failed", "rejected", "dependency hits", "time waiting"
    );
    for (name, t, h) in [
        ("without seawall", &bare, bare_hits),
        ("with breaker", &guarded, guarded_hits),
    ] {
        println!(
            "{name:<16}{:>8}{:>8}{:>10}{:>18}{:>13.1}s",
            t.ok,
            t.failed,
            t.rejected,
            h,
            t.waited.as_secs_f64()
        );
    }
    Ok(())
}
