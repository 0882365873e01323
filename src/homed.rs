//! A reference-counted value with one count per thread, so that a service cloned on
//! every call allocates nothing and tasks on different threads do not contend.
//!
//! A call's future often keeps a layer's shared state alive, so each call adds one to a
//! reference count and takes one off when it ends. Tasks on two threads sharing one
//! count fight over its cache line on every call (measured with the breaker: 137 M
//! calls/s for two tasks on two workers with one count per thread, 14 M/s with one count
//! for both). Giving each *clone* its own count avoids that, but then a service cloned
//! on every call (a retry clones the service below it for each call; a server handler
//! clones its client) allocates on every call.
//!
//! So a [`Homed`] value has a *home* thread: [`Homed::share`] (for a clone, or for a
//! call's future) shares the count and allocates nothing, and [`Homed::come_home`],
//! called before a call, gives the value a count of its own homed on the calling thread
//! if it is not already there — a cold path, one small allocation when a service first
//! calls from a thread other than its count's.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A thread's number, given out on first use (never zero).
#[inline]
fn this_thread() -> u32 {
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
pub(crate) struct Homed<T>(Arc<Inner<T>>);

impl<T> Homed<T> {
    /// `value`, with a count homed on this thread.
    pub(crate) fn new(value: T) -> Self {
        Homed(Arc::new(Inner {
            value,
            home: this_thread(),
        }))
    }

    /// The value.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        &self.0.value
    }

    /// The same value sharing this count: no allocation.
    #[inline]
    pub(crate) fn share(&self) -> Self {
        Homed(self.0.clone())
    }

    /// Before a call: makes sure this count is homed on the calling thread, copying the
    /// value into a count of its own if not.
    #[inline]
    pub(crate) fn come_home(&mut self)
    where
        T: Clone,
    {
        if self.0.home != this_thread() {
            self.move_home();
        }
    }

    #[cold]
    #[inline(never)]
    fn move_home(&mut self)
    where
        T: Clone,
    {
        *self = Homed::new(self.0.value.clone());
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

    fn count<T>(homed: &Homed<T>) -> Option<usize> {
        Some(Arc::strong_count(&homed.0))
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
        assert_eq!(count(&a), Some(2));
        assert!(same(&a, &b));
    }

    #[test]
    fn a_value_called_from_another_thread_gets_a_count_homed_there() {
        let a = Homed::new(String::from("engine"));
        let keep = a.share();
        let moved = std::thread::spawn(move || {
            let mut a = a;
            a.come_home();
            let again = a.share();
            let mut b = a;
            b.come_home(); // already home: no new count
            assert!(same(&b, &again));
            b
        })
        .join()
        .unwrap();
        assert!(!same(&moved, &keep));
        assert_eq!(moved.get(), "engine");
        assert_eq!(count(&keep), Some(1));
    }
}
