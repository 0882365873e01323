//! The hedging layer's response future: the primary attempt, then a hedge whenever the
//! delay passes (or at once after a failure), the first good answer winning and every
//! other attempt dropped with the future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::Service;

use super::policy::HedgePolicy;
use super::state::{HedgeSlot, Shared};
use crate::classify::{Classify, Outcome};

pin_project! {
    /// The response of a call through a [`Hedge`](super::Hedge) service.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use std::time::Duration;
    /// # use tower::{Layer, ServiceExt};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let layer = HedgeLayer::builder().delay(Duration::from_millis(50)).build()?;
    /// let service = layer.layer(tower::service_fn(|n: u8| async move { Ok::<_, ()>(n) }));
    /// assert_eq!(service.oneshot(4).await, Ok(4));
    /// # Ok(())
    /// # }
    /// ```
    #[project = Projected]
    pub struct ResponseFuture<S, Req, C, P>
    where
        S: Service<Req>,
    {
        #[pin]
        primary: Option<S::Future>,
        hedges: Vec<(Pin<Box<S::Future>>, HedgeSlot)>,
        #[pin]
        timer: Option<Sleep>,
        service: S,
        request: Req,
        classifier: C,
        policy: P,
        shared: Arc<Shared>,
        started: Option<Instant>,
        attempts: u32,
        sending: Option<HedgeSlot>,
        stopped: bool,
        last: Option<Result<S::Response, S::Error>>,
    }

    impl<S, Req, C, P> PinnedDrop for ResponseFuture<S, Req, C, P>
    where
        S: Service<Req>,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Given up while the primary ran (the caller's timeout, a cancelled
            // request): it took at least this long, and the percentile must know.
            if this.primary.is_some()
                && let Some(started) = this.started
            {
                this.shared.record(started.elapsed());
            }
        }
    }
}

impl<S: Service<Req>, Req, C, P> std::fmt::Debug for ResponseFuture<S, Req, C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempts", &self.attempts)
            .field(
                "running",
                &(usize::from(self.primary.is_some()) + self.hedges.len()),
            )
            .finish_non_exhaustive()
    }
}

impl<S: Service<Req>, Req, C, P> ResponseFuture<S, Req, C, P> {
    pub(super) fn new(
        primary: S::Future,
        service: S,
        request: Req,
        (classifier, policy): (C, P),
        shared: Arc<Shared>,
        started: Option<Instant>,
        hedgeable: bool,
    ) -> Self {
        ResponseFuture {
            primary: Some(primary),
            hedges: Vec::new(),
            timer: None,
            service,
            request,
            classifier,
            policy,
            shared,
            started,
            attempts: 1,
            sending: None,
            stopped: !hedgeable,
            last: None,
        }
    }
}

impl<S, Req, C, P> Future for ResponseFuture<S, Req, C, P>
where
    S: Service<Req>,
    Req: Clone,
    C: Classify<S::Response, S::Error>,
    P: HedgePolicy<Req>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The attempts in flight: a good answer wins, a failure waits for the others.
            if let Some(primary) = this.primary.as_mut().as_pin_mut()
                && let Poll::Ready(result) = primary.poll(cx)
            {
                this.primary.set(None);
                if let Some(started) = this.started {
                    this.shared.record(started.elapsed());
                }
                if this.classifier.classify(&result) != Outcome::Failure {
                    return finish(this, result);
                }
                this.last.get_or_insert(result);
            }
            let mut i = 0;
            while i < this.hedges.len() {
                match this.hedges[i].0.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        drop(this.hedges.swap_remove(i));
                        if this.classifier.classify(&result) != Outcome::Failure {
                            return finish(this, result);
                        }
                        this.last.get_or_insert(result);
                    }
                    Poll::Pending => i += 1,
                }
            }
            let running = usize::from(this.primary.is_some()) + this.hedges.len();
            if this.sending.is_some() {
                match this.service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(error)) => {
                        // Nothing was sent: the place goes back, the budget was not taken.
                        *this.sending = None;
                        *this.stopped = true;
                        this.last.get_or_insert(Err(error));
                        continue;
                    }
                    Poll::Ready(Ok(())) => {
                        let slot = this.sending.take().expect("checked above");
                        // The budget is taken now, as the hedge really goes out.
                        if !this.shared.send() {
                            *this.stopped = true;
                            continue;
                        }
                        let mut copy = this.request.clone();
                        this.policy.prepare(&mut copy, *this.attempts + 1);
                        let hedge = this.service.call(copy);
                        this.hedges.push((Box::pin(hedge), slot));
                        *this.attempts += 1;
                        this.timer.set(None);
                        continue;
                    }
                }
            }
            let may_send = !*this.stopped && *this.attempts < this.shared.max_attempts;
            if running == 0 {
                // Every attempt failed: the next goes at once, if one may.
                if may_send && let Some(slot) = place(this.shared, true) {
                    *this.sending = Some(slot);
                    continue;
                }
                let last = this.last.take().expect("an attempt ended");
                return finish(this, last);
            }
            if !may_send {
                return Poll::Pending;
            }
            if this.timer.is_none() {
                this.timer
                    .set(Some(tokio::time::sleep(this.shared.delay())));
            }
            let timer = this.timer.as_mut().as_pin_mut().expect("set above");
            if timer.poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.timer.set(None);
            match place(this.shared, false) {
                Some(slot) => *this.sending = Some(slot),
                None => *this.stopped = true,
            }
        }
    }
}

/// Ends the call with `result`: every other attempt, the timer and any place held are
/// dropped now (not when the caller drops the future), and no more attempts go out.
fn finish<S: Service<Req>, Req, C, P>(
    this: Projected<'_, S, Req, C, P>,
    result: Result<S::Response, S::Error>,
) -> Poll<Result<S::Response, S::Error>> {
    let mut this = this;
    #[cfg(feature = "metrics")]
    if let Some(grpc) = &this.shared.grpc {
        grpc.record(*this.attempts - 1, std::time::Duration::ZERO);
    }
    this.primary.set(None);
    this.hedges.clear();
    this.timer.set(None);
    *this.sending = None;
    *this.stopped = true;
    Poll::Ready(result)
}

/// A place for one more attempt, if it may go: enough of the call's deadline is left
/// for it to matter (after a failure, any time left; otherwise more than the delay),
/// the budget holds an attempt, and the hedges in flight are under the cap.
fn place(shared: &Arc<Shared>, after_failure: bool) -> Option<HedgeSlot> {
    let enough = if after_failure {
        std::time::Duration::ZERO
    } else {
        shared.delay()
    };
    if crate::context::remaining().is_some_and(|left| left <= enough) {
        return None;
    }
    shared.place()
}
