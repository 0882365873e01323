//! The fleet breaker's prober, against the faults a review found: Redis away while it
//! closes, an operator's reset of it, its probe dropped with no calls after it, and a
//! hold mistaken for a new period.
use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::fleet::Fleet;
use tower::{Service, ServiceExt};

use super::breaker::{Dependency, FAILING, HANGING, HEALTHY, call, quick, states};
use super::server::Server;
use super::{fleet, unique, until};

/// Two instances of one fleet, each with a quick breaker named alike, synced.
async fn two_instances(server: &Server, name: &str) -> (Vec<Fleet>, Vec<CircuitBreakerLayer>) {
    instances(server, name, 2).await
}

/// `n` instances of one fleet, each with a quick breaker named alike, synced.
async fn instances(
    server: &Server,
    name: &str,
    n: usize,
) -> (Vec<Fleet>, Vec<CircuitBreakerLayer>) {
    instances_of(server, name, n, || quick(Duration::from_millis(200))).await
}

/// `n` instances of one fleet, each with the breaker `builder` makes.
async fn instances_of(
    server: &Server,
    name: &str,
    n: usize,
    builder: impl Fn() -> seawall::circuit_breaker::Builder,
) -> (Vec<Fleet>, Vec<CircuitBreakerLayer>) {
    let ns = unique(name);
    let fleets: Vec<Fleet> = (0..n).map(|_| fleet(server, &ns)).collect();
    let breakers = fleets
        .iter()
        .map(|f| builder().build().unwrap().fleet(f))
        .collect();
    until("all instances", || {
        fleets.iter().all(|f| f.live_instances() == n as u32)
    })
    .await;
    (fleets, breakers)
}

/// Trips instance 0, then calls instance 0 alone (dependency hanging) until a probe
/// reaches the dependency; returns the spawned probe.
async fn trip_and_probe_on_0(
    dep: &Dependency,
    breakers: &[CircuitBreakerLayer],
) -> tokio::task::JoinHandle<Result<(), seawall::Error<&'static str>>> {
    dep.set(FAILING);
    let mut s0 = dep.under(&breakers[0]);
    call(&mut s0).await;
    call(&mut s0).await;
    until("all opened", || {
        states(breakers).iter().all(|s| *s == State::Open)
    })
    .await;
    dep.set(HANGING);
    let opened = dep.hits();
    let mut last = None;
    let start = tokio::time::Instant::now();
    while dep.hits() == opened {
        assert!(start.elapsed() < Duration::from_secs(10));
        let ready = s0.ready().await.unwrap();
        let h = tokio::spawn(ready.call(()));
        tokio::time::sleep(Duration::from_millis(3)).await;
        last = Some(h);
    }
    assert_eq!(breakers[0].handle().state(), State::HalfOpen);
    last.unwrap()
}

/// Instance 0's probe succeeds while Redis is frozen (one missed round): its
/// close is marked when Redis returns, and instance 1 closes within a few syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probers_close_while_redis_is_away_closes_the_others_when_it_returns() {
    let Some(server) = Server::start_own() else {
        return;
    };
    let (fleets, breakers) = two_instances(&server, "blip").await;
    let dep = Dependency::default();
    let probe = trip_and_probe_on_0(&dep, &breakers).await;
    server.freeze(true);
    until("redis seen away", || fleets.iter().all(|f| !f.redis_up())).await;
    dep.set(HEALTHY);
    let _ = probe.await;
    assert_eq!(breakers[0].handle().state(), State::Closed);
    server.freeze(false);
    until("redis back", || fleets.iter().all(|f| f.redis_up())).await;
    let s = fleets[1].syncs();
    until("a sync of instance 1", || fleets[1].syncs() > s + 1).await;
    let mut s1 = dep.under(&breakers[1]);
    let start = tokio::time::Instant::now();
    while breakers[1].handle().state() != State::Closed && start.elapsed() < Duration::from_secs(70)
    {
        call(&mut s1).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "instance 1 held open {:?} after the prober closed",
        start.elapsed()
    );
}

/// An operator resets the prober (its probe still hanging, the dependency still down):
/// no other instance closes, as no probe succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_reset_of_the_prober_closes_no_other_instance() {
    let Some(server) = Server::start() else {
        return;
    };
    let (fleets, breakers) = two_instances(&server, "reset").await;
    let dep = Dependency::default();
    let _probe = trip_and_probe_on_0(&dep, &breakers).await;
    breakers[0].handle().reset();
    let s = fleets[1].syncs();
    until("syncs", || fleets[1].syncs() > s + 5).await;
    assert_ne!(
        breakers[1].handle().state(),
        State::Closed,
        "a local reset closed the other instance (no probe succeeded)"
    );
}

