//! A RabbitMQ worker behind seawall: a stream of orders, some of them poison (not
//! UTF-8), some invalid for good, arriving over ten seconds, and a dependency that goes
//! down for ten seconds in the middle. The consumer dead-letters what cannot succeed, pauses while the
//! dependency is down, and handles everything else exactly once; a naive consumer that
//! requeues every failure runs beside it on a copy of the stream.
//!
//! Run: `cargo run --example queue_worker --features amqp` (uses `SEAWALL_AMQP_URL`, or
//! starts a `rabbitmq-server` of its own on loopback). `queue_worker serve <url>
//! <queue>` runs a bare worker until SIGTERM (the shutdown test uses it).

#[path = "../tests/amqp/server.rs"]
mod server;
#[path = "../tests/amqp/worker.rs"]
#[allow(dead_code)]
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use seawall::consume::amqp::AmqpBroker;
use seawall::consume::{Consumer, Fate, MemoryDedup};
use tokio::time::Instant;
use tower::{BoxError, service_fn};

const ORDERS: usize = 2_000;

/// The handler's error: `invalid` ones cannot succeed on a retry.
#[derive(Debug)]
enum OrderError {
    Invalid(String),
    DependencyDown,
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderError::Invalid(why) => write!(f, "invalid order: {why}"),
            OrderError::DependencyDown => write!(f, "inventory service unavailable"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, url, queue] = &args[..]
        && mode == "serve"
    {
        return serve(url, queue).await;
    }
    let Some(server) = server::Server::start() else {
        return Ok(()); // the reason was printed
    };
    let outage = std::env::var("QUEUE_WORKER_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    let suffix: u32 = rand::random();
    let (ours, theirs) = (
        format!("orders.{suffix:x}"),
        format!("orders.naive.{suffix:x}"),
    );
    let connection = Connection::connect(&server.url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let class = |i: usize| match i {
        i if i % 500 == 250 => "poison",
        i if i % 300 == 150 => "invalid",
        _ => "ordinary",
    };
    let body = move |i: usize| match class(i) {
        "poison" => vec![0xff, 0xfe],
        "invalid" => format!("invalid:{i}").into_bytes(),
        _ => format!("order:{i}").into_bytes(),
    };
    // The orders arrive over ten seconds, 200 a second, on both queues.
    for queue in [&ours, &theirs] {
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await?;
    }
    let ordinary = (0..ORDERS).filter(|i| class(*i) == "ordinary").count();
    let producer = {
        let (channel, ours, theirs) = (channel.clone(), ours.clone(), theirs.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            for batch in (0..ORDERS).collect::<Vec<_>>().chunks(10) {
                tick.tick().await;
                publish(&channel, &ours, batch.iter().map(|i| (*i, body(*i)))).await?;
                let plain = batch.iter().filter(|i| class(**i) == "ordinary");
                publish(&channel, &theirs, plain.map(|i| (*i, body(*i)))).await?;
            }
            Ok::<(), BoxError>(())
        })
    };
    let start = Instant::now();
    let down = move || {
        let at = start.elapsed();
        at >= Duration::from_secs(2) && at < Duration::from_secs(2) + outage
    };
    let handled: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen = handled.clone();
    let handler = service_fn(move |order: String| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if order.starts_with("invalid") {
                return Err(OrderError::Invalid(order));
            }
            if down() {
                return Err(OrderError::DependencyDown);
            }
            *seen.lock().unwrap().entry(order).or_default() += 1;
            Ok(())
        }
    });
    let breaker = worker::outage_breaker("inventory");
    let consumer = Consumer::builder(|bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned))
        .name("orders")
        .concurrency(16)
        .breaker(breaker.handle())
        .dedup(MemoryDedup::new(10 * ORDERS))
        .fate(|e: &OrderError| match e {
            OrderError::Invalid(_) => Fate::Permanent,
            OrderError::DependencyDown => Fate::Transient,
        })
        .in_place(2, Duration::from_millis(50), Duration::from_millis(200))
        .tiers([Duration::from_secs(5), Duration::from_secs(30)])
        .build()?;
    let broker = AmqpBroker::builder(server.url.as_str(), ours.as_str())
        .connect()
        .await?;
    let naive = tokio::spawn(worker::naive(server.url.clone(), theirs, down, ordinary));
    let watch = handled.clone();
    let all_handled = async move {
        while watch.lock().unwrap().len() < ordinary {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // the last acknowledgements
    };
    let report = consumer.run(broker, handler, all_handled).await;
    let naive = naive.await?;
    producer.await??;

    let counts = handled.lock().unwrap().clone();
    let twice = counts.values().filter(|n| **n > 1).count();
    let dead = (0..ORDERS).filter(|i| class(*i) != "ordinary").count();
    println!(
        "{ORDERS} orders over 10 s, the inventory service down from 2 s to {} s:\n",
        2 + outage.as_secs()
    );
    println!("| class | orders | what happened |");
    println!("|---|---|---|");
    println!(
        "| ordinary | {ordinary} | {} handled, {twice} of them more than once |",
        counts.len()
    );
    let poison = (0..ORDERS).filter(|i| class(*i) == "poison").count();
    println!(
        "| poison (not UTF-8) | {poison} | {} dead-lettered as `poison`, never handed to the handler |",
        report.poison
    );
    println!(
        "| invalid | {} | {} dead-lettered at once as `permanent` |",
        dead - poison,
        report.dead_lettered
    );
    println!(
        "\nThrough the outage the consumer paused {} time(s); it gave {} held orders back \
         unhandled and sent {} to the 5 s delay tier.",
        report.pauses, report.refused, report.delayed
    );
    let caused = report.refused + report.delayed + report.unsettled;
    println!(
        "Redeliveries caused: seawall {caused}; a consumer that requeues every failure, on \
         a copy of the ordinary orders through the same outage: {naive}."
    );
    let _ = connection.close(200, "done".into()).await;
    drop(server);
    assert_eq!(
        (counts.len(), twice),
        (ordinary, 0),
        "every ordinary order handled once"
    );
    Ok(())
}

async fn publish(
    channel: &Channel,
    queue: &str,
    bodies: impl Iterator<Item = (usize, Vec<u8>)>,
) -> Result<(), BoxError> {
    let mut confirms = Vec::new();
    for (i, body) in bodies {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(format!("order-{i}").into());
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        confirms.push(confirm);
    }
    for confirm in confirms {
        confirm.await?;
    }
    Ok(())
}

/// A bare worker: handles each message in 300 ms, prints its id when it starts and when
/// it is done, and on SIGTERM gives
/// back what it holds at once (no drain time) and reports.
async fn serve(url: &str, queue: &str) -> Result<(), BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let consumer = Consumer::builder(|bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned))
        .concurrency(8)
        .drain(Duration::ZERO)
        .build()?;
    let broker = AmqpBroker::builder(url, queue).connect().await?;
    let handler = service_fn(|message: String| async move {
        println!("started {message}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("handled {message}");
        Ok::<(), std::io::Error>(())
    });
    let report = consumer
        .run(broker, handler, async move {
            terminate.recv().await;
        })
        .await;
    println!(
        "REPORT handled={} stopped={}",
        report.handled, report.stopped
    );
    Ok(())
}
