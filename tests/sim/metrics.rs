//! The metrics: recovery, first refusal, timed-out and refused calls, peak load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use seawall::sim::{Dependency, DependencyError, Request, Response, Scenario, Simulation};
use seawall::{Reason, Rejected};
use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::{MS, Stack, bare, hair_trigger_breaker, secs};

/// A stack that fails every call started before `until` (time since the run began),
/// then forwards to the dependency.
fn failing_until(
    until: Duration,
) -> impl Fn(Dependency) -> BoxCloneSyncService<Request, Response, DependencyError> {
    move |dependency| {
        let begin = Instant::now();
        let svc = tower::service_fn(move |request: Request| {
            let dependency = dependency.clone();
            async move {
                if begin.elapsed() < until {
                    Err(DependencyError)
                } else {
                    dependency.oneshot(request).await
                }
            }
        });
        BoxCloneSyncService::new(svc)
    }
}

#[test]
fn recovery_is_the_time_from_healing_until_success_holds() {
    let sim = Simulation::new(Scenario::hard_outage().rate(50.0));
    let report = sim.run("late", failing_until(secs(41.5)));
    let run = &report.runs()[0];
    let recovery = run.recovery.as_secs_f64();
    assert!((recovery - 1.5).abs() <= 0.1, "recovery {recovery}");
    assert_eq!(run.first_success, Some(secs(1.5)));
}

#[test]
fn a_bare_client_recovers_the_moment_the_dependency_heals() {
    let report = bare(&Simulation::new(Scenario::hard_outage().rate(50.0)));
    let run = &report.runs()[0];
    assert_eq!(run.recovery, Duration::ZERO);
    assert_eq!(run.first_success, Some(Duration::ZERO));
}

#[test]
fn recovery_shifts_make_one_run_per_shift_each_healing_later() {
    let step = Duration::from_millis(200);
    let sim = Simulation::new(Scenario::hard_outage().rate(50.0)).recovery_shifts(4, step);
    // Run `i` heals at 40 s + i × 200 ms; this stack fails until 1.5 s after that.
    let run = AtomicU32::new(0);
    let report = sim.run("late", |dependency: Dependency| {
        let i = run.fetch_add(1, Ordering::Relaxed);
        failing_until(secs(41.5) + step * i)(dependency)
    });
    assert_eq!(report.runs().len(), 4);
    for run in report.runs() {
        let recovery = run.recovery.as_secs_f64();
        assert!((recovery - 1.5).abs() <= 0.1, "recovery {recovery}");
        assert_eq!(run.first_success, Some(secs(1.5)));
    }
}

#[test]
fn the_worst_recovery_over_shifts_is_at_least_the_mean() {
    let sim = Simulation::new(Scenario::hard_outage().rate(50.0))
        .recovery_shifts(4, Duration::from_millis(700));
    let report = sim.run("breaker", hair_trigger_breaker(secs(2.0)));
    assert_eq!(report.runs().len(), 4);
    assert!(report.recovery_max() >= report.recovery_mean());
    assert!(
        report.recovery_max() > Duration::ZERO,
        "the breaker delays recovery"
    );
}

#[test]
fn a_refusing_stack_reports_its_first_refusal_early_in_the_fault() {
    let sim = Simulation::new(Scenario::hard_outage().rate(50.0));
    let report = sim.run("breaker", hair_trigger_breaker(secs(60.0)));
    let first = report.first_refusal().expect("the breaker refuses");
    assert!(
        first <= Duration::from_millis(100),
        "first refusal {first:?}"
    );
    assert!(report.runs()[0].refused > 0);
}

/// A stack that answers every call started in `fault` with `reason`, `after` it started,
/// and forwards the others.
fn rejecting_in(
    fault: std::ops::Range<Duration>,
    reason: Reason,
    after: Duration,
) -> impl Fn(Dependency) -> Stack {
    move |dependency| {
        let begin = Instant::now();
        let fault = fault.clone();
        let svc = tower::service_fn(move |request: Request| {
            let dependency = dependency.clone();
            let refuse = fault.contains(&begin.elapsed());
            async move {
                if refuse {
                    tokio::time::sleep(after).await;
                    Err(Rejected::new(reason, None).into())
                } else {
                    dependency
                        .oneshot(request)
                        .await
                        .map_err(seawall::Error::Service)
                }
            }
        });
        BoxCloneSyncService::new(svc)
    }
}

#[test]
fn the_first_refusal_is_when_a_call_was_refused_not_when_it_started() {
    let sim = Simulation::new(Scenario::hard_outage().rate(50.0));
    let late = rejecting_in(secs(10.0)..secs(40.0), Reason::CircuitOpen, secs(2.0));
    let report = sim.run("late refusal", late);
    assert_eq!(report.first_refusal(), Some(secs(2.0)));
}

#[test]
fn a_rejection_for_time_counts_as_timed_out_and_any_other_as_refused() {
    let sim = Simulation::new(Scenario::hard_outage().rate(10.0));
    let fault = secs(10.0)..secs(40.0);
    let timed_out = sim.run(
        "deadline",
        rejecting_in(fault.clone(), Reason::DeadlineExceeded, MS),
    );
    let refused = sim.run("limit", rejecting_in(fault, Reason::RateLimited, MS));
    assert_eq!(
        (timed_out.runs()[0].timed_out, timed_out.runs()[0].refused),
        (300, 0)
    );
    assert_eq!(
        (refused.runs()[0].timed_out, refused.runs()[0].refused),
        (0, 300)
    );
    assert_eq!(timed_out.first_refusal(), None);
}

#[test]
fn a_bare_client_refuses_nothing() {
    let report = bare(&Simulation::new(Scenario::hard_outage().rate(50.0)));
    assert_eq!(report.first_refusal(), None);
    assert_eq!(report.runs()[0].refused, 0);
}

#[test]
fn the_peak_load_counts_whole_seconds_only() {
    // Calls started in the last, half second each send three attempts.
    let scenario = Scenario::new("short", secs(2.5)).rate(10.0);
    let report = Simulation::new(scenario).run("tripled late", |dependency: Dependency| {
        let begin = Instant::now();
        tower::service_fn(move |request: Request| {
            let dependency = dependency.clone();
            let attempts = if begin.elapsed() >= secs(2.0) { 3 } else { 1 };
            async move {
                for _ in 1..attempts {
                    let _ = dependency.clone().oneshot(request).await;
                }
                dependency.oneshot(request).await
            }
        })
    });
    assert_eq!(report.seconds()[2].arrivals, 15);
    assert_eq!(report.peak_load(), 1.0);
}
