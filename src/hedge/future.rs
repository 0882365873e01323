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
                    return Poll::Ready(result);
                }
                *this.last = Some(result);
            }
            let mut i = 0;
            while i < this.hedges.len() {
                match this.hedges[i].0.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        drop(this.hedges.swap_remove(i));
                        if this.classifier.classify(&result) != Outcome::Failure {
                            if this.primary.is_some()
                                && let Some(started) = this.started
                            {
                                // Cut off: it took at least this long (no survivorship bias).
                                this.shared.record(started.elapsed());
                            }
                            return Poll::Ready(result);
                        }
                        *this.last = Some(result);
                    }
                    Poll::Pending => i += 1,
                }
            }
            let running = usize::from(this.primary.is_some()) + this.hedges.len();
            if this.sending.is_some() {
                match this.service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(error)) => {
                        *this.sending = None;
                        *this.stopped = true;
                        *this.last = Some(Err(error));
                        continue;
                    }
                    Poll::Ready(Ok(())) => {
                        let mut copy = this.request.clone();
                        this.policy.prepare(&mut copy, *this.attempts + 1);
                        let hedge = this.service.call(copy);
                        let slot = this.sending.take().expect("checked above");
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
                if may_send && let Some(slot) = send_allowed(this.shared) {
                    *this.sending = Some(slot);
                    continue;
                }
                return Poll::Ready(this.last.take().expect("an attempt ended"));
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
            match send_allowed(this.shared) {
                Some(slot) => *this.sending = Some(slot),
                None => *this.stopped = true,
            }
        }
    }
}

/// Whether one more attempt may go: enough of the call's deadline is left for it to
/// matter, and the budget for extra load holds one (taken here).
fn send_allowed(shared: &Arc<Shared>) -> Option<HedgeSlot> {
    if crate::context::remaining().is_some_and(|left| left <= shared.delay()) {
        return None;
    }
    shared.spend()
}
