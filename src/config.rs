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

/// A share of a whole (a rate threshold, a retry budget, a probability), its unit
/// written where it is made, so that 25 % and 0.25 cannot be mixed up: every setting
/// that is a share takes a `Ratio`, never a bare number.
///
/// In files (feature `serde`) a ratio is a percentage string, `"25%"`; a bare number
/// is refused with a message that shows that form. Whether a value is in range is
/// checked by `build()`, which names the field and the allowed range.
///
/// ```
/// use seawall::Ratio;
///
/// assert_eq!(Ratio::percent(25.0), Ratio::fraction(0.25));
/// assert_eq!(Ratio::fraction(0.25).as_percent(), 25.0);
/// assert_eq!(Ratio::percent(0.5).as_fraction(), 0.005);
/// assert_eq!("12.5%".parse::<Ratio>(), Ok(Ratio::percent(12.5)));
/// assert_eq!(Ratio::percent(12.5).to_string(), "12.5%");
/// ```
#[derive(Clone, Copy)]
pub struct Ratio {
    value: f64,
    in_percent: bool,
}

impl Ratio {
    /// `percent` hundredths: `Ratio::percent(25.0)` is a quarter.
    ///
    /// ```
    /// assert_eq!(seawall::Ratio::percent(50.0).as_fraction(), 0.5);
    /// ```
    pub const fn percent(percent: f64) -> Self {
        Ratio {
            value: percent,
            in_percent: true,
        }
    }

    /// A fraction of one: `Ratio::fraction(0.25)` is a quarter.
    ///
    /// ```
    /// assert_eq!(seawall::Ratio::fraction(0.5).as_percent(), 50.0);
    /// ```
    pub const fn fraction(fraction: f64) -> Self {
        Ratio {
            value: fraction,
            in_percent: false,
        }
    }

    /// The ratio in percent.
    ///
    /// ```
    /// assert_eq!(seawall::Ratio::percent(10.0).as_percent(), 10.0);
    /// ```
    pub fn as_percent(self) -> f64 {
        if self.in_percent {
            self.value
        } else {
            self.value * 100.0
        }
    }

    /// The ratio as a fraction of one.
    ///
    /// ```
    /// assert_eq!(seawall::Ratio::fraction(0.9).as_fraction(), 0.9);
    /// ```
    pub fn as_fraction(self) -> f64 {
        if self.in_percent {
            self.value / 100.0
        } else {
            self.value
        }
    }
}

impl PartialEq for Ratio {
    fn eq(&self, other: &Self) -> bool {
        self.as_percent() == other.as_percent()
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

/// What a ratio in a file looks like, for error messages.
const RATIO_EXPECTED: &str = r#"a percentage string such as "25%""#;

impl std::str::FromStr for Ratio {
    type Err = String;

    /// Reads a percentage, `"25%"` or `"0.5 %"`.
    fn from_str(text: &str) -> Result<Self, String> {
        text.trim()
            .strip_suffix('%')
            .and_then(|number| number.trim_end().parse::<f64>().ok())
            .filter(|percent| percent.is_finite())
            .map(Ratio::percent)
            .ok_or_else(|| format!("{text:?} is not {RATIO_EXPECTED}"))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Percentage;
        impl serde::de::Visitor<'_> for Percentage {
            type Value = Ratio;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(RATIO_EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Ratio, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Percentage)
    }
}

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

/// Human-readable durations in files (feature `serde`): `"250ms"`, `"30s"`, `"1h 30m"`,
/// `"1.5s"`.
///
/// Parsing is [`humantime`]'s, in integer arithmetic: decimals are exact down to the
/// nanosecond (`"123456789.123456789s"` is `Duration::new(123456789, 123456789)`), and
/// a finer fraction is refused rather than rounded. Units: `ns`, `us` (or `µs`), `ms`,
/// `s`, `m`, `h`, `d`, `w`, and their long forms (`sec`, `min`, `hours`, ...); also `M`
/// (months of 30.44 days) and `y` (years of 365.25 days). Several parts add up, with or
/// without spaces between them. A number without a unit, a sign, or anything else is
/// refused, with a message that shows the accepted form: no unit is ever guessed.
///
/// ```
/// use seawall::config::human;
/// use std::time::Duration;
///
/// assert_eq!(human::parse("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(human::parse("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(human::parse("30").unwrap_err().contains(r#"such as "250ms""#));
/// assert_eq!(human::format(Duration::from_millis(250)), "250ms");
/// ```
#[cfg(feature = "serde")]
pub mod human {
    use std::time::Duration;

    /// What a duration in a file looks like, for error messages.
    const EXPECTED: &str = r#"a duration string such as "250ms", "30s" or "1h 30m""#;

    /// Parses a human duration.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with `text` and which form is expected.
    ///
    /// ```
    /// let err = seawall::config::human::parse("-1s").unwrap_err();
    /// assert!(err.starts_with(r#""-1s" is not a duration string such as "250ms""#), "{err}");
    /// ```
    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text).map_err(|e| format!("{text:?} is not {EXPECTED} ({e})"))
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
    pub mod serde {
        use std::fmt;
        use std::time::Duration;

        use serde::de::{self, Visitor};
        use serde::{Deserializer, Serializer};

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
            d.deserialize_str(Text)
        }

        /// Accepts only text; a number gets serde's "invalid type" error, which then
        /// names the expected form.
        struct Text;

        impl Visitor<'_> for Text {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(super::EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                super::parse(text).map_err(E::custom)
            }
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
    pub mod option {
        use std::fmt;
        use std::time::Duration;

        use serde::de::{self, Visitor};
        use serde::{Deserializer, Serializer};

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
            d.deserialize_option(MaybeText)
        }

        struct MaybeText;

        impl<'de> Visitor<'de> for MaybeText {
            type Value = Option<Duration>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(super::EXPECTED)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::serde::deserialize(d).map(Some)
            }
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
            assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
            assert_eq!(parse("2 hours 3 min"), Ok(Duration::from_secs(7380)));
            assert_eq!(parse("0.000000001s"), Ok(Duration::from_nanos(1)));
        }

        #[test]
        fn refuses_garbage() {
            for bad in [
                "",
                "s",
                "5",
                "-5s",
                "5x",
                "1..5s",
                "1e3s",
                "1.5ns",
                "1.s",
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

#[cfg(test)]
mod ratio_tests {
    use super::Ratio;

    #[test]
    fn only_a_percentage_parses() {
        assert_eq!("25%".parse(), Ok(Ratio::percent(25.0)));
        assert_eq!(" 0.5 % ".parse(), Ok(Ratio::percent(0.5)));
        for bad in ["25", "0.25", "%", "x%", "NaN%", "inf%", "25%%"] {
            let err = bad.parse::<Ratio>().unwrap_err();
            assert!(err.contains(r#"such as "25%""#), "{bad:?}: {err}");
        }
    }

    #[test]
    fn written_percentages_read_back_exactly() {
        for percent in [0.1, 12.5, 33.3, 100.0, 1000.0] {
            let text = Ratio::percent(percent).to_string();
            assert_eq!(text.parse::<Ratio>().unwrap().as_percent(), percent);
        }
    }
}
