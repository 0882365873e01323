//! One breaker for a fleet: its calls add up, its open period reaches every instance,
//! and one instance probes for all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use seawall::circuit_breaker::{Builder, CircuitBreakerLayer, State};
use seawall::fleet::Fleet;
use tower::{Layer, Service, ServiceExt, service_fn};

use super::server::Server;
use super::{fleet, unique, until};

pub(super) const HEALTHY: u8 = 0;
pub(super) const FAILING: u8 = 1;
/// Pending until the mode changes, then answering by the new mode.
pub(super) const HANGING: u8 = 2;

/// The dependency every instance calls: healthy, failing or hanging, counting the
/// calls that reach it.
#[derive(Clone, Default)]
pub(super) struct Dependency {
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicU32>,
}

pub(super) type Error = seawall::Error<&'static str>;

impl Dependency {
    pub(super) fn set(&self, mode: u8) {
        self.mode.store(mode, Relaxed);
    }

    pub(super) fn hits(&self) -> u32 {
        self.hits.load(Relaxed)
    }

    pub(super) fn under(
        &self,
        breaker: &CircuitBreakerLayer,
    ) -> impl Service<(), Response = (), Error = Error, Future: Send + 'static> + Send + Clone + 'static
    {
        let dep = self.clone();
        breaker.layer(service_fn(move |()| {
            let dep = dep.clone();
            async move {
                dep.hits.fetch_add(1, Relaxed);
                loop {
                    match dep.mode.load(Relaxed) {
                        HEALTHY => return Ok(()),
                        FAILING => return Err(seawall::Error::Service("down")),
                        _ => tokio::time::sleep(Duration::from_millis(2)).await,
                    }
                }
            }
        }))
    }
}

/// A breaker that judges the last 20 calls, at least 20 of them.
fn window_of_20() -> Builder {
    CircuitBreakerLayer::builder()
        .name("payments")
        .count_window(20)
        .minimum_calls(20)
        .confidence(None)
        .open_duration(Duration::from_secs(30))
}

/// A breaker that opens on two failures of two calls and probes with one call.
pub(super) fn quick(open: Duration) -> Builder {
    CircuitBreakerLayer::builder()
        .name("payments")
        .count_window(2)
        .minimum_calls(2)
        .confidence(None)
        .half_open_calls(1)
        .open_duration(open)
        .open_jitter(0.0)
}

pub(super) fn states(breakers: &[CircuitBreakerLayer]) -> Vec<State> {
    breakers.iter().map(|b| b.handle().state()).collect()
}

async fn synced(fleets: &[Fleet], rounds: u32) {
    let start: Vec<u32> = fleets.iter().map(Fleet::syncs).collect();
    until("more syncs of every instance", || {
        fleets
            .iter()
            .zip(&start)
            .all(|(f, s)| f.syncs() >= s + rounds)
    })
    .await;
}

/// Calls `service` once if it is ready; whether the call reached the dependency is
/// for the caller to see.
pub(super) async fn call(service: &mut (impl Service<(), Response = (), Error = Error> + Send)) {
    let _ = service.ready().await.unwrap().call(()).await;
}

/// Four instances each see 6 failures of a dead dependency: no instance has the 20
/// calls its own window needs, but the fleet has 24, so every breaker opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleets_calls_add_up_so_one_windows_worth_opens_every_breaker() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("counts");
    let fleets: Vec<Fleet> = (0..4).map(|_| fleet(&server, &ns)).collect();
    let breakers: Vec<_> = fleets
        .iter()
        .map(|f| window_of_20().build().unwrap().fleet(f))
        .collect();
    until("four", || fleets.iter().all(|f| f.live_instances() == 4)).await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut services: Vec<_> = breakers.iter().map(|b| dep.under(b)).collect();
    for service in &mut services {
        for _ in 0..4 {
            call(service).await;
        }
    }
    synced(&fleets, 3).await;
    assert_eq!(
        states(&breakers),
        [State::Closed; 4],
        "16 calls fleet-wide are fewer than the 20 the window needs"
    );
    for service in &mut services {
        for _ in 0..2 {
            call(service).await;
        }
    }
    until("every breaker opened", || {
        states(&breakers) == [State::Open; 4]
    })
    .await;
    assert_eq!(
        dep.hits(),
        24,
        "24 calls fleet-wide; 80 with local breakers"
    );
    for service in &mut services {
        call(service).await;
    }
    assert_eq!(dep.hits(), 24, "open everywhere");
}

