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
        .service(dependency);
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
