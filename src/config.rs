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
        write!(
            f,
            "{}: {} is outside {}",
            self.field, self.value, self.allowed
        )
    }
}

impl StdError for ConfigError {}

/// Human-readable durations: `"250ms"`, `"30s"`, `"1m30s"`, `"1.5h"`.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. Several parts add up; a number
/// without a unit, a sign, or anything else is refused. With the `serde` feature, the
/// submodules serialize and deserialize `Duration` fields in this form.
///
/// ```
/// use seawall::config::human;
/// use std::time::Duration;
///
/// assert_eq!(human::parse("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(human::parse("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(human::parse("30").is_err());
/// assert_eq!(human::format(Duration::from_millis(250)), "250ms");
/// ```
pub mod human {
    use std::time::Duration;

    const UNITS: [(&str, f64); 8] = [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
        ("d", 86_400.0),
    ];

    /// Parses a human duration.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with `text`.
    ///
    /// ```
    /// assert!(seawall::config::human::parse("-1s").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Duration, String> {
        let bad = || format!("{text:?} is not a duration like \"250ms\", \"30s\" or \"1m30s\"");
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = 0.0f64;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (_, scale) = UNITS
                .iter()
                .find(|(name, _)| *name == &rest[..unit_len])
                .ok_or_else(bad)?;
            total += number * scale;
            rest = &rest[unit_len..];
        }
        Duration::try_from_secs_f64(total).map_err(|_| bad())
    }

    /// Formats a duration in the largest unit that keeps it exact.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(seawall::config::human::format(Duration::from_secs(120)), "2m");
    /// ```
    pub fn format(d: Duration) -> String {
        let nanos = d.as_nanos();
        let units: [(&str, u128); 6] = [
            ("h", 3_600_000_000_000),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ];
        for (name, size) in units {
            if nanos != 0 && nanos.is_multiple_of(size) {
                return format!("{}{name}", nanos / size);
            }
        }
        "0s".to_owned()
    }

    /// `#[serde(with = "seawall::config::human::serde")]` for `Duration` fields.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     #[serde(with = "seawall::config::human::serde")]
    ///     timeout: std::time::Duration,
    /// }
    /// let s: Settings = serde_json::from_str(r#"{ "timeout": "250ms" }"#).unwrap();
    /// assert_eq!(s.timeout, std::time::Duration::from_millis(250));
    /// ```
    #[cfg(feature = "serde")]
    pub mod serde {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes a duration as human text.
        ///
        /// ```
        /// use std::time::Duration;
        /// let mut out = Vec::new();
        /// let mut json = serde_json::Serializer::new(&mut out);
        /// seawall::config::human::serde::serialize(&Duration::from_secs(90), &mut json)?;
        /// assert_eq!(out, br#""90s""#);
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&super::format(*d))
        }

        /// Reads a duration from human text.
        ///
        /// ```
        /// use std::time::Duration;
        /// let mut json = serde_json::Deserializer::from_str(r#""250ms""#);
        /// let d = seawall::config::human::serde::deserialize(&mut json)?;
        /// assert_eq!(d, Duration::from_millis(250));
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            let text = String::deserialize(d)?;
            super::parse(&text).map_err(serde::de::Error::custom)
        }
    }

    /// `#[serde(with = "seawall::config::human::option")]` for `Option<Duration>` fields.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     #[serde(default, with = "seawall::config::human::option")]
    ///     slow: Option<std::time::Duration>,
    /// }
    /// let s: Settings = serde_json::from_str(r#"{}"#).unwrap();
    /// assert_eq!(s.slow, None);
    /// ```
    #[cfg(feature = "serde")]
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes an optional duration as human text (or nothing).
        ///
        /// ```
        /// let mut out = Vec::new();
        /// let mut json = serde_json::Serializer::new(&mut out);
        /// seawall::config::human::option::serialize(&None, &mut json)?;
        /// assert_eq!(out, b"null");
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_some(&super::format(*d)),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional duration from human text.
        ///
        /// ```
        /// use std::time::Duration;
        /// let mut json = serde_json::Deserializer::from_str(r#""2s""#);
        /// let d = seawall::config::human::option::deserialize(&mut json)?;
        /// assert_eq!(d, Some(Duration::from_secs(2)));
        /// # Ok::<(), serde_json::Error>(())
        /// ```
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_units_and_sums() {
            assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
            assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
            assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
            assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
            assert_eq!(parse("1h1m1s"), Ok(Duration::from_secs(3661)));
            assert_eq!(parse(" 5s "), Ok(Duration::from_secs(5)));
        }

        #[test]
        fn refuses_garbage() {
            for bad in [
                "",
                "s",
                "5",
                "5 s",
                "-5s",
                "5x",
                "1..5s",
                "5sec",
                "1e3s",
                "ms5",
                "999999999999999999999d",
            ] {
                assert!(parse(bad).is_err(), "{bad:?}");
            }
        }

        #[test]
        fn formats_exactly() {
            for d in [
                Duration::from_millis(1500),
                Duration::from_nanos(7),
                Duration::from_secs(3600),
            ] {
                assert_eq!(parse(&format(d)), Ok(d));
            }
            assert_eq!(format(Duration::from_millis(1500)), "1500ms");
            assert_eq!(format(Duration::ZERO), "0s");
        }
    }
}
