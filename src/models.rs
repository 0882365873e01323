//! Model checks of the core's semaphore (`RUSTFLAGS="--cfg seawall_loom" cargo test --lib
//! models`): loom runs each model under every interleaving of its threads.
//!
//! Invariants: no two callers hold the one permit at once; a waiter that gives up while
//! its permit is granted loses nothing; moving the limit strands no waiter and the last
//! limit holds; at the end every permit and queue place is back.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::AtomicUsize;
use loom::thread;

use crate::homed::Anchor;
use crate::semaphore::{Joined, Permit, Semaphore, Waiting};
use crate::sync::check;
use crate::telemetry::Meter;

fn semaphore(limit: u32) -> Anchor<Semaphore> {
    Anchor::new(Semaphore::new(
        limit,
        Meter::new("model", &Arc::from("model")),
    ))
}

/// A permit, waiting in the queue for it.
fn acquire(semaphore: &Anchor<Semaphore>) -> Permit {
    match Waiting::join(semaphore, 8) {
        Joined::Permit(permit) => permit,
        Joined::Waiting(waiting) => wait(waiting),
        Joined::Full => panic!("the queue holds eight"),
    }
}

/// The permit of a place in the queue, once granted (spinning politely, as loom requires).
fn wait(mut waiting: Waiting) -> Permit {
    loop {
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(permit) = waiting.poll_permit(&mut cx) {
            return permit;
        }
        thread::yield_now();
    }
}

/// Holds `permit` while checking that nobody else holds one beyond `limit`.
fn hold(permit: Permit, holding: &AtomicUsize, limit: usize) {
    let before = holding.fetch_add(1, SeqCst);
    assert!(
        before < limit,
        "{} callers hold {limit} permits",
        before + 1
    );
    holding.fetch_sub(1, SeqCst);
    drop(permit);
}

fn all_back(semaphore: &Semaphore) {
    assert_eq!(
        (semaphore.in_flight(), semaphore.queued()),
        (0, 0),
        "a permit or a queue place was lost"
    );
}

/// A caller that waits and one that only tries race for one permit while its holder
/// gives it back: one holder at a time, and everything back at the end.
#[test]
fn one_permit_is_held_by_one_caller_at_a_time_and_comes_back() {
    check(|| {
        let s = semaphore(1);
        let holding = Arc::new(AtomicUsize::new(1));
        let held = Permit::try_acquire(&s).expect("a free permit");
        let waiter = {
            let (s, holding) = (s.clone(), holding.clone());
            thread::spawn(move || hold(acquire(&s), &holding, 1))
        };
        let trier = {
            let (s, holding) = (s.clone(), holding.clone());
            thread::spawn(move || {
                if let Some(permit) = Permit::try_acquire(&s) {
                    hold(permit, &holding, 1);
                }
            })
        };
        holding.fetch_sub(1, SeqCst);
        drop(held);
        waiter.join().unwrap();
        trier.join().unwrap();
        all_back(&s);
    });
}

/// A waiter gives up while the holder's release grants it the permit: the permit ends up
/// free either way, never lost and never counted twice.
#[test]
fn a_waiter_giving_up_as_its_permit_is_granted_loses_nothing() {
    check(|| {
        let s = semaphore(1);
        let held = Permit::try_acquire(&s).expect("a free permit");
        let Joined::Waiting(waiting) = Waiting::join(&s, 8) else {
            panic!("the caller should queue")
        };
        let releaser = thread::spawn(move || drop(held));
        let quitter = thread::spawn(move || drop(waiting));
        releaser.join().unwrap();
        quitter.join().unwrap();
        all_back(&s);
        assert!(Permit::try_acquire(&s).is_some(), "the permit is free");
    });
}

/// The limit is raised and lowered while a caller waits and the holder releases: the
/// waiter is served (none stranded), and the lowered limit holds at the end.
#[test]
fn moving_the_limit_strands_no_waiter_and_the_last_limit_holds() {
    check(|| {
        let s = semaphore(1);
        let holding = Arc::new(AtomicUsize::new(1));
        let held = Permit::try_acquire(&s).expect("a free permit");
        let Joined::Waiting(waiting) = Waiting::join(&s, 8) else {
            panic!("the caller should queue")
        };
        let mover = {
            let s = s.clone();
            thread::spawn(move || {
                s.set_limit(2);
                s.set_limit(1);
            })
        };
        let waiter = {
            let holding = holding.clone();
            thread::spawn(move || hold(wait(waiting), &holding, 2))
        };
        holding.fetch_sub(1, SeqCst);
        drop(held);
        mover.join().unwrap();
        waiter.join().unwrap();
        all_back(&s);
        let first = Permit::try_acquire(&s);
        assert!(first.is_some() && Permit::try_acquire(&s).is_none());
    });
}
