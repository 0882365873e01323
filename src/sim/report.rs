//! What a stack did in a scenario: the figures of its runs, means and worst cases.

use std::time::Duration;

use super::measure::{Metrics, Second, Trace, measure, seconds};
use super::scenario::Scenario;
use super::text::csv;

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

    pub(crate) fn mean(&self, f: impl Fn(&Metrics) -> f64) -> f64 {
        self.runs.iter().map(f).sum::<f64>() / self.runs.len().max(1) as f64
    }

    pub(crate) fn mean_time(&self, f: impl Fn(&Metrics) -> Duration) -> Duration {
        Duration::from_secs_f64(self.mean(|m| f(m).as_secs_f64()))
    }

    /// Share of all calls that succeeded (mean over runs; NaN without calls).
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// # let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.success(), 0.5, "dead for 30 s of 60");
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

    /// With replicas: the share of the attempts during the fault that reached the
    /// replicas in fault (mean over runs; NaN without replicas).
    ///
    /// ```
    /// # use seawall::sim::{Dependency, Scenario, Simulation};
    /// let s = Scenario::bad_replica().rate(10.0);
    /// let report = Simulation::new(s).run("in turn", |d: Dependency| d);
    /// assert_eq!(report.faulty_share(), 0.2, "one of five, in turn");
    /// ```
    pub fn faulty_share(&self) -> f64 {
        self.mean(|m| m.faulty_share)
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
    /// assert_eq!(report.fault_p99(), std::time::Duration::from_millis(10));
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
