//! HTTP support (the `http` feature): server hints, replay of requests, the attempt
//! number as a request extension, and a classifier for transient statuses.
//!
//! ```
//! use seawall::retry::http::{HttpHint, HttpReplay, TransientStatus};
//! use seawall::retry::RetryLayer;
//!
//! let layer = RetryLayer::builder()
//!     .classifier(TransientStatus)
//!     .hints(HttpHint)
//!     .replay(HttpReplay::max_body(64 * 1024))
//!     .build()?;
//! # let _ = layer;
//! # Ok::<(), seawall::ConfigError>(())
//! ```
//!
//! Request bodies are replayed by cloning them (`String`, `Full<Bytes>`, ...) when their
//! size is known and within the cap. Streaming bodies of unknown size, and bigger ones,
//! are sent once and not retried: buffering a stream to replay it is not done here.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};
use http::{Request, Response};
use http_body::Body;

use super::hint::{Hint, RetryHint, mark_rejection, rejection_hint};
use super::replay::Replay;
use crate::rejection::AsRejected;

/// Reads `Retry-After` (delta-seconds or HTTP-date) and, failing that,
/// `grpc-retry-pushback-ms` from failed responses, and seawall rejections from errors.
///
/// Malformed values are ignored (the backoff decides); dates in the past mean "now";
/// huge values saturate, and are then beyond any [`max_hint`](super::Builder::max_hint),
/// so they stop the retries.
///
/// ```
/// use seawall::retry::{http::HttpHint, Hint, RetryHint};
/// use std::time::Duration;
///
/// let busy = http::Response::builder().status(503).header("retry-after", "3").body(()).unwrap();
/// let hint = RetryHint::<_, tower::BoxError>::hint(&HttpHint, &Ok(busy));
/// assert_eq!(hint, Hint::After(Duration::from_secs(3)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpHint;

impl<B, E: AsRejected> RetryHint<Response<B>, E> for HttpHint {
    fn hint(&self, result: &Result<Response<B>, E>) -> Hint {
        match result {
            Ok(response) => headers_hint(response.headers(), SystemTime::now()),
            Err(err) => rejection_hint(err.as_rejected()),
        }
    }

    fn mark_attempts(&self, result: &mut Result<Response<B>, E>, attempts: u32) {
        mark_rejection(result, attempts);
    }
}

fn headers_hint(headers: &HeaderMap, now: SystemTime) -> Hint {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| retry_after(v.as_bytes(), now));
    let pushback = || {
        let value = headers.get("grpc-retry-pushback-ms")?;
        grpc_pushback(value.as_bytes())
    };
    match retry_after.or_else(pushback) {
        Some(wait) => Hint::After(wait),
        None => Hint::Backoff,
    }
}

/// Parses a `Retry-After` value seen at `now`: delta-seconds (`"120"`) or an HTTP-date
/// (IMF-fixdate `"Sun, 06 Nov 1994 08:49:37 GMT"`, and the obsolete RFC 850 and asctime
/// forms). `None` for anything else; never panics.
///
/// ```
/// use seawall::retry::http::retry_after;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_717); // Sun, 06 Nov 1994 08:48:37 GMT
/// assert_eq!(retry_after(b"120", now), Some(Duration::from_secs(120)));
/// assert_eq!(retry_after(b"Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(60)));
/// assert_eq!(retry_after(b"soon", now), None);
/// ```
pub fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = value.trim_ascii();
    if let Some(seconds) = digits(value) {
        return Some(Duration::from_secs(seconds));
    }
    // All three HTTP-date forms (RFC 9110 section 5.6.7), through `httpdate`, which
    // hyper itself uses; it refuses anything that is not a real date of years 1970–9999
    // (a wrong weekday or a 60th second included).
    let at = httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A run of ASCII digits as a number, saturating instead of overflowing; `None` for
/// anything else (a sign, a space, a unicode digit, nothing at all).
fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Parses a `grpc-retry-pushback-ms` value: a non-negative number of milliseconds.
/// `None` for anything else; never panics.
///
/// ```
/// use seawall::retry::http::grpc_pushback;
/// use std::time::Duration;
/// assert_eq!(grpc_pushback(b"250"), Some(Duration::from_millis(250)));
/// assert_eq!(grpc_pushback(b"-1"), None);
/// ```
pub fn grpc_pushback(value: &[u8]) -> Option<Duration> {
    digits(value.trim_ascii()).map(Duration::from_millis)
}

/// Replays `http::Request`s whose body is `Clone` and at most `max_body` bytes (by the
/// body's size hint). Larger bodies, and bodies of unknown size, are not retried. Each
/// retried copy carries its [`Attempt`] number as an extension.
///
/// ```
/// use seawall::retry::{http::{Attempt, HttpReplay}, Replay};
///
/// let replay = HttpReplay::max_body(1024);
/// let request = http::Request::post("/orders").body(String::from("{}")).unwrap();
/// let mut copy = replay.replay(&request).unwrap();
/// replay.mark(&mut copy, 2);
/// assert_eq!(Attempt::of(&copy), 2);
/// assert_eq!(Attempt::of(&request), 1);
///
/// let big = http::Request::post("/upload").body("x".repeat(4096)).unwrap();
/// assert!(replay.replay(&big).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpReplay {
    max_body: u64,
}

impl HttpReplay {
    /// Replays requests whose body is at most `bytes` long.
    ///
    /// ```
    /// let replay = seawall::retry::http::HttpReplay::max_body(16 * 1024);
    /// # let _ = replay;
    /// ```
    pub const fn max_body(bytes: u64) -> Self {
        HttpReplay { max_body: bytes }
    }
}

