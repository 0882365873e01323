//! Shares with their unit: a fraction or a percentage, never confused.

use std::fmt;

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

#[cfg(test)]
mod tests {
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
