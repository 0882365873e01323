#![cfg(feature = "sim")]
//! The outage simulator, through its public API: reproducibility, common random numbers,
//! what each built-in scenario does to a bare client, the metrics, the output formats and
//! odd input.

use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::pipeline::StandardPipeline;
use seawall::sim::{
    Behaviour, Dependency, DependencyError, Phase, Report, Request, Response, Scenario, Simulation,
    csv, svg, table,
};
use seawall::{Ratio, Reason, Rejected};
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

const MS: Duration = Duration::from_millis(1);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn bare(sim: &Simulation) -> Report {
    sim.run("bare", |dependency: Dependency| dependency)
}

/// A stack whose errors tell a local refusal from the dependency's failure.
type Stack = BoxCloneSyncService<Request, Response, seawall::Error<DependencyError>>;

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

fn fault_p50(report: &Report) -> Duration {
    report.runs()[0].fault_p50
}

fn ok_share(second: &seawall::sim::Second) -> f64 {
    second.ok as f64 / second.calls as f64
}

// ---------------------------------------------------------------- reproducibility

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

// ---------------------------------------------------------------- built-in scenarios

#[test]
fn a_hard_outage_fails_every_call_in_the_fault_with_one_attempt_each() {
    let report = bare(&Simulation::new(Scenario::hard_outage().rate(50.0)));
    assert_eq!(report.fault_success(), 0.0);
    assert_eq!(report.fault_load(), 1.0);
    assert_eq!(report.peak_load(), 1.0);
}

#[test]
fn a_hanging_outage_holds_callers_until_their_deadline() {
    let report = bare(&Simulation::new(Scenario::hanging_outage().rate(50.0)));
    let p50 = fault_p50(&report);
    assert!(
        p50 >= secs(3.0) && p50 <= secs(3.0) + 2 * MS,
        "p50 in the fault: {p50:?}"
    );
    assert_eq!(report.fault_success(), 0.0);
    assert_eq!(report.runs()[0].timed_out, 30 * 50);
}

#[test]
fn a_brownout_fails_its_share_of_calls() {
    let report = bare(&Simulation::new(Scenario::brownout(0.3).rate(50.0)));
    let success = report.fault_success();
    assert!(
        (success - 0.7).abs() <= 0.03,
        "success in the fault: {success}"
    );
    assert_eq!(report.fault_load(), 1.0);
}

#[test]
fn a_latency_spike_slows_calls_to_its_median() {
    let report = bare(&Simulation::new(Scenario::latency_spike().rate(50.0)));
    let p50 = fault_p50(&report).as_secs_f64();
    assert!((p50 - 0.8).abs() < 0.05, "p50 in the fault: {p50}");
    // Only the slowest tail (above 3.75 × the median) outlasts the caller's deadline.
    assert!(report.fault_success() > 0.98, "{}", report.fault_success());
}

#[test]
fn flapping_fails_half_the_fault() {
    let report = bare(&Simulation::new(Scenario::flapping().rate(50.0)));
    let success = report.fault_success();
    assert!(
        (success - 0.5).abs() <= 0.01,
        "success in the fault: {success}"
    );
}

#[test]
fn an_overload_leaves_a_line_that_takes_time_to_clear() {
    let surge = bare(&Simulation::new(Scenario::overload().rate(50.0)));
    let cleared = surge.dependency_recovery().expect("finite capacity");
    assert!(cleared > secs(0.5), "line gone after {cleared:?}");

    let calm = Scenario::new("no surge", Duration::from_secs(30))
        .workers(12)
        .fault(secs(10.0)..secs(20.0), Behaviour::healthy());
    let calm = bare(&Simulation::new(calm));
    assert_eq!(calm.dependency_recovery(), Some(Duration::ZERO));
}

#[test]
fn a_gradual_recovery_raises_success_second_by_second() {
    let report = bare(&Simulation::new(Scenario::gradual_recovery().rate(100.0)));
    let seconds = report.seconds();
    assert!(seconds[10..30].iter().all(|s| s.ok == 0), "dead phase");
    // Second 30 + k fails a share 1 - (k + 1) / 20.
    for k in 0..20 {
        let share = ok_share(&seconds[30 + k]);
        let expected = (k + 1) as f64 / 20.0;
        assert!((share - expected).abs() < 0.2, "second {}: {share}", 30 + k);
    }
    let five = |from: usize| seconds[from..from + 5].iter().map(ok_share).sum::<f64>();
    assert!(five(30) < five(35) && five(35) < five(40) && five(40) < five(45));
    assert!(seconds[50..].iter().all(|s| s.ok == s.calls), "healed");
}

// ---------------------------------------------------------------- metrics

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

// ---------------------------------------------------------------- output

fn two_reports() -> [Report; 2] {
    let sim = Simulation::new(Scenario::hard_outage().rate(10.0));
    [
        bare(&sim),
        sim.run("breaker <1> & co", hair_trigger_breaker(secs(5.0))),
    ]
}

#[test]
fn the_table_has_one_row_per_report() {
    let reports = two_reports();
    let text = table(&reports);
    assert_eq!(text.lines().count(), 2 + reports.len());
    assert!(text.lines().nth(2).unwrap().starts_with("| bare |"));
}

#[test]
fn the_csv_has_a_header_and_one_row_per_second_per_report() {
    let reports = two_reports();
    let text = csv(&reports);
    let rows: usize = reports.iter().map(|r| r.seconds().len()).sum();
    assert_eq!(text.lines().count(), 1 + rows);
    assert_eq!(rows, 2 * 60);
    assert!(text.starts_with("scenario,stack,second,"));
    assert!(text.lines().skip(1).all(|l| l.split(',').count() == 9));
}

#[test]
fn the_svg_has_one_line_per_stack_per_panel_and_escapes_names() {
    let reports = two_reports();
    let picture = svg(&reports);
    assert!(picture.starts_with("<svg"));
    assert!(picture.trim_end().ends_with("</svg>"));
    assert_eq!(picture.matches("<polyline").count(), 2 * reports.len());
    assert!(picture.contains("breaker &lt;1&gt; &amp; co"));
    assert!(!picture.contains("<1>"));
}

#[test]
fn the_csv_quotes_names_that_hold_commas_or_quotes() {
    let sim = Simulation::new(Scenario::new("a, \"b\"", Duration::from_secs(2)).rate(5.0));
    let text = sim.run("retry, budget", |d: Dependency| d).csv();
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("\"a, \"\"b\"\"\",\"retry, budget\",0,5,"),
        "{row}"
    );
}

#[test]
fn the_table_escapes_pipes_in_names() {
    let sim = Simulation::new(Scenario::new("x", Duration::from_secs(2)).rate(5.0));
    let text = table(&[sim.run("a | b", |d: Dependency| d)]);
    let row = text.lines().nth(2).unwrap();
    assert!(row.starts_with("| a \\| b |"), "{row}");
    assert_eq!(
        row.matches(" | ").count() + 2,
        text.lines().next().unwrap().matches('|').count()
    );
}

// ---------------------------------------------------------------- edge cases

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
