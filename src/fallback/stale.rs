//! Stale-if-error: the last good response for a request's key answers the same key's
//! failures, while it is young enough (the ready-made fallback of HTTP caches' RFC 5861
//! `stale-if-error`).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::when::When;
use crate::config::{ConfigError, Longest, check_duration};
use crate::telemetry::{Meter, names::FALLBACK_USED};

struct Cache<K, T> {
    entries: Mutex<Entries<K, T>>,
    max_age: Duration,
    max_keys: usize,
    served: AtomicU64,
    meter: Meter,
    /// Marks a response served stale (see `mark`).
    mark: Option<fn(&mut T)>,
}

/// The kept responses, and their keys in the order they were first kept.
struct Entries<K, T> {
    by_key: HashMap<K, (Instant, T)>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, T: Clone> Cache<K, T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, T>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `response` for `key`; when full, a new key takes the place of the key kept
    /// longest (constant time: the keys are queued in the order they were first kept).
    fn store(&self, key: K, response: &T) {
        let mut entries = self.lock();
        let entries = &mut *entries;
        if !entries.by_key.contains_key(&key) {
            if entries.by_key.len() >= self.max_keys
                && let Some(oldest) = entries.order.pop_front()
            {
                entries.by_key.remove(&oldest);
            }
            entries.order.push_back(key.clone());
        }
        entries
            .by_key
            .insert(key, (Instant::now(), response.clone()));
    }

    /// The response kept for `key`, if young enough.
    fn fresh(&self, key: &K) -> Option<T> {
        let entries = self.lock();
        let (at, response) = entries.by_key.get(key)?;
        (at.elapsed() <= self.max_age).then(|| response.clone())
    }
}

/// Answers the failures its rule accepts with the last good response for the request's
/// key, if it is at most `max_age` old. Keeps at most `max_keys` responses (a new key
/// takes the oldest one's place, so keys chosen by callers cannot grow memory without
/// bound). Costs a lock and a clone of the response on every success, and the key
/// function on every call: use it where a stale answer is worth that.
///
/// ```
/// use seawall::fallback::{Refusals, StaleIfErrorLayer};
/// use std::time::Duration;
/// let layer = StaleIfErrorLayer::new(
///     |path: &String| path.clone(),
///     Refusals,
///     Duration::from_secs(300),
///     1_000,
/// )?;
/// # let _: StaleIfErrorLayer<_, _, String, &str> = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct StaleIfErrorLayer<F, W, K, T> {
    key: F,
    when: W,
    cache: Arc<Cache<K, T>>,
}

impl<F: Clone, W: Clone, K, T> Clone for StaleIfErrorLayer<F, W, K, T> {
    fn clone(&self) -> Self {
        StaleIfErrorLayer {
            key: self.key.clone(),
            when: self.when.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl<F, W, K, T> std::fmt::Debug for StaleIfErrorLayer<F, W, K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaleIfErrorLayer")
            .field("max_age", &self.cache.max_age)
            .field("max_keys", &self.cache.max_keys)
            .finish_non_exhaustive()
    }
}

impl<F, W, K, T> StaleIfErrorLayer<F, W, K, T> {
    /// Keeps the last good response per `key(request)`, and answers the failures `when`
    /// accepts with it while it is at most `max_age` old.
    ///
    /// # Errors
    ///
    /// `max_age` outside `(0s, 365 days]` or `max_keys` of 0, named.
    ///
    /// ```
    /// # use seawall::fallback::{Refusals, StaleIfErrorLayer};
    /// # use std::time::Duration;
    /// let err = StaleIfErrorLayer::<_, _, u8, u8>::new(|n: &u8| *n, Refusals, Duration::from_secs(1), 0)
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "stale_if_error.max_keys: 0 is outside 1..");
    /// ```
    pub fn new(key: F, when: W, max_age: Duration, max_keys: usize) -> Result<Self, ConfigError> {
        let within = |e: ConfigError| e.within("stale_if_error");
        check_duration("max_age", max_age, false, Longest::Year).map_err(within)?;
        if max_keys == 0 {
            return Err(within(ConfigError::new("max_keys", 0, "1..")));
        }
        Ok(StaleIfErrorLayer {
            key,
            when,
            cache: Arc::new(Cache {
                entries: Mutex::new(Entries {
                    by_key: HashMap::new(),
                    order: VecDeque::new(),
                }),
                max_age,
                max_keys,
                served: AtomicU64::new(0),
                meter: Meter::new("fallback", &Arc::from("stale_if_error")),
                mark: None,
            }),
        })
    }

    /// Marks every response served stale with `mark` (call it before cloning the layer;
    /// for HTTP,
    /// [`mark_http`](super::mark_http) puts [`FromFallback`](super::FromFallback) in
    /// its extensions), so callers and dashboards can tell.
    ///
    /// ```
    /// # use seawall::fallback::{Refusals, StaleIfErrorLayer};
    /// # use std::time::Duration;
    /// let layer = StaleIfErrorLayer::<_, _, u8, http::Response<()>>::new(|n: &u8| *n, Refusals, Duration::from_secs(1), 10)?
    ///     .mark(seawall::fallback::mark_http);
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[must_use]
    pub fn mark(mut self, mark: fn(&mut T)) -> Self {
        if let Some(cache) = Arc::get_mut(&mut self.cache) {
            cache.mark = Some(mark);
        }
        self
    }

