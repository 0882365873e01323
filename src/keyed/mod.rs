//! Keyed partitions: one bulkhead, rate limiter or circuit breaker per key extracted from
//! the request (a host, a tenant), so that one key's trouble stays with that key.
//!
//! Each key's layer is built lazily, on the key's first call, from a [`Template`] (the
//! layer's builder), so keys share settings and nothing else.
//!
//! # Memory bounds, and what happens at the cap
//!
//! Keys often come from outside (a `Host` header, a tenant id), so their number is
//! capped ([`max_keys`](Builder::max_keys), default 1024) and idle keys are dropped:
//!
//! * A key with no call in flight for [`idle_ttl`](Builder::idle_ttl) (default 5 min) is
//!   evicted by a sweep that runs at most twice per TTL, and whenever the cap is hit.
//! * A new key arriving at the cap evicts the least recently used key that has no call
//!   in flight. Its state is lost: a later call with that key starts fresh (a fresh
//!   breaker is closed, a fresh rate limiter has its full burst). Size the cap above the
//!   number of keys you expect to be live, so that only junk keys get evicted.
//! * If every key at the cap has a call in flight, the new key's call is rejected at once
//!   with [`Reason::TooManyKeys`](crate::Reason::TooManyKeys); existing keys keep working.
//!
//! # Costs
//!
//! Each call takes one `std::sync::Mutex` around a `HashMap` (lookup or insert, and an
//! occasional sweep; at the cap, evicting the least recently used idle key in amortized
//! constant time: a million distinct keys through a 1,024-key cap took 0.64 s in a
//! release build, 15 s before this was made constant) and reads the clock; the key's own layer then runs its usual
//! lock-free path. Each call makes the key's service from its layer and a clone of the
//! inner service, and polls it for readiness once in `call` (so that a permit or a rate
//! slot is taken there, as without keys); a key service that is not ready yet is driven
//! through `poll_ready` and `call` by the response future. `poll_ready` of the keyed
//! service itself is therefore always ready. Making a circuit breaker's service
//! allocates (the breaker's own per-service tracker), so a keyed breaker allocates once
//! per call; keyed bulkheads and rate limiters do not (except a backpressure bulkhead's
//! call that has to wait with a deadline or maximum wait, which boxes its timer).
//!
//! # Example
//!
//! ```
//! use seawall::bulkhead::BulkheadLayer;
//! use seawall::keyed::KeyedLayer;
//! use seawall::{AsRejected, Reason};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! // One bulkhead of 1 call per tenant.
//! let per_tenant = KeyedLayer::builder(
//!     BulkheadLayer::builder().max_concurrent(1),
//!     |req: &(&'static str, u32)| req.0,
//! )
//! .max_keys(100)
//! .build()?;
//! let mut client = ServiceBuilder::new()
//!     .layer(per_tenant.clone())
//!     .service(service_fn(|req: (&'static str, u32)| async move { Ok::<_, BoxError>(req.1) }));
//!
//! let busy_a = client.ready().await?.call(("a", 1)); // holds tenant a's only permit
//! let err = client.ready().await?.call(("a", 2)).await.unwrap_err();
//! assert_eq!(err.as_rejected().unwrap().reason(), Reason::BulkheadFull { limit: 1 });
//! assert_eq!(client.ready().await?.call(("b", 3)).await?, 3, "tenant b is unaffected");
//! assert_eq!(busy_a.await?, 1);
//! assert_eq!(per_tenant.live_keys(), 2);
//! # Ok(())
//! # }
//! ```

mod future;
mod partitions;

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

pub use crate::template::Template;
pub use future::ResponseFuture;

use crate::config::{ConfigError, Longest, check_duration};
use crate::rejection::CarriesRejection;
use partitions::Partitions;

/// Settings for a [`KeyedLayer`]: the per-key template and key function are required,
/// the bounds have defaults (1024 keys, 5 minutes idle).
///
/// ```
/// use seawall::keyed::KeyedLayer;
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
///
/// let layer = KeyedLayer::builder(
///     RateLimitLayer::builder(10, Duration::from_secs(1)),
///     |host: &String| host.clone(),
/// )
/// .max_keys(10_000)
/// .idle_ttl(Duration::from_secs(60))
/// .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder<T, K, F> {
    template: T,
    key_fn: F,
    max_keys: u32,
    idle_ttl: Duration,
    _key: PhantomData<fn() -> K>,
}

impl<T: Template, K: Hash + Eq + Clone, F> Builder<T, K, F> {
    /// The most keys kept at once. Allowed: `1..=1000000`. Default: 1024.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |k: &u64| *k).max_keys(16).build().unwrap();
    /// assert_eq!(layer.max_keys(), 16);
    /// ```
    pub fn max_keys(mut self, keys: u32) -> Self {
        self.max_keys = keys;
        self
    }

    /// How long a key with no call in flight is kept. Allowed: `(0s, 7 days]`.
    /// Default: 5 minutes.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// # use std::time::Duration;
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |k: &u64| *k)
    ///     .idle_ttl(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl;
        self
    }

    /// Validates the settings (and the template, by building it once) and creates the
    /// shared key map.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range, in the
    /// keyed layer or in the template.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// let err = KeyedLayer::builder(BulkheadLayer::builder().max_concurrent(0), |k: &u64| *k)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.field(), "keyed.bulkhead.max_concurrent");
    /// ```
    pub fn build(self) -> Result<KeyedLayer<T, K, F>, ConfigError> {
        let within = |e: ConfigError| e.within("keyed");
        if !(1..=1_000_000).contains(&self.max_keys) {
            let err = ConfigError::new("max_keys", self.max_keys, "1..=1000000");
            return Err(within(err));
        }
        check_duration("idle_ttl", self.idle_ttl, false, Longest::Week).map_err(within)?;
        self.template.build_layer().map_err(within)?;
        let partitions = Partitions::new(self.template, self.max_keys, self.idle_ttl);
        Ok(KeyedLayer {
            partitions: Arc::new(partitions),
            key_fn: self.key_fn,
        })
    }
}

