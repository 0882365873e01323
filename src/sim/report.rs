//! What a run measured, and the table and CSV made from it.

use std::fmt::Write as _;
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
    /// call until 1.5 s after healing recovers in about 1.45 s at any rate.
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

/// What a stack did in a scenario: one [`Metrics`] per run, means and worst cases over
/// the runs, and the first run's seconds.
///
/// ```
/// use seawall::sim::{Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::brownout(0.3).rate(20.0)).run("bare", |d: Dependency| d);
/// assert_eq!(report.name(), "bare");
/// assert_eq!(report.scenario(), "brownout 30 %");
/// assert!(report.success() > 0.7);
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    name: String,
    scenario: String,
    fault: (Duration, Duration),
    runs: Vec<Metrics>,
    seconds: Vec<Second>,
}

impl Report {
    pub(crate) fn new(name: &str, scenario: &Scenario, traces: Vec<Trace>) -> Self {
        let seconds = traces.first().map(seconds).unwrap_or_default();
        Report {
            name: name.to_owned(),
            scenario: scenario.name.clone(),
            fault: scenario.fault,
            runs: traces.iter().map(measure).collect(),
            seconds,
        }
    }

    /// The stack's name.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.name(), "bare");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scenario's name.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.scenario(), "hard outage");
    /// ```
    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The figures of each run.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.runs().len(), 1);
    /// ```
    pub fn runs(&self) -> &[Metrics] {
        &self.runs
    }

    /// The first run, second by second.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.seconds().len(), 60);
    /// ```
    pub fn seconds(&self) -> &[Second] {
        &self.seconds
    }

    fn mean(&self, f: impl Fn(&Metrics) -> f64) -> f64 {
        self.runs.iter().map(f).sum::<f64>() / self.runs.len().max(1) as f64
    }

    fn mean_time(&self, f: impl Fn(&Metrics) -> Duration) -> Duration {
        Duration::from_secs_f64(self.mean(|m| f(m).as_secs_f64()))
    }

    /// Share of all calls that succeeded (mean over runs; NaN without calls).
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert!(report.success() < 0.6);
    /// ```
    pub fn success(&self) -> f64 {
        self.mean(|m| m.success)
    }

    /// Share of the calls started during the fault that succeeded (mean over runs; NaN
    /// without a fault).
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_success(), 0.0);
    /// ```
    pub fn fault_success(&self) -> f64 {
        self.mean(|m| m.fault_success)
    }

    /// Attempts that reached the dependency during the fault, per call started in it
    /// (mean over runs; NaN without a fault).
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_load(), 1.0);
    /// ```
    pub fn fault_load(&self) -> f64 {
        self.mean(|m| m.fault_load)
    }

    /// The highest attempts-per-call ratio of any whole second in any run.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.peak_load(), 1.0);
    /// ```
    pub fn peak_load(&self) -> f64 {
        self.runs.iter().map(|m| m.peak_load).fold(0.0, f64::max)
    }

    /// From the fault's start to the first local refusal, the latest over runs; `None`
    /// if some run refused nothing.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.first_refusal(), None);
    /// ```
    pub fn first_refusal(&self) -> Option<Duration> {
        self.runs
            .iter()
            .map(|m| m.first_refusal)
            .try_fold(Duration::ZERO, |worst, r| r.map(|r| worst.max(r)))
    }

    /// Time from healing to sustained recovery ([`Metrics::recovery`]), mean over runs.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.recovery_mean(), std::time::Duration::ZERO);
    /// ```
    pub fn recovery_mean(&self) -> Duration {
        self.mean_time(|m| m.recovery)
    }

    /// Time from healing to sustained recovery ([`Metrics::recovery`]), worst over runs.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.recovery_max(), std::time::Duration::ZERO);
    /// ```
    pub fn recovery_max(&self) -> Duration {
        self.runs
            .iter()
            .map(|m| m.recovery)
            .max()
            .unwrap_or_default()
    }

    /// 99th-percentile caller latency during the fault, mean over runs.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert!(report.fault_p99() <= std::time::Duration::from_millis(10));
    /// ```
    pub fn fault_p99(&self) -> Duration {
        self.mean_time(|m| m.fault_p99)
    }

    /// With finite capacity, the worst time over runs from the fault's end until the
    /// dependency served without a line again.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.dependency_recovery(), None, "infinite capacity");
    /// ```
    pub fn dependency_recovery(&self) -> Option<Duration> {
        self.runs.iter().filter_map(|m| m.dependency_recovery).max()
    }

    /// The first run's seconds as CSV, with a header.
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert!(report.csv().starts_with("scenario,stack,second,calls,ok,failed,refused,timed_out,arrivals\n"));
    /// ```
    pub fn csv(&self) -> String {
        csv(std::slice::from_ref(self))
    }

    pub(crate) fn fault(&self) -> (Duration, Duration) {
        self.fault
    }
}

