//! The queue consumer against a real `rabbitmq-server` (Debian's package): started by
//! the test, or the one `.ci/run` started; skipped, saying why, where none is
//! installed. The broker keeps real time, so these tests do: each waits for a condition
//! with a generous bound, and the outage lasts the 30 seconds.
#![cfg(feature = "amqp")]

mod server;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use seawall::consume::amqp::AmqpBroker;
use seawall::consume::{Consumer, MemoryDedup, Report};
use server::Server;
use tokio::time::Instant;
use tower::service_fn;

/// A queue name no other test uses.
fn unique(name: &str) -> String {
    let n: u64 = rand::random();
    format!("seawall.test.{name}.{n:x}")
}

async fn channel(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connects to rabbitmq");
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (connection, channel)
}

/// Publishes persistent messages with ids, and waits for every confirm.
async fn publish(
    channel: &Channel,
    queue: &str,
    bodies: impl IntoIterator<Item = (String, Vec<u8>)>,
) {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut confirms = Vec::new();
    for (id, body) in bodies {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(id.into());
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .unwrap();
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(confirm.await.unwrap().is_ack());
    }
}

fn numbered(n: usize) -> impl Iterator<Item = (String, Vec<u8>)> {
    (0..n).map(|i| (format!("m{i}"), format!("m{i}").into_bytes()))
}

/// Messages ready in `queue`.
async fn ready(channel: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap();
    declared.message_count()
}

/// Takes every message left in `queue` (a dead-letter queue), with its headers.
async fn drain(channel: &Channel, queue: &str) -> Vec<(Vec<u8>, FieldTable)> {
    let mut out = Vec::new();
    loop {
        let got = channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap();
        let Some(message) = got else { return out };
        let headers = message
            .delivery
            .properties
            .headers()
            .clone()
            .unwrap_or_default();
        out.push((message.delivery.data.clone(), headers));
    }
}

fn header(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::LongLongInt(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

#[derive(Clone, Default)]
struct Handled(Arc<Mutex<HashMap<String, u32>>>);

impl Handled {
    fn add(&self, id: &str) {
        *self.0.lock().unwrap().entry(id.to_owned()).or_default() += 1;
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn counts(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }
}

fn utf8(bytes: &[u8]) -> Result<String, std::str::Utf8Error> {
    std::str::from_utf8(bytes).map(str::to_owned)
}

/// Runs until `done` holds (checked every 100 ms), at most `limit`.
async fn until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not done within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poison_message_among_ten_thousand_is_dead_lettered_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let queue = unique("poison");
    let (_connection, channel) = channel(&server.url).await;
    let poisoned = numbered(10_000).map(|(id, body)| {
        if id == "m5000" {
            (id, vec![0xff, 0xfe, 0x00])
        } else {
            (id, body)
        }
    });
    publish(&channel, &queue, poisoned).await;
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        seen.add(&m);
        async { Ok::<(), std::io::Error>(()) }
    });
    let consumer = Consumer::builder(utf8).concurrency(32).build().unwrap();
    let broker = AmqpBroker::builder(server.url.as_str(), queue.as_str())
        .connect()
        .await
        .unwrap();
    let watch = handled.clone();
    let report = consumer
        .run(
            broker,
            handler,
            until(Duration::from_secs(120), move || watch.len() == 9_999),
        )
        .await;
    assert_eq!(report.poison, 1, "{report:?}");
    assert_eq!(
        (report.refused, report.delayed, report.dead_lettered),
        (0, 0, 0)
    );
    assert!(handled.counts().values().all(|n| *n == 1));
    let dead = drain(&channel, &format!("{queue}.dead")).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, vec![0xff, 0xfe, 0x00]);
    assert_eq!(
        header(&dead[0].1, "x-seawall-reason").as_deref(),
        Some("poison")
    );
    assert_eq!(
        header(&dead[0].1, "x-seawall-origin").as_deref(),
        Some(queue.as_str())
    );
    assert!(header(&dead[0].1, "x-seawall-error").is_some_and(|e| e.contains("utf-8")));
    assert_eq!(ready(&channel, &queue).await, 0);
}

