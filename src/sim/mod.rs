//! An outage simulator (feature `sim`): drive any `tower::Service` stack, your own, with
//! an open-loop load against a scripted dependency, in virtual time, and see what it does
//! to outcomes: success, load on the dependency, recovery, latency.
//!
//! * **Scenarios** ([`Scenario`]): a fail-fast outage, a hanging outage, a brownout,
//!   a latency spike, flapping, overload of a dependency with finite capacity (a surge,
//!   then normal load: a stack that keeps it overloaded after the surge has caused a
//!   metastable failure) and a gradual recovery; or your own timeline of [`Phase`]s.
//! * **Runs** ([`Simulation`]): each on a fresh single-threaded tokio runtime with
//!   paused time, so a minute of traffic takes milliseconds and every layer's timers,
//!   sleeps and clocks run on virtual time. Calls start on schedule whatever the stack
//!   does (open loop), each under the caller's deadline.
//! * **Common random numbers**: attempt `a` of call `c` draws the same luck under every
//!   stack, so stacks are compared on the same failures. With the stack's own randomness
//!   seeded, the same seed gives the same bytes out.
//! * **Figures** ([`Report`], [`Metrics`]): success overall and during the fault, load
//!   on the dependency (attempts per call) during the fault and at its worst second,
//!   time to the first local refusal, first success and sustained recovery after the
//!   dependency heals (averaged over shifted healing instants, see
//!   [`Simulation::recovery_shifts`]), caller latency, refusals, and with finite
//!   capacity how long the dependency's line took to clear.
//! * **Output**: a Markdown [`table`], a per-second [`csv`] and an [`svg`] timeline.
//!
//! `cargo run --example simulate --features sim,balance` compares the standard pipeline,
//! a bare client and tower's `Retry` with its `TpsBudget` on every built-in scenario, and
//! balancers over the replicated ones ([`Scenario::replicated`]).
//!
//! # In your tests
//!
//! ```
//! use seawall::pipeline::StandardPipeline;
//! use seawall::sim::{Dependency, Scenario, Simulation};
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//!
//! let my_stack = |dependency: Dependency| {
//!     let pipeline = StandardPipeline::builder()
//!         .attempt_timeout(Duration::from_secs(1))
//!         .total_timeout(Duration::from_secs(3))
//!         .build()
//!         .unwrap();
//!     ServiceBuilder::new()
//!         .layer(pipeline)
//!         .map_err(seawall::Error::Service)
//!         .service(dependency)
//! };
//! let report = Simulation::new(Scenario::hard_outage().rate(50.0)).run("mine", my_stack);
//! assert!(report.fault_load() < 0.5, "a dead dependency is spared most calls");
//! ```

mod behaviour;
mod dependency;
mod luck;
mod measure;
mod replicated;
mod report;
mod run;
mod scenario;
mod schedule;
mod svg;
mod text;

pub use behaviour::{Behaviour, Phase};
pub use dependency::{Dependency, DependencyError, Request, Response};
pub use luck::SeededRng;
pub use measure::{Metrics, Second};
pub use report::Report;
pub use run::Simulation;
pub use scenario::Scenario;
pub use svg::svg;
pub use text::{csv, table};
