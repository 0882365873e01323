//! What a run measured: the figures of each run and its seconds.

use std::time::Duration;

use super::dependency::Seen;
use super::run::{Call, Fate};
use super::scenario::Scenario;

/// Everything one run recorded.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) scenario: Scenario,
    pub(crate) calls: Vec<Call>,
    pub(crate) seen: Seen,
}

/// The figures of one run. Times are measured from the scenario's start; "the fault" is
/// the scenario's fault window, "healing" its end. Shares of no calls are NaN.
///
/// ```
/// use seawall::sim::{Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::hard_outage().rate(20.0)).run("bare", |d: Dependency| d);
/// let run = &report.runs()[0];
/// assert_eq!(run.fault_load, 1.0);
/// assert_eq!(run.refused, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// Calls the callers made.
    pub calls: usize,
    /// Share of all calls that succeeded.
    pub success: f64,
    /// Share of the calls started during the fault that succeeded (NaN if none started
    /// in it).
    pub fault_success: f64,
    /// Attempts that reached the dependency during the fault, per call started in it
    /// (NaN if none started in it).
    pub fault_load: f64,
    /// The highest ratio of attempts reaching the dependency to calls started, over the
    /// whole seconds of the run that had calls (0 if none had).
    pub peak_load: f64,
    /// From the fault's start to the first local refusal since (the moment a refused
    /// call got its answer: a retried call may be refused long after it started), if
    /// there was one.
    pub first_refusal: Option<Duration>,
    /// From healing to the start of the first call that succeeded after it.
    pub first_success: Option<Duration>,
    /// From healing to the start of the last 1 s window in which fewer than 95 % of the
    /// calls started succeeded: success holds from then on. Windows open at each call
    /// started since healing and must end before the run's last call; 0 if no window
    /// fell short. A call's fate counts, not when it ended: a stack that fails every
    /// call started in the first 1.5 s after healing recovers in 1.45 s, to the
    /// spacing of calls.
    pub recovery: Duration,
    /// Median caller latency of the calls started during the fault (0 if none did).
    pub fault_p50: Duration,
    /// 99th-percentile caller latency of the calls started during the fault (0 if none
    /// did).
    pub fault_p99: Duration,
    /// Calls refused locally.
    pub refused: usize,
    /// Calls that ran out of time: the caller's deadline passed, or a seawall layer
    /// rejected them for time (an attempt timeout or a passed deadline).
    pub timed_out: usize,
    /// With replicas: the share of the attempts reaching the dependency while a fault
    /// phase was on (within the fault window) that went to the replicas in fault (NaN
    /// without replicas or attempts). A flapping replica counts in its failing spells.
    pub faulty_share: f64,
    /// With finite capacity: from the fault's end to the last moment an attempt was still
    /// waiting in line for 50 ms or more (0 when none was after it).
    pub dependency_recovery: Option<Duration>,
}

/// One second of a run, for plots and CSV.
///
/// ```
/// use seawall::sim::{Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::hard_outage().rate(20.0)).run("bare", |d: Dependency| d);
/// let first = report.seconds()[0];
/// assert_eq!((first.second, first.calls, first.ok), (0, 20, 20));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Second {
    /// Which second of the run (from 0).
    pub second: u64,
    /// Calls started in it.
    pub calls: u64,
    /// Of those, answered.
    pub ok: u64,
    /// Of those, failed by the dependency.
    pub failed: u64,
    /// Of those, refused locally.
    pub refused: u64,
    /// Of those, out of time.
    pub timed_out: u64,
    /// Attempts that reached the dependency in it.
    pub arrivals: u64,
}

pub(crate) fn seconds(trace: &Trace) -> Vec<Second> {
    let n = trace.scenario.duration.as_secs() as usize + 1;
    let mut out: Vec<Second> = (0..n as u64)
        .map(|second| Second {
            second,
            ..Second::default()
        })
        .collect();
    for call in &trace.calls {
        if let Some(s) = out.get_mut(call.start.as_secs() as usize) {
            s.calls += 1;
            match call.fate {
                Fate::Ok => s.ok += 1,
                Fate::Failed => s.failed += 1,
                Fate::Refused => s.refused += 1,
                Fate::TimedOut => s.timed_out += 1,
            }
        }
    }
    for at in &trace.seen.arrivals {
        if let Some(s) = out.get_mut(at.as_secs() as usize) {
            s.arrivals += 1;
        }
    }
    while out.last().is_some_and(|s| s.calls == 0 && s.arrivals == 0) {
        out.pop();
    }
    out
}

