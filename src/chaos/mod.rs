//! Fault injection (chaos): delays, injected outcomes and side effects on a share of
//! calls, to rehearse failures in tests, staging, or chosen calls in production
//! (Polly's Simmy strategies, with the defaults the other way round).
//!
//! # What it guarantees
//!
//! * **Off until switched on.** A layer built without [`Builder::enabled`] injects
//!   nothing until its handle's [`enable`](ChaosHandle::enable); the handle's
//!   [`disable`](ChaosHandle::disable) is the kill switch, for the next call on. Switched
//!   off, a call costs one atomic load.
//! * **Reproducible**: with a [`seed`](Builder::seed), the same calls draw the same
//!   faults; delays run on tokio's clock, so paused-time tests drive them.
//! * **Outages in bursts** ([`bursts`](Builder::bursts)), not only independent coin
//!   flips; **chosen calls only** ([`only_for`](Builder::only_for)), for production;
//!   **a cap** on injected faults in flight ([`max_active`](Builder::max_active)).
//! * A call gets at most one of an injected outcome or a delay (the outcome is drawn
//!   first); the behaviour is drawn on its own. A dropped call gives back its place
//!   under the cap. A rate set with nothing to inject (an outcome rate from a file
//!   with no `outcome`) is refused by `build`, by name.
//! * **A delay** holds the call's answer: the inner service is called at once and its
//!   future polled only after the delay, so work a future does when polled (most
//!   clients' requests) starts after it, while work done in `call` itself (a `Buffer`
//!   handing the request to its worker) happens at once.
//!
//! Put it where the fault would really be: under the resilience layers (just above the
//! client) to see how they cope.
//!
//! # Example
//!
//! ```
//! use seawall::chaos::ChaosLayer;
//! use seawall::Ratio;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), seawall::ConfigError> {
//! let chaos = ChaosLayer::builder()
//!     .outcome(Ratio::percent(100.0), || Err::<u32, &str>("injected"))
//!     .seed(1)
//!     .build()?;
//! let client = chaos.layer(service_fn(|n: u32| async move { Ok::<_, &str>(n) }));
//! assert_eq!(client.clone().oneshot(1).await, Ok(1), "off until switched on");
//! chaos.handle().enable();
//! assert_eq!(client.clone().oneshot(2).await, Err("injected"));
//! chaos.handle().disable();
//! assert_eq!(client.oneshot(3).await, Ok(3));
//! # Ok(())
//! # }
//! ```

mod builder;
mod config;
mod future;
mod handle;
mod layer;
mod state;
#[cfg(feature = "toxic")]
pub mod toxic;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use tower::Service;

pub use builder::{Builder, Every, Inject, NoOutcome, Select};
pub use config::ChaosConfig;
#[cfg(feature = "serde")]
pub use config::ChaosOverrides;
pub use future::ResponseFuture;
pub use handle::{ChaosHandle, Injected};
pub use layer::ChaosLayer;

use state::{Fault, Shared};

/// A service with faults injected into a share of its calls (see the
/// [module](self)). Made by [`ChaosLayer`].
///
/// ```
/// # use seawall::chaos::ChaosLayer;
/// # use tower::Layer;
/// let layer = ChaosLayer::builder().build()?;
/// let service = layer.layer(tower::service_fn(|()| async { Ok::<_, ()>(()) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Chaos<S, O = NoOutcome, P = Every> {
    inner: S,
    shared: Arc<Shared>,
    outcome: O,
    only: P,
}

impl<S, O, P> Chaos<S, O, P> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use tower::Layer;
    /// let service = ChaosLayer::builder().build()?.layer(5_u8);
    /// assert_eq!(*service.get_ref(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use tower::Layer;
    /// let mut service = ChaosLayer::builder().build()?.layer(5_u8);
    /// *service.get_mut() = 6;
    /// assert_eq!(service.into_inner(), 6);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use tower::Layer;
    /// assert_eq!(ChaosLayer::builder().build()?.layer(5_u8).into_inner(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, O, P, Req> Service<Req> for Chaos<S, O, P>
where
    S: Service<Req>,
    O: Inject<S::Response, S::Error>,
    P: Select<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response, S::Error>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if !self.shared.enabled.load(Relaxed) || !self.only.selects(&request) {
            return ResponseFuture::passed(self.inner.call(request));
        }
        match self.shared.choose() {
            Fault::None => ResponseFuture::passed(self.inner.call(request)),
            Fault::Outcome(slot) => match self.outcome.inject() {
                Some(result) => {
                    self.shared.outcome_injected();
                    ResponseFuture::injected(result, slot)
                }
                None => ResponseFuture::passed(self.inner.call(request)),
            },
            Fault::Latency(slot) => ResponseFuture::delayed(
                tokio::time::sleep(self.shared.settings.latency),
                self.inner.call(request),
                slot,
            ),
        }
    }
}
