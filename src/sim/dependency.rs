//! The simulated dependency: a `tower::Service` that answers as the scenario says.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;

use super::behaviour::Behaviour;
use super::luck::Luck;
use super::scenario::Scenario;
use crate::rejection::{AsRejected, Rejected};

/// One caller's call, as the dependency receives it: every attempt of call `n` (retries,
/// hedges) carries the same number, so each attempt draws its own luck whatever stack
/// sent it.
///
/// ```
/// use seawall::sim::Request;
/// let request = Request::new(7);
/// assert_eq!(request.call(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    call: u64,
}

impl Request {
    /// The request of call number `call`.
    ///
    /// ```
    /// # use seawall::sim::Request;
    /// let r = Request::new(1);
    /// # let _ = r;
    /// ```
    pub const fn new(call: u64) -> Self {
        Request { call }
    }

    /// The call's number.
    ///
    /// ```
    /// # use seawall::sim::Request;
    /// assert_eq!(Request::new(3).call(), 3);
    /// ```
    pub const fn call(&self) -> u64 {
        self.call
    }
}

/// A successful answer: which attempt of which call it was.
///
/// ```
/// use seawall::sim::Response;
/// let r = Response { call: 1, attempt: 2 };
/// assert_eq!(r.attempt, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The call's number.
    pub call: u64,
    /// Which attempt of that call reached the dependency (1 for the first).
    pub attempt: u32,
}

/// The dependency failed the call (as a 503 or a refused connection would).
///
/// ```
/// use seawall::sim::DependencyError;
/// assert_eq!(DependencyError.to_string(), "the dependency failed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DependencyError;

impl fmt::Display for DependencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the dependency failed")
    }
}

impl std::error::Error for DependencyError {}

impl AsRejected for DependencyError {
    fn as_rejected(&self) -> Option<&Rejected> {
        None
    }
}

/// What the dependency saw: when each attempt arrived and, with finite capacity, how long
/// it waited for a worker.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) arrivals: Vec<Duration>,
    /// With replicas, while a phase is on: every arrival, and those at the replicas in
    /// fault.
    pub(crate) phase_arrivals: Vec<Duration>,
    pub(crate) faulty_arrivals: Vec<Duration>,
    /// (arrival, time waiting in line) for each attempt served by a worker.
    pub(crate) waits: Vec<(Duration, Duration)>,
}

#[derive(Debug)]
struct Shared {
    scenario: Scenario,
    start: Instant,
    seed: u64,
    attempts: Mutex<HashMap<u64, u32>>,
    seen: Arc<Mutex<Seen>>,
    workers: Option<Arc<Semaphore>>,
}

/// The simulated dependency, handed to the function that builds the stack under test.
/// It is a `tower::Service<Request>`; clones share it.
///
/// ```
/// use seawall::sim::{Dependency, Request, Scenario, Simulation};
/// use tower::ServiceExt;
///
/// // A stack is any service over the dependency: here a second try after a failure.
/// let retry_once = |dependency: Dependency| {
///     tower::service_fn(move |request: Request| {
///         let dependency = dependency.clone();
///         async move {
///             match dependency.clone().oneshot(request).await {
///                 Err(_) => dependency.oneshot(request).await,
///                 ok => ok,
///             }
///         }
///     })
/// };
/// let report = Simulation::new(Scenario::brownout(0.3).rate(20.0)).run("retry once", retry_once);
/// // Each attempt draws its own luck: 1 - 0.3² of calls succeed, at 1.3 attempts each.
/// assert!((report.fault_success() - 0.91).abs() < 0.03, "{}", report.fault_success());
/// assert!((report.fault_load() - 1.3).abs() < 0.03, "{}", report.fault_load());
/// ```
#[derive(Clone, Debug)]
pub struct Dependency {
    shared: Arc<Shared>,
    /// Which replica this is (`None`: the whole dependency).
    replica: Option<u32>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, DependencyError>> + Send>>;

impl Dependency {
    pub(crate) fn new(scenario: Scenario, seed: u64, seen: Arc<Mutex<Seen>>) -> Self {
        let workers = scenario
            .workers
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        Dependency {
            shared: Arc::new(Shared {
                scenario,
                start: Instant::now(),
                seed,
                attempts: Mutex::new(HashMap::new()),
                seen,
                workers,
            }),
            replica: None,
        }
    }

