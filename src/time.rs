//! Time, read from tokio's clock so that tests can pause and advance it.
//!
//! Layers keep instants as integer offsets from an [`Epoch`] taken when the layer is
//! built, so that they fit in atomics. Only features that need time read the clock.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The instant a layer was built; times are stored as offsets from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Epoch(Instant);

impl Epoch {
    pub(crate) fn now() -> Self {
        Epoch(Instant::now())
    }

    /// Milliseconds since the epoch, rounded down. (No 128-bit arithmetic: this runs on
    /// every rejection of an open breaker.)
    #[inline]
    pub(crate) fn millis_since(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.0);
        d.as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_millis()))
    }

    /// The time since the epoch, now.
    pub(crate) fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.0)
    }

    /// Nanoseconds since the epoch, now (saturating after 584 years).
    pub(crate) fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Milliseconds since the epoch, now, rounded down.
    pub(crate) fn elapsed_millis(&self) -> u64 {
        self.millis_since(Instant::now())
    }

    /// The first whole millisecond since the epoch at which `d` from now has passed:
    /// `now + d` rounded up, so that a period stored this way never ends early.
    pub(crate) fn millis_after(&self, d: Duration) -> u64 {
        ceil_millis(
            Instant::now()
                .saturating_duration_since(self.0)
                .saturating_add(d),
        )
    }

    /// The instant `ms` milliseconds after the epoch.
    pub(crate) fn at_millis(&self, ms: u64) -> Instant {
        after(self.0, Duration::from_millis(ms))
    }

    /// The epoch as [`Stamp`] nanoseconds.
    pub(crate) fn stamp(&self) -> i64 {
        Stamp::of(self.0).0
    }
}

/// An instant as signed nanoseconds from one origin shared by the whole process: eight
/// bytes that any layer can store and any reader can turn back into an instant, with no
/// clock read to make one from another stamp (about ±292 years around the origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(pub(crate) i64);

impl Stamp {
    fn origin() -> std::time::Instant {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(std::time::Instant::now)
    }

    pub(crate) fn of(at: Instant) -> Stamp {
        let (at, origin) = (at.into_std(), Self::origin());
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Stamp(match at.checked_duration_since(origin) {
            Some(d) => nanos(d),
            None => -nanos(origin.duration_since(at)),
        })
    }

    pub(crate) fn instant(self) -> Instant {
        let origin = Instant::from_std(Self::origin());
        let d = Duration::from_nanos(self.0.unsigned_abs());
        if self.0 >= 0 {
            after(origin, d)
        } else {
            origin.checked_sub(d).unwrap_or(origin)
        }
    }
}

/// A duration in whole milliseconds, rounded up so that a wait never ends early.
pub(crate) fn ceil_millis(d: Duration) -> u64 {
    let ms = saturating_millis(d);
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        ms.saturating_add(1)
    } else {
        ms
    }
}

fn saturating_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pin_project_lite::pin_project! {
    /// A timer that is registered only when a future first has to wait, so calls that
    /// finish on their first poll never touch the timer wheel.
    #[derive(Debug)]
    pub(crate) struct LazyTimer {
        #[pin]
        sleep: Option<tokio::time::Sleep>,
    }
}

impl LazyTimer {
    pub(crate) fn new() -> Self {
        LazyTimer { sleep: None }
    }

    /// Ready once `deadline` has passed; `deadline` is asked for on the first poll only.
    #[inline]
    pub(crate) fn poll_expired(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        deadline: impl FnOnce() -> Instant,
    ) -> std::task::Poll<()> {
        let mut sleep = self.project().sleep;
        if sleep.is_none() {
            sleep.set(Some(tokio::time::sleep_until(deadline())));
        }
        match sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => std::task::Poll::Pending,
        }
    }
}

/// Nanoseconds since a layer was built, read per call: from tokio's clock (follows
/// paused time), or with the `fast-clock` feature, when a layer opts in, from the CPU's
/// time-stamp counter through `quanta` (about a third of the cost here, but blind to
/// tokio's paused time).
#[derive(Clone, Debug)]
pub(crate) struct Stopwatch {
    epoch: Instant,
    #[cfg(feature = "fast-clock")]
    fast: Option<(quanta::Clock, u64)>,
}

impl Stopwatch {
    /// A stopwatch on tokio's clock, started now.
    pub(crate) fn tokio() -> Self {
        Stopwatch {
            epoch: Instant::now(),
            #[cfg(feature = "fast-clock")]
            fast: None,
        }
    }

    /// A stopwatch on the time-stamp counter, started now.
    #[cfg(feature = "fast-clock")]
    pub(crate) fn fast() -> Self {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        Stopwatch {
            epoch: Instant::now(),
            fast: Some((clock, start)),
        }
    }

    /// Whether this stopwatch reads the time-stamp counter.
    pub(crate) fn is_fast(&self) -> bool {
        #[cfg(feature = "fast-clock")]
        return self.fast.is_some();
        #[cfg(not(feature = "fast-clock"))]
        false
    }

    /// Nanoseconds since the start.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        #[cfg(feature = "fast-clock")]
        if let Some((clock, start)) = &self.fast {
            return clock.delta_as_nanos(*start, clock.raw());
        }
        crate::config::nanos(Instant::now().saturating_duration_since(self.epoch))
    }

    /// The tokio instant `ns` nanoseconds after the start (for sleeping until then).
    pub(crate) fn instant(&self, ns: u64) -> Instant {
        after(self.epoch, Duration::from_nanos(ns))
    }

    /// The tokio instant to wake at, `wait_ns` after `now_ns` (read from this stopwatch).
    /// On the time-stamp counter the wait is counted from tokio's clock now, so that the
    /// two clocks' drift never moves a wake-up (one more clock read, only for a call that
    /// waits).
    pub(crate) fn wake_at(&self, now_ns: u64, wait_ns: u64) -> Instant {
        if self.is_fast() {
            return after(Instant::now(), Duration::from_nanos(wait_ns));
        }
        self.instant(now_ns.saturating_add(wait_ns))
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}
