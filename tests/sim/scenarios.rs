//! What each built-in scenario does to a bare client.

use std::time::Duration;

use seawall::sim::{Behaviour, Scenario, Simulation};

use crate::{MS, bare, fault_p50, secs};

fn ok_share(second: &seawall::sim::Second) -> f64 {
    second.ok as f64 / second.calls as f64
}

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
