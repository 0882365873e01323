//! Hedging in paused time: the latency tail cut within the budget, losers dropped the
//! moment a winner answers, nothing left running when the caller gives up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall::Ratio;
use seawall::hedge::HedgeLayer;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

/// A dependency with a heavy tail: each attempt (its own draw) takes 10 ms, or 1 s
/// one time in twenty. Counts attempts, and attempts still running per call.
#[derive(Clone, Default)]
struct Tail {
    attempts: Arc<Mutex<HashMap<u32, u32>>>,
    running: Arc<Mutex<HashMap<u32, i64>>>,
    total: Arc<AtomicI64>,
    fail_first: bool,
}

struct Running(Arc<Mutex<HashMap<u32, i64>>>, u32);

impl Drop for Running {
    fn drop(&mut self) {
        *self.0.lock().unwrap().entry(self.1).or_default() -= 1;
    }
}

fn slow(call: u32, attempt: u32) -> bool {
    let mut z = u64::from(call) << 8 | u64::from(attempt);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 20 == 0
}

impl Tail {
    fn service(
        &self,
    ) -> impl Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone + Send + use<>
    {
        let tail = self.clone();
        service_fn(move |call: u32| {
            let attempt = {
                let mut attempts = tail.attempts.lock().unwrap();
                let a = attempts.entry(call).or_default();
                *a += 1;
                *a
            };
            tail.total.fetch_add(1, Relaxed);
            *tail.running.lock().unwrap().entry(call).or_default() += 1;
            let guard = Running(tail.running.clone(), call);
            let fail = tail.fail_first && attempt == 1;
            async move {
                let _guard = guard;
                if fail {
                    return Err("503");
                }
                let took = if slow(call, attempt) {
                    1000 * MS
                } else {
                    10 * MS
                };
                tokio::time::sleep(took).await;
                Ok(call)
            }
        })
    }

    fn running(&self, call: u32) -> i64 {
        self.running
            .lock()
            .unwrap()
            .get(&call)
            .copied()
            .unwrap_or(0)
    }
}

/// 2,000 calls at 200 a second; each call's latency, sorted, and the attempts made.
async fn drive<S>(service: S, tail: &Tail) -> (Vec<Duration>, i64)
where
    S: Service<u32, Response = u32, Error = &'static str> + Clone + Send + 'static,
    S::Future: Send,
{
    let mut calls = Vec::new();
    for n in 0..2000u32 {
        let (service, tail) = (service.clone(), tail.clone());
        calls.push(tokio::spawn(async move {
            let started = Instant::now();
            let answer = service.oneshot(n).await;
            assert_eq!(answer, Ok(n));
            assert_eq!(tail.running(n), 0, "an attempt of call {n} still running");
            started.elapsed()
        }));
        tokio::time::sleep(5 * MS).await;
    }
    let mut took = Vec::new();
    for call in calls {
        took.push(call.await.unwrap());
    }
    took.sort();
    (took, tail.total.load(Relaxed))
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 99 / 100]
}

