//! Runs a stack through a scenario in virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::dependency::{Dependency, Request, Response, Seen, lock};
use super::measure::Trace;
use super::report::Report;
use super::scenario::Scenario;
use super::schedule::CallStarts;
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
    /// The caller's deadline passed, or a seawall layer gave up for time.
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
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    ///
    /// let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.runs().len(), 1);
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
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    ///
    /// let brownout = Scenario::brownout(0.3).rate(5.0);
    /// let run = |seed| Simulation::new(brownout.clone()).seed(seed).run("bare", |d: Dependency| d);
    /// assert_eq!(run(42).csv(), run(42).csv());
    /// assert_ne!(run(42).csv(), run(43).csv());
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the scenario `count` times (1 to 1000, clamped), run `i` (from 0) with the
    /// dependency healing `i × step` later (default: once). A single run measures where
    /// recovery fell in a breaker's cycle; the mean and worst over shifts measure the
    /// design. The report gives each figure's mean over the runs, and the worst case of
    /// some. A scenario without a fault does not change from run to run.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let sim = Simulation::new(Scenario::hard_outage().rate(10.0))
    ///     .recovery_shifts(10, Duration::from_millis(500));
    /// let report = sim.run("bare", |d: Dependency| d);
    /// assert_eq!(report.runs().len(), 10);
    /// // The fault lasts 30 s, then 30.5 s, ... 34.5 s, with 20 s healthy after it.
    /// assert_eq!((report.runs()[0].calls, report.runs()[9].calls), (600, 645));
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
    /// the bare [`DependencyError`](super::DependencyError) all do. A rejection for
    /// time ([`Reason::AttemptTimeout`], [`Reason::DeadlineExceeded`]) counts as timed
    /// out, any other rejection as refused, and every other error (other libraries'
    /// timeouts too) as a failure.
    ///
    /// # Panics
    ///
    /// If `make` panics, or the stack panics on a call: the run stops with
    /// "the stack panicked on a call: " and the panic's message.
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
                let scenario = self
                    .scenario
                    .healing_later(self.shift_step.saturating_mul(i));
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
        let mut tasks = JoinSet::new();
        for (number, at) in (1..).zip(CallStarts::new(scenario)) {
            tokio::time::sleep_until(start + at).await;
            while let Some(done) = tasks.try_join_next() {
                stop_on_panic(done);
            }
            let (svc, calls) = (stack.clone(), calls.clone());
            let deadline = scenario.caller_deadline;
            tasks.spawn(async move {
                let began = Instant::now();
                let result =
                    tokio::time::timeout(deadline, svc.oneshot(Request::new(number))).await;
                let call = Call {
                    start: began - start,
                    took: began.elapsed(),
                    fate: fate(result),
                };
                lock(&calls).push(call);
            });
        }
        while let Some(done) = tasks.join_next().await {
            stop_on_panic(done);
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

/// Fails the run with the message of a call that panicked.
fn stop_on_panic(done: Result<(), JoinError>) {
    let Err(error) = done else { return };
    let Ok(payload) = error.try_into_panic() else {
        return;
    };
    let message = match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(text), _) => text,
        (_, Some(text)) => text.as_str(),
        _ => "(not a string)",
    };
    panic!("the stack panicked on a call: {message}");
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
