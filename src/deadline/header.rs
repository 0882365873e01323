//! Writing and reading a remaining time budget in an HTTP header.
//!
//! Two formats: whole milliseconds (`x-request-timeout-ms: 2500`, or Envoy's
//! `x-envoy-expected-rq-timeout-ms`), and gRPC's `grpc-timeout` (`2500m`: at most 8 digits
//! and a unit `H`, `M`, `S`, `m`, `u` or `n`). Values from the network are parsed
//! strictly: anything malformed is refused, never guessed at.

use std::fmt;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// Where and how a deadline's remaining budget travels in a request.
///
/// ```
/// use seawall::deadline::DeadlineHeader;
/// use std::time::Duration;
///
/// let header = DeadlineHeader::grpc();
/// let value = header.encode(Duration::from_millis(2500));
/// assert_eq!(value, "2500000u");
/// assert_eq!(header.decode(&value), Ok(Duration::from_millis(2500)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineHeader {
    name: HeaderName,
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Millis,
    Grpc,
}

/// Why an incoming budget header was refused.
///
/// ```
/// use seawall::deadline::{BadBudget, DeadlineHeader};
/// use http::HeaderValue;
///
/// let header = DeadlineHeader::default();
/// assert_eq!(header.decode(&HeaderValue::from_static("-5")), Err(BadBudget::Malformed));
/// assert_eq!(header.decode(&HeaderValue::from_static("0")), Err(BadBudget::Zero));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadBudget {
    /// Not a number in the header's format (signs, fractions, units, junk, too long).
    Malformed,
    /// Zero: no budget at all, which a sender cannot have meant.
    Zero,
}

impl fmt::Display for BadBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadBudget::Malformed => "malformed",
            BadBudget::Zero => "zero",
        })
    }
}

impl std::error::Error for BadBudget {}

impl Default for DeadlineHeader {
    /// Milliseconds in `x-request-timeout-ms`.
    fn default() -> Self {
        DeadlineHeader::millis(HeaderName::from_static("x-request-timeout-ms"))
    }
}

impl DeadlineHeader {
    /// Whole milliseconds in the header `name`.
    ///
    /// ```
    /// use seawall::deadline::DeadlineHeader;
    /// use http::HeaderName;
    /// let envoy = DeadlineHeader::millis(HeaderName::from_static("x-envoy-expected-rq-timeout-ms"));
    /// assert_eq!(envoy.name(), "x-envoy-expected-rq-timeout-ms");
    /// ```
    pub fn millis(name: HeaderName) -> Self {
        DeadlineHeader {
            name,
            format: Format::Millis,
        }
    }

    /// gRPC's `grpc-timeout` header and format.
    ///
    /// ```
    /// use seawall::deadline::DeadlineHeader;
    /// assert_eq!(DeadlineHeader::grpc().name(), "grpc-timeout");
    /// ```
    pub fn grpc() -> Self {
        DeadlineHeader {
            name: HeaderName::from_static("grpc-timeout"),
            format: Format::Grpc,
        }
    }