#[tokio::test(start_paused = true)]
async fn the_tail_is_cut_within_the_budget_and_every_loser_is_dropped_at_once() {
    let bare = Tail::default();
    let (took, attempts) = drive(bare.service(), &bare).await;
    assert_eq!(attempts, 2000);
    assert_eq!(p99(&took), 1000 * MS, "one call in twenty takes a second");

    let tail = Tail::default();
    let layer = HedgeLayer::builder().delay(50 * MS).build().unwrap();
    let (took, attempts) = drive(layer.layer(tail.service()), &tail).await;
    assert!(p99(&took) <= 60 * MS, "p99 {:?}", p99(&took));
    let extra = (attempts - 2000) as f64 / 2000.0;
    assert!((0.03..=0.10).contains(&extra), "extra load {extra}");
    assert_eq!(layer.hedges().0 as i64, attempts - 2000);
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_the_extra_load() {
    let tail = Tail::default();
    let layer = HedgeLayer::builder()
        .delay(50 * MS)
        .max_extra_load(Ratio::percent(1.0), 1)
        .build()
        .unwrap();
    let (_, attempts) = drive(layer.layer(tail.service()), &tail).await;
    let hedges = attempts - 2000;
    assert!(
        hedges <= 2000 / 100 + 1,
        "{hedges} hedges for 2,000 calls at 1 %"
    );
    assert!(layer.hedges().1 > 0, "some were refused");
}

#[tokio::test(start_paused = true)]
async fn a_failure_sends_the_next_attempt_at_once() {
    let tail = Tail {
        fail_first: true,
        ..Tail::default()
    };
    let service = HedgeLayer::builder()
        .delay(500 * MS)
        .build()
        .unwrap()
        .layer(tail.service());
    let started = Instant::now();
    assert_eq!(service.oneshot(3).await, Ok(3));
    assert!(
        started.elapsed() < 500 * MS,
        "not after the delay: {:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_given_up_by_its_caller_leaves_no_attempt_running() {
    let tail = Tail::default();
    let inner = tail.service();
    let service = service_fn(move |n: u32| {
        let mut inner = inner.clone();
        async move {
            // Every attempt hangs until dropped (the tail's guard counts it).
            let _held = inner.call(u32::MAX - n);
            std::future::pending::<Result<u32, &'static str>>().await
        }
    });
    let hedged = HedgeLayer::builder()
        .delay(50 * MS)
        .max_attempts(3)
        .build()
        .unwrap()
        .layer(service);
    let call = tokio::spawn(hedged.oneshot(1));
    tokio::time::sleep(200 * MS).await;
    assert_eq!(
        tail.running(u32::MAX - 1),
        3,
        "the first attempt and both hedges"
    );
    call.abort();
    let _ = call.await;
    assert_eq!(tail.running(u32::MAX - 1), 0);
}

#[tokio::test(start_paused = true)]
async fn no_hedge_when_the_deadline_leaves_too_little_time() {
    let tail = Tail::default();
    let layer = HedgeLayer::builder().delay(50 * MS).build().unwrap();
    let service = layer.layer(tail.service());
    // Call 19 is one of the slow ones for its first attempt.
    let slow_call = (0..1000).find(|&n| slow(n, 1) && !slow(n, 2)).unwrap();
    let deadline = Instant::now() + 40 * MS;
    let _ = seawall::deadline::scope(deadline, service.oneshot(slow_call)).await;
    assert_eq!(layer.hedges().0, 0);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_the_primary_attempts_latency() {
    let tail = Tail::default();
    let layer = HedgeLayer::builder()
        .percentile(0.9, 100, 300 * MS)
        .build()
        .unwrap();
    assert_eq!(layer.current_delay(), 300 * MS, "until enough samples");
    let _ = drive(layer.layer(tail.service()), &tail).await;
    let delay = layer.current_delay();
    assert!(
        delay >= 10 * MS && delay <= 12 * MS,
        "the 90th percentile of 10 ms calls: {delay:?}"
    );
}

#[test]
fn settings_out_of_range_are_named() {
    let cases = [
        (
            HedgeLayer::builder().max_attempts(1),
            "hedge.max_attempts: 1 is outside 2..=5",
        ),
        (
            HedgeLayer::builder().delay(Duration::ZERO),
            "hedge.delay: 0ns is outside (0s, 1 day]",
        ),
        (
            HedgeLayer::builder().percentile(1.0, 10, MS),
            "hedge.percentile.quantile: 1 is outside (0, 1)",
        ),
        (
            HedgeLayer::builder().max_extra_load(Ratio::percent(5.0), 0),
            "hedge.max_extra_load.reserve: 0 is outside 1..",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), message);
    }
}

/// HTTP: a POST is never hedged, a GET is, and its copy says which attempt it is.
#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn http_hedges_only_idempotent_methods_and_numbers_the_copies() {
    use seawall::hedge::HttpIdempotent;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let stuck_first = service_fn(move |request: http::Request<()>| {
        let attempt = request
            .headers()
            .get("x-seawall-attempt")
            .map(|v| v.to_str().unwrap().to_owned());
        let first = attempt.is_none();
        log.lock()
            .unwrap()
            .push((request.method().clone(), attempt));
        async move {
            if first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok::<_, &'static str>(())
        }
    });
    let layer = HedgeLayer::builder()
        .delay(50 * MS)
        .policy(HttpIdempotent)
        .build()
        .unwrap();
    let service = layer.layer(stuck_first);
    let post = http::Request::post("/orders").body(()).unwrap();
    let started = Instant::now();
    service.clone().oneshot(post).await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "a POST waits for its one attempt"
    );
    let get = http::Request::get("/orders/7").body(()).unwrap();
    let started = Instant::now();
    service.oneshot(get).await.unwrap();
    assert_eq!(started.elapsed(), 50 * MS, "the GET's hedge answered");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (http::Method::POST, None),
            (http::Method::GET, None),
            (http::Method::GET, Some("2".to_owned())),
        ]
    );
}

/// Every attempt of every call hangs for a second: with a cap of 3 hedges in flight,
/// ten calls at once send three hedges, not ten; each ended hedge frees its place.
#[tokio::test(start_paused = true)]
async fn at_most_the_cap_of_hedges_is_in_flight_across_calls() {
    let slow = service_fn(|n: u32| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, &'static str>(n)
    });
    let layer = HedgeLayer::builder()
        .delay(50 * MS)
        .max_concurrent_hedges(3)
        .max_extra_load(Ratio::percent(100.0), 100)
        .build()
        .unwrap();
    let service = layer.layer(slow);
    let calls: Vec<_> = (0..10)
        .map(|n| tokio::spawn(service.clone().oneshot(n)))
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(
        layer.hedges(),
        (3, 7),
        "three sent, seven refused by the cap"
    );
    // All places are free again: the next slow call gets its hedge.
    service.oneshot(99).await.unwrap();
    assert_eq!(layer.hedges().0, 4);
}

