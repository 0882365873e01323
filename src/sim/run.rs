//! Runs a stack through a scenario in virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::dependency::{Dependency, Request, Response, Seen, lock};
use super::report::{Report, Trace};
use super::scenario::Scenario;
use crate::rejection::{AsRejected, Reason};

/// What became of one caller's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Answered.
    Ok,
    /// The dependency's failure reached the caller.
    Failed,
    /// A layer refused it locally (open breaker, full bulkhead, rate limit, throttle).
    Refused,
    /// The caller's deadline passed, or a timeout layer gave up.
    TimedOut,
}

/// One caller's call: when it started (since the run began), how long it took, its fate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(crate) start: Duration,
    pub(crate) took: Duration,
    pub(crate) fate: Fate,
}

/// A simulation: a scenario, a seed, and how many times to run it with the dependency
/// healing at shifted instants.
///
/// Each run builds a fresh stack with the given function, on a fresh single-threaded
/// tokio runtime with paused time: virtual seconds take microseconds, and a run is
/// reproducible. The dependency's luck is drawn per attempt from the seed, the call's
/// number and the attempt's number (common random numbers), so two stacks meet the same
/// failures. Randomness inside the stack (jitter) is the stack's own: seed it for
/// byte-identical reports.
///
/// ```
/// use seawall::sim::{Dependency, Scenario, Simulation};
///
/// let sim = Simulation::new(Scenario::brownout(0.3).rate(50.0)).seed(7);
/// let bare = sim.run("bare", |dependency: Dependency| dependency);
/// assert!(bare.fault_success() > 0.6 && bare.fault_success() < 0.8);
/// assert!((bare.fault_load() - 1.0).abs() < 1e-9, "one attempt per call");
/// ```
#[derive(Clone, Debug)]
pub struct Simulation {
    scenario: Scenario,
    seed: u64,
    shifts: u32,
    shift_step: Duration,
}

impl Simulation {
    /// One run of `scenario` with seed 1.
    ///
    /// ```
    /// # use seawall::sim::{Scenario, Simulation};
    /// let sim = Simulation::new(Scenario::hard_outage());
    /// # let _ = sim;
    /// ```
    pub fn new(scenario: Scenario) -> Self {
        Simulation {
            scenario,
            seed: 1,
            shifts: 1,
            shift_step: Duration::from_millis(500),
        }
    }

    /// The seed of the dependency's luck.
    ///
    /// ```
    /// # use seawall::sim::{Scenario, Simulation};
    /// let sim = Simulation::new(Scenario::hard_outage()).seed(42);
    /// # let _ = sim;
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the scenario `count` times, the dependency healing `step` later each time
    /// (default: once). A single run measures where recovery fell in a breaker's cycle;
    /// the mean and worst over shifts measure the design. Every figure of the report is
    /// averaged over the runs; recovery also has its worst case.
    ///
    /// ```
    /// # use seawall::sim::{Scenario, Simulation};
    /// # use std::time::Duration;
    /// let sim = Simulation::new(Scenario::hard_outage()).recovery_shifts(10, Duration::from_millis(500));
    /// # let _ = sim;
    /// ```
    pub fn recovery_shifts(mut self, count: u32, step: Duration) -> Self {
        self.shifts = count.clamp(1, 1000);
        self.shift_step = step;
        self
    }

    /// The scenario this simulation runs.
    ///
    /// ```
    /// # use seawall::sim::{Scenario, Simulation};
    /// assert_eq!(Simulation::new(Scenario::flapping()).scenario().name(), "flapping");
    /// ```
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Runs the stack that `make` builds over the dependency, and reports under `name`.
    ///
    /// The stack must be `Clone` (each call uses a clone, as a server's handlers would)
    /// and its error must implement [`AsRejected`], so that local refusals can be told
    /// from the dependency's failures: `tower::BoxError`, [`Error<E>`](crate::Error) and
    /// the bare [`DependencyError`](super::DependencyError) all do.
    ///
    /// ```
    /// use seawall::pipeline::StandardPipeline;
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    /// use tower::ServiceBuilder;
    ///
    /// let report = Simulation::new(Scenario::hard_outage().rate(50.0)).run("preset", |dependency: Dependency| {
    ///     let pipeline = StandardPipeline::builder()
    ///         .attempt_timeout(Duration::from_secs(1))
    ///         .total_timeout(Duration::from_secs(3))
    ///         .build()
    ///         .unwrap();
    ///     ServiceBuilder::new()
    ///         .layer(pipeline)
    ///         .map_err(seawall::Error::Service)
    ///         .service(dependency)
    /// });
    /// assert!(report.fault_load() < 1.0, "{report:?}");
    /// ```
    pub fn run<S, F>(&self, name: &str, make: F) -> Report
    where
        F: Fn(Dependency) -> S,
        S: Service<Request, Response = Response> + Clone + Send + 'static,
        S::Error: AsRejected + Send + 'static,
        S::Future: Send + 'static,
    {
        let traces = (0..self.shifts)
            .map(|i| {
                let scenario = self.scenario.healing_later(self.shift_step * i);
                run_once(&scenario, self.seed, &make)
            })
            .collect();
        Report::new(name, &self.scenario, traces)
    }
}

fn run_once<S, F>(scenario: &Scenario, seed: u64, make: &F) -> Trace
where
    F: Fn(Dependency) -> S,
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: AsRejected + Send + 'static,
    S::Future: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(async {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let start = Instant::now();
        let stack = make(Dependency::new(scenario.clone(), seed, seen.clone()));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let (mut at, mut number) = (Duration::ZERO, 0);
        while at < scenario.duration {
            tokio::time::sleep_until(start + at).await;
            number += 1;
            let (svc, calls) = (stack.clone(), calls.clone());
            let deadline = scenario.caller_deadline;
            tasks.push(tokio::spawn(async move {
                let began = Instant::now();
                let result =
                    tokio::time::timeout(deadline, svc.oneshot(Request::new(number))).await;
                let call = Call {
                    start: began - start,
                    took: began.elapsed(),
                    fate: fate(result),
                };
                lock(&calls).push(call);
            }));
            at += Duration::from_secs_f64(1.0 / scenario.rate_at(at));
        }
        for task in tasks {
            let _ = task.await;
        }
        let mut calls = std::mem::take(&mut *lock(&calls));
        calls.sort_by_key(|c| c.start);
        let seen = std::mem::take(&mut *lock(&seen));
        Trace {
            scenario: scenario.clone(),
            calls,
            seen,
        }
    })
}

fn fate<T, E: AsRejected>(result: Result<Result<T, E>, tokio::time::error::Elapsed>) -> Fate {
    match result {
        Err(_) => Fate::TimedOut,
        Ok(Ok(_)) => Fate::Ok,
        Ok(Err(e)) => match e.as_rejected().map(|r| r.reason()) {
            None => Fate::Failed,
            Some(Reason::DeadlineExceeded | Reason::AttemptTimeout { .. }) => Fate::TimedOut,
            Some(_) => Fate::Refused,
        },
    }
}
