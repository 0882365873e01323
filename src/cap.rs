//! A cap on things in flight that never waits (injected faults, running fallbacks,
//! hedges): a counter taken under its limit, and a place that gives it back when it is
//! dropped, however the call holding it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::*};

/// At most `most` places taken at once.
#[derive(Debug)]
pub(crate) struct Cap {
    taken: AtomicU32,
    most: u32,
}

/// One place under a [`Cap`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Place(Arc<Cap>);

impl Cap {
    pub(crate) fn new(most: u32) -> Arc<Cap> {
        Arc::new(Cap {
            taken: AtomicU32::new(0),
            most,
        })
    }

    /// A place, if fewer than the most are taken.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Place> {
        self.taken
            .fetch_update(AcqRel, Acquire, |n| (n < self.most).then_some(n + 1))
            .ok()
            .map(|_| Place(self.clone()))
    }

    /// Places taken now.
    pub(crate) fn taken(&self) -> u32 {
        self.taken.load(Relaxed)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::Cap;

    #[test]
    fn places_are_taken_up_to_the_most_and_given_back_when_dropped() {
        let cap = Cap::new(2);
        let (a, b) = (cap.try_take().unwrap(), cap.try_take().unwrap());
        assert!(cap.try_take().is_none());
        drop(a);
        assert_eq!(cap.taken(), 1);
        assert!(
            cap.try_take().is_some(),
            "the dropped place is free (and dropped again)"
        );
        drop(b);
        assert_eq!(cap.taken(), 0);
    }
}
