//! One breaker for a whole fleet (feature `redis`). At every sync each instance adds
//! the calls its breaker judged since the last one to the fleet's, and learns the rest:
//!
//! * **The fleet's calls.** Each instance judges the fleet's newest calls (as many as
//!   its window holds, in batches of one instance's sync) as it judges its own, so a
//!   dead dependency is shut off after about as many failures fleet-wide as one
//!   instance needs, not one instance's worth each. An instance that opens publishes
//!   its period at once.
//! * **The fleet's open period.** Every instance's closed breaker opens within one sync
//!   of any instance's opening, until the same end (an open one moves its end there).
//! * **One prober.** When the period ends, one instance holds the fleet's probe token
//!   (with an expiry, so a crashed prober is replaced) and probes; the others stay open,
//!   asking at every sync, until its probes close its breaker (they close too) or open
//!   it again (they take its new period, and its count of trips in a row, so the
//!   backoff goes on whichever instance probes next). So a recovering dependency sees
//!   one instance's probes, not the fleet's. A prober keeps the token while a probe
//!   runs (at most the maximum wait in half-open, then it opens again); with nothing to
//!   probe with for a whole sync (its calls stopped or were dropped) it keeps the token
//!   until another instance asks for it, then steps back to open and gives it over.
//!
//! Nothing here is on a call's path but counting a closed breaker's call (a load and a
//! store on its thread's stripe, no locked instruction: 1–2 ns) and, at the end of an
//! open period, one atomic load. While Redis is away, each instance judges and probes
//! on its own.

mod counts;
mod script;

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU8, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::CircuitBreakerLayer;
use super::engine::{AtSync, Engine};
use super::window::{Sample, Shape, Tally};
use super::word::{State, generation, mode};
use crate::fleet::{Fleet, Participant};
use counts::Counts;
use script::{EXCHANGE, Reply};

/// Ends this close together belong to one open period: an instance's view of its own
/// period's end drifts by a few milliseconds from sync to sync (its clock against the
/// server's), which must neither stretch the fleet's period nor look like a new one.
const SAME_PERIOD_MS: i64 = 250;

/// How long the fleet remembers batches of a window that is not timed: ten minutes.
const COUNT_WINDOW_AGE_MS: u64 = 600_000;

/// Whether this instance may probe when its open period ends.
const UNGATED: u8 = 0; // Redis away, or not synced yet: judge alone
const GRANTED: u8 = 1;
const DENIED: u8 = 2;

/// Exchanges one breaker's state with the fleet at every sync.
#[derive(Debug)]
pub(crate) struct FleetState {
    engine: Weak<Engine>,
    name: Arc<str>,
    counts: Counts,
    /// The end (server ms) of the last fleet period this instance took: taken once, so
    /// that a local reset is not undone by the same period.
    adopted_end: AtomicI64,
    /// The generation of this instance's last own opening (it judged the calls): the
    /// only kind of open period it publishes. The fleet's periods taken here, and the
    /// holds, are not published back (which would stretch them by each round trip).
    own_generation: AtomicU64,
    /// The generation of the last hold: ended early when the token is granted.
    held_generation: AtomicU64,
    /// The generation of the last step back from an idle half-open period: the token
    /// is not asked for again until a call is held for want of it.
    stepped_generation: AtomicU64,
    /// The state word at the last sync: a holder of the token whose word did not move
    /// over a whole sync had no call to probe with.
    seen_word: AtomicU64,
    /// Whether another instance was refused the token lately: an idle holder yields it.
    wanted: AtomicBool,
    gate: AtomicU8,
    /// Whether this instance holds the fleet's probe token.
    prober: AtomicBool,
    /// The last prober's close this instance acted on (server ms).
    closed_seen: AtomicI64,
    /// Keeps the fleet's sync running as long as this breaker lives.
    fleet: Fleet,
}

impl FleetState {
    /// Counts a call of the closed breaker for the next sync.
    #[inline]
    pub(crate) fn count(&self, sample: Sample) {
        self.counts.add(sample);
    }

    /// Whether this instance may probe now that its open period has ended.
    #[inline]
    pub(crate) fn may_probe(&self) -> bool {
        self.gate.load(Relaxed) != DENIED
    }

