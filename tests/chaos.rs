//! Fault injection: off until switched on, seeded, in bursts, on chosen calls, under a
//! cap, and every dropped call giving back its place. Paused time throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use seawall::Ratio;
use seawall::chaos::ChaosLayer;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

fn echo() -> impl Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone {
    service_fn(|n: u32| async move { Ok::<_, &'static str>(n) })
}

#[tokio::test(start_paused = true)]
async fn nothing_is_injected_until_switched_on_and_the_kill_switch_stops_it() {
    let chaos = ChaosLayer::builder()
        .outcome(Ratio::percent(100.0), || Err::<u32, &str>("injected"))
        .build()
        .unwrap();
    let client = chaos.layer(echo());
    for n in 0..100 {
        assert_eq!(client.clone().oneshot(n).await, Ok(n));
    }
    chaos.handle().enable();
    assert_eq!(client.clone().oneshot(1).await, Err("injected"));
    chaos.handle().disable();
    assert_eq!(client.clone().oneshot(2).await, Ok(2));
    assert_eq!(chaos.handle().injected().outcomes, 1);
}

/// At 10 %, about a tenth of 10,000 calls fail; the same seed fails the same calls.
#[tokio::test(start_paused = true)]
async fn a_seeded_layer_injects_at_its_rate_and_repeats_exactly() {
    let run = |seed| async move {
        let chaos = ChaosLayer::builder()
            .enabled(true)
            .outcome(Ratio::percent(10.0), || Err::<u32, &str>("injected"))
            .seed(seed)
            .build()
            .unwrap();
        let client = chaos.layer(echo());
        let mut failed = Vec::new();
        for n in 0..10_000 {
            if client.clone().oneshot(n).await.is_err() {
                failed.push(n);
            }
        }
        failed
    };
    let (a, b, c) = (run(7).await, run(7).await, run(8).await);
    assert!((900..=1100).contains(&a.len()), "{} of 10,000", a.len());
    assert_eq!(a, b, "the same seed, the same calls");
    assert_ne!(a, c);
}

#[tokio::test(start_paused = true)]
async fn a_delayed_call_runs_after_exactly_its_delay() {
    let chaos = ChaosLayer::builder()
        .enabled(true)
        .latency(Ratio::percent(100.0), Duration::from_millis(750))
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(chaos.layer(echo()).oneshot(5).await, Ok(5));
    assert_eq!(started.elapsed(), Duration::from_millis(750));
    assert_eq!(chaos.handle().injected().delays, 1);
    assert_eq!(chaos.handle().injected().active, 0, "given back when done");
}

/// Faults only inside 2 s windows every 10 s: a call at 1 s is hit, one at 5 s is not,
/// one at 11 s is hit again.
#[tokio::test(start_paused = true)]
async fn faults_come_in_bursts_when_windows_are_set() {
    let chaos = ChaosLayer::builder()
        .enabled(true)
        .outcome(Ratio::percent(100.0), || Err::<u32, &str>("injected"))
        .bursts(Duration::from_secs(10), Duration::from_secs(2))
        .build()
        .unwrap();
    let client = chaos.layer(echo());
    let start = Instant::now();
    let mut seen = Vec::new();
    for at in [1, 5, 11, 13] {
        tokio::time::sleep_until(start + Duration::from_secs(at)).await;
        seen.push(client.clone().oneshot(0).await.is_err());
    }
    assert_eq!(seen, [true, false, true, false]);
}

/// Only requests the selector picks are touched: an allow-listed tag in production.
#[tokio::test(start_paused = true)]
async fn only_chosen_requests_are_touched() {
    let chaos = ChaosLayer::builder()
        .enabled(true)
        .outcome(Ratio::percent(100.0), || Err::<u32, &str>("injected"))
        .only_for(|n: &u32| n.is_multiple_of(2))
        .build()
        .unwrap();
    let client = chaos.layer(echo());
    assert_eq!(client.clone().oneshot(2).await, Err("injected"));
    assert_eq!(client.clone().oneshot(3).await, Ok(3));
}

/// With a cap of two, five calls at once get two delays; the others run at once, and a
/// delayed call dropped before its delay ends gives its place back.
#[tokio::test(start_paused = true)]
async fn at_most_the_cap_of_faults_is_in_flight_and_a_dropped_call_gives_its_place_back() {
    let chaos = ChaosLayer::builder()
        .enabled(true)
        .latency(Ratio::percent(100.0), Duration::from_secs(1))
        .max_active(2)
        .build()
        .unwrap();
    let client = chaos.layer(echo());
    let mut delayed = Vec::new();
    let mut quick = 0;
    for n in 0..5 {
        let mut call = Box::pin(client.clone().oneshot(n));
        match futures_poll_once(&mut call).await {
            Some(answer) => {
                assert_eq!(answer, Ok(n));
                quick += 1;
            }
            None => delayed.push(call),
        }
    }
    assert_eq!((delayed.len(), quick), (2, 3));
    assert_eq!(chaos.handle().injected().active, 2);
    delayed.pop();
    assert_eq!(
        chaos.handle().injected().active,
        1,
        "the dropped call's place is free"
    );
    let next = Box::pin(client.clone().oneshot(9));
    let started = Instant::now();
    assert_eq!(next.await, Ok(9));
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "it took the free place"
    );
}

/// Polls a future once: its output if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn the_behaviour_runs_before_its_share_of_calls() {
    let ran = Arc::new(AtomicU32::new(0));
    let count = ran.clone();
    let chaos = ChaosLayer::builder()
        .enabled(true)
        .behaviour(Ratio::percent(50.0), move || {
            count.fetch_add(1, Relaxed);
        })
        .seed(3)
        .build()
        .unwrap();
    let client = chaos.layer(echo());
    for n in 0..1000 {
        assert_eq!(client.clone().oneshot(n).await, Ok(n));
    }
    let ran = ran.load(Relaxed);
    assert!((400..=600).contains(&ran), "{ran} of 1000");
    assert_eq!(u64::from(ran), chaos.handle().injected().behaviours);
}

#[test]
fn settings_out_of_range_are_named() {
    let cases = [
        (
            ChaosLayer::builder().latency(Ratio::percent(120.0), Duration::from_secs(1)),
            "chaos.latency_rate: 120% is outside [0%, 100%]",
        ),
        (
            ChaosLayer::builder().latency(Ratio::percent(10.0), Duration::ZERO),
            "chaos.latency: 0ns is outside (0s, 1 day]",
        ),
        (
            ChaosLayer::builder().bursts(Duration::from_secs(1), Duration::from_secs(2)),
            "chaos.bursts.lasting: 2s is outside (0s, every]",
        ),
        (
            ChaosLayer::builder().max_active(0),
            "chaos.max_active: 0 is outside 1..=4294967295",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), message);
    }
}

/// A rate with nothing to inject (from a file, say) is refused by name rather than
/// silently injecting nothing (review finding: it also cancelled the latency draw).
#[test]
fn a_rate_with_nothing_to_inject_is_refused() {
    let mut config = seawall::chaos::ChaosConfig::default();
    config.outcome_rate = Ratio::percent(30.0);
    let err = seawall::chaos::Builder::from_config(config)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("chaos.outcome_rate: 30% is outside 0% (no outcome is set"),
        "{err}"
    );
}
