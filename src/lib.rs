#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adaptive;
#[cfg(feature = "balance")]
pub mod balance;
mod budget;
pub mod bulkhead;
mod cap;
pub mod chaos;
pub mod circuit_breaker;
pub mod classify;
pub mod config;
#[cfg(feature = "queue")]
#[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
pub mod consume;
mod context;
pub mod deadline;
pub mod fallback;
#[cfg(feature = "redis")]
pub mod fleet;
pub mod hedge;
mod homed;
pub mod keyed;
mod limit;
#[cfg(all(test, seawall_loom))]
mod models;
pub mod pipeline;
mod random;
pub mod rate_limit;
pub mod registry;
pub mod rejection;
pub mod retry;
mod ring;
mod semaphore;
#[cfg(feature = "sim")]
pub mod sim;
mod sync;
pub mod telemetry;
mod template;
pub mod throttle;
mod time;
pub mod timeout;

pub use budget::SharedBudget;
pub use classify::{Classify, ErrorsAreFailures, Outcome};
pub use config::{ConfigError, Ratio};
pub use rejection::{AsRejected, CarriesRejection, Error, Reason, Rejected, RejectedBy};

#[doc = include_str!("../docs/GUIDE.md")]
pub mod guide {}

/// How seawall is built: the core, one anatomy for every layer, the checklist for a new
/// one.
#[doc = include_str!("../docs/ARCHITECTURE.md")]
pub mod architecture {}

/// Public enums and configuration structs that will grow are `#[non_exhaustive]`: a
/// `match` outside the crate needs a wildcard arm, and a configuration is made from its
/// `Default` and then changed field by field. Each check below must fail to compile.
///
/// ```compile_fail,E0004
/// use seawall::circuit_breaker::State;
/// fn code(s: State) -> u8 {
///     match s {
///         State::Closed | State::Open | State::HalfOpen => 0,
///         State::ForcedOpen | State::Disabled | State::MetricsOnly => 1,
///     }
/// }
/// ```
///
/// ```compile_fail,E0004
/// use seawall::Outcome;
/// fn code(o: Outcome) -> u8 {
///     match o { Outcome::Success => 0, Outcome::Failure => 1, Outcome::Ignored => 2 }
/// }
/// ```
///
/// ```compile_fail,E0004
/// use seawall::bulkhead::Mode;
/// fn code(m: Mode) -> u8 {
///     match m { Mode::FailFast => 0, Mode::Backpressure => 1 }
/// }
/// ```
///
/// ```compile_fail,E0004
/// use seawall::adaptive::Algorithm;
/// fn code(a: Algorithm) -> u8 {
///     match a { Algorithm::Aimd(_) => 0, Algorithm::Gradient2(_) => 1, Algorithm::Vegas(_) => 2 }
/// }
/// ```
///
/// ```compile_fail,E0004
/// use seawall::circuit_breaker::WindowConfig;
/// fn size(w: WindowConfig) -> u32 {
///     match w {
///         WindowConfig::Count(n) | WindowConfig::ConsecutiveFailures(n) => n,
///         WindowConfig::Time { buckets, .. } => buckets,
///     }
/// }
/// ```
///
/// ```compile_fail,E0639
/// use seawall::circuit_breaker::OpenBackoffConfig;
/// let b = OpenBackoffConfig { multiplier: 2.0, max: std::time::Duration::from_secs(60) };
/// ```
#[cfg(doctest)]
pub struct NonExhaustiveChecks;
