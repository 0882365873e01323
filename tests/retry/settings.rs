//! Settings: out-of-range values are named by field.

use std::time::Duration;

use seawall::retry::{Jitter, RetryLayer};

use crate::MS;

#[test]
fn out_of_range_settings_are_named_in_the_error() {
    let cases = [
        (
            RetryLayer::builder().max_attempts(101).build(),
            "retry.max_attempts",
        ),
        (
            RetryLayer::builder().exponential(MS, 0.0, MS * 10).build(),
            "retry.backoff.multiplier",
        ),
        (
            RetryLayer::builder().exponential(MS * 10, 2.0, MS).build(),
            "retry.backoff.max",
        ),
        (
            RetryLayer::builder()
                .jitter(Jitter::Proportional(1.0))
                .build(),
            "retry.jitter",
        ),
        (
            RetryLayer::builder()
                .budget(Duration::from_secs(10), 10, seawall::Ratio::percent(1000.5))
                .build(),
            "retry.budget.percent",
        ),
        (
            RetryLayer::builder()
                .budget(Duration::ZERO, 10, seawall::Ratio::percent(20.0))
                .build(),
            "retry.budget.ttl",
        ),
        (
            RetryLayer::builder().throttle(0, 0.1).build(),
            "retry.throttle.max_tokens",
        ),
        (
            RetryLayer::builder().throttle(10, f64::NAN).build(),
            "retry.throttle.token_ratio",
        ),
        (
            RetryLayer::builder().max_elapsed(Duration::ZERO).build(),
            "retry.max_elapsed",
        ),
    ];
    for (result, field) in cases {
        assert_eq!(result.unwrap_err().field(), field);
    }
}
