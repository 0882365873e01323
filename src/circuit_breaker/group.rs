//! Breakers that may not all be open at once: one per endpoint of a dependency, so that
//! a bad endpoint is shut off while a fleet-wide failure (or a bad detector) cannot shut
//! off every endpoint.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::CircuitBreakerLayer;
use super::engine::Engine;
use super::word::State;
use crate::config::{ConfigError, Ratio};

/// A group of breakers of which at most a share may be open: a breaker that would open
/// beyond it stays closed (its failures keep counting, and it opens once another
/// closes). Open, half-open and forced-open breakers count as open.
///
/// The share is checked **with the candidate counted**: at 34 %, one breaker of three may
/// open (1/3 ≤ 34 %), a second may not (2/3 > 34 %). And by default one breaker may
/// always open, whatever the share (one of two at 10 %), so a group never keeps a dead
/// endpoint in use because the share is small; turn that off with
/// [`always_allow_one`](Self::always_allow_one).
///
/// Only a closed breaker's opening is held back: a probe that fails reopens its breaker
/// whatever the share.
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, Group, State};
/// use seawall::Ratio;
///
/// let group = Group::new(Ratio::percent(34.0))?;
/// let breakers: Vec<_> = (0..3)
///     .map(|i| {
///         let layer = CircuitBreakerLayer::builder()
///             .name(format!("replica-{i}"))
///             .consecutive_failures(1)
///             .build()?;
///         Ok(layer.group(&group))
///     })
///     .collect::<Result<_, seawall::ConfigError>>()?;
/// for breaker in &breakers {
///     breaker.handle().try_acquire_owned().unwrap().failure();
/// }
/// let open = breakers.iter().filter(|b| b.handle().state() == State::Open).count();
/// assert_eq!(open, 1); // a second would be 67 % of the group
/// assert_eq!(group.open(), 1);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Group {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// The most that may be open, as a fraction of the members.
    max_open: f64,
    always_one: std::sync::atomic::AtomicBool,
    /// A cold lock: taken when a breaker joins and when a closed one would open.
    members: Mutex<Vec<Weak<Engine>>>,
}

impl Group {
    /// A group of which at most `max_open` of the breakers may be open, at least one.
    /// Allowed: `(0%, 100%]`.
    ///
    /// # Errors
    ///
    /// `max_open` outside its range, named.
    ///
    /// ```
    /// use seawall::{circuit_breaker::Group, Ratio};
    /// let err = Group::new(Ratio::percent(0.0)).unwrap_err();
    /// assert_eq!(err.to_string(), "group.max_open: 0% is outside (0%, 100%]");
    /// ```
    pub fn new(max_open: Ratio) -> Result<Group, ConfigError> {
        let fraction = max_open.as_fraction();
        if !(fraction > 0.0 && fraction <= 1.0) {
            let err = ConfigError::new("max_open", max_open.to_string(), "(0%, 100%]");
            return Err(err.within("group"));
        }
        Ok(Group {
            shared: Arc::new(Shared {
                max_open: fraction,
                always_one: true.into(),
                members: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Whether one breaker may open whatever the share (default: yes).
    ///
    /// ```
    /// use seawall::{circuit_breaker::Group, Ratio};
    /// let group = Group::new(Ratio::percent(10.0))?.always_allow_one(false);
    /// # let _ = group;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[must_use]
    pub fn always_allow_one(self, allow: bool) -> Self {
        self.shared
            .always_one
            .store(allow, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// How many breakers of the group are alive.
    ///
    /// ```
    /// use seawall::{circuit_breaker::{CircuitBreakerLayer, Group}, Ratio};
    /// let group = Group::new(Ratio::percent(50.0))?;
    /// let layer = CircuitBreakerLayer::builder().build()?.group(&group);
    /// assert_eq!(group.members(), 1);
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn members(&self) -> usize {
        self.shared.count().0
    }

    /// How many of them are open (open, half-open or forced open).
    ///
    /// ```
    /// use seawall::{circuit_breaker::{CircuitBreakerLayer, Group}, Ratio};
    /// let group = Group::new(Ratio::percent(50.0))?;
    /// let layer = CircuitBreakerLayer::builder().build()?.group(&group);
    /// layer.handle().force_open();
    /// assert_eq!(group.open(), 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn open(&self) -> usize {
        self.shared.count().1
    }
}

fn is_open(state: State) -> bool {
    matches!(state, State::Open | State::HalfOpen | State::ForcedOpen)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Engine>>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `(members, open)`.
    fn count(&self) -> (usize, usize) {
        let mut members = self.lock();
        members.retain(|m| m.strong_count() > 0);
        let open = members
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|m| is_open(m.state()))
            .count();
        (members.len(), open)
    }

    /// Whether the closed breaker `candidate` may open now: `Some` with the group held
    /// (keep it across the opening, so that two breakers cannot both take the last
    /// place), `None` if the share is taken.
    pub(crate) fn admit(&self, candidate: &Engine) -> Option<MutexGuard<'_, Vec<Weak<Engine>>>> {
        let mut members = self.lock();
        members.retain(|m| m.strong_count() > 0);
        let others_open = members
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|m| !std::ptr::eq(Arc::as_ptr(m), candidate) && is_open(m.state()))
            .count();
        let always_one = self.always_one.load(std::sync::atomic::Ordering::Relaxed);
        let within = (others_open + 1) as f64 <= self.max_open * members.len() as f64 + 1e-9;
        ((others_open == 0 && always_one) || within).then_some(members)
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Makes this breaker one of `group`: it opens only while the group's share of open
    /// breakers allows (see [`Group`]). A breaker joins one group, once.
    ///
    /// ```
    /// use seawall::{circuit_breaker::{CircuitBreakerLayer, Group}, Ratio};
    /// let group = Group::new(Ratio::percent(50.0))?;
    /// let layer = CircuitBreakerLayer::builder().name("replica-1").build()?.group(&group);
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[must_use]
    pub fn group(self, group: &Group) -> Self {
        let engine = self.engine_arc();
        if engine.group.set(group.shared.clone()).is_ok() {
            group.shared.lock().push(Arc::downgrade(engine));
        }
        self
    }
}
