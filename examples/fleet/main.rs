//! A fleet of four worker processes shares one breaker and one rate limit through
//! Redis, against one flaky HTTP dependency on loopback; the same runs with a breaker
//! and a limiter per process show what the fleet changes.
//!
//! ```text
//! cargo run --example fleet --features redis
//! ```
//!
//! It uses the Redis at `SEAWALL_REDIS_URL`, or starts `redis-server` (Debian:
//! `apt-get install redis-server`) on a free loopback port. Each worker is this same
//! binary, started with `worker …` arguments. Two scenarios, each run with local and
//! with fleet-wide layers:
//!
//! * **Dead dependency**: four workers call at 25/s each; the dependency answers 503
//!   from second 1 to second 4. Each breaker judges 20 calls and probes with one after
//!   500 ms open. Measured: calls the fleet made to the dead dependency before every
//!   worker stopped, probes while it was dead, and how long after its return every
//!   worker was closed.
//! * **Shared limit**: four workers offer 150, 150, 50 and 50 calls/s against a limit of
//!   200/s (burst 20); measured: calls admitted over 10 s (from second 1 to 11).
//!
//! The last lines, `RESULT …`, are for `tests/fleet/processes.rs`, which runs this.

mod dependency;
mod redis;
mod worker;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use dependency::{Dependency, Hit};
use worker::Orders;

const WORKERS: usize = 4;
const SYNC_MS: u64 = 50;

pub fn unix_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis() as u64)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if args.get(1).map(String::as_str) == Some("worker") {
        let Some(orders) = Orders::parse(&args[2..]) else {
            eprintln!(
                "usage: fleet worker <kind> <redis> <dependency> <namespace> <fleet> <rate> <seconds> <start> <sync_ms>"
            );
            return ExitCode::FAILURE;
        };
        return match runtime.block_on(worker::run(orders)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let redis = match redis::Redis::find_or_start() {
        Ok(redis) => redis,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(coordinate(&redis.url));
    ExitCode::SUCCESS
}

/// What the workers of one run printed: each worker's breaker changes and totals.
struct Run {
    start: u64,
    events: Vec<Vec<(u64, String)>>,
    hits: Vec<Hit>,
}

/// Starts the workers of one run and waits for them; `schedule` drives the dependency.
async fn run(
    redis: &str,
    dependency: &Dependency,
    address: &str,
    (kind, fleet, rates, seconds): (&str, bool, [f64; WORKERS], u64),
    schedule: &[(u64, bool)],
) -> Run {
    let start = unix_ms() + 1_500;
    let namespace = format!("example-{}-{kind}-{fleet}-{start}", std::process::id());
    let mut children = Vec::new();
    for rate in rates {
        let orders = Orders {
            kind: kind.to_owned(),
            redis: redis.to_owned(),
            dependency: address.to_owned(),
            namespace: namespace.clone(),
            fleet,
            rate,
            seconds,
            start_at: start,
            sync_ms: SYNC_MS,
        };
        let child = Command::new(std::env::current_exe().expect("this binary"))
            .args(orders.to_args())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker starts");
        children.push(child);
    }
    dependency.set_down(false);
    let _ = dependency.take();
    for &(at, down) in schedule {
        let wait = (start + at).saturating_sub(unix_ms());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        dependency.set_down(down);
    }
    let events = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|mut child| {
                let out = BufReader::new(child.stdout.take().expect("piped"));
                let events = out
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|line| {
                        let mut words = line.strip_prefix("EVENT ")?.split(' ');
                        Some((words.next()?.parse().ok()?, words.next()?.to_owned()))
                    })
                    .collect();
                let status = child.wait().expect("a worker ends");
                assert!(status.success(), "a worker failed: {status}");
                events
            })
            .collect()
    })
    .await
    .expect("workers read");
    Run {
        start,
        events,
        hits: dependency.take(),
    }
}

async fn coordinate(redis: &str) {
    let dependency = Dependency::default();
    let address = dependency.start().await.to_string();
    println!("{WORKERS} worker processes, one Redis ({redis}), syncs every {SYNC_MS} ms\n");
    println!("Dead dependency (503 from second 1 to 4), four workers at 25 calls/s each:");
    println!(
        "| breakers | calls to the dead dependency before all stopped | probes while dead | all closed after it returned |"
    );
    println!("|---|---|---|---|");
    for fleet in [false, true] {
        let orders = ("breaker", fleet, [25.0; WORKERS], 6);
        let schedule = [(1_000, true), (4_000, false)];
        let run = run(redis, &dependency, &address, orders, &schedule).await;
        let (down, up) = (run.start + 1_000, run.start + 4_000);
        let first = |state: &str, after: u64| {
            run.events
                .iter()
                .map(|events| {
                    events
                        .iter()
                        .find(|(at, to)| *at >= after && to == state)
                        .map(|(at, _)| *at)
                })
                .collect::<Option<Vec<u64>>>()
                .and_then(|ats| ats.into_iter().max())
        };
        let stopped = first("open", down).unwrap_or(up);
        let dead = run.hits.iter().filter(|hit| hit.down);
        let before = dead.clone().filter(|hit| hit.at < stopped).count();
        let probes = dead.filter(|hit| hit.at >= stopped).count();
        let recovery = first("closed", up).map(|at| at - up);
        let name = if fleet { "fleet" } else { "local" };
        let shown = recovery.map_or("never".to_owned(), |ms| format!("{ms} ms"));
        println!("| {name} | {before} | {probes} | {shown} |");
        let ms = recovery.map_or(-1, |ms| ms as i64);
        println!("RESULT breaker {name} before={before} probes={probes} recovery_ms={ms}");
    }
    println!(
        "\nShared limit of 200 calls/s (burst 20), workers offering 150, 150, 50, 50 calls/s:"
    );
    println!("| limiters | admitted from second 1 to 11 | against 2000 |");
    println!("|---|---|---|");
    for fleet in [false, true] {
        let orders = ("rate", fleet, [150.0, 150.0, 50.0, 50.0], 12);
        let run = run(redis, &dependency, &address, orders, &[]).await;
        let window = run.start + 1_000..run.start + 11_000;
        let admitted = run.hits.iter().filter(|h| window.contains(&h.at)).count();
        let name = if fleet { "fleet" } else { "local" };
        let error = (admitted as f64 - 2000.0) / 20.0;
        println!("| {name} | {admitted} | {error:+.1} % |");
        println!("RESULT rate {name} admitted={admitted}");
    }
}
