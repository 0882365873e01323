//! Resilient queue consumers: a `tower::Service` handler turned into an acknowledging
//! consumer loop that does not spin through redeliveries, poison its queue with one bad
//! message, or keep pulling work while its dependency is down (feature `queue`; the
//! RabbitMQ adapter is [`amqp`], feature `amqp`).
//!
//! # What happens to a message
//!
//! | the message | what the consumer does |
//! |---|---|
//! | is handled | acknowledges it (after recording its id in the [`Dedup`] store, if any) |
//! | cannot be decoded (poison) | dead-letters it at once, with the decode error; never retried |
//! | fails with a [`Fate::Permanent`] error | dead-letters it at once, with the error |
//! | fails with a transient error | retries in place with jittered backoff, never past the delivery's lease; then sends it to the next delayed-redelivery tier; after the last tier, dead-letters it |
//! | arrives while the breaker is open | gives it back unhandled and pauses (below) |
//! | was handled before (its id is in the store) | acknowledges it without handling |
//!
//! A dead-lettered or delayed message carries a [`Record`] in its headers: the reason
//! (`poison`, `permanent`, `exhausted`), the last error, the attempts over every
//! delivery, when it was first seen failing, and where it came from.
//!
//! # Pausing while the dependency is down
//!
//! With a [breaker](Builder::breaker), every handler attempt is a call through it. While
//! it is open the consumer takes no new deliveries (the broker is told to stop sending),
//! gives back the ones it holds, and waits out the open period; then it takes one
//! message as the probe (prefetch 1) and returns to full concurrency when the breaker
//! closes. A naive consumer that requeues on every failure redelivers each message
//! many times over an outage; this one gives back at most what it holds when the
//! breaker opens.
//!
//! # Guarantees
//!
//! - **At least once, never acknowledged unhandled**: a message is acknowledged only
//!   after its handler succeeded (or it was dead-lettered or moved to a tier, which the
//!   adapter publishes before it acknowledges). A lost connection or a crash makes the
//!   broker redeliver what was unacknowledged; use a [`Dedup`] store (shared across the
//!   fleet) or an idempotent handler so that a redelivery does no harm.
//! - **Dead-lettered or delayed once, unless the connection drops in between**: the
//!   copy is published (and confirmed) before the original is acknowledged, so a
//!   connection lost between the two leaves a copy *and* the redelivered original: at
//!   least once, here too. A copy that cannot be published gives the original back.
//! - **Bounded work per delivery**: in-place retries end before the lease, so a
//!   message is not redelivered to another consumer while this one still works on it.
//! - **Graceful shutdown**: when the shutdown future completes, no new delivery is
//!   taken; messages being handled get the drain time to finish, then are stopped and
//!   given back. Nothing handled stays unacknowledged unless the broker is gone.
//! - **Concurrency** is bounded by [`Builder::concurrency`], which is also the prefetch.
//! - **A handler that panics** fails that attempt (it runs in a task of its own); the
//!   message goes on as after a transient error.
//!
//! [`Report`] counts what the consumer settled; messages a broker adapter gives back
//! when it pauses (RabbitMQ: what was sent before the cancel) are not in it.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "amqp")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//! use seawall::consume::{Consumer, MemoryDedup, amqp::AmqpBroker};
//! use tower::service_fn;
//!
//! let breaker = CircuitBreakerLayer::builder().name("payments").build()?;
//! let consumer = Consumer::builder(|bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned))
//!     .breaker(breaker.handle())
//!     .dedup(MemoryDedup::new(100_000))
//!     .build()?;
//! let broker = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").connect().await?;
//! let handler = service_fn(|order: String| async move {
//!     println!("{order}");
//!     Ok::<(), std::io::Error>(())
//! });
//! let report = consumer.run(broker, handler, tokio::signal::ctrl_c()).await;
//! println!("{report:?}");
//! # Ok(()) }
//! ```

mod broker;
mod builder;
mod dedup;
mod memory;
mod process;
mod run;

#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub mod amqp;

pub use broker::{Broker, Delivery, Record, Settlement};
pub use builder::Builder;
pub use dedup::{Dedup, MemoryDedup};
pub use memory::{MemoryBroker, MemoryDelivery, MemoryStats};
pub use run::Report;

