//! Scenarios of a replicated dependency: several replicas, some of them in fault, for
//! stacks that balance over them.

use std::time::Duration;

use super::behaviour::Behaviour;
use super::scenario::Scenario;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Scenario {
    /// Five replicas; one fails every call fast for 30 s, the others stay healthy.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::bad_replica().name(), "one replica of five down");
    /// ```
    pub fn bad_replica() -> Self {
        let dead = Behaviour::fail_fast(Duration::from_millis(10));
        Scenario::new("one replica of five down", secs(60))
            .fault(secs(10)..secs(40), dead)
            .replicas(5, 1)
    }

    /// Five replicas; one answers nothing for 30 s, the others stay healthy.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::hanging_replica().name(), "one replica of five hanging");
    /// ```
    pub fn hanging_replica() -> Self {
        Scenario::new("one replica of five hanging", secs(60))
            .fault(secs(10)..secs(40), Behaviour::hang())
            .replicas(5, 1)
    }

    /// Five replicas; one fails 30 % of its calls for 60 s, under any failure-rate
    /// threshold a breaker would eject at.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::browned_out_replica().name(), "one replica of five failing 30 %");
    /// ```
    pub fn browned_out_replica() -> Self {
        Scenario::new("one replica of five failing 30 %", secs(90))
            .fault(secs(10)..secs(70), Behaviour::brownout(0.3))
            .replicas(5, 1)
    }

    /// Five replicas; one flaps (5 s failing fast, 5 s healthy, six times).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::flapping_replica().name(), "one replica of five flapping");
    /// ```
    pub fn flapping_replica() -> Self {
        let mut s = Scenario::flapping().replicas(5, 1);
        s.name = "one replica of five flapping".to_owned();
        s
    }

    /// Five replicas; three fail every call fast for 30 s (more than a balancer should
    /// eject: its panic mode's case).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::most_replicas_down().name(), "three replicas of five down");
    /// ```
    pub fn most_replicas_down() -> Self {
        let dead = Behaviour::fail_fast(Duration::from_millis(10));
        Scenario::new("three replicas of five down", secs(60))
            .fault(secs(10)..secs(40), dead)
            .replicas(5, 3)
    }

    /// The built-in scenarios of a replicated dependency, for stacks that balance over
    /// [`Dependency::replicas`](super::Dependency::replicas).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::replicated().len(), 5);
    /// ```
    pub fn replicated() -> Vec<Scenario> {
        vec![
            Scenario::bad_replica(),
            Scenario::hanging_replica(),
            Scenario::browned_out_replica(),
            Scenario::flapping_replica(),
            Scenario::most_replicas_down(),
        ]
    }

    /// Makes the dependency `count` replicas (1 to 1000, clamped), of which the first
    /// `faulty` (at most `count`) follow the scenario's phases and the others stay
    /// healthy. A stack balances over [`Dependency::replicas`](super::Dependency::replicas);
    /// calls to the dependency itself go to the replicas in turn.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    ///
    /// let s = Scenario::hard_outage().rate(20.0).replicas(4, 1);
    /// let report = Simulation::new(s).run("in turn", |d: Dependency| d);
    /// assert_eq!(report.fault_success(), 0.75, "one replica in four is down");
    /// assert_eq!(report.faulty_share(), 0.25);
    /// ```
    pub fn replicas(mut self, count: u32, faulty: u32) -> Self {
        let count = count.clamp(1, 1000);
        self.replicas = Some((count, faulty.min(count)));
        self
    }

    /// The behaviour of replica `replica` (`None`: a dependency without replicas) `at`
    /// this time since the run began.
    pub(crate) fn behaviour_of(&self, replica: Option<u32>, at: Duration) -> Behaviour {
        match (self.replicas, replica) {
            (Some((_, faulty)), Some(i)) if i >= faulty => self.healthy,
            _ => self.behaviour_at(at),
        }
    }
}
