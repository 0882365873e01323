//! The timer that ends an open period, so that rejecting an open breaker's calls reads
//! no clock.
//!
//! When the breaker opens inside a tokio runtime, it registers a timer for the end of the
//! open period and marks its state word [`ARMED`]: until the timer fires, a call is
//! rejected after one atomic load. The timer's waker (no task: the runtime's timer driver
//! calls it directly) turns the word back to plain [`OPEN`], where the next call reads
//! the clock and half-opens. Paused tests see the same: `tokio::time::advance` fires due
//! timers before it returns.
//!
//! The armed mode is only ever a shortcut, never the truth: a word that is plain open is
//! always handled correctly by reading the clock. So anything that can go wrong with the
//! timer ends in the plain path: the runtime shutting down fires every timer; a runtime
//! that is alive but not running (kept for `block_on` from synchronous code) is covered by
//! [`Valve`], which sends one armed rejection in [`Valve::EVERY`] on each thread down the
//! clock-reading path.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use tokio::time::{Instant, Sleep};

use super::engine::Engine;
use super::word::{ARMED, OPEN, mode, with_mode};

/// The timer of the current open period, if one is set.
#[derive(Debug, Default)]
pub(crate) struct Alarm {
    sleep: Mutex<Option<Pin<Box<Sleep>>>>,
}

/// What the timer wakes: the breaker and the word it armed.
struct Ring {
    engine: Weak<Engine>,
    armed: u64,
}

impl Wake for Ring {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(engine) = self.engine.upgrade() {
            engine.disarm(self.armed);
        }
    }
}

impl Alarm {
    /// Arms `engine`, which has just opened with the word `open`, to end its open period
    /// at `until`. Does nothing outside a tokio runtime (calls then read the clock).
    ///
    /// The runtime must have its timer enabled, as for every tokio timer.
    pub(crate) fn arm(&self, engine: &Engine, open: u64, until: Instant) {
        debug_assert_eq!(mode(open), OPEN);
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let mut sleep = Box::pin(tokio::time::sleep_until(until));
        let armed = with_mode(open, ARMED);
        if !engine.swap_word(open, armed) {
            return; // the breaker moved on before it was armed
        }
        // Armed before the timer is registered, so that however early it fires, its
        // waker finds the armed word to disarm.
        let ring = Waker::from(Arc::new(Ring {
            engine: engine.me(),
            armed,
        }));
        if let Poll::Ready(()) = sleep.as_mut().poll(&mut Context::from_waker(&ring)) {
            engine.disarm(armed);
            return;
        }
        let mut slot = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(sleep); // drops (and deregisters) the previous period's timer
    }
}

/// Sends one armed rejection in [`EVERY`](Self::EVERY) per thread down the path that
/// reads the clock, so that an open period ends even when its timer's runtime is not
/// running.
pub(crate) struct Valve;

impl Valve {
    pub(crate) const EVERY: u32 = 64;

    /// Whether this armed rejection may skip the clock.
    #[inline]
    pub(crate) fn skip_clock() -> bool {
        thread_local! {
            static COUNT: Cell<u32> = const { Cell::new(0) };
        }
        COUNT.with(|count| {
            let n = count.get().wrapping_add(1);
            count.set(n);
            n % Self::EVERY != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::CircuitBreakerLayer;
    use super::super::word::*;
    use crate::classify::Outcome;

    fn tripped() -> CircuitBreakerLayer {
        let layer = CircuitBreakerLayer::builder()
            .count_window(1)
            .confidence(None)
            .open_duration(Duration::from_secs(10))
            .build()
            .unwrap();
        let permit = layer.engine().admit().unwrap();
        layer.engine().complete(permit, Outcome::Failure);
        layer
    }

    #[tokio::test(start_paused = true)]
    async fn opening_in_a_runtime_arms_and_the_timer_disarms_at_the_end() {
        let layer = tripped();
        assert_eq!(mode(layer.engine().word()), ARMED);
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert_eq!(mode(layer.engine().word()), ARMED);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(mode(layer.engine().word()), OPEN);
        layer.engine().admit().expect("a probe");
        assert_eq!(mode(layer.engine().word()), HALF_OPEN);
    }

    #[test]
    fn opening_outside_a_runtime_does_not_arm() {
        assert_eq!(mode(tripped().engine().word()), OPEN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_of_an_earlier_open_period_leaves_a_later_one_armed() {
        let layer = tripped();
        let first = layer.engine().word();
        layer.handle().reset();
        let permit = layer.engine().admit().unwrap();
        layer.engine().complete(permit, Outcome::Failure);
        let second = layer.engine().word();
        assert_eq!(mode(second), ARMED);
        layer.engine().disarm(first);
        assert_eq!(layer.engine().word(), second);
    }
}