/// Turns a delivery's bytes into the handler's message; an error makes it poison.
///
/// Implemented for every `Fn(&[u8]) -> Result<M, E>` whose error can be shown.
///
/// ```
/// use seawall::consume::Decode;
/// let decode = |bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned);
/// assert!(decode.decode(b"ok").is_ok());
/// assert!(decode.decode(&[0xff]).is_err());
/// ```
pub trait Decode<M>: Send + Sync + 'static {
    /// The message in `bytes`, or why there is none (recorded as the poison's error).
    ///
    /// ```
    /// use seawall::consume::Decode;
    /// let decode = |bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned);
    /// assert_eq!(decode.decode(b"ok").unwrap(), "ok");
    /// ```
    fn decode(&self, bytes: &[u8]) -> Result<M, String>;
}

impl<M, E, F> Decode<M> for F
where
    F: Fn(&[u8]) -> Result<M, E> + Send + Sync + 'static,
    E: std::fmt::Display,
{
    fn decode(&self, bytes: &[u8]) -> Result<M, String> {
        self(bytes).map_err(|e| e.to_string())
    }
}

/// Whether retrying a failed message can help.
///
/// ```
/// use seawall::consume::Fate;
/// assert_ne!(Fate::Transient, Fate::Permanent);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Retry it: in place, then through the delayed tiers.
    Transient,
    /// Dead-letter it at once: a retry would fail the same way.
    Permanent,
}

/// Sorts a handler's error into a [`Fate`]; implemented for every `Fn(&E) -> Fate`.
///
/// ```
/// use seawall::consume::{Fate, Sort};
/// let sort = |e: &String| if e.starts_with("invalid") { Fate::Permanent } else { Fate::Transient };
/// assert_eq!(sort.sort(&"invalid sku".to_owned()), Fate::Permanent);
/// ```
pub trait Sort<E>: Send + Sync + 'static {
    /// The error's fate.
    ///
    /// ```
    /// use seawall::consume::{AllTransient, Fate, Sort};
    /// assert_eq!(AllTransient.sort(&42), Fate::Transient);
    /// ```
    fn sort(&self, error: &E) -> Fate;
}

impl<E, F: Fn(&E) -> Fate + Send + Sync + 'static> Sort<E> for F {
    fn sort(&self, error: &E) -> Fate {
        self(error)
    }
}

/// The default [`Sort`]: every error is transient.
///
/// ```
/// use seawall::consume::{AllTransient, Fate, Sort};
/// assert_eq!(AllTransient.sort(&"anything"), Fate::Transient);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AllTransient;

impl<E> Sort<E> for AllTransient {
    fn sort(&self, _: &E) -> Fate {
        Fate::Transient
    }
}

/// A consumer: settings, the decoder, the error sorter, and optionally a breaker and a
/// deduplication store. [`run`](Consumer::run) drives a [`Broker`] with a handler.
///
/// ```
/// use seawall::consume::Consumer;
/// let consumer = Consumer::builder(|bytes: &[u8]| Ok::<_, String>(bytes.to_vec())).build()?;
/// # let _ = consumer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct Consumer<D, F = AllTransient> {
    shared: std::sync::Arc<process::Shared<D, F>>,
}

impl<D, F> std::fmt::Debug for Consumer<D, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl Consumer<()> {
    /// Starts configuring a consumer whose messages `decode` makes from a delivery's
    /// bytes; see [`Builder`] for every setting.
    ///
    /// ```
    /// use seawall::consume::Consumer;
    /// let consumer = Consumer::builder(|bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned))
    ///     .build()?;
    /// # let _ = consumer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder<D>(decode: D) -> Builder<D> {
        Builder::new(decode)
    }
}

impl<D, F> Consumer<D, F> {
    fn from_parts(builder: Builder<D, F>) -> Self {
        let seed = builder.settings.seed.unwrap_or_else(rand::random);
        Consumer {
            shared: std::sync::Arc::new(process::Shared {
                settings: builder.settings,
                decode: builder.decode,
                fate: builder.fate,
                breaker: builder.breaker,
                dedup: builder.dedup,
                draws: crate::random::Draws::new(seed),
            }),
        }
    }
}
