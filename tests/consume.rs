//! The queue consumer's promises, on the in-process broker and tokio's paused clock:
//! poison dead-lettered once, permanent errors at once, transient ones retried in
//! place then through the tiers, a breaker that pauses consumption through an outage,
//! a drain that gives back what it cannot finish, deduplication, the lease.
#![cfg(feature = "queue")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::consume::{
    Broker, Consumer, Delivery, Fate, MemoryBroker, MemoryDedup, Report, Settlement,
};
use tokio::time::Instant;
use tower::service_fn;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn utf8(bytes: &[u8]) -> Result<String, std::str::Utf8Error> {
    std::str::from_utf8(bytes).map(str::to_owned)
}

fn fill(broker: &MemoryBroker, n: usize) {
    fill_from(broker, 0, n);
}

fn fill_from(broker: &MemoryBroker, first: usize, n: usize) {
    for i in first..first + n {
        broker.publish(format!("m{i}").into_bytes(), Some(&format!("m{i}")));
    }
}

/// Counts each message's successful handlings.
#[derive(Clone, Default)]
struct Handled(Arc<Mutex<HashMap<String, u32>>>);

impl Handled {
    fn add(&self, message: &str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(message.to_owned())
            .or_default() += 1;
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn counts(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs `consumer` until the broker's queue stays empty and nothing is in flight.
async fn run_until_idle<D, F, S>(
    consumer: &Consumer<D, F>,
    broker: &MemoryBroker,
    handler: S,
) -> Report
where
    D: seawall::consume::Decode<String>,
    F: seawall::consume::Sort<std::io::Error>,
    S: tower::Service<String, Response = (), Error = std::io::Error> + Clone + Send + 'static,
    S::Future: Send,
{
    let watched = broker.clone();
    let began = Instant::now();
    let idle = async move {
        let mut quiet = 0;
        loop {
            assert!(
                began.elapsed() < Duration::from_secs(6 * 3600),
                "not idle after 6 h"
            );
            tokio::time::sleep(ms(500)).await;
            let stats = watched.stats();
            let settled = stats.acked + stats.dead_lettered + stats.delayed + stats.requeued;
            quiet = if stats.ready == 0 && settled > 0 {
                quiet + 1
            } else {
                0
            };
            if quiet > 120 {
                return; // a minute of virtual time with nothing left to deliver
            }
        }
    };
    consumer.run(broker.clone(), handler, idle).await
}

#[tokio::test(start_paused = true)]
async fn one_poison_message_is_dead_lettered_once_and_the_rest_flow() {
    let broker = MemoryBroker::new("orders");
    fill(&broker, 500);
    broker.publish(vec![0xff, 0xfe], Some("poison"));
    fill_from(&broker, 500, 499);
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        seen.add(&m);
        async { Ok::<(), std::io::Error>(()) }
    });
    let consumer = Consumer::builder(utf8).concurrency(8).build().unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(report.poison, 1);
    assert_eq!(report.handled, 999);
    let dead = broker.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, vec![0xff, 0xfe]);
    assert_eq!(dead[0].1.reason, "poison");
    assert_eq!(dead[0].1.attempts, 0, "never handed to the handler");
    assert!(dead[0].1.error.contains("utf-8"), "{}", dead[0].1.error);
    assert_eq!(dead[0].1.origin, "orders");
    assert_eq!(broker.stats().redelivered, 0);
    assert!(handled.counts().values().all(|n| *n == 1));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_dead_lettered_at_once() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"invalid sku".to_vec(), None);
    let handler = service_fn(|_: String| async {
        Err::<(), _>(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no such sku",
        ))
    });
    let consumer = Consumer::builder(utf8)
        .fate(|e: &std::io::Error| match e.kind() {
            std::io::ErrorKind::InvalidData => Fate::Permanent,
            _ => Fate::Transient,
        })
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(report.dead_lettered, 1);
    let dead = broker.dead_letters();
    assert_eq!(dead[0].1.reason, "permanent");
    assert_eq!(dead[0].1.attempts, 1);
    assert_eq!(dead[0].1.error, "no such sku");
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_in_place_then_through_each_tier_then_dead_lettered() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"flaky".to_vec(), None);
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = attempts.clone();
    let handler = service_fn(move |_: String| {
        log.lock().unwrap().push(Instant::now());
        async { Err::<(), _>(std::io::Error::other("connection reset")) }
    });
    let consumer = Consumer::builder(utf8)
        .in_place(3, ms(100), ms(400))
        .tiers([Duration::from_secs(5), Duration::from_secs(30)])
        .seed(1)
        .build()
        .unwrap();
    let start = Instant::now();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!((report.delayed, report.dead_lettered), (2, 1));
    let times = attempts.lock().unwrap().clone();
    assert_eq!(
        times.len(),
        9,
        "three in place, for each of three deliveries"
    );
    // The second delivery came at least the first tier later, the third the second.
    assert!(times[3] - times[2] >= Duration::from_secs(5));
    assert!(times[6] - times[5] >= Duration::from_secs(30));
    assert!(times[8] - start < Duration::from_secs(40));
    let dead = broker.dead_letters();
    let record = &dead[0].1;
    assert_eq!(record.reason, "exhausted");
    assert_eq!(record.attempts, 9);
    assert_eq!(record.tier, 2);
    assert_eq!(record.error, "connection reset");
    assert_eq!(broker.stats().redelivered, 2);
}

