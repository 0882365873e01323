//! Property tests: the breaker against a plain reference model of the same rules, and
//! the count window's counts under parallel callers.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tower::Layer;

#[derive(Clone, Copy, Debug)]
enum Op {
    Call { fail: bool, slow: bool },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(fail, slow)| Op::Call { fail, slow }),
        1 => (1u64..3000).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Rules {
    window: usize,
    minimum: usize,
    threshold: f64,
    slow_threshold: f64,
    slow_ms: u64,
    probes: u64,
    open_ms: u64,
}

fn rules() -> impl Strategy<Value = Rules> {
    (1usize..12, 1u64..5, 1u32..=100, 1u32..=100).prop_flat_map(|(window, probes, t, st)| {
        (1..=window).prop_map(move |minimum| Rules {
            window,
            minimum,
            threshold: f64::from(t),
            slow_threshold: f64::from(st),
            slow_ms: 50,
            probes,
            open_ms: 1000,
        })
    })
}

fn percent(part: usize, whole: usize) -> f64 {
    part as f64 * 100.0 / whole as f64
}

/// The rules, written as plainly as possible.
#[derive(Debug)]
enum Model {
    Closed(VecDeque<(bool, bool)>),
    Open {
        until: u64,
    },
    HalfOpen {
        done: usize,
        fails: usize,
        slows: usize,
    },
}

impl Model {
    /// Runs one call that starts at `start` and ends at `end`; returns whether it ran.
    fn call(&mut self, r: &Rules, start: u64, end: u64, fail: bool, slow: bool) -> bool {
        if let Model::Open { until } = *self {
            if start < until {
                return false;
            }
            *self = Model::HalfOpen {
                done: 0,
                fails: 0,
                slows: 0,
            };
        }
        match self {
            Model::Closed(window) => {
                window.push_back((fail, slow));
                if window.len() > r.window {
                    window.pop_front();
                }
                let fails = window.iter().filter(|c| c.0).count();
                let slows = window.iter().filter(|c| c.1).count();
                let n = window.len();
                if n >= r.minimum
                    && (percent(fails, n) >= r.threshold || percent(slows, n) >= r.slow_threshold)
                {
                    *self = Model::Open {
                        until: end + r.open_ms,
                    };
                }
            }
            Model::HalfOpen { done, fails, slows } => {
                *done += 1;
                *fails += usize::from(fail);
                *slows += usize::from(slow);
                let n = r.probes as usize;
                let pending = n - *done;
                if percent(*fails, n) >= r.threshold || percent(*slows, n) >= r.slow_threshold {
                    *self = Model::Open {
                        until: end + r.open_ms,
                    };
                } else if percent(*fails + pending, n) < r.threshold
                    && percent(*slows + pending, n) < r.slow_threshold
                {
                    *self = Model::Closed(VecDeque::new());
                }
            }
            Model::Open { .. } => unreachable!(),
        }
        true
    }

    fn state(&self) -> State {
        match self {
            Model::Closed(_) => State::Closed,
            Model::Open { .. } => State::Open,
            Model::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

fn check(r: Rules, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .count_window(r.window as u32)
            .minimum_calls(r.minimum as u32)
            .failure_rate_threshold(r.threshold)
            .slow_call_rate_threshold(r.slow_threshold)
            .slow_call_duration(Duration::from_millis(r.slow_ms))
            .half_open_calls(r.probes as u32)
            .open_duration(Duration::from_millis(r.open_ms))
            .build()
            .unwrap();
        let mut svc = layer.layer(backend());
        let mut model = Model::Closed(VecDeque::new());
        let mut now = 0;
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    now += ms;
                }
                Op::Call { fail, slow } => {
                    let delay = if slow { r.slow_ms } else { 0 };
                    let expected = model.call(&r, now, now + delay, fail, slow);
                    let result = call(
                        &mut svc,
                        Req {
                            fail,
                            delay: Duration::from_millis(delay),
                        },
                    )
                    .await;
                    let ran = rejected(&result).is_none();
                    prop_assert_eq!(ran, expected, "op {} {:?}, model {:?}", i, op, model);
                    if ran {
                        now += delay;
                    }
                }
            }
            prop_assert_eq!(
                layer.handle().state(),
                model.state(),
                "after op {} {:?}",
                i,
                op
            );
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn breaker_follows_the_reference_model(r in rules(), ops in prop::collection::vec(op(), 1..120)) {
        check(r, ops)?;
    }
}

#[test]
fn count_window_counts_stay_exact_after_parallel_recording() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .count_window(64)
            .build()
            .unwrap();
        layer.handle().metrics_only();
        let svc = layer.layer(backend());
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let mut svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let req = if x % 3 == 0 { FAIL } else { OK };
                    let _ = call(&mut svc, req).await;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut svc = svc.clone();
        for _ in 0..64 {
            let _ = call(&mut svc, OK).await;
        }
        let m = layer.handle().metrics();
        assert_eq!(
            (m.calls, m.failures),
            (64, 0),
            "no drift after the parallel phase"
        );
        for _ in 0..64 {
            let _ = call(&mut svc, FAIL).await;
        }
        assert_eq!(layer.handle().metrics().failures, 64);
    });
}
