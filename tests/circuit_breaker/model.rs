//! Property tests: the breaker against a plain reference model of the same rules, and
//! the count window's counts under parallel callers.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use seawall::Outcome;
use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::common::*;

#[derive(Clone, Copy, Debug)]
enum Op {
    Call { outcome: Outcome, slow: bool },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ];
    prop_oneof![
        4 => (outcome, prop::bool::weighted(0.2)).prop_map(|(outcome, slow)| Op::Call { outcome, slow }),
        1 => (1u64..3000).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The last `n` calls.
    Count(usize),
    /// The calls that ended in the last `buckets` periods of `bucket_ms`.
    Time { buckets: u64, bucket_ms: u64 },
    /// A run of `n` failed or slow calls.
    Consecutive(usize),
}

#[derive(Clone, Copy, Debug)]
struct Rules {
    kind: Kind,
    minimum: usize,
    threshold: f64,
    slow_threshold: f64,
    slow_ms: u64,
    probes: u64,
    open_ms: u64,
    /// Trip on statistical evidence at 99.99 % (see `Builder::confidence`).
    evidence: bool,
    /// After a failed probe, the next open period runs from the probe's start.
    steady: bool,
}

/// The confidence of the evidence rule, and its normal quantile.
const CONFIDENCE: f64 = 0.9999;
const Z: f64 = 3.719_016_485_455_709;

/// The lower end of the Wilson score interval of `k` of `n`.
fn wilson_lower(k: usize, n: usize) -> f64 {
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let centre = p + Z * Z / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt();
    (centre - spread) / (1.0 + Z * Z / n)
}

/// Whether `count` of `n` prove a rate of `threshold` %.
fn proven(count: usize, n: usize, threshold: f64) -> bool {
    let t = threshold / 100.0;
    if t >= 1.0 {
        return count >= n;
    }
    wilson_lower(count, n) >= t
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (1usize..12).prop_map(Kind::Count),
        (1u64..6, 1u64..1500).prop_map(|(buckets, bucket_ms)| Kind::Time { buckets, bucket_ms }),
        (1usize..5).prop_map(Kind::Consecutive),
    ]
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        kind(),
        1usize..12,
        1u64..5,
        1u32..=100,
        1u32..=100,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(kind, minimum, probes, t, st, evidence, steady)| Rules {
            kind,
            minimum: match kind {
                Kind::Count(n) => minimum.min(n),
                _ => minimum,
            },
            threshold: f64::from(t),
            slow_threshold: f64::from(st),
            slow_ms: 50,
            probes,
            open_ms: 1000,
            evidence: evidence && !matches!(kind, Kind::Consecutive(_)),
            steady,
        })
}

fn percent(part: usize, whole: usize) -> f64 {
    part as f64 * 100.0 / whole as f64
}

/// One counted call: when it ended, whether it failed, whether it was slow.
#[derive(Clone, Copy, Debug)]
struct Counted {
    end: u64,
    fail: bool,
    slow: bool,
}

impl Rules {
    /// Whether the calls counted since the breaker closed, judged at `now`, open it.
    fn trips(&self, calls: &[Counted], now: u64) -> bool {
        let seen: Vec<Counted> = match self.kind {
            Kind::Consecutive(n) => {
                let run = calls.iter().rev().take_while(|c| c.fail || c.slow);
                return run.count() >= n;
            }
            Kind::Count(n) => calls[calls.len().saturating_sub(n)..].to_vec(),
            Kind::Time { buckets, bucket_ms } => calls
                .iter()
                .filter(|c| c.end / bucket_ms + buckets > now / bucket_ms)
                .copied()
                .collect(),
        };
        let n = seen.len();
        let fails = seen.iter().filter(|c| c.fail).count();
        let slows = seen.iter().filter(|c| c.slow).count();
        if n < self.minimum {
            return false;
        }
        if !self.evidence {
            return percent(fails, n) >= self.threshold || percent(slows, n) >= self.slow_threshold;
        }
        // The run counts every failure since the breaker closed, whatever the window.
        let run = calls.iter().rev().take_while(|c| c.fail).count();
        let t = self.threshold / 100.0;
        let run_proves = t < 1.0 && run > 0 && (run as f64) * t.ln() <= (1.0 - CONFIDENCE).ln();
        run_proves || proven(fails, n, self.threshold) || proven(slows, n, self.slow_threshold)
    }
}

/// The rules, written as plainly as possible.
#[derive(Debug)]
enum Model {
    Closed(Vec<Counted>),
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
    fn call(&mut self, r: &Rules, start: u64, end: u64, outcome: Outcome, slow: bool) -> bool {
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
        if outcome == Outcome::Ignored {
            return true;
        }
        let fail = outcome == Outcome::Failure;
        match self {
            Model::Closed(calls) => {
                calls.push(Counted { end, fail, slow });
                if r.trips(calls, end) {
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
                    // Steady probing: from the failing probe's own start.
                    let from = if r.steady { start } else { end };
                    *self = Model::Open {
                        until: from + r.open_ms,
                    };
                } else if percent(*fails + pending, n) < r.threshold
                    && percent(*slows + pending, n) < r.slow_threshold
                {
                    *self = Model::Closed(Vec::new());
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
        let confidence = r.evidence.then(|| seawall::Ratio::fraction(CONFIDENCE));
        let builder = CircuitBreakerLayer::builder()
            .confidence(confidence)
            .steady_probing(r.steady)
            .failure_rate_threshold(seawall::Ratio::percent(r.threshold))
            .slow_call_rate_threshold(seawall::Ratio::percent(r.slow_threshold))
            .slow_call_duration(Duration::from_millis(r.slow_ms))
            .half_open_calls(r.probes as u32)
            .open_duration(Duration::from_millis(r.open_ms))
            .classifier(|result: &Result<Outcome, Err>| match result {
                Ok(outcome) => *outcome,
                Err(_) => Outcome::Failure,
            });
        let builder = match r.kind {
            Kind::Count(n) => builder.count_window(n as u32),
            Kind::Time { buckets, bucket_ms } => {
                builder.time_window(Duration::from_millis(buckets * bucket_ms), buckets as u32)
            }
            Kind::Consecutive(n) => builder.consecutive_failures(n as u32),
        };
        let layer = builder.minimum_calls(r.minimum as u32).build().unwrap();
        // Answers with the outcome it is asked for, after the delay it is asked for.
        let mut svc = layer.layer(service_fn(|(outcome, delay): (Outcome, u64)| async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            Ok::<_, Err>(outcome)
        }));
        let mut model = Model::Closed(Vec::new());
        let mut now = 0;
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    now += ms;
                }
                Op::Call { outcome, slow } => {
                    let delay = if slow { r.slow_ms } else { 0 };
                    let expected = model.call(&r, now, now + delay, outcome, slow);
                    let result = async { svc.ready().await?.call((outcome, delay)).await }.await;
                    let ran = !matches!(result, Err(seawall::Error::Rejected(_)));
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
    #![proptest_config(ProptestConfig {
        cases: 384,
        rng_seed: RngSeed::Fixed(0xB4EA_CE45),
        failure_persistence: regressions_beside_the_file(),
        ..ProptestConfig::default()
    })]

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
            .confidence(None)
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