    /// How long an instance without the token stays open before it asks again.
    pub(crate) fn hold(&self) -> Duration {
        self.fleet.sync_interval()
    }

    /// The breaker is held open as the generation `generation`; ask for the token now.
    pub(crate) fn held(&self, generation: u64) {
        self.held_generation.store(generation, Relaxed);
        self.fleet.nudge();
    }

    /// The breaker opened as the generation `generation` on evidence it judged itself:
    /// publish the period now.
    pub(crate) fn opened(&self, generation: u64) {
        self.own_generation.store(generation, Release);
        self.fleet.nudge();
    }

    /// What the script's window arguments are for this breaker's window: how many calls
    /// and how old a batch may be.
    fn window(engine: &Engine) -> (u64, u64) {
        match engine.shape() {
            Shape::Count(n) => (u64::from(n), COUNT_WINDOW_AGE_MS),
            Shape::Time { buckets, bucket_ms } => (0, u64::from(buckets) * bucket_ms),
            Shape::Consecutive => (
                engine.settings().consecutive_failures.unwrap_or(1),
                COUNT_WINDOW_AGE_MS,
            ),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Participant for FleetState {
    fn command(&self, namespace: &str) -> Option<redis::Cmd> {
        let engine = self.engine.upgrade()?;
        let interval = self.fleet.sync_interval();
        // A prober with nothing to probe with for a whole sync, while another instance
        // wants the token, steps back (and gives the token back below).
        let wanted = self.wanted.load(Relaxed);
        let before = self.seen_word.load(Relaxed);
        if let AtSync::SteppedBack(generation) =
            engine.half_open_at_sync(&self.seen_word, wanted, interval)
        {
            self.stepped_generation.store(generation, Relaxed);
            self.gate.store(DENIED, Relaxed);
        }
        // One read of the state: whether the period is this instance's own and how
        // long it has left are of the same period.
        let word = engine.word();
        let state = State::from_mode(mode(word));
        let own = generation(word) == self.own_generation.load(Acquire);
        let remaining = engine.remaining_open_in(word);
        let publish = remaining.filter(|_| own).unwrap_or_default();
        let (calls, failures, slow) = self.counts.take();
        let prober = self.prober.load(Relaxed);
        // The token is asked for while the period is about to end (or held: a call
        // was refused for want of it) and kept while probing. A prober that stepped
        // back asks again only when a call is held.
        let ending = remaining.is_some_and(|left| !left.is_zero() && left < interval * 2)
            && generation(word) != self.stepped_generation.load(Relaxed);
        // A holder whose period ended keeps the token until its next call probes, unless
        // it has had no call for a whole sync and another instance wants the token.
        let ended = remaining.is_none_or(|left| left.is_zero());
        let waiting = prober && ended && !(wanted && before == word);
        let wants = match state {
            State::Open => ending || waiting,
            State::HalfOpen => true,
            _ => false,
        };
        let probes_closed = generation(word)
            == engine
                .closed_by_probes
                .load(std::sync::atomic::Ordering::Acquire);
        let gives_back = match state {
            // Its probes closed it: the fleet may close. (A reset is not a verdict.)
            State::Closed if prober && probes_closed => 1,
            _ if wants => 0,
            _ => u8::from(prober) * 2,
        };
        let settings = engine.settings();
        let (most, age) = Self::window(&engine);
        let token_life =
            settings.max_wait_in_half_open.min(Duration::from_secs(600)) + interval * 3;
        let mark_life = (interval * 10).max(Duration::from_secs(5));
        let key = format!("{namespace}:seawall:breaker:{}", self.name);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(EXCHANGE)
            .arg(3)
            .arg(&key)
            .arg(format!("{key}:calls"))
            .arg(crate::fleet::members_key(namespace))
            .arg(self.fleet.instance())
            .arg(ms(publish))
            .arg(SAME_PERIOD_MS)
            .arg(calls)
            .arg(failures)
            .arg(slow)
            .arg(most)
            .arg(age)
            .arg(u8::from(wants))
            .arg(gives_back)
            .arg(ms(token_life))
            .arg(ms(mark_life))
            .arg(engine.consecutive_trips());
        Some(cmd)
    }

    fn reply(&self, reply: redis::Value, live: u32) {
        let Some(reply) = Reply::parse(reply) else {
            return self.away(live);
        };
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        self.prober.store(reply.granted, Relaxed);
        let recent = i64::try_from(ms(self.fleet.sync_interval()) * 3).unwrap_or(i64::MAX);
        self.wanted.store(
            reply.wanted > 0 && reply.now - reply.wanted <= recent,
            Relaxed,
        );
        self.gate
            .store(if reply.granted { GRANTED } else { DENIED }, Relaxed);
        let open = reply.until > reply.now;
        if open && reply.until > self.adopted_end.load(Relaxed) + SAME_PERIOD_MS {
            let left = Duration::from_millis(u64::try_from(reply.until - reply.now).unwrap_or(0));
            let same = Duration::from_millis(SAME_PERIOD_MS as u64);
            let ends_earlier = engine
                .remaining_open()
                .is_none_or(|mine| mine + same < left);
            if ends_earlier {
                engine.open_for_fleet(left);
            }
            // Taken once it is followed (a group may hold a closed breaker back; it
            // follows at a later sync when the group allows).
            if engine.adopt_trips(reply.trips) {
                self.adopted_end.store(reply.until, Relaxed);
            }
        }
        if reply.granted {
            engine.end_hold_for_fleet(self.held_generation.load(Relaxed));
        }
        if !open
            && !reply.granted
            && reply.closed >= reply.until
            && reply.closed > self.closed_seen.load(Relaxed)
        {
            // The prober's probes closed its breaker after the fleet's last period.
            self.closed_seen.store(reply.closed, Relaxed);
            engine.close_for_fleet();
        }
        let tally = Tally {
            calls: reply.calls,
            failures: reply.failures,
            slow: reply.slow,
        };
        if !open && tally.calls > 0 && engine.judge_fleet(tally, reply.run) {
            self.fleet.nudge();
        }
    }

    fn away(&self, _: u32) {
        // Each instance judges and probes on its own until Redis returns; the calls of
        // this time are not sent late.
        self.gate.store(UNGATED, Relaxed);
        // Whether it holds the token is kept: Redis still holds it for this instance,
        // and a close made meanwhile must still be marked when Redis returns.
        let _ = self.counts.take();
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Makes this breaker one breaker for every instance of `fleet` that has a breaker
    /// of the same name (feature `redis`). At every sync (and at once when it opens):
    ///
    /// * the calls it judged go to the fleet, and it judges the fleet's newest calls as
    ///   its own, so the fleet opens after about the failures one breaker needs;
    /// * when any instance opens, every instance's breaker opens within one sync, until
    ///   the same end;
    /// * when the period ends, one instance probes (it holds the fleet's probe token)
    ///   while the others stay open; they close when its probes close its breaker, and
    ///   take its new period when they open it again.
    ///
    /// No call waits on Redis: a call does what this breaker's state says, and the state
    /// moves at syncs. While Redis is away, each instance judges on its own. See
    /// [`fleet`](crate::fleet) for the key layout and the guide's "Running a fleet" for
    /// what can be stale and for how long.
    ///
    /// ```no_run
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::fleet::Fleet;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").start()?;
    /// let layer = CircuitBreakerLayer::builder().name("payments").build()?.fleet(&fleet);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn fleet(self, fleet: &Fleet) -> Self {
        let engine = self.engine_arc();
        let state = Arc::new(FleetState {
            engine: Arc::downgrade(engine),
            name: Arc::from(engine.name()),
            counts: Counts::default(),
            adopted_end: AtomicI64::new(0),
            own_generation: AtomicU64::new(u64::MAX),
            held_generation: AtomicU64::new(u64::MAX),
            stepped_generation: AtomicU64::new(u64::MAX),
            seen_word: AtomicU64::new(u64::MAX),
            wanted: AtomicBool::new(false),
            gate: AtomicU8::new(UNGATED),
            prober: AtomicBool::new(false),
            closed_seen: AtomicI64::new(0),
            fleet: fleet.clone(),
        });
        if engine.fleet.set(state.clone()).is_ok() {
            let participant: Weak<dyn Participant> = Arc::downgrade(&state) as _;
            fleet.join(participant);
        }
        self
    }
}
