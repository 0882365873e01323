//! Configuration errors: every `build()` in seawall validates its settings and says which
//! field is wrong and what range is allowed, instead of panicking.
//!
//! ```
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//!
//! let err = CircuitBreakerLayer::builder()
//!     .failure_rate_threshold(140.0)
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.field(), "circuit_breaker.failure_rate_threshold");
//! assert_eq!(err.to_string(), "circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]");
//! ```

use std::error::Error as StdError;
use std::fmt;

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
        write!(f, "{}: {} is outside {}", self.field, self.value, self.allowed)
    }
}

impl StdError for ConfigError {}
