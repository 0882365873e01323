#![cfg(feature = "sim")]
//! The outage simulator, through its public API: reproducibility, common random numbers,
//! what each built-in scenario does to a bare client, the metrics, the output formats and
//! odd input.

mod edge_cases;
mod metrics;
mod output;
mod reproducibility;
mod scenarios;

use std::time::Duration;

use seawall::Ratio;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::sim::{Dependency, DependencyError, Report, Request, Response, Simulation};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

const MS: Duration = Duration::from_millis(1);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn bare(sim: &Simulation) -> Report {
    sim.run("bare", |dependency: Dependency| dependency)
}

/// A stack whose errors tell a local refusal from the dependency's failure.
type Stack = BoxCloneSyncService<Request, Response, seawall::Error<DependencyError>>;

/// A breaker that opens on the first failure and stays open for `open`.
fn hair_trigger_breaker(open: Duration) -> impl Fn(Dependency) -> Stack {
    move |dependency| {
        let layer = CircuitBreakerLayer::builder()
            .count_window(1)
            .minimum_calls(1)
            .failure_rate_threshold(Ratio::percent(100.0))
            .open_duration(open)
            .seed(1)
            .build()
            .expect("valid settings");
        BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(layer)
                .map_err(seawall::Error::Service)
                .service(dependency),
        )
    }
}

fn fault_p50(report: &Report) -> Duration {
    report.runs()[0].fault_p50
}
