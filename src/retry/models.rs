//! Model checks of the retry budgets (`RUSTFLAGS="--cfg seawall_loom" cargo test --lib
//! models`).
//!
//! Invariants: concurrent retries never take more than was deposited, and a retry given
//! back comes back exactly once; the reserve never lets more through at once than its
//! rate; gRPC's token bucket never leaves `0..=max` however failures and successes race.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;

use super::budget::{Budget, TokenThrottling, Window};
use crate::classify::Outcome;
use crate::sync::check;

/// Withdraws every retry left, counting them.
fn drain(budget: &Budget) -> usize {
    std::iter::from_fn(|| budget.try_withdraw()).count()
}

/// Two requests at 100 % deposit two retries; three callers race for them, one giving
/// its retry back: at most two are taken, and the given-back one returns exactly once.
#[test]
fn deposits_are_never_taken_twice_and_a_refund_comes_back_once() {
    check(|| {
        let budget = Arc::new(Budget::Window(Window::new(
            Duration::from_secs(10),
            0,
            100.0,
        )));
        budget.add_requests(2);
        let kept = three_callers(&budget);
        assert_eq!(kept + drain(&budget), 2, "retries lost or taken twice");
    });
}

/// With no deposits, the reserve of two a second serves three racing callers, one giving
/// its retry back: never more than two go out.
#[test]
fn the_reserve_lets_no_more_through_at_once_than_its_rate() {
    check(|| {
        let budget = Arc::new(Budget::Window(Window::new(Duration::from_secs(10), 2, 0.0)));
        let kept = three_callers(&budget);
        // The reserve reads the real clock (loom cannot fix it), and a caller whose reading
        // is a few nanoseconds older than another's take may be refused at the edge of the
        // burst: this model holds only the upper bound.
        let total = kept + drain(&budget);
        assert!(
            (1..=2).contains(&total),
            "{total} retries from a reserve of two"
        );
    });
}

/// Two failures race from a full bucket of two tokens, then one success and two racing
/// successes at one token each: the bucket empties exactly, refills exactly, and never
/// above its maximum.
#[test]
fn the_token_bucket_stays_within_zero_and_its_maximum() {
    check(|| {
        let budget = Arc::new(Budget::Throttle(TokenThrottling::new(2, 1.0)));
        race(&budget, Outcome::Failure);
        // One success refills one token: from empty that is half, no retry; had one
        // failure been lost it would be full.
        budget.on_outcome(Outcome::Success);
        assert!(budget.try_withdraw().is_none(), "a failure was lost");
        race(&budget, Outcome::Success);
        assert!(budget.try_withdraw().is_some(), "full again: retries");
        budget.on_outcome(Outcome::Failure);
        assert!(
            budget.try_withdraw().is_none(),
            "one below full: half, no retry"
        );
    });
}

/// Three callers race for a retry each, one giving its retry back: the retries kept.
fn three_callers(budget: &Arc<Budget>) -> usize {
    let refunder = {
        let budget = budget.clone();
        thread::spawn(move || {
            if let Some(retry) = budget.try_withdraw() {
                budget.refund(retry);
            }
        })
    };
    let keeper = {
        let budget = budget.clone();
        thread::spawn(move || usize::from(budget.try_withdraw().is_some()))
    };
    let mine = usize::from(budget.try_withdraw().is_some());
    refunder.join().unwrap();
    mine + keeper.join().unwrap()
}

/// Records `outcome` from two threads at once.
fn race(budget: &Arc<Budget>, outcome: Outcome) {
    let other = {
        let budget = budget.clone();
        thread::spawn(move || budget.on_outcome(outcome))
    };
    budget.on_outcome(outcome);
    other.join().unwrap();
}
