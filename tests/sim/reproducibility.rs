//! Reproducibility: the same seed gives the same bytes, and stacks that behave alike meet
//! the same luck (common random numbers).

use std::time::Duration;

use seawall::pipeline::StandardPipeline;
use seawall::sim::{Dependency, Report, Request, Response, Scenario, Simulation, table};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use crate::{Stack, bare};

/// The standard pipeline, its randomness seeded, 1 s an attempt and 3 s a call.
fn seeded_pipeline(dependency: Dependency) -> Stack {
    let pipeline = StandardPipeline::builder()
        .attempt_timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_secs(3))
        .retry(|r| r.seed(1))
        .circuit_breaker(|b| b.seed(1))
        .build()
        .expect("valid settings");
    let stack = ServiceBuilder::new()
        .layer(pipeline)
        .map_err(seawall::Error::Service)
        .service(dependency);
    BoxCloneSyncService::new(stack)
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let sim = Simulation::new(Scenario::brownout(0.3).rate(50.0)).seed(3);
    let first = sim.run("pipeline", seeded_pipeline);
    let second = sim.run("pipeline", seeded_pipeline);
    assert_eq!(first.csv(), second.csv());
    assert_eq!(
        table(std::slice::from_ref(&first)),
        table(std::slice::from_ref(&second))
    );
}

#[test]
fn a_different_dependency_seed_gives_a_different_csv() {
    let scenario = Scenario::brownout(0.3).rate(50.0);
    let one = Simulation::new(scenario.clone())
        .seed(3)
        .run("pipeline", seeded_pipeline);
    let other = Simulation::new(scenario)
        .seed(4)
        .run("pipeline", seeded_pipeline);
    assert_ne!(one.csv(), other.csv());
}

#[test]
fn stacks_that_behave_alike_meet_the_same_luck() {
    let sim = Simulation::new(Scenario::brownout(0.3).rate(50.0)).seed(9);
    let direct = bare(&sim);
    let mapped = sim.run("map response", |dependency: Dependency| {
        tower::util::MapResponse::new(dependency, |response: Response| response)
    });
    let forwarded = sim.run("forwarding", |dependency: Dependency| {
        tower::service_fn(move |request: Request| dependency.clone().oneshot(request))
    });
    let counts =
        |r: &Report| -> Vec<(u64, u64)> { r.seconds().iter().map(|s| (s.ok, s.failed)).collect() };
    assert_eq!(counts(&direct), counts(&mapped));
    assert_eq!(counts(&direct), counts(&forwarded));
}