/// When the fleet's open period ends, one instance probes while the others stay
/// open: a failed probe gives the fleet a new period, a successful one closes every
/// breaker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_probes_for_the_fleet_and_the_others_follow_its_verdict() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("probes");
    let fleets: Vec<Fleet> = (0..3).map(|_| fleet(&server, &ns)).collect();
    let breakers: Vec<_> = fleets
        .iter()
        .map(|f| quick(Duration::from_millis(400)).build().unwrap().fleet(f))
        .collect();
    until("three", || fleets.iter().all(|f| f.live_instances() == 3)).await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut services: Vec<_> = breakers.iter().map(|b| dep.under(b)).collect();
    call(&mut services[0]).await;
    call(&mut services[0]).await;
    until("every breaker opened", || {
        states(&breakers) == [State::Open; 3]
    })
    .await;
    // Every instance calls on; when the period ends, one of them probes.
    let opened = dep.hits();
    let start = tokio::time::Instant::now();
    while dep.hits() == opened {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no probe in 10 s"
        );
        for service in &mut services {
            call(service).await;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(dep.hits(), opened + 1, "one probe");
    // Its probe failed: the fleet is open again for a new period, and nobody else
    // probes meanwhile (with a breaker each, all three would have probed).
    for _ in 0..5 {
        for service in &mut services {
            call(service).await;
        }
        synced(&fleets, 1).await;
    }
    assert_eq!(
        dep.hits(),
        opened + 1,
        "no instance probed besides the prober"
    );
    assert_eq!(states(&breakers), [State::Open; 3]);
    // The dependency recovers: one probe closes every breaker.
    dep.set(HEALTHY);
    let mut probes = 0;
    let start = tokio::time::Instant::now();
    while states(&breakers) != [State::Closed; 3] {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not closed in 10 s: {:?}",
            states(&breakers)
        );
        for (service, breaker) in services.iter_mut().zip(&breakers) {
            let before = (breaker.handle().state(), dep.hits());
            call(service).await;
            if before.0 != State::Closed && dep.hits() > before.1 {
                probes += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(probes, 1, "one probe for the fleet's recovery");
}

/// A prober that leaves the fleet (its process died while its probe hung) frees the
/// token at once: another instance probes, without waiting for the token to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probers_token_passes_on_when_the_prober_leaves_the_fleet() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("prober-gone");
    let mut fleets: Vec<Fleet> = (0..2).map(|_| fleet(&server, &ns)).collect();
    let mut breakers: Vec<_> = fleets
        .iter()
        .map(|f| quick(Duration::from_millis(200)).build().unwrap().fleet(f))
        .collect();
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    let dep = Dependency::default();
    dep.set(FAILING);
    let mut services: Vec<_> = breakers.iter().map(|b| dep.under(b)).collect();
    call(&mut services[0]).await;
    call(&mut services[0]).await;
    until("both opened", || states(&breakers) == [State::Open; 2]).await;
    dep.set(HANGING);
    let opened = dep.hits();
    let mut calls = Vec::new();
    while dep.hits() == opened {
        for service in &mut services {
            let ready = service.ready().await.unwrap();
            calls.push(tokio::spawn(ready.call(())));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let prober = states(&breakers)
        .iter()
        .position(|s| *s == State::HalfOpen)
        .expect("the prober is half-open");
    // The prober's process goes: its calls, its breaker, its fleet.
    for call in calls {
        call.abort();
    }
    drop(services.remove(prober));
    drop(breakers.remove(prober));
    drop(fleets.remove(prober));
    let mut survivor = services.pop().unwrap();
    let probing = dep.hits();
    let start = tokio::time::Instant::now();
    while dep.hits() == probing {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the other instance did not probe within 10 s"
        );
        let _ = tokio::time::timeout(Duration::from_millis(5), call(&mut survivor)).await;
    }
    assert_eq!(breakers[0].handle().state(), State::HalfOpen);
}

/// When one instance's breaker opens on a dead dependency, the other instances' open
/// too within one sync, for the rest of that open period: the fleet stops calling it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instances_open_breaker_opens_the_fleets() {
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("breaker");
    let fleets = [fleet(&server, &ns), fleet(&server, &ns)];
    // Different open durations: the second instance must take the first's end time.
    let breakers = [(&fleets[0], 30), (&fleets[1], 5)].map(|(fleet, open_secs)| {
        CircuitBreakerLayer::builder()
            .name("payments")
            .consecutive_failures(3)
            .open_duration(Duration::from_secs(open_secs))
            .build()
            .unwrap()
            .fleet(fleet)
    });
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    let mut dead = breakers[0].layer(service_fn(|()| async {
        Err::<(), _>(seawall::Error::Service("down"))
    }));
    let mut healthy =
        breakers[1].layer(service_fn(|()| async { Ok::<_, seawall::Error<&str>>(()) }));
    healthy.ready().await.unwrap().call(()).await.unwrap();
    for _ in 0..3 {
        let _ = dead.ready().await.unwrap().call(()).await;
    }
    assert_eq!(breakers[0].handle().state(), State::Open);
    until("the other instance's breaker opened", || {
        breakers[1].handle().state() == State::Open
    })
    .await;
    let refused = healthy.ready().await.unwrap().call(()).await.unwrap_err();
    assert!(
        matches!(refused, seawall::Error::Rejected(_)),
        "{refused:?}"
    );
    let left = breakers[1].handle().metrics().remaining_open.expect("open");
    assert!(
        left > Duration::from_secs(25),
        "the fleet's period, not its own 5 s: {left:?}"
    );
    // An operator's reset holds: the same fleet period is not adopted again.
    breakers[1].handle().reset();
    let synced = fleets[1].syncs();
    until("three more syncs", || fleets[1].syncs() > synced + 3).await;
    assert_eq!(breakers[1].handle().state(), State::Closed);
}

/// A standard pipeline built with `.fleet(&fleet)` shares its breaker: one instance's
/// opening opens the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_built_for_a_fleet_shares_its_breaker() {
    use seawall::pipeline::StandardPipeline;
    let Some(server) = Server::start() else {
        return;
    };
    let ns = unique("pipeline");
    let fleets = [fleet(&server, &ns), fleet(&server, &ns)];
    let pipelines = fleets.each_ref().map(|f| {
        StandardPipeline::builder()
            .name("payments")
            .circuit_breaker(|b| b.count_window(2).minimum_calls(2).confidence(None))
            .retry(|r| r.max_attempts(1))
            .fleet(f)
            .build()
            .unwrap()
    });
    until("two", || fleets.iter().all(|f| f.live_instances() == 2)).await;
    let mut dead = pipelines[0].layer(service_fn(|()| async {
        Err::<(), tower::BoxError>("down".into())
    }));
    for _ in 0..2 {
        let _ = dead.ready().await.unwrap().call(()).await;
    }
    assert_eq!(pipelines[0].circuit_breaker().state(), State::Open);
    until("the other pipeline's breaker opened", || {
        pipelines[1].circuit_breaker().state() == State::Open
    })
    .await;
}