impl Default for HttpReplay {
    /// Bodies up to 64 KiB.
    fn default() -> Self {
        HttpReplay::max_body(64 * 1024)
    }
}

impl<B: Body + Clone> Replay<Request<B>> for HttpReplay {
    fn replay(&self, req: &Request<B>) -> Option<Request<B>> {
        if req.body().size_hint().upper()? > self.max_body {
            return None;
        }
        let mut copy = Request::new(req.body().clone());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }

    fn mark(&self, req: &mut Request<B>, attempt: u32) {
        req.extensions_mut().insert(Attempt(attempt));
    }
}

/// The attempt number of a retried `http::Request` (2 for the first retry), set as an
/// extension by [`HttpReplay`]. First attempts carry none.
///
/// ```
/// use seawall::retry::http::Attempt;
/// let request = http::Request::new(());
/// assert_eq!(Attempt::of(&request), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attempt(u32);

impl Attempt {
    /// The attempt number a request carries: 1 if it carries none.
    ///
    /// ```
    /// # use seawall::retry::http::Attempt;
    /// assert_eq!(Attempt::of(&http::Request::new("body")), 1);
    /// ```
    pub fn of<B>(req: &Request<B>) -> u32 {
        req.extensions().get::<Attempt>().map_or(1, |a| a.0)
    }

    /// The attempt number.
    ///
    /// ```
    /// # use seawall::retry::http::Attempt;
    /// let request = http::Request::new(());
    /// assert_eq!(request.extensions().get::<Attempt>().map(|a| a.number()), None);
    /// ```
    pub fn number(self) -> u32 {
        self.0
    }
}

pub use crate::classify::http::TransientStatus;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Sun, 06 Nov 1994 08:49:37 GMT
    const RFC_EXAMPLE: u64 = 784_111_777;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn all_three_date_forms_name_the_same_instant() {
        let now = at(RFC_EXAMPLE - 30);
        let thirty = Some(Duration::from_secs(30));
        assert_eq!(retry_after(b"Sun, 06 Nov 1994 08:49:37 GMT", now), thirty);
        assert_eq!(retry_after(b"Sunday, 06-Nov-94 08:49:37 GMT", now), thirty);
        assert_eq!(retry_after(b"Sun Nov  6 08:49:37 1994", now), thirty);
    }

    #[test]
    fn dates_across_leap_years_and_centuries_are_exact() {
        let after = |date: &[u8]| retry_after(date, at(0)).map(|d| d.as_secs());
        assert_eq!(after(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(after(b"Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
        assert_eq!(after(b"Fri, 31 Dec 2100 23:59:59 GMT"), Some(4_133_980_799));
        assert_eq!(after(b"Mon, 29 Feb 2100 00:00:00 GMT"), None);
    }

    #[test]
    fn a_date_in_the_past_means_now() {
        let hint = retry_after(b"Sun, 06 Nov 1994 08:49:37 GMT", at(RFC_EXAMPLE + 3600));
        assert_eq!(hint, Some(Duration::ZERO));
        // Before 1970 no HTTP-date is valid (`httpdate` refuses it): no hint.
        assert_eq!(retry_after(b"Mon, 01 Jan 1900 00:00:00 GMT", at(0)), None);
    }

    #[test]
    fn delta_seconds_allow_surrounding_whitespace_and_saturate_when_huge() {
        assert_eq!(retry_after(b" 7 ", at(0)), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(b"0", at(0)), Some(Duration::ZERO));
        let huge = retry_after(b"99999999999999999999999999", at(0));
        assert_eq!(huge, Some(Duration::from_secs(u64::MAX)));
    }

    #[test]
    fn garbage_is_no_hint() {
        let garbage: [&[u8]; 14] = [
            b"",
            b"   ",
            b"-5",
            b"+5",
            b"1.5",
            b"5s",
            b"\xff\xfe",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 32 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Foo 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nov 1994 8:49:37 GMT",
            b"Sun, 06 Nov 99999 08:49:37 GMT",
            b"Sun Nov  6 08:49:37",
        ];
        for value in garbage {
            assert_eq!(retry_after(value, at(RFC_EXAMPLE)), None, "{value:?}");
        }
        assert_eq!(grpc_pushback(b"-100"), None);
        assert_eq!(grpc_pushback(b"ten"), None);
    }

    #[test]
    fn retry_after_wins_over_grpc_pushback() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-retry-pushback-ms", "1500".parse().unwrap());
        assert_eq!(
            headers_hint(&headers, at(0)),
            Hint::After(Duration::from_millis(1500))
        );
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            headers_hint(&headers, at(0)),
            Hint::After(Duration::from_secs(2))
        );
        headers.insert(RETRY_AFTER, "garbage".parse().unwrap());
        assert_eq!(
            headers_hint(&headers, at(0)),
            Hint::After(Duration::from_millis(1500))
        );
        assert_eq!(headers_hint(&HeaderMap::new(), at(0)), Hint::Backoff);
    }

    #[test]
    fn a_replayed_request_keeps_method_uri_headers_and_extensions() {
        let mut request = Request::put("http://a/b?c")
            .header("x-id", "7")
            .body(String::from("hi"))
            .unwrap();
        request.extensions_mut().insert(5_u8);
        let copy = HttpReplay::default().replay(&request).unwrap();
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.uri(), request.uri());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.extensions().get::<u8>(), Some(&5));
        assert_eq!(copy.body(), "hi");
    }
}