/// An answer the classifier calls `Ignored` (about the request itself) ends the call at
/// once, the hedge still running cancelled: gRPC's fatal status codes.
#[tokio::test(start_paused = true)]
async fn an_answer_about_the_request_itself_ends_the_call_and_cancels_the_rest() {
    let tail = Tail::default();
    let hang = tail.service();
    let attempts = Arc::new(Mutex::new(0u32));
    let count = attempts.clone();
    let service = service_fn(move |n: u32| {
        let attempt = {
            let mut a = count.lock().unwrap();
            *a += 1;
            *a
        };
        let mut hang = hang.clone();
        async move {
            if attempt == 1 {
                // The first attempt is slow, and then says the request was invalid.
                tokio::time::sleep(100 * MS).await;
                return Err("invalid argument");
            }
            // The hedge hangs (counted as running by the tail while alive).
            let _held = hang.call(u32::MAX - n);
            std::future::pending::<Result<u32, &'static str>>().await
        }
    });
    let layer = HedgeLayer::builder()
        .delay(50 * MS)
        .classifier(|r: &Result<u32, &'static str>| match r {
            Ok(_) => seawall::Outcome::Success,
            Err("invalid argument") => seawall::Outcome::Ignored,
            Err(_) => seawall::Outcome::Failure,
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let answer = layer.layer(service).oneshot(5).await;
    assert_eq!(answer, Err("invalid argument"));
    assert_eq!(
        started.elapsed(),
        100 * MS,
        "returned at once, not after the hedge"
    );
    assert_eq!(*attempts.lock().unwrap(), 2, "the hedge had gone out");
    assert_eq!(tail.running(u32::MAX - 5), 0, "and was cancelled");
}

/// Below the standard pipeline: the pipeline's attempt timeout bounds the hedged
/// attempt, and a hedge that answers in time makes the call a success.
#[tokio::test(start_paused = true)]
async fn under_the_standard_pipeline_a_hedge_answers_within_the_attempt_timeout() {
    use seawall::pipeline::StandardPipeline;
    use tower::ServiceBuilder;
    let first_stuck = {
        let attempts = Arc::new(Mutex::new(0u32));
        service_fn(move |n: u32| {
            let first = {
                let mut a = attempts.lock().unwrap();
                *a += 1;
                *a == 1
            };
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Ok::<_, &'static str>(n)
            }
        })
    };
    let pipeline = StandardPipeline::builder()
        .attempt_timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let hedge = HedgeLayer::builder().delay(100 * MS).build().unwrap();
    let client = ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .layer(hedge.clone())
        .service(first_stuck);
    let started = Instant::now();
    assert_eq!(client.oneshot(1).await.ok(), Some(1));
    assert_eq!(started.elapsed(), 100 * MS);
    assert_eq!(hedge.hedges().0, 1);
}

/// The primary's readiness is fine; every later `poll_ready` (the hedge's) fails.
#[derive(Clone, Default)]
struct ReadyOnce {
    readies: Arc<Mutex<u32>>,
    calls: Arc<Mutex<u32>>,
}

impl Service<u32> for ReadyOnce {
    type Response = u32;
    type Error = &'static str;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<u32, &'static str>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), &'static str>> {
        let mut readies = self.readies.lock().unwrap();
        *readies += 1;
        std::task::Poll::Ready(if *readies % 2 == 1 {
            Ok(())
        } else {
            Err("overloaded")
        })
    }

    fn call(&mut self, n: u32) -> Self::Future {
        *self.calls.lock().unwrap() += 1;
        Box::pin(async move {
            tokio::time::sleep(100 * MS).await;
            Ok(n)
        })
    }
}

/// A hedge whose service refuses readiness is never sent: the budget is not spent and
/// nothing counts as sent (review finding: it was both).
#[tokio::test(start_paused = true)]
async fn a_hedge_that_is_never_sent_spends_no_budget() {
    let inner = ReadyOnce::default();
    let layer = HedgeLayer::builder()
        .delay(50 * MS)
        .max_extra_load(Ratio::percent(0.0), 1)
        .build()
        .unwrap();
    let service = layer.layer(inner.clone());
    assert_eq!(service.clone().oneshot(1).await, Ok(1));
    assert_eq!(
        *inner.calls.lock().unwrap(),
        1,
        "only the primary was called"
    );
    assert_eq!(layer.hedges().0, 0, "nothing sent");
}

