//! gRPC's retry throttling (gRFC A6): a token bucket that failures drain and successes
//! refill.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

use crate::classify::Outcome;

/// gRPC retry throttling: a bucket of `max` tokens, kept in thousandths.
#[derive(Debug)]
pub(crate) struct TokenThrottling {
    max: u64,
    ratio: u64,
    tokens: AtomicU64,
}

impl TokenThrottling {
    pub(crate) fn new(max_tokens: u32, token_ratio: f64) -> Self {
        let max = u64::from(max_tokens) * 1000;
        TokenThrottling {
            max,
            ratio: (token_ratio * 1000.0).floor() as u64,
            tokens: AtomicU64::new(max),
        }
    }

    #[inline]
    pub(super) fn record(&self, outcome: Outcome) {
        let change = |tokens: u64| match outcome {
            Outcome::Success if tokens < self.max => Some((tokens + self.ratio).min(self.max)),
            Outcome::Failure if tokens > 0 => Some(tokens.saturating_sub(1000)),
            _ => None,
        };
        // A full bucket on success (the common case) is one load.
        let _ = self.tokens.fetch_update(AcqRel, Acquire, change);
    }

    pub(super) fn allows_retry(&self) -> bool {
        self.tokens.load(Acquire) > self.max / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_allows_retries_while_more_than_half_full() {
        let throttle = TokenThrottling::new(10, 0.5);
        for _ in 0..4 {
            throttle.record(Outcome::Failure);
        }
        assert!(throttle.allows_retry(), "6 of 10 tokens");
        throttle.record(Outcome::Failure);
        assert!(
            !throttle.allows_retry(),
            "5 of 10 tokens is not more than half"
        );
        throttle.record(Outcome::Success);
        assert!(throttle.allows_retry(), "5.5 of 10 tokens");
    }

    #[test]
    fn the_throttle_stays_within_zero_and_its_maximum() {
        let throttle = TokenThrottling::new(3, 0.1);
        for _ in 0..10 {
            throttle.record(Outcome::Failure);
        }
        assert_eq!(throttle.tokens.load(Acquire), 0);
        for _ in 0..100 {
            throttle.record(Outcome::Success);
        }
        assert_eq!(throttle.tokens.load(Acquire), 3000);
        throttle.record(Outcome::Ignored);
        assert_eq!(throttle.tokens.load(Acquire), 3000);
    }
}
