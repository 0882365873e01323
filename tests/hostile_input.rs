//! Hostile input: every parser of a value that comes from the network, and the
//! configuration files, fed random bytes and a corpus of nasty values. Never a panic;
//! values clamped; a bad setting's error names its field. Seeded, so runs repeat.
#![cfg(all(feature = "http", feature = "serde"))]

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use seawall::deadline::DeadlineHeader;
use seawall::retry::http::{grpc_pushback, retry_after};

/// Values that break naive parsers.
fn nasty() -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = [
        "",
        " ",
        "0",
        "-1",
        "+5",
        "1.5",
        "1e9",
        "NaN",
        "inf",
        "-0",
        "0x10",
        "１２３",
        "٣",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "120 garbage",
        "120\0",
        "\u{200b}120",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT trailing",
        "Sun, 99 Nov 1994 08:49:37 GMT",
        "Mon, 31 Feb 2025 25:61:61 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "99999999H",
        "1n",
        "100000000S",
        "5m",
        "m",
        "1234567890123456789u",
        "-5S",
        " 5S",
        "5S ",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    corpus.push(vec![b'9'; 10_000]);
    corpus.push(vec![0xff, 0xfe, b'1']);
    corpus
}

/// Up to 40 bytes, each one of `alphabet`.
fn bytes_from(alphabet: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::sample::select(alphabet), 0..=40)
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        bytes_from(b"0123456789"),
        bytes_from(b" 0123456789abcxyzABCXYZ,:-+."),
        proptest::sample::select(nasty()),
    ]
}

/// Every header value the deadline decoders read: within the header's maximum, or an
/// error; the grpc form also through its own decoder.
fn check_deadline(bytes: &[u8]) {
    let Ok(value) = http::HeaderValue::from_bytes(bytes) else {
        return; // not a header value: the HTTP stack refuses it before us
    };
    let millis_max = Duration::from_millis(9_999_999_999_999_999_999); // 19 digits
    let grpc_max = Duration::from_secs(99_999_999 * 3600); // 8 digits of hours
    for (header, max) in [
        (DeadlineHeader::default(), millis_max),
        (DeadlineHeader::grpc(), grpc_max),
    ] {
        if let Ok(budget) = header.decode(&value) {
            assert!(budget <= max, "{budget:?} above {max:?}");
        }
    }
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 4096,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EA_0A11),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn retry_after_reads_delta_seconds_or_a_date_and_nothing_else(bytes in any_bytes()) {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parsed = retry_after(&bytes, now);
        let text = std::str::from_utf8(&bytes).unwrap_or("").trim_ascii();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // Delta-seconds, saturating rather than wrapping.
            let want = text.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(parsed, Some(Duration::from_secs(want)));
        } else if text.bytes().any(|b| b.is_ascii_digit()) && !text.contains(' ') {
            // Not delta-seconds and no date's shape: refused.
            prop_assert_eq!(parsed, None, "{:?}", text);
        }
    }

    #[test]
    fn grpc_pushback_reads_plain_millis_and_nothing_else(bytes in any_bytes()) {
        let parsed = grpc_pushback(&bytes);
        let text = std::str::from_utf8(&bytes).unwrap_or("\u{0}").trim_ascii();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let want = text.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(parsed, Some(Duration::from_millis(want)));
        } else {
            prop_assert_eq!(parsed, None, "{:?}", text);
        }
    }

    #[test]
    fn deadline_headers_decode_within_their_maximum_or_refuse(bytes in any_bytes()) {
        check_deadline(&bytes);
    }

    /// Random settings files: parsed or refused, and a parsed one builds or names the
    /// field it refuses.
    #[test]
    fn random_settings_files_build_or_name_the_field(
        entries in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "failure_rate_threshold", "slow_call_rate_threshold", "minimum_calls",
                    "open_duration", "open_jitter", "half_open_calls", "max_wait_in_half_open",
                    "open_backoff_decay", "slow_call_duration", "seed", "bogus",
                ]),
                proptest::sample::select(vec![
                    "\"50%\"", "\"-5%\"", "\"1000%\"", "\"NaN%\"", "\"1s\"", "\"0s\"",
                    "\"1000000000d\"", "\"1.5s\"", "\"soon\"", "0", "-1", "1e400",
                    "18446744073709551616", "\"\"", "true", "[]", "{}",
                ]),
            ),
            0..6,
        )
    ) {
        use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};
        let mut file = String::new();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in entries {
            if seen.insert(key) {
                file.push_str(&format!("{key} = {value}\n"));
            }
        }
        if let Ok(parsed) = toml::from_str::<CircuitBreakerOverrides>(&file)
            && let Err(error) = CircuitBreakerLayer::builder().with_config(&parsed).build()
        {
            let text = error.to_string();
            prop_assert!(text.starts_with("circuit_breaker."), "{}", text);
            prop_assert!(text.contains(" is outside "), "{}", text);
        }
    }
}

#[test]
fn the_nasty_corpus_never_panics_any_parser() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for value in nasty() {
        let _ = retry_after(&value, now);
        let _ = grpc_pushback(&value);
        check_deadline(&value);
    }
    assert_eq!(
        retry_after(&[b'9'; 10_000], now),
        Some(Duration::from_secs(u64::MAX))
    );
    assert_eq!(
        retry_after("１２３".as_bytes(), now),
        None,
        "unicode digits are not digits"
    );
}
