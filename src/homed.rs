//! A reference-counted value with one count per thread, so that a service cloned on
//! every call allocates nothing and long-lived services on different threads do not
//! contend.
//!
//! A call's future often keeps a layer's shared state alive, so each call adds one to a
//! reference count and takes one off when it ends. Tasks on two threads sharing one
//! count fight over its cache line on every call (measured with the breaker: 137 M
//! calls/s for two tasks on two workers with one count per thread, 14 M/s with one count
//! for both). Giving each *clone* its own count avoids that, but then a service cloned
//! on every call (a retry clones the service below it for each call; a server handler
//! clones its client) allocates on every call.
//!
//! So a [`Homed`] value has a *home* thread. [`Homed::share`] (for a clone, or for a
//! call's future) shares the count and allocates nothing. [`Homed::come_home`], called
//! before each call, gives a holder that makes its *second* call away from its count's
//! thread a count of its own homed on the calling thread: one small allocation, once,
//! for a service that lives on another thread. A clone made for a single call (a
//! handler's clone of a client built on the main thread) makes one call and is dropped:
//! it shares its original's count, as any `Arc`-based layer does, and never allocates.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A thread's number, given out on first use (never zero).
#[inline]
pub(crate) fn this_thread() -> u32 {
    thread_local! {
        static NUMBER: Cell<u32> = const { Cell::new(0) };
    }
    NUMBER.with(|number| match number.get() {
        0 => {
            static NEXT: AtomicU32 = AtomicU32::new(1);
            // Wraps only after four billion threads; a number given twice shares a
            // count between two threads, which costs speed, never correctness.
            let next = NEXT.fetch_add(1, Relaxed).max(1);
            number.set(next);
            next
        }
        known => known,
    })
}

#[derive(Debug)]
struct Inner<T> {
    value: T,
    home: u32,
}

/// A shared `T` whose reference count serves one thread (see the module's docs).
#[derive(Debug)]
pub(crate) struct Homed<T> {
    inner: Arc<Inner<T>>,
    /// Whether this holder already made a call away from its count's thread.
    away: bool,
}

impl<T> Homed<T> {
    /// `value`, with a count homed on this thread.
    pub(crate) fn new(value: T) -> Self {
        Homed {
            inner: Arc::new(Inner {
                value,
                home: this_thread(),
            }),
            away: false,
        }
    }

    /// The value.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        &self.inner.value
    }

    /// The same value sharing this count: no allocation.
    #[inline]
    pub(crate) fn share(&self) -> Self {
        Homed {
            inner: self.inner.clone(),
            away: false,
        }
    }

    /// Before a call: on this holder's second call away from its count's thread, copies
    /// the value into a count of its own homed on the calling thread.
    #[inline]
    pub(crate) fn come_home(&mut self)
    where
        T: Clone,
    {
        if self.inner.home != this_thread() {
            self.away_call();
        }
    }

    #[cold]
    #[inline(never)]
    fn away_call(&mut self)
    where
        T: Clone,
    {
        if self.away {
            *self = Homed::new(self.inner.value.clone());
        } else {
            self.away = true;
        }
    }
}

/// A shared `T`: reference-counted, or never freed (no count to touch).
#[derive(Debug)]
pub(crate) enum Anchor<T: 'static> {
    Counted(Arc<T>),
    Static(&'static T),
}

impl<T> Anchor<T> {
    /// `value`, reference-counted.
    pub(crate) fn new(value: T) -> Self {
        Anchor::Counted(Arc::new(value))
    }

    /// Makes this value never freed: later clones touch no count.
    pub(crate) fn leak(self) -> Self {
        match self {
            // The other clones keep their counts (and the value stays alive through
            // them too); only this one and its future clones are static.
            Anchor::Counted(arc) => {
                let kept: &'static Arc<T> = Box::leak(Box::new(arc));
                Anchor::Static(&**kept)
            }
            Anchor::Static(value) => Anchor::Static(value),
        }
    }
}

impl<T> Clone for Anchor<T> {
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Anchor::Counted(arc) => Anchor::Counted(arc.clone()),
            Anchor::Static(value) => Anchor::Static(value),
        }
    }
}

impl<T> std::ops::Deref for Anchor<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match self {
            Anchor::Counted(arc) => arc,
            Anchor::Static(value) => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count<T>(homed: &Homed<T>) -> usize {
        Arc::strong_count(&homed.inner)
    }

    fn same<T>(a: &Homed<T>, b: &Homed<T>) -> bool {
        std::ptr::eq(a.get(), b.get())
    }

    #[test]
    fn a_leaked_anchor_is_shared_without_a_count() {
        let counted = Anchor::new(5_u32);
        let leaked = counted.clone().leak();
        assert!(matches!(leaked.clone(), Anchor::Static(5)));
        if let Anchor::Counted(arc) = &counted {
            // The leaked one keeps its own count forever; its clones add none.
            assert_eq!(Arc::strong_count(arc), 2);
        }
    }

    #[test]
    fn sharing_keeps_the_count_and_coming_home_on_its_thread_changes_nothing() {
        let mut a = Homed::new(7);
        let b = a.share();
        a.come_home();
        assert_eq!(count(&a), 2);
        assert!(same(&a, &b));
    }

    #[test]
    fn a_holder_calling_twice_from_another_thread_gets_a_count_homed_there() {
        let a = Homed::new(String::from("engine"));
        let keep = a.share();
        let moved = std::thread::spawn(move || {
            let mut a = a;
            a.come_home(); // the first call away: still the original's count
            assert_eq!(count(&a), 2);
            a.come_home(); // the second: a count of its own, here
            assert_eq!(count(&a), 1);
            let again = a.share();
            let mut b = a;
            b.come_home(); // at home: no new count
            assert!(same(&b, &again));
            b
        })
        .join()
        .unwrap();
        assert!(!same(&moved, &keep));
        assert_eq!(moved.get(), "engine");
        assert_eq!(count(&keep), 1);
    }

    #[test]
    fn a_share_made_for_one_call_away_never_gets_a_count_of_its_own() {
        let root = Homed::new(7_u64);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..3 {
                    let mut one_call = root.share();
                    one_call.come_home();
                    assert_eq!(count(&one_call), 2);
                }
            });
        });
    }
}
