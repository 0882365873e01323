//! Human-readable durations in files (feature `serde`): `"250ms"`, `"30s"`, `"1h 30m"`,
//! `"1.5s"`.
//!
//! Parsing is [`humantime`]'s, in integer arithmetic: decimals are exact down to the
//! nanosecond (`"123456789.123456789s"` is `Duration::new(123456789, 123456789)`), and
//! a finer fraction is refused rather than rounded. Units: `ns`, `us` (or `µs`), `ms`,
//! `s`, `m`, `h`, `d`, `w`, and their long forms (`sec`, `min`, `hours`, ...); also `M`
//! (months of 30.44 days) and `y` (years of 365.25 days). Several parts add up, with or
//! without spaces between them. A number without a unit, a sign, or anything else is
//! refused, with a message that shows the accepted form: no unit is ever guessed.
//!
//! ```
//! use seawall::config::human;
//! use std::time::Duration;
//!
//! assert_eq!(human::parse("1h 30m"), Ok(Duration::from_secs(5400)));
//! assert_eq!(human::parse("1.5s"), Ok(Duration::from_millis(1500)));
//! assert!(human::parse("30").unwrap_err().contains(r#"such as "250ms""#));
//! assert_eq!(human::format(Duration::from_millis(250)), "250ms");
//! ```

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