/// The dependency is down for 30 s from one second in; the consumer with a breaker and
/// a naive requeue loop consume two copies of the same stream at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_thirty_second_outage_every_message_is_handled_once_and_consumption_pauses() {
    let Some(server) = Server::start() else {
        return;
    };
    let (ours, theirs) = (unique("outage"), unique("outage.naive"));
    let (_connection, channel) = channel(&server.url).await;
    publish(&channel, &ours, numbered(10_000)).await;
    publish(&channel, &theirs, numbered(10_000)).await;
    let start = Instant::now();
    let down = move || {
        let at = start.elapsed();
        at >= Duration::from_secs(1) && at < Duration::from_secs(31)
    };
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if down() {
                return Err(std::io::Error::other("dependency down"));
            }
            seen.add(&m);
            Ok(())
        }
    });
    let breaker = worker::outage_breaker("dependency");
    let consumer = Consumer::builder(utf8)
        .concurrency(16)
        .breaker(breaker.handle())
        .dedup(MemoryDedup::new(20_000))
        .in_place(2, Duration::from_millis(50), Duration::from_millis(200))
        .tiers([Duration::from_secs(5), Duration::from_secs(30)])
        .build()
        .unwrap();
    let broker = AmqpBroker::builder(server.url.as_str(), ours.as_str())
        .connect()
        .await
        .unwrap();
    let naive_requeues = tokio::spawn(worker::naive(
        server.url.clone(),
        theirs.clone(),
        down,
        10_000,
    ));
    let watch = handled.clone();
    let report: Report = consumer
        .run(
            broker,
            handler,
            until(Duration::from_secs(180), move || watch.len() == 10_000),
        )
        .await;
    let counts = handled.counts();
    assert_eq!(counts.len(), 10_000);
    assert!(
        counts.values().all(|n| *n == 1),
        "each handled exactly once"
    );
    assert_eq!(report.dead_lettered + report.poison, 0, "{report:?}");
    assert!(report.pauses >= 1, "{report:?}");
    let caused = report.refused + report.delayed + report.stopped + report.unsettled;
    let naive = naive_requeues.await.unwrap();
    println!(
        "redeliveries through the outage: seawall {caused} ({report:?}), naive requeue loop {naive}"
    );
    assert!(caused * 20 < naive, "seawall {caused} vs naive {naive}");
    assert_eq!(ready(&channel, &ours).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_broker_restarts_mid_stream_consumption_resumes_and_nothing_is_lost() {
    let Some(server) = Server::start_own() else {
        return;
    };
    let queue = unique("restart");
    {
        let (connection, channel) = channel(&server.url).await;
        publish(&channel, &queue, numbered(3_000)).await;
        let _ = connection.close(200, "published".into()).await;
    }
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            seen.add(&m);
            Ok::<(), std::io::Error>(())
        }
    });
    let consumer = Consumer::builder(utf8)
        .concurrency(8)
        .dedup(MemoryDedup::new(10_000))
        .build()
        .unwrap();
    let broker = AmqpBroker::builder(server.url.as_str(), queue.as_str())
        .connect()
        .await
        .unwrap();
    let watch = handled.clone();
    let restarted = Arc::new(AtomicBool::new(false));
    let flag = restarted.clone();
    let run = tokio::spawn(async move {
        consumer
            .run(
                broker,
                handler,
                until(Duration::from_secs(180), move || watch.len() == 3_000),
            )
            .await
    });
    until(Duration::from_secs(60), || handled.len() >= 1_000).await;
    let server = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.stop();
        server.run();
        flag.store(true, SeqCst);
        server
    })
    .await
    .unwrap();
    assert!(restarted.load(SeqCst));
    let report = run.await.unwrap();
    assert_eq!(handled.len(), 3_000, "every message handled");
    assert!(
        report.broker_errors >= 1,
        "the connection was lost: {report:?}"
    );
    let (_connection, channel) = channel(&server.url).await;
    assert_eq!(
        ready(&channel, &queue).await,
        0,
        "nothing left, nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_gives_back_what_it_holds_and_acknowledges_nothing_unhandled()
{
    let Some(server) = Server::start() else {
        return;
    };
    let Some(binary) = worker::example() else {
        return;
    };
    let queue = unique("sigterm");
    let (_connection, channel) = channel(&server.url).await;
    publish(&channel, &queue, numbered(200)).await;
    let handled = worker::serve_then_terminate(&binary, &server.url, &queue, 20).await;
    assert!(handled.handled >= 20, "{handled:?}");
    assert!(
        handled.stopped >= 1,
        "it held messages when told to stop: {handled:?}"
    );
    let left = ready(&channel, &queue).await as usize;
    assert_eq!(
        left + handled.ids.len(),
        200,
        "every message is either handled or back in the queue: {handled:?}"
    );
    assert_eq!(handled.ids.len() as u64, handled.handled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_declared_elsewhere_must_exist_when_the_broker_connects() {
    let Some(server) = Server::start() else {
        return;
    };
    let queue = unique("undeclared");
    let (_connection, channel) = channel(&server.url).await;
    publish(&channel, &queue, numbered(1)).await; // the queue, but no dead-letter queue
    let missing = AmqpBroker::builder(server.url.as_str(), queue.as_str())
        .declare(false)
        .connect()
        .await;
    let error = missing.expect_err("the dead-letter queue does not exist");
    assert!(error.to_string().contains("NOT_FOUND"), "{error}");
    assert_eq!(ready(&channel, &queue).await, 1, "nothing was taken");
}
