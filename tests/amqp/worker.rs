//! The other side of two scenarios: a naive consumer that requeues every failure, and
//! the `queue_worker` example run as a separate process that is sent SIGTERM.

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use futures_core::Stream;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The breaker both outage scenarios (the test and the example) pause on: judged over
/// the last 20 calls, at least 10, open 2 s doubling to 4 s.
pub fn outage_breaker(name: &str) -> seawall::circuit_breaker::CircuitBreakerLayer {
    seawall::circuit_breaker::CircuitBreakerLayer::builder()
        .name(name)
        .count_window(20)
        .minimum_calls(10)
        .open_duration(Duration::from_secs(2))
        .open_backoff(2.0, Duration::from_secs(4))
        .build()
        .expect("valid settings")
}

/// Consumes `queue` handling each message for 2 ms, requeueing it whenever `down()`,
/// until `n` were handled; returns how many times it requeued.
pub async fn naive(url: String, queue: String, down: impl Fn() -> bool, n: usize) -> u64 {
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_qos(16, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "naive".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (mut handled, mut requeued) = (0, 0);
    while handled < n {
        let delivery = std::future::poll_fn(|cx| Pin::new(&mut consumer).poll_next(cx))
            .await
            .expect("the stream stays open")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        if down() {
            requeued += 1;
            let again = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            delivery.acker.nack(again).await.unwrap();
        } else {
            handled += 1;
            delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .unwrap();
        }
    }
    let _ = connection.close(200, "done".into()).await;
    requeued
}

/// The `queue_worker` example binary `cargo test` built beside this test, if it did.
pub fn example() -> Option<PathBuf> {
    let dir = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("examples");
    let binary = dir.join(format!("queue_worker{}", std::env::consts::EXE_SUFFIX));
    if binary.exists() {
        return Some(binary);
    }
    let why = "the `queue_worker` example is not built (cargo test --all-features builds it)";
    assert!(
        std::env::var("SEAWALL_REQUIRE_AMQP").as_deref() != Ok("1"),
        "SEAWALL_REQUIRE_AMQP=1 but {why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// What a worker process said.
#[derive(Debug, Default)]
pub struct Said {
    pub ids: Vec<String>,
    pub handled: u64,
    pub stopped: u64,
}

/// Runs the example as a worker on `queue`, sends it SIGTERM as it starts a message
/// once it handled `after`, and reads what it handled and gave back.
pub async fn serve_then_terminate(binary: &PathBuf, url: &str, queue: &str, after: usize) -> Said {
    let mut child = tokio::process::Command::new(binary)
        .args(["serve", url, queue])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the worker starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Said::default();
    let mut signalled = false;
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(id) = line.strip_prefix("handled ") {
                said.ids.push(id.to_owned());
            }
            if let Some(report) = line.strip_prefix("REPORT ") {
                for word in report.split(' ') {
                    if let Some(n) = word.strip_prefix("handled=") {
                        said.handled = n.parse().unwrap();
                    }
                    if let Some(n) = word.strip_prefix("stopped=") {
                        said.stopped = n.parse().unwrap();
                    }
                }
            }
            // Signalled while a message is being handled (started, not done yet).
            let started = line.starts_with("started ");
            if !signalled && started && said.ids.len() >= after {
                signalled = true;
                let pid = child.id().expect("running").to_string();
                let status = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the worker ends after SIGTERM");
    let status = child.wait().await.unwrap();
    assert!(status.success(), "the worker exits cleanly: {status}");
    said
}