    /// How many failures a kept response answered.
    ///
    /// ```
    /// # use seawall::fallback::{Refusals, StaleIfErrorLayer};
    /// # use std::time::Duration;
    /// let layer = StaleIfErrorLayer::<_, _, u8, u8>::new(|n: &u8| *n, Refusals, Duration::from_secs(1), 10)?;
    /// assert_eq!(layer.served(), 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn served(&self) -> u64 {
        self.cache.served.load(Relaxed)
    }
}

impl<S, F: Clone, W: Clone, K, T> Layer<S> for StaleIfErrorLayer<F, W, K, T> {
    type Service = StaleIfError<S, F, W, K, T>;

    fn layer(&self, inner: S) -> Self::Service {
        StaleIfError {
            inner,
            key: self.key.clone(),
            when: self.when.clone(),
            cache: self.cache.clone(),
            refused: None,
        }
    }
}

/// A service whose failures are answered by its last good response for the same key
/// (see [`StaleIfErrorLayer`]).
///
/// ```
/// # use seawall::fallback::{Refusals, StaleIfErrorLayer};
/// # use std::time::Duration;
/// # use tower::Layer;
/// let layer = StaleIfErrorLayer::<_, _, u8, u8>::new(|n: &u8| *n, Refusals, Duration::from_secs(1), 10)?;
/// let service = layer.layer(tower::service_fn(|n: u8| async move { Ok::<u8, seawall::Error<()>>(n) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct StaleIfError<S, F, W, K, T> {
    inner: S,
    key: F,
    when: W,
    cache: Arc<Cache<K, T>>,
    /// An error the rule accepts from the inner `poll_ready`, answered by the next call.
    refused: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<S: Clone, F: Clone, W: Clone, K, T> Clone for StaleIfError<S, F, W, K, T> {
    fn clone(&self) -> Self {
        StaleIfError {
            inner: self.inner.clone(),
            key: self.key.clone(),
            when: self.when.clone(),
            cache: self.cache.clone(),
            refused: None,
        }
    }
}

impl<S: std::fmt::Debug, F, W, K, T> std::fmt::Debug for StaleIfError<S, F, W, K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaleIfError")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, F, W, K, T, Req> Service<Req> for StaleIfError<S, F, W, K, T>
where
    S: Service<Req, Response = T>,
    S::Error: Send + Sync + 'static,
    F: Fn(&Req) -> K,
    W: When<S::Error> + Clone,
    K: Hash + Eq + Clone,
    T: Clone,
{
    type Response = T;
    type Error = S::Error;
    type Future = StaleFuture<S::Future, W, K, T, S::Error>;

    /// Ready when the inner service is; an error of its `poll_ready` that the rule
    /// accepts makes this ready too, and the next call is answered from the cache.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Err(error)) if self.when.applies(&error) => {
                self.refused = Some(Box::new(error));
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = (self.key)(&request);
        let (inner, refused) = match self.refused.take().map(|r| r.downcast::<S::Error>()) {
            Some(Ok(error)) => (None, Some(*error)),
            _ => (Some(self.inner.call(request)), None),
        };
        StaleFuture {
            inner,
            refused,
            key: Some(key),
            when: self.when.clone(),
            cache: self.cache.clone(),
        }
    }
}

pin_project! {
    /// The response of a [`StaleIfError`] call.
    ///
    /// ```
    /// # use seawall::fallback::{Refusals, StaleIfErrorLayer};
    /// # use std::time::Duration;
    /// # use tower::{Layer, ServiceExt};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let layer = StaleIfErrorLayer::<_, _, u8, u8>::new(|n: &u8| *n, Refusals, Duration::from_secs(1), 10)?;
    /// let service = layer.layer(tower::service_fn(|n: u8| async move { Ok::<u8, seawall::Error<()>>(n) }));
    /// assert_eq!(service.oneshot(4).await.ok(), Some(4));
    /// # Ok(())
    /// # }
    /// ```
    pub struct StaleFuture<G, W, K, T, E> {
        #[pin]
        inner: Option<G>,
        refused: Option<E>,
        key: Option<K>,
        when: W,
        cache: Arc<Cache<K, T>>,
    }
}

impl<G, W, K, T, E> std::fmt::Debug for StaleFuture<G, W, K, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaleFuture").finish_non_exhaustive()
    }
}

impl<G, W, K, T, E> Future for StaleFuture<G, W, K, T, E>
where
    G: Future<Output = Result<T, E>>,
    W: When<E>,
    K: Hash + Eq + Clone,
    T: Clone,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match (this.inner.as_pin_mut(), this.refused.take()) {
            (_, Some(error)) => Err(error),
            (Some(inner), None) => ready!(inner.poll(cx)),
            (None, None) => panic!("polled after completion"),
        };
        let Some(key) = this.key.take() else {
            return Poll::Ready(result);
        };
        Poll::Ready(match result {
            Ok(response) => {
                this.cache.store(key, &response);
                Ok(response)
            }
            Err(error) if this.when.applies(&error) => match this.cache.fresh(&key) {
                Some(mut stale) => {
                    if let Some(mark) = this.cache.mark {
                        mark(&mut stale);
                    }
                    this.cache.served.fetch_add(1, Relaxed);
                    this.cache
                        .meter
                        .counter(FALLBACK_USED, &[("outcome", "stale")]);
                    Ok(stale)
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        })
    }
}
