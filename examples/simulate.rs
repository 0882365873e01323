//! Outcomes in scripted outages: seawall's standard pipeline, a bare client and tower's
//! `Retry` with a `TpsBudget`, on every built-in scenario of the simulator.
//!
//! ```sh
//! cargo run --release --example simulate --features sim,balance            # tables
//! cargo run --release --example simulate --features sim,balance -- docs/outcomes  # + CSV, SVG
//! ```
//!
//! The setup of every scenario: 200 calls a second, open loop, a 3 s caller deadline,
//! healthy latency log-normal around 20 ms; both resilient stacks give each attempt 1 s.
//! Then the replicated scenarios (five replicas, some of them in fault): the replicas
//! in turn, tower's p2c balancer bare, p2c under the standard pipeline, and p2c over
//! seawall's per-endpoint health under the standard pipeline.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use seawall::pipeline::StandardPipeline;
use seawall::sim::{Dependency, DependencyError, Report, Request, Response, Scenario, Simulation};
use tower::retry::budget::{Budget, TpsBudget};
use tower::{BoxError, ServiceBuilder};

fn main() -> Result<(), BoxError> {
    let out = std::env::args().nth(1).map(std::path::PathBuf::from);
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir)?;
    }
    let mut markdown = String::new();
    for scenario in Scenario::all() {
        let outage = matches!(scenario.name(), "hard outage" | "hanging outage");
        let sim = Simulation::new(scenario.clone())
            .seed(1)
            .recovery_shifts(if outage { 10 } else { 1 }, Duration::from_millis(500));
        let reports = [
            sim.run("no resilience", |dependency| dependency),
            sim.run("tower Retry + TpsBudget", tower_stack),
            sim.run("seawall StandardPipeline", |d| pipeline(d, |b| b)),
            sim.run("seawall layers, defaults", layers_stack),
            sim.run("seawall with Polly's standard defaults", |d| {
                pipeline(d, polly)
            }),
        ];
        let table = seawall::sim::table(&reports);
        println!("## {}\n\n{table}", scenario.name());
        markdown.push_str(&format!("## {}\n\n{table}\n", scenario.name()));
        if let Some(dir) = &out {
            let file = scenario.name().replace([' ', '%'], "-").replace("--", "-");
            let file = file.trim_end_matches('-');
            std::fs::write(dir.join(format!("{file}.csv")), seawall::sim::csv(&reports))?;
            std::fs::write(dir.join(format!("{file}.svg")), seawall::sim::svg(&reports))?;
            markdown.push_str(&format!("![{}]({file}.svg)\n\n", scenario.name()));
        }
        verdict(&reports);
    }
    let ablation = ablation();
    println!("{ablation}");
    markdown.push_str(&ablation);
    let balancing = balancing();
    println!("{balancing}");
    markdown.push_str(&balancing);
    if let Some(dir) = &out {
        std::fs::write(dir.join("tables.md"), markdown)?;
    }
    Ok(())
}

/// Each of the defaults' mechanisms turned off alone, on the scenarios it is for.
fn ablation() -> String {
    let changes: [(&str, Change); 6] = [
        ("the defaults", |b| b),
        ("confidence off", |b| {
            b.circuit_breaker(|c| c.confidence(None))
        }),
        ("steady_probing off", |b| {
            b.circuit_breaker(|c| c.steady_probing(false))
        }),
        ("retry_refusals on", |b| b.retry(|r| r.retry_refusals(true))),
        ("refund_successful_retries off", |b| {
            b.retry(|r| r.refund_successful_retries(false))
        }),
        ("backoff_includes_timeout off", |b| {
            b.retry(|r| r.backoff_includes_timeout(false))
        }),
    ];
    let mut out = String::from(
        "## Each mechanism turned off alone (standard pipeline)\n\n\
         | change | hard outage: load, recovery mean / max, p99 | hanging outage: load, recovery mean / max | brownout 30 %: success, load | latency spike: success, load |\n\
         |---|---|---|---|---|\n",
    );
    for (name, change) in changes {
        let run = |scenario: Scenario, shifts: u32| {
            let sim = Simulation::new(scenario)
                .seed(1)
                .recovery_shifts(shifts, Duration::from_millis(500));
            sim.run(name, |dependency: Dependency| pipeline(dependency, change))
        };
        let (hard, hanging) = (
            run(Scenario::hard_outage(), 10),
            run(Scenario::hanging_outage(), 10),
        );
        let (brownout, spike) = (
            run(Scenario::brownout(0.3), 1),
            run(Scenario::latency_spike(), 1),
        );
        out.push_str(&format!(
            "| {name} | {:.3}×, {:.2} / {:.2} s, {} ms | {:.3}×, {:.2} / {:.2} s | {:.1} %, {:.2}× | {:.1} %, {:.2}× |\n",
            hard.fault_load(),
            hard.recovery_mean().as_secs_f64(),
            hard.recovery_max().as_secs_f64(),
            hard.fault_p99().as_millis(),
            hanging.fault_load(),
            hanging.recovery_mean().as_secs_f64(),
            hanging.recovery_max().as_secs_f64(),
            100.0 * brownout.fault_success(),
            brownout.fault_load(),
            100.0 * spike.fault_success(),
            spike.fault_load(),
        ));
    }
    out
}