/// The percentile is used as soon as `at_least` samples are in (not at the next 256),
/// and an `at_least` the windows can never hold is refused by name.
#[tokio::test(start_paused = true)]
async fn the_percentile_is_used_once_at_least_samples_are_in() {
    let fast = service_fn(|n: u32| async move {
        tokio::time::sleep(10 * MS).await;
        Ok::<_, ()>(n)
    });
    let layer = HedgeLayer::builder()
        .percentile(0.5, 100, 300 * MS)
        .build()
        .unwrap();
    let service = layer.layer(fast);
    for n in 0..100 {
        service.clone().oneshot(n).await.unwrap();
    }
    assert!(
        layer.current_delay() <= 12 * MS,
        "{:?}",
        layer.current_delay()
    );
    let err = HedgeLayer::builder()
        .percentile(0.5, 10_000, MS)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hedge.percentile.at_least: 10000 is outside 1..=8192"
    );
}

/// Calls their callers gave up on count as at least as long as they ran: half the calls
/// hang behind a 1 s caller timeout, so the 90th percentile is at least a second, not
/// the 10 ms of the calls that answered (review finding: survivorship bias).
#[tokio::test(start_paused = true)]
async fn calls_given_up_by_their_callers_count_in_the_percentile() {
    let n = Arc::new(Mutex::new(0u32));
    let service = service_fn(move |x: u32| {
        let hang = {
            let mut n = n.lock().unwrap();
            *n += 1;
            (*n).is_multiple_of(2)
        };
        async move {
            if hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            tokio::time::sleep(10 * MS).await;
            Ok::<_, ()>(x)
        }
    });
    let layer = HedgeLayer::builder()
        .percentile(0.9, 100, Duration::from_secs(5))
        .max_extra_load(Ratio::percent(0.0), 1)
        .max_concurrent_hedges(1)
        .build()
        .unwrap();
    let hedged = layer.layer(service);
    for x in 0..512 {
        let _ = tokio::time::timeout(Duration::from_secs(1), hedged.clone().oneshot(x)).await;
    }
    assert!(
        layer.current_delay() >= Duration::from_secs(1),
        "{:?}",
        layer.current_delay()
    );
}

/// When the winner answers, the cut-off primary is dropped at that moment, not when
/// the caller drops the future (review finding).
#[tokio::test(start_paused = true)]
async fn the_losers_are_dropped_when_the_winner_answers() {
    let tail = Tail::default();
    let first = Arc::new(Mutex::new(true));
    let inner = tail.service();
    let service = service_fn(move |n: u32| {
        let slow = std::mem::replace(&mut *first.lock().unwrap(), false);
        let mut inner = inner.clone();
        async move {
            let _held = inner.call(u32::MAX);
            tokio::time::sleep(if slow { Duration::from_secs(10) } else { MS }).await;
            Ok::<_, &'static str>(n)
        }
    });
    let mut hedged = HedgeLayer::builder()
        .delay(50 * MS)
        .build()
        .unwrap()
        .layer(service);
    hedged.ready().await.unwrap();
    let mut call = Box::pin(hedged.call(1));
    let answer = std::future::poll_fn(|cx| call.as_mut().poll(cx)).await;
    assert_eq!(answer, Ok(1));
    assert_eq!(
        tail.running(u32::MAX),
        0,
        "the primary was dropped with the answer"
    );
    drop(call);
}

/// Hedges spend from the retry layer's budget when it is shared: with a budget of 2
/// attempts at once (no share of requests) and every attempt slow, ten calls through
/// retry over hedging send 2 hedges in all, not ten (review of #17: one budget for
/// retries and hedges).
#[tokio::test(start_paused = true)]
async fn hedges_spend_from_the_retry_budget_they_share() {
    use seawall::retry::RetryLayer;
    use tower::ServiceBuilder;
    let slow = service_fn(|n: u32| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, &'static str>(n)
    });
    let retry = RetryLayer::builder()
        .budget(Duration::from_secs(10), 2, Ratio::percent(0.0))
        .seed(1)
        .build()
        .unwrap();
    let hedge = HedgeLayer::builder()
        .delay(50 * MS)
        .share_budget(retry.shared_budget())
        .build()
        .unwrap();
    let client = ServiceBuilder::new()
        .layer(retry)
        .map_err(seawall::Error::Service)
        .layer(hedge.clone())
        .service(slow);
    let calls: Vec<_> = (0..10)
        .map(|n| tokio::spawn(client.clone().oneshot(n)))
        .collect();
    for call in calls {
        assert!(call.await.unwrap().is_ok());
    }
    assert_eq!(
        hedge.hedges().0,
        2,
        "the retry budget's two attempts, no more"
    );
}
