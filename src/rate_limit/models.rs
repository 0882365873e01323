//! Model checks of the GCRA word (`RUSTFLAGS="--cfg seawall_loom" cargo test --lib
//! models`).
//!
//! Invariants: never more calls admitted at one instant than the burst; a reservation
//! given back while others are taken never lets a slot be issued twice.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;

use super::gcra::Gcra;
use crate::sync::check;
use crate::time::Stopwatch;

const MS: u64 = 1_000_000;

/// Three callers at one instant against a burst of two: exactly two go.
#[test]
fn no_more_are_admitted_at_once_than_the_burst() {
    check(|| {
        let gcra = Arc::new(Gcra::new(1, Duration::from_secs(1), 2, Stopwatch::tokio()));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let gcra = gcra.clone();
                thread::spawn(move || gcra.acquire(0, 0).is_ok())
            })
            .collect();
        let mut admitted = usize::from(gcra.acquire(0, 0).is_ok());
        for caller in callers {
            admitted += usize::from(caller.join().unwrap());
        }
        assert_eq!(admitted, 2);
    });
}

/// With the burst spent, one caller reserves a slot and gives it back while two others
/// reserve theirs: the kept reservations have slots of their own, and the next caller's
/// slot comes after all of them.
#[test]
fn a_reservation_given_back_never_lets_a_slot_be_issued_twice() {
    check(|| {
        let gcra = Arc::new(Gcra::new(10, Duration::from_secs(1), 1, Stopwatch::tokio()));
        gcra.acquire(0, 0).expect("the burst");
        let quitter = {
            let gcra = gcra.clone();
            thread::spawn(move || {
                let slot = gcra.acquire(0, u64::MAX).expect("a reservation");
                gcra.refund(slot);
            })
        };
        let keeper = {
            let gcra = gcra.clone();
            thread::spawn(move || gcra.acquire(0, u64::MAX).expect("a reservation").wait_ns)
        };
        let mine = gcra.acquire(0, u64::MAX).expect("a reservation").wait_ns;
        quitter.join().unwrap();
        let theirs = keeper.join().unwrap();
        assert_ne!(mine, theirs, "one slot issued twice");
        let next = gcra.acquire(0, u64::MAX).expect("a reservation").wait_ns;
        assert!(next > mine.max(theirs), "the next slot overlaps a kept one");
        assert!(next <= 400 * MS, "at most the given-back slot is lost");
    });
}
