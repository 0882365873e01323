//! A group of breakers keeps to its share of open breakers, counted with the candidate.

use std::time::Duration;

use seawall::Ratio;
use seawall::circuit_breaker::{CircuitBreakerLayer, Group, State};

fn members(group: &Group, n: usize) -> Vec<CircuitBreakerLayer> {
    (0..n)
        .map(|i| {
            CircuitBreakerLayer::builder()
                .name(format!("replica-{i}"))
                .consecutive_failures(1)
                .open_duration(Duration::from_secs(10))
                .build()
                .unwrap()
                .group(group)
        })
        .collect()
}

fn fail(breaker: &CircuitBreakerLayer) {
    if let Ok(permit) = breaker.handle().try_acquire_owned() {
        permit.failure();
    }
}

fn open(breakers: &[CircuitBreakerLayer]) -> usize {
    breakers
        .iter()
        .filter(|b| b.handle().state() == State::Open)
        .count()
}

#[test]
fn the_share_is_checked_with_the_candidate_counted() {
    let group = Group::new(Ratio::percent(34.0)).unwrap();
    let breakers = members(&group, 3);
    fail(&breakers[0]);
    assert_eq!(open(&breakers), 1, "1 of 3 is 33 %, within 34 %");
    fail(&breakers[1]);
    assert_eq!(open(&breakers), 1, "2 of 3 would be 67 %");
    assert_eq!(breakers[1].handle().state(), State::Closed);
    // Once the first closes, the second's next failure opens it.
    breakers[0].handle().reset();
    fail(&breakers[1]);
    assert_eq!(breakers[1].handle().state(), State::Open);
    assert_eq!((group.members(), group.open()), (3, 1));
}

#[test]
fn one_breaker_may_always_open_unless_told_otherwise() {
    let group = Group::new(Ratio::percent(10.0)).unwrap();
    let breakers = members(&group, 2);
    fail(&breakers[0]);
    assert_eq!(open(&breakers), 1, "one of two at 10 %: always one");
    fail(&breakers[1]);
    assert_eq!(open(&breakers), 1);

    let strict = Group::new(Ratio::percent(10.0))
        .unwrap()
        .always_allow_one(false);
    let breakers = members(&strict, 2);
    fail(&breakers[0]);
    assert_eq!(open(&breakers), 0, "one of two is 50 %, above 10 %");
}

#[test]
fn a_full_share_lets_every_breaker_open() {
    let group = Group::new(Ratio::percent(100.0)).unwrap();
    let breakers = members(&group, 4);
    breakers.iter().for_each(fail);
    assert_eq!(open(&breakers), 4);
}

#[test]
fn breakers_that_go_count_no_more() {
    let group = Group::new(Ratio::percent(50.0)).unwrap();
    let mut breakers = members(&group, 4);
    fail(&breakers[0]);
    fail(&breakers[1]);
    assert_eq!(group.open(), 2);
    breakers.truncate(2);
    assert_eq!((group.members(), group.open()), (2, 2));
}

#[test]
fn breakers_failing_together_on_many_threads_never_exceed_the_share() {
    for _ in 0..50 {
        let group = Group::new(Ratio::percent(50.0)).unwrap();
        let breakers = members(&group, 8);
        std::thread::scope(|s| {
            for breaker in &breakers {
                s.spawn(|| fail(breaker));
            }
        });
        assert_eq!(open(&breakers), 4, "half of eight");
    }
}

#[test]
fn shares_outside_the_range_are_refused_by_name() {
    for bad in [0.0, -5.0, 100.5, f64::NAN] {
        let err = Group::new(Ratio::percent(bad)).unwrap_err();
        assert!(err.to_string().starts_with("group.max_open"), "{err}");
    }
}