/// Wraps services in one layer per key; made by [`KeyedLayer::builder`].
///
/// The key map is created by [`Builder::build`]: every service this layer makes, and
/// every clone, shares the same keys.
///
/// ```
/// use seawall::circuit_breaker::CircuitBreakerLayer;
/// use seawall::keyed::KeyedLayer;
///
/// // One breaker per host.
/// let layer = KeyedLayer::builder(
///     CircuitBreakerLayer::builder().count_window(20),
///     |req: &(String, String)| req.0.clone(),
/// )
/// .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct KeyedLayer<T: Template, K, F> {
    partitions: Arc<Partitions<T, K>>,
    key_fn: F,
}

impl<T: Template, K, F: Clone> Clone for KeyedLayer<T, K, F> {
    fn clone(&self) -> Self {
        KeyedLayer {
            partitions: self.partitions.clone(),
            key_fn: self.key_fn.clone(),
        }
    }
}

impl KeyedLayer<crate::bulkhead::Builder, (), fn(&()) -> ()> {
    /// Starts configuring a keyed layer: `template` builds each key's layer, `key_fn`
    /// picks the key from a request. See [`Builder`] for the bounds.
    ///
    /// ```
    /// use seawall::bulkhead::BulkheadLayer;
    /// use seawall::keyed::KeyedLayer;
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |tenant: &u32| *tenant).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder<T, Req, K, F>(template: T, key_fn: F) -> Builder<T, K, F>
    where
        T: Template,
        F: Fn(&Req) -> K,
    {
        Builder {
            template,
            key_fn,
            max_keys: 1024,
            idle_ttl: Duration::from_secs(300),
            _key: PhantomData,
        }
    }
}

impl<T: Template, K: Hash + Eq + Clone, F> KeyedLayer<T, K, F> {
    /// How many keys are live now.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |k: &u64| *k).build().unwrap();
    /// assert_eq!(layer.live_keys(), 0);
    /// ```
    pub fn live_keys(&self) -> usize {
        self.partitions.live_keys()
    }

    /// The cap on live keys.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |k: &u64| *k).build().unwrap();
    /// assert_eq!(layer.max_keys(), 1024);
    /// ```
    pub fn max_keys(&self) -> u32 {
        self.partitions.max_keys
    }

    /// The layer of `key`, if the key is live: read or steer it through its handle.
    ///
    /// ```
    /// # use seawall::{bulkhead::BulkheadLayer, keyed::KeyedLayer};
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |k: &u64| *k).build().unwrap();
    /// assert!(layer.partition(&7).is_none());
    /// ```
    pub fn partition(&self, key: &K) -> Option<T::Layer> {
        self.partitions.get(key)
    }
}

impl<S, T: Template, K, F: Clone> Layer<S> for KeyedLayer<T, K, F> {
    type Service = Keyed<S, T, K, F>;

    fn layer(&self, inner: S) -> Self::Service {
        Keyed {
            inner,
            partitions: self.partitions.clone(),
            key_fn: self.key_fn.clone(),
        }
    }
}

/// A service with one layer per request key; made by [`KeyedLayer`].
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use seawall::keyed::KeyedLayer;
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |x: &u8| *x % 2).build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
pub struct Keyed<S, T: Template, K, F> {
    inner: S,
    partitions: Arc<Partitions<T, K>>,
    key_fn: F,
}

impl<T: Template, K, F> fmt::Debug for KeyedLayer<T, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLayer")
            .field("max_keys", &self.partitions.max_keys)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug, T: Template, K, F> fmt::Debug for Keyed<S, T, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("inner", &self.inner)
            .field("max_keys", &self.partitions.max_keys)
            .finish_non_exhaustive()
    }
}

impl<S: Clone, T: Template, K, F: Clone> Clone for Keyed<S, T, K, F> {
    fn clone(&self) -> Self {
        Keyed {
            inner: self.inner.clone(),
            partitions: self.partitions.clone(),
            key_fn: self.key_fn.clone(),
        }
    }
}

impl<S, T, K, F, Req> Service<Req> for Keyed<S, T, K, F>
where
    S: Clone,
    T: Template,
    T::Layer: Layer<S>,
    <T::Layer as Layer<S>>::Service: Service<Req>,
    <<T::Layer as Layer<S>>::Service as Service<Req>>::Error: CarriesRejection,
    K: Hash + Eq + Clone,
    F: Fn(&Req) -> K,
{
    type Response = <<T::Layer as Layer<S>>::Service as Service<Req>>::Response;
    type Error = <<T::Layer as Layer<S>>::Service as Service<Req>>::Error;
    type Future = ResponseFuture<<T::Layer as Layer<S>>::Service, Req>;

    /// Always ready: each call's own key service is made ready in its future.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = (self.key_fn)(&req);
        match self.partitions.enter(&key) {
            Ok((layer, active)) => {
                ResponseFuture::new(layer.layer(self.inner.clone()), req, active)
            }
            Err(rejection) => ResponseFuture::rejected(rejection),
        }
    }
}