/// The replicated scenarios: how each way of spreading calls over five replicas fares.
fn balancing() -> String {
    let mut out = String::from(
        "## Replicated dependencies (five replicas)\n\n\
         | scenario | stack | success in the fault | load | attempts to replicas in fault | p99 in the fault |\n\
         |---|---|---|---|---|---|\n",
    );
    for scenario in Scenario::replicated() {
        let sim = Simulation::new(scenario.clone()).seed(1);
        let reports = [
            sim.run("replicas in turn, no resilience", |d| d),
            sim.run("tower p2c, no resilience", |d| p2c(counted(&d))),
            sim.run("tower p2c under the standard pipeline", |d| {
                under_pipeline(p2c(counted(&d)))
            }),
            sim.run("p2c over seawall endpoints, standard pipeline", |d| {
                endpoints(d, |b| b)
            }),
            // Each of session 8's endpoint defaults turned off alone.
            sim.run("… without passing over a failed endpoint", |d| {
                endpoints(d, |b| b.passed_over_after_failure(0))
            }),
            sim.run(
                "… with the breaker's own open durations (1 s, no growth)",
                |d| {
                    endpoints(d, |b| {
                        b.breaker(|c| c.open_backoff(1.0, Duration::from_secs(1)).open_jitter(0.0))
                    })
                },
            ),
        ];
        for report in &reports {
            out.push_str(&format!(
                "| {} | {} | {:.1} % | {:.2}× | {:.1} % | {} ms |
",
                scenario.name(),
                report.name(),
                100.0 * report.fault_success(),
                report.fault_load(),
                100.0 * report.faulty_share(),
                report.fault_p99().as_millis(),
            ));
        }
    }
    out
}

type Replica = tower::util::BoxService<Request, Response, BoxError>;

/// p2c over seawall's per-endpoint health (settings changed by `change`), under the
/// standard pipeline.
fn endpoints(
    dependency: Dependency,
    change: impl FnOnce(seawall::balance::Builder) -> seawall::balance::Builder,
) -> impl tower::Service<Request, Response = Response, Error = seawall::Error<BoxError>, Future: Send>
+ Clone
+ Send {
    let builder = seawall::balance::Endpoints::builder()
        .name("replicas")
        .breaker(|b| b.seed(1));
    let endpoints = change(builder).build().expect("valid settings");
    let replicas = counted(&dependency).into_iter().enumerate();
    under_pipeline(p2c(replicas
        .map(|(i, r)| endpoints.endpoint(i, r))
        .collect()))
}

/// The replicas, each behind a 1 s timeout, counting its calls in flight (the load p2c
/// compares).
fn counted(dependency: &Dependency) -> Vec<tower::load::PendingRequests<Replica>> {
    use tower::load::{CompleteOnResponse, PendingRequests};
    dependency
        .replicas()
        .into_iter()
        .map(|replica| {
            let timed = tower::timeout::Timeout::new(replica, Duration::from_secs(1));
            PendingRequests::new(
                tower::util::BoxService::new(timed),
                CompleteOnResponse::default(),
            )
        })
        .collect()
}

/// A balancer shared by the callers through a buffer.
type Balanced = tower::buffer::Buffer<
    Request,
    Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send>>,
>;

/// tower's p2c balancer over `replicas` (seeded), shared by the callers through a buffer.
fn p2c<S>(replicas: Vec<S>) -> Balanced
where
    S: tower::Service<Request, Response = Response, Error = BoxError>
        + tower::load::Load<Metric: std::fmt::Debug>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let balancer = tower::balance::p2c::Balance::from_rng(
        tower::discover::ServiceList::new(replicas),
        seawall::sim::SeededRng::new(7),
    );
    let boxed = tower::util::BoxService::new(balancer);
    tower::buffer::Buffer::new(boxed, 1024)
}

/// The standard pipeline as in the other tables, over `service`.
fn under_pipeline<S>(
    service: S,
) -> impl tower::Service<Request, Response = Response, Error = seawall::Error<BoxError>, Future: Send>
+ Clone
+ Send
where
    S: tower::Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let pipeline = StandardPipeline::builder()
        .attempt_timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_secs(3))
        .circuit_breaker(|b| b.seed(1))
        .retry(|r| r.seed(1))
        .build()
        .expect("valid settings");
    ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .service(service)
}