/// The prober's probe is dropped (its caller gave up) and no call reaches it again:
/// within a sync or two it gives the token back, so instance 1, which has calls, probes
/// the recovered dependency and closes, and instance 0 follows its verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_left_without_calls_hands_the_probe_to_an_instance_that_has_them() {
    let Some(server) = Server::start() else {
        return;
    };
    let (_fleets, breakers) = two_instances(&server, "idle-prober").await;
    let dep = Dependency::default();
    let probe = trip_and_probe_on_0(&dep, &breakers).await;
    probe.abort();
    let _ = probe.await;
    dep.set(HEALTHY);
    let mut s1 = dep.under(&breakers[1]);
    let start = tokio::time::Instant::now();
    while breakers[1].handle().state() != State::Closed {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "instance 1 never probed: {:?}",
            states(&breakers)
        );
        call(&mut s1).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    until("instance 0 follows the close", || {
        breakers[0].handle().state() == State::Closed
    })
    .await;
}

/// Three instances all call a hanging dependency every few milliseconds after one of
/// them opened the fleet: exactly one probe reaches it, however the holds of the others
/// interleave with their syncs, and every instance took the opener's trip count (its
/// backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_one_instances_probe_hangs_no_other_instance_probes() {
    let Some(server) = Server::start() else {
        return;
    };
    let (_fleets, breakers) = instances(&server, "one-probe", 3).await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut services: Vec<_> = breakers.iter().map(|b| dep.under(b)).collect();
    call(&mut services[0]).await;
    call(&mut services[0]).await;
    until("all opened", || {
        states(&breakers).iter().all(|s| *s == State::Open)
    })
    .await;
    for b in &breakers {
        assert_eq!(
            b.handle().metrics().consecutive_trips,
            1,
            "the fleet's backoff"
        );
    }
    dep.set(HANGING);
    let opened = dep.hits();
    let mut calls = Vec::new();
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for service in &mut services {
            let ready = service.ready().await.unwrap();
            calls.push(tokio::spawn(ready.call(())));
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let probes = dep.hits() - opened;
    dep.set(HEALTHY);
    for call in calls {
        let _ = call.await;
    }
    assert_eq!(probes, 1, "probes of the fleet while one hung");
}

/// The prober's probe hangs and no other call reaches it: once the maximum wait in
/// half-open has passed it opens again on its own (as a breaker whose probe slots were
/// taken that long does), with its backoff, and the fleet takes the new period; the
/// prober does not sit on the token for as long as the probe hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_whose_probe_hangs_past_the_maximum_wait_opens_the_fleet_again() {
    let Some(server) = Server::start() else {
        return;
    };
    let (_fleets, breakers) = instances_of(&server, "hung-prober", 2, || {
        quick(Duration::from_millis(200)).max_wait_in_half_open(Duration::from_millis(300))
    })
    .await;
    let dep = Dependency::default();
    let probe = trip_and_probe_on_0(&dep, &breakers).await;
    until(
        "the fleet opened again, with the backoff of a second trip",
        || {
            breakers
                .iter()
                .all(|b| b.handle().metrics().consecutive_trips == 2)
        },
    )
    .await;
    assert!(!probe.is_finished(), "the probe still hangs");
    dep.set(HEALTHY);
    let _ = probe.await;
}

/// One instance, the dependency recovered, calls sparser than the syncs (and, with
/// three probes needed, probes spread over several syncs): the prober keeps the token
/// while no other instance wants it, so its next call probes and its probes add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_instance_with_sparse_calls_probes_and_closes() {
    let Some(server) = Server::start() else {
        return;
    };
    for (probes, every) in [(1, 60), (3, 30)] {
        let (_fleets, breakers) = instances_of(&server, "sparse", 1, || {
            quick(Duration::from_millis(200)).half_open_calls(probes)
        })
        .await;
        let dep = Dependency::default();
        dep.set(FAILING);
        let mut service = dep.under(&breakers[0]);
        call(&mut service).await;
        call(&mut service).await;
        assert_eq!(breakers[0].handle().state(), State::Open);
        dep.set(HEALTHY);
        let start = tokio::time::Instant::now();
        while breakers[0].handle().state() != State::Closed {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{probes} probe(s), a call every {every} ms: not closed, {:?}",
                breakers[0].handle().state()
            );
            call(&mut service).await;
            tokio::time::sleep(Duration::from_millis(every)).await;
        }
    }
}

/// A probe that hangs for good, on a lone instance called every few milliseconds: the
/// breaker opens again each time the maximum wait in half-open passes (the hung probe
/// holding the slot of every later period), and its backoff keeps growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_hung_for_good_keeps_reopening_the_breaker_with_its_backoff() {
    let Some(server) = Server::start() else {
        return;
    };
    let (_fleets, breakers) = instances_of(&server, "hung-for-good", 1, || {
        quick(Duration::from_millis(100))
            .open_backoff(2.0, Duration::from_secs(60))
            .max_wait_in_half_open(Duration::from_millis(200))
    })
    .await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut service = dep.under(&breakers[0]);
    call(&mut service).await;
    call(&mut service).await;
    dep.set(HANGING);
    let mut calls = Vec::new();
    let start = tokio::time::Instant::now();
    while breakers[0].handle().metrics().consecutive_trips < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "trips stuck at {}",
            breakers[0].handle().metrics().consecutive_trips
        );
        let ready = service.ready().await.unwrap();
        calls.push(tokio::spawn(ready.call(())));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    dep.set(HEALTHY);
    for call in calls {
        let _ = call.await;
    }
}