    /// The header's name.
    ///
    /// ```
    /// use seawall::deadline::DeadlineHeader;
    /// assert_eq!(DeadlineHeader::default().name(), "x-request-timeout-ms");
    /// ```
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The header value for a remaining budget. Rounds down (the receiver must not
    /// believe it has more time than it has), but never below the smallest unit, and
    /// never above the largest value [`decode`](Self::decode) accepts: 19 digits of
    /// milliseconds, or `99999999H` for gRPC. So every value it writes decodes, to the
    /// budget rounded down and capped at that maximum.
    ///
    /// ```
    /// use seawall::deadline::DeadlineHeader;
    /// use std::time::Duration;
    /// let header = DeadlineHeader::default();
    /// assert_eq!(header.encode(Duration::from_micros(2_999_999)), "2999");
    /// assert_eq!(header.encode(Duration::MAX), "9999999999999999999");
    /// assert!(header.decode(&header.encode(Duration::MAX)).is_ok());
    /// ```
    pub fn encode(&self, remaining: Duration) -> HeaderValue {
        let text = match self.format {
            Format::Millis => {
                let ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
                ms.clamp(1, MILLIS_MAX_VALUE).to_string()
            }
            Format::Grpc => encode_grpc(remaining),
        };
        HeaderValue::from_str(&text).expect("digits and a unit letter are a valid header value")
    }

    /// Parses an incoming value. Saturates values too large for a [`Duration`]; the
    /// caller clamps them to its own maximum.
    ///
    /// # Errors
    ///
    /// [`BadBudget`] for anything but a well-formed positive value.
    ///
    /// ```
    /// use seawall::deadline::{BadBudget, DeadlineHeader};
    /// use http::HeaderValue;
    /// use std::time::Duration;
    ///
    /// let grpc = DeadlineHeader::grpc();
    /// assert_eq!(grpc.decode(&HeaderValue::from_static("10S")), Ok(Duration::from_secs(10)));
    /// assert_eq!(grpc.decode(&HeaderValue::from_static("123456789S")), Err(BadBudget::Malformed));
    /// ```
    pub fn decode(&self, value: &HeaderValue) -> Result<Duration, BadBudget> {
        let text = value.to_str().map_err(|_| BadBudget::Malformed)?.trim();
        let budget = match self.format {
            Format::Millis => Duration::from_millis(digits(text, MILLIS_MAX_DIGITS)?),
            Format::Grpc => decode_grpc(text)?,
        };
        if budget.is_zero() {
            Err(BadBudget::Zero)
        } else {
            Ok(budget)
        }
    }
}

/// The longest millisecond value read, and the largest written: 19 digits.
const MILLIS_MAX_DIGITS: usize = 19;
const MILLIS_MAX_VALUE: u64 = 9_999_999_999_999_999_999;

/// A run of 1..=`max` ASCII digits and nothing else, saturating on overflow.
fn digits(text: &str, max: usize) -> Result<u64, BadBudget> {
    if text.is_empty() || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadBudget::Malformed);
    }
    Ok(text.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

const GRPC_UNITS: [(char, Duration); 6] = [
    ('n', Duration::from_nanos(1)),
    ('u', Duration::from_micros(1)),
    ('m', Duration::from_millis(1)),
    ('S', Duration::from_secs(1)),
    ('M', Duration::from_secs(60)),
    ('H', Duration::from_secs(3600)),
];

/// The longest gRPC value read, and the largest written: 8 digits (gRPC's limit).
const GRPC_MAX_DIGITS: usize = 8;
const GRPC_MAX_VALUE: u128 = 99_999_999;

fn decode_grpc(text: &str) -> Result<Duration, BadBudget> {
    let unit_char = text.chars().last().ok_or(BadBudget::Malformed)?;
    let (_, unit) = GRPC_UNITS
        .iter()
        .find(|(c, _)| *c == unit_char)
        .ok_or(BadBudget::Malformed)?;
    let value = digits(&text[..text.len() - 1], GRPC_MAX_DIGITS)?;
    let value = u32::try_from(value).map_err(|_| BadBudget::Malformed)?;
    Ok(unit.saturating_mul(value))
}

/// The finest unit whose value fits in 8 digits, rounding down.
fn encode_grpc(remaining: Duration) -> String {
    for (c, unit) in GRPC_UNITS {
        let value = remaining.as_nanos() / unit.as_nanos();
        if value <= GRPC_MAX_VALUE {
            return format!("{}{c}", value.max(1));
        }
    }
    format!("{GRPC_MAX_VALUE}H")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(h: &DeadlineHeader, s: &str) -> Result<Duration, BadBudget> {
        h.decode(&HeaderValue::from_str(s).unwrap())
    }

    #[test]
    fn millis_accepts_only_plain_positive_integers() {
        let h = DeadlineHeader::default();
        assert_eq!(decode(&h, "250"), Ok(Duration::from_millis(250)));
        assert_eq!(decode(&h, " 250 "), Ok(Duration::from_millis(250)));
        for bad in ["", "-1", "+1", "1.5", "1e3", "12ms", "0x10", "abc", "１２"] {
            assert_eq!(decode(&h, bad), Err(BadBudget::Malformed), "{bad:?}");
        }
        assert_eq!(decode(&h, "0"), Err(BadBudget::Zero));
        assert_eq!(decode(&h, "00000"), Err(BadBudget::Zero));
        assert_eq!(
            decode(&h, "99999999999999999999"),
            Err(BadBudget::Malformed),
            "20 digits"
        );
        assert_eq!(
            decode(&h, "9999999999999999999"),
            Ok(Duration::from_millis(9_999_999_999_999_999_999))
        );
    }

    #[test]
    fn the_largest_values_written_have_exactly_as_many_digits_as_are_read() {
        assert_eq!(MILLIS_MAX_VALUE.to_string().len(), MILLIS_MAX_DIGITS);
        assert_eq!(GRPC_MAX_VALUE.to_string().len(), GRPC_MAX_DIGITS);
    }

    #[test]
    fn non_ascii_header_bytes_are_malformed() {
        let h = DeadlineHeader::default();
        let value = HeaderValue::from_bytes(b"12\xff").unwrap();
        assert_eq!(h.decode(&value), Err(BadBudget::Malformed));
    }

    #[test]
    fn grpc_timeout_parses_every_unit() {
        let h = DeadlineHeader::grpc();
        assert_eq!(decode(&h, "1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(decode(&h, "2M"), Ok(Duration::from_secs(120)));
        assert_eq!(decode(&h, "3S"), Ok(Duration::from_secs(3)));
        assert_eq!(decode(&h, "4m"), Ok(Duration::from_millis(4)));
        assert_eq!(decode(&h, "5u"), Ok(Duration::from_micros(5)));
        assert_eq!(decode(&h, "6n"), Ok(Duration::from_nanos(6)));
        assert_eq!(
            decode(&h, "99999999H"),
            Ok(Duration::from_secs(99_999_999 * 3600))
        );
        for bad in [
            "",
            "H",
            "10",
            "10s",
            "10 S",
            "-1S",
            "123456789S",
            "1.5S",
            "S10",
        ] {
            assert_eq!(decode(&h, bad), Err(BadBudget::Malformed), "{bad:?}");
        }
        assert_eq!(decode(&h, "0m"), Err(BadBudget::Zero));
    }

    #[test]
    fn grpc_timeout_encodes_in_the_finest_unit_that_fits() {
        let h = DeadlineHeader::grpc();
        assert_eq!(h.encode(Duration::from_nanos(500)), "500n");
        assert_eq!(h.encode(Duration::from_millis(99)), "99000000n");
        assert_eq!(h.encode(Duration::from_millis(100)), "100000u");
        assert_eq!(h.encode(Duration::from_secs(3600)), "3600000m");
        assert_eq!(h.encode(Duration::ZERO), "1n");
        assert_eq!(h.encode(Duration::MAX), "99999999H");
    }

    #[test]
    fn encoding_round_trips_within_one_unit() {
        for h in [DeadlineHeader::default(), DeadlineHeader::grpc()] {
            for ms in [1, 7, 999, 1000, 123_456, 86_400_000] {
                let d = Duration::from_millis(ms);
                let back = h.decode(&h.encode(d)).unwrap();
                assert!(
                    back <= d && d - back < Duration::from_millis(1),
                    "{h:?} {d:?} {back:?}"
                );
            }
        }
    }
}