    /// The dependency's replicas, each a service of its own, for a stack that balances
    /// over them (see [`Scenario::replicas`](super::Scenario::replicas)); the dependency
    /// alone when the scenario has no replicas. Every replica draws the same luck for
    /// the same attempt of the same call, so stacks are compared on equal terms.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use tower::ServiceExt;
    ///
    /// // Always the healthy replica 1 of two, one of which is down.
    /// let s = Scenario::hard_outage().rate(20.0).replicas(2, 1);
    /// let report = Simulation::new(s).run("the good one", |d: Dependency| d.replicas().remove(1));
    /// assert_eq!((report.fault_success(), report.faulty_share()), (1.0, 0.0));
    /// ```
    pub fn replicas(&self) -> Vec<Dependency> {
        let Some((count, _)) = self.shared.scenario.replicas else {
            return vec![self.clone()];
        };
        (0..count)
            .map(|i| Dependency {
                shared: self.shared.clone(),
                replica: Some(i),
            })
            .collect()
    }

    fn answer(&self, request: Request) -> Answer {
        let shared = &self.shared;
        let arrived = shared.start.elapsed();
        let attempt = {
            let mut attempts = lock(&shared.attempts);
            let n = attempts.entry(request.call).or_insert(0);
            *n += 1;
            *n
        };
        // Calls to the whole of a replicated dependency go to the replicas in turn.
        let replica = self.replica.or_else(|| {
            let (count, _) = shared.scenario.replicas?;
            u32::try_from(request.call % u64::from(count)).ok()
        });
        {
            let mut seen = lock(&shared.seen);
            seen.arrivals.push(arrived);
            if let (Some((_, faulty)), Some(i)) = (shared.scenario.replicas, replica)
                && shared.scenario.in_phase(arrived)
            {
                seen.phase_arrivals.push(arrived);
                if i < faulty {
                    seen.faulty_arrivals.push(arrived);
                }
            }
        }
        let behaviour = shared.scenario.behaviour_of(replica, arrived);
        let luck = Luck::new(shared.seed, request.call, attempt);
        let response = Response {
            call: request.call,
            attempt,
        };
        if behaviour.hang {
            return Box::pin(std::future::pending());
        }
        let fails = luck.unit(0) < behaviour.error_rate;
        let took = match (fails, behaviour.error_after) {
            (true, Some(after)) => after,
            _ => latency(&behaviour, &luck),
        };
        let outcome = if fails {
            Err(DependencyError)
        } else {
            Ok(response)
        };
        match &shared.workers {
            None => Box::pin(async move {
                tokio::time::sleep(took).await;
                outcome
            }),
            Some(workers) => {
                // Served by a worker to the end even if the caller goes away.
                let (tx, rx) = oneshot::channel();
                let workers = workers.clone();
                let seen = shared.seen.clone();
                let start = shared.start;
                tokio::spawn(async move {
                    let Ok(_worker) = workers.acquire_owned().await else {
                        return;
                    };
                    let waited = start.elapsed().saturating_sub(arrived);
                    lock(&seen).waits.push((arrived, waited));
                    tokio::time::sleep(took).await;
                    let _ = tx.send(outcome);
                });
                Box::pin(async move { rx.await.unwrap_or(Err(DependencyError)) })
            }
        }
    }
}

/// A log-normal latency around the behaviour's median.
fn latency(behaviour: &Behaviour, luck: &Luck) -> Duration {
    let factor = (behaviour.sigma * luck.normal(1)).exp();
    Duration::from_secs_f64((behaviour.median.as_secs_f64() * factor).min(3600.0))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl tower::Service<Request> for Dependency {
    type Response = Response;
    type Error = DependencyError;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DependencyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        self.answer(request)
    }
}