/// The setup's pipeline: the standard pipeline with only its two timeouts set (and
/// seeds), changed by `change`.
fn pipeline(
    dependency: Dependency,
    change: Change,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = seawall::Error<DependencyError>,
    Future: Send,
> + Clone
+ Send {
    let builder = StandardPipeline::builder()
        .attempt_timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_secs(3))
        .circuit_breaker(|b| b.seed(1))
        .retry(|r| r.seed(1));
    ServiceBuilder::new()
        .layer(change(builder).build().expect("valid settings"))
        .map_err(seawall::Error::Service)
        .service(dependency)
}

type Change = fn(seawall::pipeline::Builder) -> seawall::pipeline::Builder;

/// seawall's layers, each with its own defaults, in the pipeline's order: bulkhead,
/// 3 s deadline, retry, breaker, 1 s per attempt.
fn layers_stack(
    dependency: Dependency,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = seawall::Error<DependencyError>,
    Future: Send,
> + Clone
+ Send {
    use seawall::{bulkhead, circuit_breaker, deadline, retry, timeout};
    ServiceBuilder::new()
        .layer(
            bulkhead::BulkheadLayer::builder()
                .build()
                .expect("defaults"),
        )
        .layer(deadline::DeadlineLayer::new(Duration::from_secs(3)).expect("valid"))
        .layer(
            retry::RetryLayer::builder()
                .seed(1)
                .build()
                .expect("defaults"),
        )
        .layer(
            circuit_breaker::CircuitBreakerLayer::builder()
                .seed(1)
                .build()
                .expect("defaults"),
        )
        .layer(timeout::AttemptTimeoutLayer::new(Duration::from_secs(1)).expect("valid"))
        .map_err(seawall::Error::Service)
        .service(dependency)
}

/// The standard pipeline as Microsoft's standard handler sets it up (seawall's own
/// defaults before the simulator): a breaker at 10 % over 30 s after 100 calls, open
/// 5 s, judged as observed; 4 attempts from a 2 s backoff, refusals retried after their
/// wait, every retry charged to the budget.
fn polly(builder: seawall::pipeline::Builder) -> seawall::pipeline::Builder {
    builder
        .retry(|r| {
            r.max_attempts(4)
                .exponential(Duration::from_secs(2), 2.0, Duration::from_secs(30))
                .jitter(seawall::retry::Jitter::DecorrelatedV2)
                .retry_refusals(true)
                .refund_successful_retries(false)
                .backoff_includes_timeout(false)
        })
        .circuit_breaker(|b| {
            b.failure_rate_threshold(seawall::Ratio::percent(10.0))
                .minimum_calls(100)
                .time_window(Duration::from_secs(30), 10)
                .open_duration(Duration::from_secs(5))
                .confidence(None)
                .steady_probing(false)
        })
}

/// tower's own: up to 3 attempts, 1 s each, exponential backoff from 50 ms, retries
/// within a `TpsBudget` (10 s, 10 a second, 20 %).
/// Its timeouts are not seawall rejections, so the report counts them as failures.
fn tower_stack(
    dependency: Dependency,
) -> impl tower::Service<Request, Response = Response, Error = BoxError, Future: Send> + Clone + Send
{
    let policy = TowerPolicy {
        budget: std::sync::Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
        attempts: 1,
    };
    ServiceBuilder::new()
        .retry(policy)
        .timeout(Duration::from_secs(1))
        .service(dependency)
}

#[derive(Clone)]
struct TowerPolicy {
    budget: std::sync::Arc<TpsBudget>,
    attempts: u32,
}

impl<E> tower::retry::Policy<Request, Response, E> for TowerPolicy {
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(&mut self, _: &mut Request, result: &mut Result<Response, E>) -> Option<Self::Future> {
        if result.is_ok() {
            self.budget.deposit();
            return None;
        }
        if self.attempts >= 3 || !self.budget.withdraw() {
            return None;
        }
        let delay = Duration::from_millis(50 << (self.attempts - 1));
        self.attempts += 1;
        Some(Box::pin(tokio::time::sleep(delay)))
    }

    fn clone_request(&mut self, request: &Request) -> Option<Request> {
        Some(*request)
    }
}

/// One line on how the preset fared against the others.
fn verdict(reports: &[Report; 5]) {
    let [bare, tower, seawall, _, _] = reports;
    println!(
        "{}: success in the fault {:.1} % (tower {:.1} %, none {:.1} %), load {:.2}× (tower {:.2}×)\n",
        seawall.scenario(),
        100.0 * seawall.fault_success(),
        100.0 * tower.fault_success(),
        100.0 * bare.fault_success(),
        seawall.fault_load(),
        tower.fault_load(),
    );
}