#[tokio::test(start_paused = true)]
async fn in_place_retries_never_run_past_the_lease() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"slow".to_vec(), None);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    let handler = service_fn(move |_: String| {
        log.lock().unwrap().push(Instant::now());
        async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Err::<(), _>(std::io::Error::other("timed out upstream"))
        }
    });
    let consumer = Consumer::builder(utf8)
        .in_place(100, ms(10), ms(10))
        .lease(Duration::from_secs(10))
        .tiers([])
        .build()
        .unwrap();
    let start = Instant::now();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(report.dead_lettered, 1);
    let calls = calls.lock().unwrap().clone();
    assert!(calls.len() <= 4, "{} attempts in a 10 s lease", calls.len());
    assert!(calls.iter().all(|t| *t - start < Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_still_running_at_the_lease_end_counts_as_a_transient_failure() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"hangs".to_vec(), None);
    let handler = service_fn(|_: String| async {
        std::future::pending::<()>().await;
        Ok::<(), std::io::Error>(())
    });
    let consumer = Consumer::builder(utf8)
        .lease(Duration::from_secs(2))
        .tiers([])
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(report.dead_lettered, 1);
    let record = &broker.dead_letters()[0].1;
    assert!(record.error.contains("lease"), "{}", record.error);
}

/// The dependency is down from 2 s to 32 s of virtual time.
fn outage_handler(
    start: Instant,
    handled: Handled,
) -> impl tower::Service<String, Response = (), Error = std::io::Error, Future: Send> + Clone + Send
{
    service_fn(move |m: String| {
        let handled = handled.clone();
        async move {
            tokio::time::sleep(ms(5)).await;
            let at = start.elapsed();
            if at >= Duration::from_secs(2) && at < Duration::from_secs(32) {
                return Err(std::io::Error::other("dependency down"));
            }
            handled.add(&m);
            Ok(())
        }
    })
}

