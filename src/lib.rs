#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod adaptive;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod classify;
pub mod config;
pub mod deadline;
pub mod keyed;
pub mod pipeline;
mod random;
pub mod rate_limit;
pub mod registry;
pub mod rejection;
pub mod retry;
mod semaphore;
pub mod telemetry;
pub mod throttle;
mod time;
pub mod timeout;

pub use classify::{Classify, ErrorsAreFailures, Outcome};
pub use config::{ConfigError, Ratio};
pub use rejection::{AsRejected, Error, Reason, Rejected, RejectedBy};

#[doc = include_str!("../docs/GUIDE.md")]
pub mod guide {}