pub(crate) fn measure(trace: &Trace) -> Metrics {
    let (from, heal) = trace.scenario.fault;
    let calls = &trace.calls;
    let ok = |c: &&Call| c.fate == Fate::Ok;
    let in_fault: Vec<&Call> = calls
        .iter()
        .filter(|c| c.start >= from && c.start < heal)
        .collect();
    let arrivals_in_fault = trace
        .seen
        .arrivals
        .iter()
        .filter(|a| **a >= from && **a < heal)
        .count();
    let faulty_in_fault = trace
        .seen
        .faulty_arrivals
        .iter()
        .filter(|a| **a >= from && **a < heal)
        .count();
    let phase_arrivals_in_fault = trace
        .seen
        .phase_arrivals
        .iter()
        .filter(|a| **a >= from && **a < heal)
        .count();
    let faulty_share = match trace.scenario.replicas {
        Some(_) => share(faulty_in_fault, phase_arrivals_in_fault),
        None => f64::NAN,
    };
    let mut latencies: Vec<Duration> = in_fault.iter().map(|c| c.took).collect();
    latencies.sort();
    let whole = trace.scenario.duration.as_secs();
    let peak_load = seconds(trace)
        .iter()
        .filter(|s| s.second < whole && s.calls > 0)
        .map(|s| s.arrivals as f64 / s.calls as f64)
        .fold(0.0, f64::max);
    let dependency_recovery = trace.scenario.workers.map(|_| {
        trace
            .seen
            .waits
            .iter()
            .filter(|(_, waited)| *waited >= Duration::from_millis(50))
            .map(|(arrived, waited)| (*arrived + *waited).saturating_sub(heal))
            .max()
            .unwrap_or_default()
    });
    Metrics {
        calls: calls.len(),
        success: share(calls.iter().filter(ok).count(), calls.len()),
        fault_success: share(
            in_fault.iter().filter(|c| c.fate == Fate::Ok).count(),
            in_fault.len(),
        ),
        fault_load: share(arrivals_in_fault, in_fault.len()),
        peak_load,
        first_refusal: calls
            .iter()
            .filter(|c| c.fate == Fate::Refused)
            .map(|c| c.start + c.took)
            .filter(|refused| *refused >= from)
            .min()
            .map(|refused| refused - from),
        first_success: calls
            .iter()
            .find(|c| c.start >= heal && c.fate == Fate::Ok)
            .map(|c| c.start - heal),
        recovery: recovery(calls, heal),
        fault_p50: percentile(&latencies, 0.50),
        fault_p99: percentile(&latencies, 0.99),
        refused: calls.iter().filter(|c| c.fate == Fate::Refused).count(),
        timed_out: calls.iter().filter(|c| c.fate == Fate::TimedOut).count(),
        faulty_share,
        dependency_recovery,
    }
}

/// From `heal` to the start of the last 1 s window (of call starts, each window starting
/// at a call) in which fewer than 95 % of calls succeeded. Only whole windows count.
fn recovery(calls: &[Call], heal: Duration) -> Duration {
    let after: Vec<&Call> = calls.iter().filter(|c| c.start >= heal).collect();
    let Some(last) = after.last().map(|c| c.start) else {
        return Duration::ZERO;
    };
    let window = Duration::from_secs(1);
    let (mut end, mut ok_in) = (0, 0);
    let mut last_bad = None;
    for (begin, call) in after.iter().enumerate() {
        if call.start + window > last {
            break;
        }
        while end < after.len() && after[end].start < call.start + window {
            ok_in += usize::from(after[end].fate == Fate::Ok);
            end += 1;
        }
        if (ok_in as f64) < 0.95 * (end - begin) as f64 {
            last_bad = Some(call.start);
        }
        ok_in -= usize::from(call.fate == Fate::Ok);
    }
    last_bad.map_or(Duration::ZERO, |at| at - heal)
}

/// `part / whole`, NaN when `whole` is 0.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        f64::NAN
    } else {
        part as f64 / whole as f64
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
