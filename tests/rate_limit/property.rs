//! The rate limiter's promise under any pattern of cancellation: in every interval of
//! length `w`, at most `rate·w + burst` calls are admitted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use seawall::rate_limit::RateLimitLayer;
use tokio::time::{Instant, sleep, timeout};
use tower::{Layer, ServiceExt, service_fn};

use crate::common::*;

/// Calls at 10 a second: one every 100 ms.
const INTERVAL_NS: u64 = 100_000_000;

/// One call: `gap_ms` after the previous one, dropped after `drop_after_ms` if set.
#[derive(Clone, Debug)]
struct Arrival {
    gap_ms: u64,
    drop_after_ms: Option<u64>,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    (0..120_u64, prop::option::weighted(0.4, 0..600_u64)).prop_map(|(gap_ms, drop_after_ms)| {
        Arrival {
            gap_ms,
            drop_after_ms,
        }
    })
}

/// Runs the arrivals through a limiter and returns when each admitted call reached the
/// inner service, in nanoseconds since the start.
fn admissions(burst: u32, max_wait_ms: u64, arrivals: Vec<Arrival>) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let started = Instant::now();
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let record = admitted.clone();
        let layer = RateLimitLayer::builder(10, Duration::from_secs(1))
            .burst(burst)
            .max_wait(Duration::from_millis(max_wait_ms))
            .build()
            .unwrap();
        let svc = layer.layer(service_fn(move |()| {
            record.lock().unwrap().push(started.elapsed());
            std::future::ready(Ok::<_, Err>(()))
        }));
        let mut tasks = Vec::new();
        for Arrival {
            gap_ms,
            drop_after_ms,
        } in arrivals
        {
            sleep(Duration::from_millis(gap_ms)).await;
            let call = svc.clone().oneshot(());
            tasks.push(tokio::spawn(async move {
                match drop_after_ms {
                    Some(ms) => drop(timeout(Duration::from_millis(ms), call).await),
                    None => drop(call.await),
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let admitted = admitted.lock().unwrap();
        admitted
            .iter()
            .map(|d| u64::try_from(d.as_nanos()).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x6C2A),
        failure_persistence: regressions_beside_the_file(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_interval_admits_more_than_rate_times_its_length_plus_the_burst(
        burst in 1_u32..4,
        max_wait_ms in prop_oneof![Just(0_u64), 1..2_000_u64],
        arrivals in proptest::collection::vec(arrival(), 1..120),
    ) {
        let mut at = admissions(burst, max_wait_ms, arrivals);
        at.sort_unstable();
        for (i, first) in at.iter().enumerate() {
            for (j, last) in at.iter().enumerate().skip(i) {
                let admitted = (j - i + 1) as u64;
                let allowed = (last - first) / INTERVAL_NS + u64::from(burst);
                prop_assert!(
                    admitted <= allowed,
                    "{} calls admitted in [{}ns, {}ns], at most {} allowed",
                    admitted, first, last, allowed
                );
            }
        }
    }
}