/// A consumer that gives every failed message straight back, as a naive loop does.
async fn naive(broker: &mut MemoryBroker, handler: impl Fn(String) -> bool, until: usize) {
    broker.resume(16).await.unwrap();
    let mut done = 0;
    while done < until {
        let delivery = broker.next().await.unwrap();
        let message = utf8(delivery.payload()).unwrap();
        tokio::time::sleep(ms(5)).await;
        if handler(message) {
            done += 1;
            delivery.settle(Settlement::Ack).await.unwrap();
        } else {
            delivery.settle(Settlement::Requeue).await.unwrap();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn through_a_thirty_second_outage_the_consumer_pauses_and_every_message_is_handled_once() {
    let broker = MemoryBroker::new("orders");
    fill(&broker, 10_000);
    let start = Instant::now();
    let handled = Handled::default();
    let breaker = CircuitBreakerLayer::builder()
        .name("dependency")
        .count_window(20)
        .minimum_calls(10)
        .open_duration(Duration::from_secs(2))
        .open_backoff(2.0, Duration::from_secs(4))
        .build()
        .unwrap();
    let consumer = Consumer::builder(utf8)
        .concurrency(16)
        .breaker(breaker.handle())
        .dedup(MemoryDedup::new(20_000))
        .in_place(2, ms(50), ms(200))
        .tiers([Duration::from_secs(5), Duration::from_secs(30)])
        .seed(7)
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, outage_handler(start, handled.clone())).await;
    let counts = handled.counts();
    assert_eq!(counts.len(), 10_000, "every message handled");
    assert!(counts.values().all(|n| *n == 1), "each exactly once");
    assert_eq!(report.dead_lettered + report.poison, 0);
    assert!(report.pauses >= 1, "{report:?}");
    let ours = broker.stats().redelivered;

    // The same outage against a consumer that requeues every failure.
    let mut plain = MemoryBroker::new("orders");
    fill(&plain, 10_000);
    let start = Instant::now();
    let seen = Handled::default();
    let counted = seen.clone();
    naive(
        &mut plain,
        move |m| {
            let at = start.elapsed();
            let down = at >= Duration::from_secs(2) && at < Duration::from_secs(32);
            if !down {
                counted.add(&m);
            }
            !down
        },
        10_000,
    )
    .await;
    let theirs = plain.stats().redelivered;
    println!("redeliveries through the outage: seawall {ours}, naive requeue loop {theirs}");
    assert!(
        ours * 20 < theirs,
        "seawall {ours} vs naive {theirs} redeliveries"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_work_finish_within_the_drain_and_gives_back_the_rest() {
    let broker = MemoryBroker::new("orders");
    fill(&broker, 8);
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        let seen = seen.clone();
        async move {
            let slow = m.ends_with('1') || m.ends_with('3');
            tokio::time::sleep(if slow {
                Duration::from_secs(60)
            } else {
                ms(10)
            })
            .await;
            seen.add(&m);
            Ok::<(), std::io::Error>(())
        }
    });
    let consumer = Consumer::builder(utf8)
        .concurrency(8)
        .drain(Duration::from_secs(1))
        .build()
        .unwrap();
    let report = consumer
        .run(broker.clone(), handler, tokio::time::sleep(ms(100)))
        .await;
    assert_eq!((report.handled, report.stopped), (6, 2), "{report:?}");
    let stats = broker.stats();
    assert_eq!((stats.acked, stats.requeued, stats.ready), (6, 2, 2));
    assert!(
        !handled.counts().contains_key("m1"),
        "not acknowledged unhandled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_handled_before_is_acknowledged_without_handling() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"pay 7".to_vec(), Some("payment-7"));
    broker.publish(b"pay 7".to_vec(), Some("payment-7"));
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        seen.add(&m);
        async { Ok::<(), std::io::Error>(()) }
    });
    let consumer = Consumer::builder(utf8)
        .concurrency(1)
        .dedup(MemoryDedup::new(10))
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!((report.handled, report.duplicates), (1, 1));
    assert_eq!(handled.counts()["pay 7"], 1);
}

#[test]
fn settings_out_of_range_are_named() {
    type Decoder = fn(&[u8]) -> Result<String, std::str::Utf8Error>;
    let build = |b: seawall::consume::Builder<Decoder>| b.build().unwrap_err().to_string();
    let base = || Consumer::builder(utf8 as Decoder);
    assert_eq!(
        build(base().in_place(0, ms(1), ms(1))),
        "consume.in_place.attempts: 0 is outside 1..=100"
    );
    assert_eq!(
        build(base().in_place(2, ms(10), ms(1))),
        "consume.in_place.initial: 10ms is outside at most in_place.max"
    );
    assert!(build(base().tiers(vec![ms(1); 11])).starts_with("consume.tiers"));
    assert!(build(base().tiers([Duration::ZERO])).starts_with("consume.tiers"));
}

#[tokio::test(start_paused = true)]
async fn a_message_that_always_fails_moves_on_instead_of_being_the_probe_forever() {
    let broker = MemoryBroker::new("orders");
    broker.publish(b"bad".to_vec(), Some("bad"));
    fill(&broker, 50);
    let handled = Handled::default();
    let seen = handled.clone();
    let handler = service_fn(move |m: String| {
        let fails = m == "bad";
        if !fails {
            seen.add(&m);
        }
        async move {
            match fails {
                true => Err(std::io::Error::other("always")),
                false => Ok(()),
            }
        }
    });
    let breaker = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let consumer = Consumer::builder(utf8)
        .concurrency(1)
        .breaker(breaker.handle())
        .in_place(3, ms(10), ms(10))
        .tiers([Duration::from_secs(60)])
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(handled.len(), 50, "{report:?}");
    assert_eq!(report.dead_lettered, 1, "{report:?}");
    assert!(broker.stats().delivered < 60, "{:?}", broker.stats());
}

#[tokio::test(start_paused = true)]
async fn a_consumer_waits_while_another_user_of_its_breaker_holds_the_probe() {
    let broker = MemoryBroker::new("orders");
    fill(&broker, 10);
    let breaker = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .half_open_calls(1)
        .build()
        .unwrap();
    let handle = breaker.handle();
    handle.try_acquire().unwrap().failure(); // open
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _probe = handle.try_acquire_owned().unwrap(); // someone else's probe, never ending
    let handler = service_fn(|_: String| async { Ok::<(), std::io::Error>(()) });
    let consumer = Consumer::builder(utf8)
        .breaker(breaker.handle())
        .build()
        .unwrap();
    let report = consumer
        .run(
            broker.clone(),
            handler,
            tokio::time::sleep(Duration::from_secs(10)),
        )
        .await;
    assert_eq!(report.handled, 0);
    // One try per recheck (100 ms) at most: about 100 in 10 s, not a spin.
    assert!(
        broker.stats().delivered <= 110,
        "{:?} {report:?}",
        broker.stats()
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_panics_fails_its_attempt_and_loses_nothing() {
    let broker = MemoryBroker::new("orders");
    fill(&broker, 3);
    let panicked = Arc::new(Mutex::new(false));
    let handled = Handled::default();
    let (seen, flag) = (handled.clone(), panicked.clone());
    let handler = service_fn(move |m: String| {
        let first = m == "m1" && !std::mem::replace(&mut *flag.lock().unwrap(), true);
        let seen = seen.clone();
        async move {
            assert!(!first, "a handler bug");
            seen.add(&m);
            Ok::<(), std::io::Error>(())
        }
    });
    let consumer = Consumer::builder(utf8)
        .in_place(2, ms(10), ms(10))
        .build()
        .unwrap();
    let report = run_until_idle(&consumer, &broker, handler).await;
    assert_eq!(handled.len(), 3, "{report:?}");
    assert!(*panicked.lock().unwrap());
}
