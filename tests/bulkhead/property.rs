//! The bulkhead's property: in-flight calls never exceed the limit, and every permit and
//! queue slot comes back, under random arrivals, completions and cancellations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use seawall::bulkhead::{BulkheadLayer, Mode};
use tokio::time::advance;
use tower::{Layer, ServiceExt, service_fn};

use crate::common::*;

#[derive(Clone, Debug)]
enum Op {
    Arrive { delay_ms: u64 },
    Cancel { pick: usize },
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..40_u64).prop_map(|delay_ms| Op::Arrive { delay_ms }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => (0..25_u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// Counts the inner calls running now and the most ever seen at once.
struct Active(Arc<(AtomicUsize, AtomicUsize)>);

impl Active {
    fn enter(counts: &Arc<(AtomicUsize, AtomicUsize)>) -> Active {
        let now = counts.0.fetch_add(1, SeqCst) + 1;
        counts.1.fetch_max(now, SeqCst);
        Active(counts.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, SeqCst);
    }
}

fn run(limit: u32, mode: Mode, max_wait_ms: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let layer = BulkheadLayer::builder()
            .max_concurrent(limit)
            .max_wait(ms(max_wait_ms))
            .max_queued(3)
            .mode(mode)
            .build()
            .unwrap();
        let handle = layer.handle();
        let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let inner_counts = counts.clone();
        let svc = layer.layer(service_fn(move |delay: u64| {
            let active = Active::enter(&inner_counts);
            async move {
                tokio::time::sleep(ms(delay)).await;
                drop(active);
                Ok::<_, Err>(())
            }
        }));
        let mut tasks = Vec::new();
        for op in ops {
            match op {
                Op::Arrive { delay_ms } => {
                    tasks.push(tokio::spawn(svc.clone().oneshot(delay_ms)));
                }
                Op::Cancel { pick } if !tasks.is_empty() => {
                    let i = pick % tasks.len();
                    tasks.swap_remove(i).abort();
                }
                Op::Cancel { .. } => {}
                Op::Advance { ms: step } => advance(ms(step)).await,
            }
            tokio::task::yield_now().await;
            prop_assert!(counts.0.load(SeqCst) <= limit as usize);
            prop_assert!(handle.in_flight() <= limit);
        }
        prop_assert!(counts.1.load(SeqCst) <= limit as usize);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        prop_assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
        prop_assert_eq!(counts.0.load(SeqCst), 0);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        rng_seed: RngSeed::Fixed(0x5EA_3A11),
        failure_persistence: regressions_beside_the_file(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn in_flight_never_exceeds_the_limit_under_random_arrivals_completions_and_cancellations(
        limit in 1_u32..5,
        backpressure in any::<bool>(),
        max_wait_ms in prop_oneof![Just(0_u64), 1..30_u64],
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mode = if backpressure { Mode::Backpressure } else { Mode::FailFast };
        run(limit, mode, max_wait_ms, ops)?;
    }
}
