//! A wait for a permit, in either mode: a place in the queue and when it gives up.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Instant;

use crate::context;
use crate::rejection::Reason;
use crate::semaphore::{Permit, Waiting};
use crate::time::{LazyTimer, after};

/// When a wait gives up, and what it then says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GiveUp {
    pub(crate) at: Instant,
    pub(crate) reason: Reason,
}

impl GiveUp {
    /// When a wait that starts now gives up: after `max_wait` unless that is zero, or at
    /// the deadline of the call being polled, whichever comes first; `None` when neither
    /// bounds it (the clock is then not read).
    ///
    /// # Errors
    ///
    /// [`Reason::DeadlineExceeded`] when that deadline has already passed.
    pub(crate) fn for_wait(max_wait: Duration) -> Result<Option<GiveUp>, Reason> {
        let deadline = context::current();
        if max_wait.is_zero() && deadline.is_none() {
            return Ok(None);
        }
        let now = Instant::now();
        let queue_timeout = (!max_wait.is_zero()).then(|| GiveUp {
            at: after(now, max_wait),
            reason: Reason::QueueTimeout { after: max_wait },
        });
        match deadline {
            Some(deadline) if deadline <= now => Err(Reason::DeadlineExceeded),
            Some(deadline) if queue_timeout.is_none_or(|q| deadline < q.at) => Ok(Some(GiveUp {
                at: deadline,
                reason: Reason::DeadlineExceeded,
            })),
            _ => Ok(queue_timeout),
        }
    }
}

/// A place in the queue, and when it gives up (never, without a bound).
///
/// Dropping it leaves the queue, or gives back the permit it was granted and not yet
/// claimed.
#[derive(Debug)]
pub(crate) struct Wait {
    pub(crate) waiting: Waiting,
    pub(crate) give_up: Option<GiveUp>,
}

impl Wait {
    /// The permit once granted, or the reason the wait gave up once its time is up
    /// (counted as a rejection; drop the wait then). `timer` is asked for only when the
    /// wait has a bound and the permit is not there yet.
    pub(crate) fn poll<'t>(
        &mut self,
        cx: &mut Context<'_>,
        timer: impl FnOnce() -> Pin<&'t mut LazyTimer>,
    ) -> Poll<Result<Permit, Reason>> {
        if let Poll::Ready(permit) = self.waiting.poll_permit(cx) {
            return Poll::Ready(Ok(permit));
        }
        let Some(give_up) = self.give_up else {
            return Poll::Pending;
        };
        ready!(timer().poll_expired(cx, || give_up.at));
        self.waiting.meter().rejected(give_up.reason);
        Poll::Ready(Err(give_up.reason))
    }
}
