//! Outcomes in scripted outages: what seawall's defaults promise, checked in the
//! simulator on the built-in scenarios and on variations of them (other seeds, call
//! rates, error rates). Both the standard pipeline with only its two timeouts set and
//! seawall's layers with their own defaults, in the pipeline's order, are held to
//! the same figures. `docs/OUTCOMES.md` has the tables these come from.
#![cfg(feature = "sim")]

use std::time::Duration;

use seawall::pipeline::StandardPipeline;
use seawall::sim::{Dependency, DependencyError, Report, Request, Response, Scenario, Simulation};
use seawall::{bulkhead, circuit_breaker, deadline, retry, timeout};
use tower::ServiceBuilder;

const MS: Duration = Duration::from_millis(1);

type Stack =
    fn(
        Dependency,
    ) -> tower::util::BoxCloneSyncService<Request, Response, seawall::Error<DependencyError>>;

/// The preset with only the setup's two timeouts set.
fn preset(
    dependency: Dependency,
) -> tower::util::BoxCloneSyncService<Request, Response, seawall::Error<DependencyError>> {
    preset_over(dependency)
}

/// The preset with only the setup's two timeouts set (and seeds), over `service`.
fn preset_over<S>(
    service: S,
) -> tower::util::BoxCloneSyncService<Request, Response, seawall::Error<S::Error>>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let pipeline = StandardPipeline::builder()
        .attempt_timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_secs(3))
        .circuit_breaker(|b| b.seed(7))
        .retry(|r| r.seed(7))
        .build()
        .unwrap();
    let stack = ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .service(service);
    tower::util::BoxCloneSyncService::new(stack)
}

/// Each layer with its own defaults, in the pipeline's order.
fn layers(
    dependency: Dependency,
) -> tower::util::BoxCloneSyncService<Request, Response, seawall::Error<DependencyError>> {
    let stack = ServiceBuilder::new()
        .layer(bulkhead::BulkheadLayer::builder().build().unwrap())
        .layer(deadline::DeadlineLayer::new(Duration::from_secs(3)).unwrap())
        .layer(retry::RetryLayer::builder().seed(7).build().unwrap())
        .layer(
            circuit_breaker::CircuitBreakerLayer::builder()
                .seed(7)
                .build()
                .unwrap(),
        )
        .layer(timeout::AttemptTimeoutLayer::new(Duration::from_secs(1)).unwrap())
        .map_err(seawall::Error::Service)
        .service(dependency);
    tower::util::BoxCloneSyncService::new(stack)
}

const STACKS: [(&str, Stack); 2] = [("preset", preset), ("layers", layers)];

fn shown(report: &Report) -> String {
    seawall::sim::table(std::slice::from_ref(report))
}

fn bare(sim: &Simulation) -> Report {
    sim.run("bare", |d: Dependency| d)
}

fn shifted(scenario: Scenario) -> Simulation {
    Simulation::new(scenario).recovery_shifts(10, 500 * MS)
}

fn check_hard_outage(scenario: Scenario) {
    let sim = shifted(scenario);
    for (name, stack) in STACKS {
        let r = sim.run(name, stack);
        let label = format!("{name} in {}:\n{}", r.scenario(), shown(&r));
        assert!(r.fault_load() <= 0.01, "load {label}");
        assert!(
            r.first_refusal().is_some_and(|d| d <= 100 * MS),
            "refusal {label}"
        );
        assert!(r.recovery_mean() <= 500 * MS, "recovery mean {label}");
        assert!(r.recovery_max() <= 1000 * MS, "recovery max {label}");
        assert!(r.fault_p99() <= 100 * MS, "p99 {label}");
    }
}

#[test]
fn a_hard_outage_is_shed_at_once_and_recovery_follows_healing_within_a_second() {
    check_hard_outage(Scenario::hard_outage());
}

#[test]
fn a_hard_outage_at_other_rates_is_shed_as_well() {
    // At 100 calls a second one probe a second is already 1 % of the calls: the load
    // figure holds from the setup's 200 calls a second up (docs/OUTCOMES.md).
    check_hard_outage(Scenario::hard_outage().rate(300.0));
    check_hard_outage(Scenario::hard_outage().rate(400.0));
}

#[test]
fn a_hanging_outage_is_shed_and_recovery_is_as_quick() {
    let sim = shifted(Scenario::hanging_outage());
    for (name, stack) in STACKS {
        let r = sim.run(name, stack);
        assert!(r.fault_load() <= 0.05, "{name}:\n{}", shown(&r));
        assert!(r.recovery_mean() <= 1000 * MS, "{name}:\n{}", shown(&r));
    }
}

fn check_brownout(rate: f64, least: f64, most_load: f64) {
    let sim = Simulation::new(Scenario::brownout(rate));
    let none = bare(&sim).fault_success();
    for (name, stack) in STACKS {
        let r = sim.run(name, stack);
        let label = format!("{name} at {rate}:\n{}", shown(&r));
        assert!(r.fault_success() >= least, "{label}");
        assert!(r.fault_success() >= none, "{label}, no resilience {none}");
        assert!(r.fault_load() <= most_load, "{label}");
    }
}

#[test]
fn a_thirty_percent_brownout_is_cured_by_budgeted_retries() {
    check_brownout(0.3, 0.97, 1.4);
}

#[test]
fn brownouts_of_other_rates_never_do_worse_than_no_resilience() {
    check_brownout(0.1, 0.995, 1.15);
    check_brownout(0.2, 0.99, 1.3);
    check_brownout(0.4, 0.9, 1.6);
}

