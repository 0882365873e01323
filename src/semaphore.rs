//! A counting semaphore with a movable limit and a FIFO wait queue, shared by the
//! bulkhead and the adaptive concurrency limiter.
//!
//! The whole count lives in one atomic word, `limit | in_flight | queued` (21 bits each):
//!
//! * taking a free permit is one compare-and-swap, allowed only while nobody queues, so
//!   that a newcomer never overtakes a waiter;
//! * giving one back is one `fetch_sub`; only when the word says someone queues does the
//!   releaser take the queue's lock and hand permits to the head of the queue.
//!
//! `queued` changes only under the queue's lock, so the lock-holder sees the queue and the
//! word agree. Waiters hold a ticket; a ticket no longer in the queue was granted a
//! permit, which its holder then owns.
//!
//! Why not `tokio::sync::Semaphore`: it can forget only free permits, so lowering the limit
//! below the calls running (the adaptive limiter moves it on every latency change) would
//! need a debt of permits kept beside it; its queue has no bound (a bulkhead refuses past
//! `max_queued`, and says how many wait); and the limit, the calls running and the
//! callers waiting cannot be read as one consistent word for the gauges. The loom models
//! in `src/models.rs` check this one.

use crate::homed::Anchor;
use crate::sync::{AtomicU64, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::Ordering::*;
use std::task::{Context, Poll, Waker};

use crate::telemetry::{Levels, Meter};

const BITS: u32 = 21;
const MASK: u64 = (1 << BITS) - 1;
const IN_FLIGHT_SHIFT: u32 = BITS;
const LIMIT_SHIFT: u32 = 2 * BITS;
const ONE_QUEUED: u64 = 1;
const ONE_IN_FLIGHT: u64 = 1 << IN_FLIGHT_SHIFT;

/// The largest limit, and the largest number of running or queued callers.
pub(crate) const MAX_PERMITS: u32 = MASK as u32;

fn queued(word: u64) -> u32 {
    (word & MASK) as u32
}

fn in_flight(word: u64) -> u32 {
    ((word >> IN_FLIGHT_SHIFT) & MASK) as u32
}

fn limit(word: u64) -> u32 {
    (word >> LIMIT_SHIFT) as u32
}

#[derive(Debug)]
pub(crate) struct Semaphore {
    word: AtomicU64,
    queue: Mutex<Queue>,
    meter: Meter,
    levels: Levels,
}

#[derive(Debug, Default)]
struct Queue {
    next_ticket: u64,
    waiters: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    waker: Option<Waker>,
}

impl Queue {
    fn position(&self, ticket: u64) -> Option<usize> {
        self.waiters
            .binary_search_by_key(&ticket, |w| w.ticket)
            .ok()
    }
}

/// What [`Semaphore::enqueue`] did.
#[derive(Debug)]
pub(crate) enum Enqueued {
    /// A permit came free meanwhile; the caller holds it.
    Acquired,
    /// The caller waits behind this ticket.
    Waiting(u64),
    /// The queue already holds its maximum.
    Full,
}

impl Semaphore {
    pub(crate) fn new(limit: u32, meter: Meter) -> Self {
        let limit = u64::from(limit.min(MAX_PERMITS));
        let semaphore = Semaphore {
            word: AtomicU64::new(limit << LIMIT_SHIFT),
            queue: Mutex::new(Queue::default()),
            levels: meter.levels(),
            meter,
        };
        semaphore.publish();
        semaphore
    }

    /// The metrics of the layer this semaphore serves.
    pub(crate) fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Sets the in-flight, queued and limit gauges (only with the `metrics` feature).
    #[inline]
    fn publish(&self) {
        if cfg!(feature = "metrics") {
            let word = self.word.load(Relaxed);
            self.levels.set(in_flight(word), queued(word), limit(word));
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        limit(self.word.load(Relaxed))
    }

    pub(crate) fn in_flight(&self) -> u32 {
        in_flight(self.word.load(Relaxed))
    }

    pub(crate) fn queued(&self) -> u32 {
        queued(self.word.load(Relaxed))
    }

    /// Takes a free permit if there is one and nobody queues: one CAS when uncontended.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        let mut word = self.word.load(Relaxed);
        loop {
            if queued(word) != 0 || in_flight(word) >= limit(word) {
                return false;
            }
            match self
                .word
                .compare_exchange_weak(word, word + ONE_IN_FLIGHT, Acquire, Relaxed)
            {
                Ok(_) => {
                    self.publish();
                    return true;
                }
                Err(seen) => word = seen,
            }
        }
    }

    /// Gives a permit back; hands it on to the head of the queue if anyone waits.
    #[inline]
    pub(crate) fn release(&self) {
        let before = self.word.fetch_sub(ONE_IN_FLIGHT, Release);
        if queued(before) != 0 {
            self.grant();
        }
        self.publish();
    }

    /// Joins the queue (cold path: takes the lock), unless a permit is free by now or
    /// `max_queued` callers already wait.
    pub(crate) fn enqueue(&self, max_queued: u32) -> Enqueued {
        let mut queue = self.lock();
        let mut word = self.word.load(Relaxed);
        loop {
            let (next, acquired) = if in_flight(word) < limit(word) && queued(word) == 0 {
                (word + ONE_IN_FLIGHT, true)
            } else if queued(word) >= max_queued.min(MAX_PERMITS) {
                return Enqueued::Full;
            } else {
                (word + ONE_QUEUED, false)
            };
            match self.word.compare_exchange(word, next, AcqRel, Relaxed) {
                Ok(_) if acquired => {
                    self.publish();
                    return Enqueued::Acquired;
                }
                Ok(_) => break,
                Err(seen) => word = seen,
            }
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiters.push_back(Waiter {
            ticket,
            waker: None,
        });
        self.publish();
        Enqueued::Waiting(ticket)
    }

    /// `Ready` once `ticket` was granted a permit (which the caller then owns);
    /// otherwise remembers the waker.
    pub(crate) fn poll_ticket(&self, ticket: u64, cx: &mut Context<'_>) -> Poll<()> {
        let mut queue = self.lock();
        match queue.position(ticket) {
            Some(i) => {
                let slot = &mut queue.waiters[i].waker;
                match slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }

    /// Leaves the queue. `false` if the ticket had already been granted a permit, which
    /// the caller then owns and must release.
    pub(crate) fn cancel(&self, ticket: u64) -> bool {
        let mut queue = self.lock();
        match queue.position(ticket) {
            Some(i) => {
                queue.waiters.remove(i);
                self.word.fetch_sub(ONE_QUEUED, AcqRel);
                self.publish();
                true
            }
            None => false,
        }
    }

    /// Moves the limit; callers already running over a lowered limit finish normally.
    /// Returns the previous limit.
    pub(crate) fn set_limit(&self, new: u32) -> u32 {
        let new = u64::from(new.min(MAX_PERMITS));
        let before = self
            .word
            .fetch_update(AcqRel, Relaxed, |w| {
                Some((w & !(MASK << LIMIT_SHIFT)) | new << LIMIT_SHIFT)
            })
            .unwrap_or_else(|w| w);
        if queued(before) != 0 {
            self.grant();
        }
        self.publish();
        limit(before)
    }

    /// Hands free permits to the head of the queue, one lock at a time, waking each
    /// waiter after the lock is dropped.
    fn grant(&self) {
        loop {
            let waker = {
                let mut queue = self.lock();
                let word = self.word.load(Acquire);
                if queued(word) == 0 || in_flight(word) >= limit(word) {
                    return;
                }
                let next = word + ONE_IN_FLIGHT - ONE_QUEUED;
                if self
                    .word
                    .compare_exchange(word, next, AcqRel, Relaxed)
                    .is_err()
                {
                    continue;
                }
                queue.waiters.pop_front().and_then(|w| w.waker)
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue's invariants hold between statements, so a poisoned lock is usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One permit; dropping it gives it back.
#[derive(Debug)]
pub(crate) struct Permit {
    semaphore: Anchor<Semaphore>,
}

impl Permit {
    /// Takes a free permit, without waiting.
    #[inline]
    pub(crate) fn try_acquire(semaphore: &Anchor<Semaphore>) -> Option<Permit> {
        semaphore.try_acquire().then(|| Permit {
            semaphore: semaphore.clone(),
        })
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

/// A place in the queue; dropping it leaves the queue, or gives back the permit it was
/// granted and not yet claimed.
#[derive(Debug)]
pub(crate) struct Waiting {
    semaphore: Anchor<Semaphore>,
    ticket: Option<u64>,
}

impl Waiting {
    /// The metrics of the layer waited on.
    pub(crate) fn meter(&self) -> &Meter {
        self.semaphore.meter()
    }
}

/// What [`Waiting::join`] got.
#[derive(Debug)]
pub(crate) enum Joined {
    /// A permit, at once.
    Permit(Permit),
    /// A place in the queue.
    Waiting(Waiting),
    /// Nothing: the queue is full.
    Full,
}

impl Waiting {
    /// Takes a free permit or queues for one, unless `max_queued` callers already wait.
    pub(crate) fn join(semaphore: &Anchor<Semaphore>, max_queued: u32) -> Joined {
        if let Some(permit) = Permit::try_acquire(semaphore) {
            return Joined::Permit(permit);
        }
        let semaphore = semaphore.clone();
        match semaphore.enqueue(max_queued) {
            Enqueued::Acquired => Joined::Permit(Permit { semaphore }),
            Enqueued::Waiting(ticket) => Joined::Waiting(Waiting {
                semaphore,
                ticket: Some(ticket),
            }),
            Enqueued::Full => Joined::Full,
        }
    }

    /// The permit, once this place reaches the head of the queue and one is free.
    pub(crate) fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<Permit> {
        let Some(ticket) = self.ticket else {
            return Poll::Pending;
        };
        match self.semaphore.poll_ticket(ticket, cx) {
            Poll::Ready(()) => {
                self.ticket = None;
                Poll::Ready(Permit {
                    semaphore: self.semaphore.clone(),
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take()
            && !self.semaphore.cancel(ticket)
        {
            self.semaphore.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn free_permits_are_taken_until_the_limit() {
        let s = Anchor::new(Semaphore::new(2, Meter::new("test", &Arc::from("test"))));
        let a = Permit::try_acquire(&s).unwrap();
        let _b = Permit::try_acquire(&s).unwrap();
        assert!(Permit::try_acquire(&s).is_none());
        drop(a);
        assert_eq!(s.in_flight(), 1);
        assert!(Permit::try_acquire(&s).is_some());
    }

    #[test]
    fn a_released_permit_goes_to_the_head_of_the_queue() {
        let s = Anchor::new(Semaphore::new(1, Meter::new("test", &Arc::from("test"))));
        let held = Permit::try_acquire(&s).unwrap();
        let Joined::Waiting(mut first) = Waiting::join(&s, 10) else {
            panic!("should queue")
        };
        let Joined::Waiting(mut second) = Waiting::join(&s, 10) else {
            panic!("should queue")
        };
        assert!(matches!(Waiting::join(&s, 2), Joined::Full));
        assert!(Permit::try_acquire(&s).is_none(), "no overtaking");
        drop(held);
        assert!(second.poll_permit(&mut cx()).is_pending());
        let Poll::Ready(permit) = first.poll_permit(&mut cx()) else {
            panic!("head first")
        };
        assert_eq!((s.in_flight(), s.queued()), (1, 1));
        drop(second);
        drop(permit);
        assert_eq!((s.in_flight(), s.queued()), (0, 0));
    }

    #[test]
    fn a_granted_but_unclaimed_place_gives_its_permit_back_on_drop() {
        let s = Anchor::new(Semaphore::new(1, Meter::new("test", &Arc::from("test"))));
        let held = Permit::try_acquire(&s).unwrap();
        let Joined::Waiting(waiting) = Waiting::join(&s, 10) else {
            panic!("should queue")
        };
        drop(held);
        assert_eq!((s.in_flight(), s.queued()), (1, 0));
        drop(waiting);
        assert_eq!((s.in_flight(), s.queued()), (0, 0));
    }

    #[test]
    fn raising_the_limit_grants_waiters_and_lowering_it_lets_running_calls_finish() {
        let s = Anchor::new(Semaphore::new(1, Meter::new("test", &Arc::from("test"))));
        let a = Permit::try_acquire(&s).unwrap();
        let Joined::Waiting(mut w) = Waiting::join(&s, 10) else {
            panic!("should queue")
        };
        assert_eq!(s.set_limit(2), 1);
        let Poll::Ready(b) = w.poll_permit(&mut cx()) else {
            panic!("granted")
        };
        s.set_limit(1);
        assert_eq!(s.in_flight(), 2);
        drop(a);
        assert!(
            Permit::try_acquire(&s).is_none(),
            "still at the lowered limit"
        );
        drop(b);
        assert!(Permit::try_acquire(&s).is_some());
    }
}
