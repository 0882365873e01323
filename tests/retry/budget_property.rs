//! Property tests: however requests fail, the retries stay within the budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use proptest::prelude::*;
use seawall::retry::RetryLayer;
use tower::{BoxError, Layer, ServiceExt};

use crate::common;

/// Sends one request per entry of `failures` through `layer`, request `i` failing its
/// first `failures[i]` attempts, in paused time; returns each request's attempts and
/// whether it succeeded.
fn attempts_per_request(layer: &RetryLayer, failures: &[u32]) -> Vec<(u64, bool)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut out = Vec::new();
        for fail in failures {
            let seen = Arc::new(AtomicU32::new(0));
            let counter = seen.clone();
            let fail = *fail;
            let inner = tower::service_fn(move |_: ()| {
                let n = counter.fetch_add(1, SeqCst);
                async move {
                    if n < fail {
                        Err::<(), BoxError>("down".into())
                    } else {
                        Ok(())
                    }
                }
            });
            let ok = layer.layer(inner).oneshot(()).await.is_ok();
            out.push((u64::from(seen.load(SeqCst)), ok));
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: common::regressions_beside_the_file(),
        ..ProptestConfig::default()
    })]

    /// However requests fail, the inner service sees at most each request once plus the
    /// retries that both max attempts and the budget allow (every retry charged).
    #[test]
    fn inner_calls_never_exceed_what_attempts_and_budget_allow(
        max_attempts in 1u32..6,
        ttl_secs in 1u64..=10,
        min_per_sec in 0u32..4,
        percent in 0.0f64..100.0,
        failures in proptest::collection::vec(0u32..8, 1..60),
    ) {
        let layer = RetryLayer::builder()
            .max_attempts(max_attempts)
            .constant(Duration::ZERO)
            .budget(Duration::from_secs(ttl_secs), min_per_sec, seawall::Ratio::percent(percent))
            .refund_successful_retries(false)
            .build()
            .unwrap();
        let requests = failures.len() as u64;
        let calls: u64 = attempts_per_request(&layer, &failures).iter().map(|(a, _)| a).sum();
        let wanted: u64 = failures.iter().map(|f| u64::from((*f).min(max_attempts - 1))).sum();
        let budget = u64::from(min_per_sec) * ttl_secs + (requests as f64 * percent / 100.0).floor() as u64;
        prop_assert!(calls <= requests + wanted.min(budget), "{calls} calls");
        prop_assert!(calls >= requests);
    }

    /// With successful retries refunded (the default), the retries that fail never
    /// exceed the budget, whatever succeeds.
    #[test]
    fn failed_retries_never_exceed_the_budget_when_successes_are_refunded(
        max_attempts in 1u32..6,
        min_per_sec in 0u32..4,
        percent in 0.0f64..100.0,
        failures in proptest::collection::vec(0u32..8, 1..60),
    ) {
        let layer = RetryLayer::builder()
            .max_attempts(max_attempts)
            .constant(Duration::ZERO)
            .budget(Duration::from_secs(10), min_per_sec, seawall::Ratio::percent(percent))
            .build()
            .unwrap();
        let requests = failures.len() as u64;
        let failed_retries: u64 = attempts_per_request(&layer, &failures)
            .iter()
            .map(|(attempts, ok)| attempts - 1 - u64::from(*ok && *attempts > 1))
            .sum();
        let budget = u64::from(min_per_sec) * 10 + (requests as f64 * percent / 100.0).floor() as u64;
        prop_assert!(failed_retries <= budget, "{failed_retries} failed retries, budget {budget}");
    }
}
