//! The breaker's state word and what is packed into it.
//!
//! The word packs `mode (3 bits) | generation (21 bits) | payload (40 bits)`:
//!
//! | mode        | payload                                              |
//! |-------------|------------------------------------------------------|
//! | closed      | unused (the window holds the evidence)               |
//! | open, armed | milliseconds since the epoch when it may half-open   |
//! | half-open   | probes admitted, done, failed, slow (10 bits each)   |
//! | forced open, disabled, metrics only | unused                       |
//!
//! "Armed" is open with a timer set for the end of the open period: calls are rejected
//! without reading the clock, and the timer turns the mode back to plain open, where the
//! next call reads the clock and half-opens.
//!
//! An [`Admission`] records the mode and generation a call was admitted under.

use super::window::GEN_MASK;
use crate::time::Epoch;
use std::time::Duration;

/// The state a circuit breaker is in.
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, State};
/// let layer = CircuitBreakerLayer::builder().build().unwrap();
/// assert_eq!(layer.handle().state(), State::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls flow and are counted; too many failures or slow calls open the breaker.
    Closed,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// A limited number of probe calls decide whether to close or open again.
    HalfOpen,
    /// Forced open through the handle: every call is rejected until told otherwise.
    ForcedOpen,
    /// Forced closed through the handle: every call flows and nothing is counted.
    Disabled,
    /// Calls flow and are counted, but the breaker never opens.
    MetricsOnly,
}

impl State {
    pub(crate) fn from_mode(mode: u64) -> State {
        match mode {
            OPEN | ARMED => State::Open,
            HALF_OPEN => State::HalfOpen,
            FORCED_OPEN => State::ForcedOpen,
            DISABLED => State::Disabled,
            METRICS_ONLY => State::MetricsOnly,
            _ => State::Closed,
        }
    }

    /// The state as a number, as in the `seawall.circuit_breaker.state` gauge:
    /// 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only.
    ///
    /// ```
    /// use seawall::circuit_breaker::State;
    /// assert_eq!(State::Open.code(), 1);
    /// ```
    pub const fn code(self) -> u8 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
            State::MetricsOnly => 5,
        }
    }

    /// The state's name in `snake_case`, as used in events.
    ///
    /// ```
    /// use seawall::circuit_breaker::State;
    /// assert_eq!(State::HalfOpen.as_str(), "half_open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }
}

pub(crate) const CLOSED: u64 = 0;
pub(crate) const OPEN: u64 = 1;
pub(crate) const HALF_OPEN: u64 = 2;
pub(crate) const FORCED_OPEN: u64 = 3;
pub(crate) const DISABLED: u64 = 4;
pub(crate) const METRICS_ONLY: u64 = 5;
/// Open, with a timer that ends the open period (see the module docs).
pub(crate) const ARMED: u64 = 6;

const MODE_SHIFT: u32 = 61;
pub(crate) const GEN_SHIFT: u32 = 40;
pub(crate) const PAYLOAD_MASK: u64 = (1 << GEN_SHIFT) - 1;
const PROBE_BITS: u32 = 10;
const PROBE_MASK: u64 = (1 << PROBE_BITS) - 1;

pub(crate) fn mode(word: u64) -> u64 {
    word >> MODE_SHIFT
}

/// `word` with its mode replaced.
pub(crate) fn with_mode(word: u64, mode: u64) -> u64 {
    word & !(0b111 << MODE_SHIFT) | mode << MODE_SHIFT
}

pub(crate) fn generation(word: u64) -> u64 {
    (word >> GEN_SHIFT) & GEN_MASK
}

pub(crate) const fn pack(mode: u64, generation: u64, payload: u64) -> u64 {
    let payload = if payload < PAYLOAD_MASK {
        payload
    } else {
        PAYLOAD_MASK
    };
    mode << MODE_SHIFT | (generation & GEN_MASK) << GEN_SHIFT | payload
}

/// Half-open payload: probes admitted (running or done), done, failed, slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Probes {
    pub(crate) admitted: u64,
    pub(crate) done: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Probes {
    pub(crate) fn unpack(word: u64) -> Probes {
        let field = |i: u32| (word >> (i * PROBE_BITS)) & PROBE_MASK;
        Probes {
            admitted: field(0),
            done: field(1),
            failures: field(2),
            slow: field(3),
        }
    }

    pub(crate) fn pack(self) -> u64 {
        self.admitted
            | self.done << PROBE_BITS
            | self.failures << (2 * PROBE_BITS)
            | self.slow << (3 * PROBE_BITS)
    }
}

/// When a timed call starts: milliseconds since the epoch rounded up, plus one, wrapping
/// (every 49 days), never 0. Only [`took_at_least`] reads it.
pub(crate) fn start_ms(epoch: &Epoch) -> u32 {
    (epoch.millis_after(Duration::ZERO) as u32)
        .wrapping_add(1)
        .max(1)
}

/// How long a call that started at `started` ([`start_ms`]) has taken at least, now: the
/// start was rounded up and the end is read exactly, so this is never more than the
/// time it really took, and less by under a millisecond. A call over 24 days reads as 0.
pub(crate) fn took_at_least(epoch: &Epoch, started: u32) -> Duration {
    let now = epoch.elapsed();
    let whole_ms = now.as_millis();
    let ms = (whole_ms as u32).wrapping_add(1).wrapping_sub(started);
    if ms > u32::MAX / 2 {
        return Duration::ZERO; // started within the millisecond that is still running
    }
    Duration::from_millis(u64::from(ms)) + (now - Duration::from_millis(whole_ms as u64))
}

/// What a caller was admitted as; returned to the engine when the call ends.
///
/// Two 32-bit halves rather than one word: the future that holds it writes and reads
/// them separately, which keeps the processor's store forwarding working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Admission {
    /// The admitting state's mode and generation (its word without the payload).
    state: u32,
    /// When the call started, in wrapping milliseconds since the epoch, never 0;
    /// 0 when the call is not timed.
    started: u32,
}

impl Admission {
    /// A permit that holds nothing: what [`take`](Self::take) leaves behind.
    const SPENT: Admission = Admission::of(pack(DISABLED, 0, 0), 0);

    pub(crate) const fn of(word: u64, started: u32) -> Admission {
        Admission {
            state: (word >> GEN_SHIFT) as u32,
            started,
        }
    }

    /// The admitting state's word, payload cleared.
    #[inline]
    pub(crate) fn word(self) -> u64 {
        u64::from(self.state) << GEN_SHIFT
    }

    /// Takes the permit, leaving one that holds nothing (so it is given back once).
    #[inline]
    pub(crate) fn take(&mut self) -> Admission {
        std::mem::replace(self, Admission::SPENT)
    }

    /// When the call started ([`start_ms`]), or 0 when it is not timed.
    #[inline]
    pub(crate) fn started(self) -> u32 {
        self.started
    }

    /// Whether it admitted a half-open probe.
    #[inline]
    pub(crate) fn is_probe(self) -> bool {
        mode(self.word()) == HALF_OPEN
    }

    /// Whether the call it admitted is still to be recorded.
    #[inline]
    pub(crate) fn is_live(self) -> bool {
        self != Admission::SPENT
    }
}
