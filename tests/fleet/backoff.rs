//! The fleet breaker's open-duration backoff: the trip count travels with the fleet's
//! period, decays only while a breaker is closed, and is taken only by a breaker that
//! follows the period.
use std::time::Duration;

use seawall::Ratio;
use seawall::circuit_breaker::{CircuitBreakerLayer, Group, State};
use seawall::fleet::Fleet;

use super::breaker::{Dependency, FAILING, HEALTHY, call, quick, states};
use super::server::Server;
use super::{fleet, unique, until};

/// Two instances with a decaying backoff. The fleet recovers, stays closed long enough
/// to forget every trip, then the dependency dies again and instance 0 opens the fleet
/// (trip 1). Instance 1, which followed, probes next and fails: the fleet's second trip
/// in a row opens for twice the base (the time instance 1 was closed before the second
/// period is not counted again once it followed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_that_followed_the_fleet_keeps_the_fleets_backoff() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("decay");
    let fleets: Vec<Fleet> = (0..2).map(|_| fleet(&server, &ns)).collect();
    let breakers: Vec<_> = fleets
        .iter()
        .map(|f| {
            quick(Duration::from_millis(200))
                .open_backoff(2.0, Duration::from_secs(60))
                .open_backoff_decay(Duration::from_millis(50))
                .build()
                .unwrap()
                .fleet(f)
        })
        .collect();
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    let dep = Dependency::default();
    let (mut a, mut b) = (dep.under(&breakers[0]), dep.under(&breakers[1]));
    dep.set(FAILING);
    call(&mut a).await;
    call(&mut a).await;
    until("both open", || states(&breakers) == [State::Open; 2]).await;
    dep.set(HEALTHY);
    let start = tokio::time::Instant::now();
    while breakers[0].handle().state() != State::Closed {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "instance 0 never closed"
        );
        call(&mut a).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    until("instance 1 follows the close", || {
        breakers[1].handle().state() == State::Closed
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await; // twelve decay periods closed
    dep.set(FAILING);
    call(&mut a).await;
    call(&mut a).await;
    until("both open again", || states(&breakers) == [State::Open; 2]).await;
    let hits = dep.hits();
    let start = tokio::time::Instant::now();
    while dep.hits() == hits {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "instance 1 never probed"
        );
        call(&mut b).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    until("instance 1 open again", || {
        breakers[1].handle().state() == State::Open
    })
    .await;
    let left = breakers[1].handle().metrics().remaining_open.unwrap();
    assert!(
        left > Duration::from_millis(250),
        "the fleet's second trip in a row opened for {left:?}, its base"
    );
}

/// A breaker that its group keeps closed while the fleet is open takes none of the
/// fleet's trips: its own next trip opens it for the base duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_that_did_not_follow_the_fleet_takes_none_of_its_trips() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("unfollowed");
    let fleets: Vec<Fleet> = (0..2).map(|_| fleet(&server, &ns)).collect();
    let group = Group::new(Ratio::percent(50.0)).unwrap();
    let builder = || quick(Duration::from_millis(300)).open_backoff(2.0, Duration::from_secs(60));
    let opener = builder().build().unwrap().fleet(&fleets[0]);
    let held = builder().build().unwrap().group(&group).fleet(&fleets[1]);
    let other = CircuitBreakerLayer::builder()
        .name("other")
        .build()
        .unwrap()
        .group(&group);
    other.handle().force_open(); // the group's one open place is taken
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut service = dep.under(&opener);
    call(&mut service).await;
    call(&mut service).await;
    assert_eq!(opener.handle().state(), State::Open);
    let syncs = fleets[1].syncs();
    until("syncs of instance 1", || fleets[1].syncs() > syncs + 3).await;
    assert_eq!(
        held.handle().state(),
        State::Closed,
        "the group kept it closed"
    );
    assert_eq!(held.handle().metrics().consecutive_trips, 0);
}