/// The reports' first runs, second by second, as one CSV with a header (RFC 4180: names
/// holding commas, quotes or line breaks are quoted).
///
/// ```
/// use seawall::sim::{csv, Dependency, Scenario, Simulation};
/// let sim = Simulation::new(Scenario::hard_outage().rate(5.0));
/// let text = csv(&[sim.run("a", |d: Dependency| d), sim.run("b", |d: Dependency| d)]);
/// assert_eq!(text.lines().count(), 1 + 2 * 60);
/// ```
pub fn csv(reports: &[Report]) -> String {
    let mut out =
        String::from("scenario,stack,second,calls,ok,failed,refused,timed_out,arrivals\n");
    for r in reports {
        for s in &r.seconds {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(&r.scenario),
                csv_field(&r.name),
                s.second,
                s.calls,
                s.ok,
                s.failed,
                s.refused,
                s.timed_out,
                s.arrivals
            );
        }
    }
    out
}

/// A Markdown table: one row per report ("–" for what did not happen: no refusal, no
/// fault).
///
/// ```
/// use seawall::sim::{table, Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
/// let text = table(&[report]);
/// assert!(text.contains("| bare |"));
/// ```
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| stack | success | in the fault | load in the fault | peak 1 s load | first refusal | recovery mean / max | p50 / p99 in the fault | refused |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let refusal = r
            .first_refusal()
            .map_or_else(|| "–".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
        let refused = r.mean(|m| m.refused as f64);
        let (in_fault, load, latency) = if r.fault_success().is_nan() {
            ("–".to_owned(), "–".to_owned(), "–".to_owned())
        } else {
            let p50 = r.mean_time(|m| m.fault_p50).as_secs_f64();
            (
                percent(r.fault_success()),
                format!("{:.3}×", r.fault_load()),
                format!(
                    "{:.0} / {:.0} ms",
                    p50 * 1e3,
                    r.fault_p99().as_secs_f64() * 1e3
                ),
            )
        };
        let mut recovery = format!(
            "{:.2} / {:.2} s",
            r.recovery_mean().as_secs_f64(),
            r.recovery_max().as_secs_f64()
        );
        if let Some(d) = r.dependency_recovery() {
            let _ = write!(recovery, " (line gone {:.2} s)", d.as_secs_f64());
        }
        let _ = writeln!(
            out,
            "| {} | {} | {in_fault} | {load} | {:.2}× | {refusal} | {recovery} | {latency} | {refused:.0} |",
            r.name.replace('|', "\\|").replace(['\n', '\r'], " "),
            percent(r.success()),
            r.peak_load(),
        );
    }
    out
}

/// A share as a percentage with one decimal, "–" for NaN.
fn percent(share: f64) -> String {
    if share.is_nan() {
        "–".to_owned()
    } else {
        format!("{:.1} %", 100.0 * share)
    }
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

fn seconds(trace: &Trace) -> Vec<Second> {
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

fn measure(trace: &Trace) -> Metrics {
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
