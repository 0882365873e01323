//! Odd input: zero and odd rates, empty fault windows, stacks that never answer or panic.

use std::task::{Context, Poll};
use std::time::Duration;

use seawall::sim::{
    Behaviour, Dependency, DependencyError, Phase, Request, Response, Scenario, Simulation, table,
};
use tower::{Service, ServiceExt};

use crate::{bare, fault_p50, secs};

#[test]
fn calls_per_second_follow_the_rate_through_a_surge() {
    let scenario = Scenario::new("surge", Duration::from_secs(6))
        .rate(30.0)
        .surge(secs(2.0)..secs(4.0), 90.0);
    let report = bare(&Simulation::new(scenario));
    let calls: Vec<u64> = report.seconds().iter().map(|s| s.calls).collect();
    assert_eq!(calls, [30, 30, 90, 90, 30, 30]);
}

#[test]
fn a_rate_of_zero_makes_no_calls() {
    let scenario = Scenario::new("quiet", Duration::from_secs(6))
        .rate(0.0)
        .surge(secs(2.0)..secs(3.0), 10.0);
    let report = bare(&Simulation::new(scenario));
    assert_eq!(report.runs()[0].calls, 10);
    assert!(
        report
            .seconds()
            .iter()
            .all(|s| s.second == 2 || s.calls == 0)
    );
}

#[test]
fn an_empty_fault_window_has_no_fault_figures() {
    let scenario = Scenario::new("healthy", Duration::from_secs(5)).rate(10.0);
    let report = bare(&Simulation::new(scenario).recovery_shifts(3, secs(1.0)));
    assert!(report.fault_success().is_nan());
    assert!(report.fault_load().is_nan());
    assert_eq!(report.success(), 1.0);
    let row = table(std::slice::from_ref(&report));
    let row = row.lines().nth(2).unwrap();
    assert!(row.starts_with("| bare | 100.0 % | – | – |"), "{row}");
}

#[test]
fn a_phase_without_latency_answers_at_once() {
    let instant = Behaviour::healthy().median(Duration::ZERO);
    let scenario = Scenario::new("instant", Duration::from_secs(3))
        .rate(10.0)
        .fault(secs(1.0)..secs(2.0), instant);
    let report = bare(&Simulation::new(scenario));
    assert_eq!(report.fault_success(), 1.0);
    assert_eq!(fault_p50(&report), Duration::ZERO);
}

#[derive(Clone)]
struct NeverReady;

impl Service<Request> for NeverReady {
    type Response = Response;
    type Error = DependencyError;
    type Future = std::future::Ready<Result<Response, DependencyError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DependencyError>> {
        Poll::Pending
    }

    fn call(&mut self, _: Request) -> Self::Future {
        unreachable!("never ready")
    }
}

#[test]
fn a_stack_that_is_never_ready_times_every_call_out_at_the_deadline() {
    let scenario = Scenario::hard_outage().rate(5.0).caller_deadline(secs(0.5));
    let report = Simulation::new(scenario).run("stuck", |_: Dependency| NeverReady);
    let run = &report.runs()[0];
    assert_eq!(run.timed_out, run.calls);
    assert_eq!(run.fault_p99, secs(0.5));
}

#[test]
#[should_panic(expected = "the stack panicked on a call: boom")]
fn a_stack_that_panics_fails_the_run_with_its_message() {
    let scenario = Scenario::new("x", Duration::from_secs(3)).rate(5.0);
    Simulation::new(scenario).run("panics", |dependency: Dependency| {
        tower::service_fn(move |request: Request| {
            if request.call() == 7 {
                panic!("boom");
            }
            dependency.clone().oneshot(request)
        })
    });
}

#[test]
fn odd_rates_neither_panic_nor_hang() {
    let tiny = bare(&Simulation::new(Scenario::hard_outage().rate(1e-300)));
    assert_eq!(tiny.runs()[0].calls, 1);
    let nan = Scenario::hard_outage()
        .rate(f64::NAN)
        .surge(secs(1.0)..secs(2.0), f64::NAN);
    assert_eq!(bare(&Simulation::new(nan)).runs()[0].calls, 0);
    let flood = Scenario::new("flood", Duration::from_millis(2)).rate(f64::INFINITY);
    assert_eq!(bare(&Simulation::new(flood)).runs()[0].calls, 2000);
}

#[test]
fn an_endless_run_is_cut_to_a_day() {
    let endless = Scenario::new("endless", Duration::MAX)
        .rate(0.001)
        .fault(Duration::MAX - secs(1.0)..Duration::MAX, Behaviour::hang());
    let sim = Simulation::new(endless).recovery_shifts(3, Duration::MAX);
    let report = bare(&sim);
    assert_eq!(report.runs().len(), 3);
    assert!(
        report.runs().iter().all(|run| run.calls == 87),
        "{report:?}"
    );
}

#[test]
fn odd_latencies_and_deadlines_neither_panic_nor_hang() {
    let slow = Behaviour::healthy()
        .median(Duration::MAX)
        .sigma(f64::NAN)
        .error_rate(f64::NAN);
    let patient = Scenario::new("patient", secs(2.0))
        .rate(2.0)
        .caller_deadline(Duration::MAX)
        .fault(secs(0.0)..secs(1.0), slow)
        .phase(Phase::new(secs(1.0)..secs(0.5), Behaviour::hang()));
    let report = bare(&Simulation::new(patient));
    assert_eq!(report.fault_success(), 1.0);
    assert_eq!(
        fault_p50(&report),
        Duration::from_secs(3600),
        "capped at an hour"
    );
    let hasty = Scenario::hard_outage()
        .rate(5.0)
        .caller_deadline(Duration::ZERO);
    assert_eq!(bare(&Simulation::new(hasty)).success(), 0.0);
}

#[test]
fn a_brownout_rate_is_clamped_to_a_share() {
    assert_eq!(Behaviour::brownout(f64::NAN), Behaviour::brownout(0.0));
    assert_eq!(Behaviour::brownout(2.0), Behaviour::brownout(1.0));
    assert_eq!(Scenario::brownout(f64::NAN).name(), "brownout 0 %");
    assert_eq!(Scenario::brownout(-1.0).name(), "brownout 0 %");
}