#[test]
fn a_latency_spike_keeps_its_calls_in_every_seed() {
    for seed in 1..=20 {
        let sim = Simulation::new(Scenario::latency_spike()).seed(seed);
        for (name, stack) in STACKS {
            let r = sim.run(name, stack);
            assert!(
                r.fault_success() >= 0.987,
                "seed {seed} {name}:\n{}",
                shown(&r)
            );
            assert!(r.fault_load() <= 1.22, "seed {seed} {name}:\n{}", shown(&r));
        }
    }
}

#[test]
fn flapping_is_shed_in_its_dead_halves() {
    let sim = Simulation::new(Scenario::flapping());
    for (name, stack) in STACKS {
        let r = sim.run(name, stack);
        assert!(r.fault_success() >= 0.485, "{name}:\n{}", shown(&r));
        assert!(r.fault_load() <= 0.51, "{name}:\n{}", shown(&r));
    }
}

#[test]
fn an_overload_surge_leaves_no_line_behind() {
    let sim = Simulation::new(Scenario::overload());
    for (name, stack) in STACKS {
        let r = sim.run(name, stack);
        let line = r.dependency_recovery().unwrap();
        assert!(line <= Duration::from_secs(2), "{name}:\n{}", shown(&r));
        assert!(r.fault_load() <= 1.1, "{name}:\n{}", shown(&r));
    }
}

#[test]
fn the_same_seed_gives_the_same_outcomes() {
    let sim = Simulation::new(Scenario::brownout(0.3).rate(50.0)).seed(3);
    let (a, b) = (sim.run("a", preset), sim.run("a", preset));
    assert_eq!(seawall::sim::csv(&[a]), seawall::sim::csv(&[b]));
}

/// Replicated dependencies (five replicas), balanced by tower's p2c: over seawall's
/// per-endpoint health (defaults) against p2c alone, both under the preset.
#[cfg(feature = "balance")]
mod replicated {
    use super::*;
    use tower::BoxError;
    use tower::load::{CompleteOnResponse, PendingRequests};

    type Client = tower::util::BoxCloneSyncService<Request, Response, seawall::Error<BoxError>>;

    /// The preset over a buffered, seeded p2c balancer over `replicas`.
    fn balanced<S>(replicas: Vec<S>) -> Client
    where
        S: tower::Service<Request, Response = Response, Error = BoxError>
            + tower::load::Load<Metric: std::fmt::Debug>
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let p2c = tower::balance::p2c::Balance::from_rng(
            tower::discover::ServiceList::new(replicas),
            seawall::sim::SeededRng::new(7),
        );
        preset_over(tower::buffer::Buffer::new(
            tower::util::BoxService::new(p2c),
            1024,
        ))
    }

    type Counted = PendingRequests<tower::util::BoxService<Request, Response, BoxError>>;

    fn counted(dependency: &Dependency) -> Vec<Counted> {
        let timed = |r| tower::timeout::Timeout::new(r, Duration::from_secs(1));
        dependency
            .replicas()
            .into_iter()
            .map(|r| {
                PendingRequests::new(
                    tower::util::BoxService::new(timed(r)),
                    CompleteOnResponse::default(),
                )
            })
            .collect()
    }

    fn p2c(dependency: Dependency) -> Client {
        balanced(counted(&dependency))
    }

    fn seawall_endpoints(dependency: Dependency) -> Client {
        let endpoints = seawall::balance::Endpoints::builder()
            .breaker(|b| b.seed(7))
            .build()
            .unwrap();
        let replicas = counted(&dependency).into_iter().enumerate();
        balanced(replicas.map(|(i, r)| endpoints.endpoint(i, r)).collect())
    }

    #[test]
    fn one_replica_down_of_five_is_ejected_and_every_call_is_answered() {
        let sim = Simulation::new(Scenario::bad_replica()).seed(7);
        let (plain, ours) = (sim.run("p2c", p2c), sim.run("seawall", seawall_endpoints));
        assert!(ours.fault_success() >= 0.999, "{}", shown(&ours));
        assert!(ours.faulty_share() <= 0.01, "{}", ours.faulty_share());
        assert!(ours.fault_load() <= 1.02, "{}", shown(&ours));
        assert!(
            plain.faulty_share() > 0.2,
            "p2c prefers the replica failing fast"
        );
    }

    #[test]
    fn a_hanging_replica_costs_no_caller_its_timeout() {
        let sim = Simulation::new(Scenario::hanging_replica()).seed(7);
        let (plain, ours) = (sim.run("p2c", p2c), sim.run("seawall", seawall_endpoints));
        assert!(ours.fault_success() >= 0.999, "{}", shown(&ours));
        assert!(ours.fault_p99() < 200 * MS, "{:?}", ours.fault_p99());
        assert!(plain.fault_p99() >= 1000 * MS, "{:?}", plain.fault_p99());
    }

    #[test]
    fn with_three_of_five_down_the_two_left_and_the_passed_over_third_answer_nearly_all() {
        let sim = Simulation::new(Scenario::most_replicas_down()).seed(7);
        let (plain, ours) = (sim.run("p2c", p2c), sim.run("seawall", seawall_endpoints));
        assert!(ours.fault_success() >= 0.95, "{}", shown(&ours));
        assert!(
            plain.fault_success() < 0.2,
            "one breaker for all refuses: {}",
            shown(&plain)
        );
    }

    #[test]
    fn a_flapping_replica_is_kept_out_of_most_of_its_failing_spells() {
        let sim = Simulation::new(Scenario::flapping_replica()).seed(7);
        let ours = sim.run("seawall", seawall_endpoints);
        assert!(ours.fault_success() >= 0.999, "{}", shown(&ours));
        assert!(ours.faulty_share() <= 0.05, "{}", ours.faulty_share());
    }
}
