//! Configuration: every `build()` in seawall validates its settings and says which
//! field is wrong and what range is allowed, instead of panicking; shares are written as
//! a [`Ratio`] with their unit; with the `serde` feature, files give durations as
//! [`human`] text and shares as `"25%"`.
//!
//! ```
//! use seawall::{circuit_breaker::CircuitBreakerLayer, Ratio};
//!
//! let err = CircuitBreakerLayer::builder()
//!     .failure_rate_threshold(Ratio::percent(140.0))
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.field(), "circuit_breaker.failure_rate_threshold");
//! assert_eq!(err.to_string(), "circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]");
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

#[cfg(feature = "serde")]
pub mod human;
mod ratio;

pub use ratio::Ratio;

/// The longest a duration setting may be, by kind: one table for every layer's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Longest {
    /// Backoffs, rate periods, bucketed windows.
    Day,
    /// Open durations, breaker windows, idle times.
    Week,
    /// Time limits.
    Year,
}

impl Longest {
    pub(crate) const fn duration(self) -> Duration {
        const DAY: u64 = 24 * 3600;
        Duration::from_secs(match self {
            Longest::Day => DAY,
            Longest::Week => 7 * DAY,
            Longest::Year => 365 * DAY,
        })
    }

    pub(crate) const fn text(self) -> &'static str {
        match self {
            Longest::Day => "1 day",
            Longest::Week => "7 days",
            Longest::Year => "365 days",
        }
    }
}

/// Checks a duration setting `field`: within `(0s, longest]`, or `[0s, longest]` when
/// `zero` is allowed; the error names the field and the range.
pub(crate) fn check_duration(
    field: &str,
    value: Duration,
    zero: bool,
    longest: Longest,
) -> Result<(), ConfigError> {
    if (zero || !value.is_zero()) && value <= longest.duration() {
        return Ok(());
    }
    let low = if zero { "[0s" } else { "(0s" };
    let allowed = format!("{low}, {}]", longest.text());
    Err(ConfigError::new(field, format!("{value:?}"), allowed))
}

/// A duration in whole nanoseconds, saturating (after 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A setting was outside its allowed range.
///
/// ```
/// use seawall::ConfigError;
/// let err = ConfigError::new("window_size", 0, "1..=100000").within("payments");
/// assert_eq!(err.to_string(), "payments.window_size: 0 is outside 1..=100000");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: String,
    value: String,
    allowed: String,
}

impl ConfigError {
    /// An error for `field`, which was set to `value` but must be within `allowed`.
    ///
    /// ```
    /// use seawall::ConfigError;
    /// let err = ConfigError::new("half_open_calls", 0, "1..=1000");
    /// assert_eq!(err.allowed(), "1..=1000");
    /// ```
    pub fn new(field: &str, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
        ConfigError {
            field: field.to_owned(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Prefixes the field path with `parent`, as in `parent.field`.
    ///
    /// ```
    /// use seawall::ConfigError;
    /// let err = ConfigError::new("x", 1, "0..1").within("a").within("b");
    /// assert_eq!(err.field(), "b.a.x");
    /// ```
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }

    /// The full dotted path of the field that is wrong.
    ///
    /// ```
    /// use seawall::ConfigError;
    /// assert_eq!(ConfigError::new("x", 1, "0..1").field(), "x");
    /// ```
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The value that was given, as text.
    ///
    /// ```
    /// use seawall::ConfigError;
    /// assert_eq!(ConfigError::new("x", 1.5, "0..1").value(), "1.5");
    /// ```
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The allowed range, in Rust range notation or words.
    ///
    /// ```
    /// use seawall::ConfigError;
    /// assert_eq!(ConfigError::new("x", 1, "(0, 100]").allowed(), "(0, 100]");
    /// ```
    pub fn allowed(&self) -> &str {
        &self.allowed
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} is outside {}",
            self.field, self.value, self.allowed
        )
    }
}

impl StdError for ConfigError {}

/// A confidence in files: `"99.99%"`, or `"off"` to judge rates as observed.
#[cfg(feature = "serde")]
pub(crate) mod confidence {
    use super::Ratio;

    pub(crate) fn serialize<S: serde::Serializer>(
        c: &Option<Ratio>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match c {
            Some(ratio) => serde::Serialize::serialize(ratio, s),
            None => s.serialize_str("off"),
        }
    }

    /// For a file's field (skipped when `None`).
    pub(crate) fn serialize_override<S: serde::Serializer>(
        c: &Option<Option<Ratio>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serialize(&c.flatten(), s)
    }

    /// For a file's field: left out is `None`, `"off"` is `Some(None)`.
    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<Ratio>>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        if text == "off" {
            return Ok(Some(None));
        }
        text.parse()
            .map(|r| Some(Some(r)))
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"off\"")))
    }
}

/// Replaces `target` with the value a file gave, if it gave one: a setting left out of a
/// file keeps the value of the builder the file is applied to.
#[cfg(feature = "serde")]
pub(crate) fn keep_unless_set<T: Clone>(target: &mut T, from_file: &Option<T>) {
    if let Some(value) = from_file {
        *target = value.clone();
    }
}
