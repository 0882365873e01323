//! The RabbitMQ adapter, through [`lapin`] (feature `amqp`): a [`Broker`] over one
//! queue, with delayed redelivery through delay queues (a per-queue TTL whose expired
//! messages dead-letter back to the queue; RabbitMQ's delayed-message plugin is not
//! needed) and a dead-letter queue.
//!
//! Topology, declared on connect (all durable): the queue; `<queue>.dead`, the
//! dead-letter queue; `<queue>.delay.<ms>` for each tier, declared when first used.
//! Copies sent to a delay queue or the dead-letter queue are published with a
//! publisher confirm before the original is acknowledged. The adapter reconnects
//! with backoff when the connection is lost; the consumer's breaker and counts are
//! kept across reconnects, and what was unacknowledged on the lost connection is
//! redelivered by the broker.
//!
//! ```no_run
//! # async fn f() -> Result<(), seawall::consume::amqp::AmqpError> {
//! use seawall::consume::amqp::AmqpBroker;
//! let broker = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders")
//!     .dead_letter_queue("orders.failed")
//!     .connect()
//!     .await?;
//! # let _ = broker; Ok(()) }
//! ```

mod builder;
mod delivery;

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};

pub use builder::Builder;
pub use delivery::AmqpDelivery;

use super::broker::Broker;

/// What went wrong talking to RabbitMQ.
///
/// ```
/// use seawall::consume::amqp::AmqpError;
/// let error = AmqpError::Refused("the broker refused the copy (publisher nack)");
/// assert!(error.to_string().contains("publisher nack"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum AmqpError {
    /// lapin's error: a lost connection, a refused declaration.
    Lapin(lapin::Error),
    /// The broker refused something without an AMQP error.
    Refused(&'static str),
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmqpError::Lapin(error) => write!(f, "amqp: {error}"),
            AmqpError::Refused(why) => write!(f, "amqp: {why}"),
        }
    }
}

impl std::error::Error for AmqpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AmqpError::Lapin(error) => Some(error),
            AmqpError::Refused(_) => None,
        }
    }
}

impl From<lapin::Error> for AmqpError {
    fn from(error: lapin::Error) -> Self {
        AmqpError::Lapin(error)
    }
}

/// The queues a broker uses, and the delay queues declared so far.
#[derive(Debug)]
pub(crate) struct Topology {
    queue: String,
    dead_letter: String,
    delays: Mutex<HashSet<u128>>,
}

impl Topology {
    /// The delay queue for `after`, declared on first use.
    async fn delay_queue(&self, channel: &Channel, after: Duration) -> Result<String, AmqpError> {
        let ms = after.as_millis().max(1);
        let name = format!("{}.delay.{ms}", self.queue);
        let known = self
            .delays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&ms);
        if !known {
            let arguments = delivery::delay_arguments(&self.queue, after);
            channel
                .queue_declare(
                    ShortString::from(name.as_str()),
                    QueueDeclareOptions::durable(),
                    arguments,
                )
                .await?;
            self.delays
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ms);
        }
        Ok(name)
    }
}

/// One connection, its channel and (while running) its consumer.
struct Link {
    connection: Connection,
    channel: Channel,
    consumer: Option<lapin::Consumer>,
}

/// A [`Broker`] over one RabbitMQ queue.
///
/// ```no_run
/// # async fn f() -> Result<(), seawall::consume::amqp::AmqpError> {
/// use seawall::consume::amqp::AmqpBroker;
/// let broker = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").connect().await?;
/// # let _ = broker; Ok(()) }
/// ```
pub struct AmqpBroker {
    settings: Builder,
    topology: Arc<Topology>,
    link: Option<Link>,
    paused: bool,
    prefetch: u16,
    /// Connection attempts failed in a row (for the backoff).
    failures: u32,
    /// Consumers started so far (for unique tags).
    generation: u64,
    /// The prefetch the running consumer started with.
    consuming_at: Option<u16>,
    /// A consumer being started (see `start`).
    starting: Option<tokio::task::JoinHandle<Result<(lapin::Consumer, u16), lapin::Error>>>,
}

impl fmt::Debug for AmqpBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpBroker")
            .field("queue", &self.topology.queue)
            .field("connected", &self.link.is_some())
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

impl AmqpBroker {
    /// Starts configuring a broker for `queue` at `uri` (`amqp://user:pass@host:port/vhost`).
    ///
    /// ```
    /// # use seawall::consume::amqp::AmqpBroker;
    /// let builder = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders");
    /// # let _ = builder;
    /// ```
    pub fn builder(uri: impl Into<String>, queue: impl Into<String>) -> Builder {
        Builder {
            uri: uri.into(),
            queue: queue.into(),
            dead_letter: None,
            declare: true,
            arguments: FieldTable::default(),
            tag: format!("seawall-{}", std::process::id()),
        }
    }

    /// Connects again (after a wait that doubles with each failure, up to 5 s), declares
    /// the topology, and consumes again unless paused.
    async fn reconnect(&mut self) -> Result<(), AmqpError> {
        self.drop_link().await;
        if self.failures > 0 {
            let wait = Duration::from_millis(100) * (1 << self.failures.min(6));
            tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
        }
        let result = self.open().await;
        self.failures = match &result {
            Ok(()) => 0,
            Err(_) => self.failures.saturating_add(1),
        };
        result
    }

    /// Closes the connection, if any: what it held unacknowledged goes back to the
    /// queue now rather than when a half-dead socket times out. A second at most.
    async fn drop_link(&mut self) {
        if let Some(starting) = self.starting.take() {
            starting.abort();
        }
        if let Some(link) = self.link.take() {
            let close = link.connection.close(200, "reconnecting".into());
            let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
        }
    }

    async fn open(&mut self) -> Result<(), AmqpError> {
        let connection =
            Connection::connect(&self.settings.uri, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        if self.settings.declare {
            let queue = ShortString::from(self.topology.queue.as_str());
            let arguments = self.settings.arguments.clone();
            channel
                .queue_declare(queue, QueueDeclareOptions::durable(), arguments)
                .await?;
            let dead = ShortString::from(self.topology.dead_letter.as_str());
            channel
                .queue_declare(dead, QueueDeclareOptions::durable(), FieldTable::default())
                .await?;
        } else {
            // Declared elsewhere: check that both exist now, not when a message is lost.
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            for queue in [&self.topology.queue, &self.topology.dead_letter] {
                let queue = ShortString::from(queue.as_str());
                channel
                    .queue_declare(queue, passive, FieldTable::default())
                    .await?;
            }
        }
        self.topology
            .delays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.consuming_at = None;
        self.link = Some(Link {
            connection,
            channel,
            consumer: None,
        });
        if !self.paused {
            self.start().await?;
        }
        Ok(())
    }

    /// Sets the prefetch and starts a consumer, if none runs. The setup runs as a task
    /// whose handle the broker keeps, so a caller that stops waiting (the consumer
    /// loop's `select!` drops `next` when a message finishes) leaves no consumer behind
    /// that nobody reads: the next call picks the same setup up.
    async fn start(&mut self) -> Result<(), AmqpError> {
        let Some(link) = self.link.as_mut() else {
            return Err(AmqpError::Refused("not connected"));
        };
        if link.consumer.is_some() {
            return Ok(());
        }
        let prefetch = self.prefetch;
        let pending = self.starting.get_or_insert_with(|| {
            self.generation += 1;
            let tag = format!("{}-{}", self.settings.tag, self.generation);
            let channel = link.channel.clone();
            let queue = ShortString::from(self.topology.queue.as_str());
            tokio::spawn(async move {
                channel
                    .basic_qos(prefetch, BasicQosOptions::default())
                    .await?;
                let options = BasicConsumeOptions::default();
                let tag = ShortString::from(tag);
                let consumer = channel.basic_consume(queue, tag, options, FieldTable::default());
                Ok((consumer.await?, prefetch))
            })
        });
        let started = (&mut *pending).await;
        self.starting = None;
        match started {
            Ok(Ok((consumer, prefetch))) => {
                link.consumer = Some(consumer);
                self.consuming_at = Some(prefetch);
                Ok(())
            }
            Ok(Err(error)) => Err(AmqpError::Lapin(error)),
            Err(_) => Err(AmqpError::Refused("starting the consumer failed")),
        }
    }
}

impl Broker for AmqpBroker {
    type Delivery = AmqpDelivery;

    fn origin(&self) -> &str {
        &self.topology.queue
    }

    async fn next(&mut self) -> Result<AmqpDelivery, AmqpError> {
        loop {
            let Some(link) = self.link.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            let Some(consumer) = link.consumer.as_mut() else {
                if self.paused {
                    return std::future::pending().await;
                }
                self.start().await?;
                continue;
            };
            let next = std::future::poll_fn(|cx| Pin::new(&mut *consumer).poll_next(cx)).await;
            match next {
                Some(Ok(inner)) => {
                    return Ok(AmqpDelivery {
                        inner,
                        channel: link.channel.clone(),
                        topology: Arc::clone(&self.topology),
                    });
                }
                Some(Err(error)) => {
                    self.drop_link().await; // reconnect on the next call
                    return Err(error.into());
                }
                // The consumer ended: the connection or the channel closed.
                None => {
                    self.drop_link().await;
                    self.failures = self.failures.max(1);
                    return Err(AmqpError::Refused(
                        "the broker ended the consumer; reconnecting",
                    ));
                }
            }
        }
    }

    async fn pause(&mut self) -> Result<(), AmqpError> {
        self.paused = true;
        self.cancel().await
    }

    async fn resume(&mut self, prefetch: u16) -> Result<(), AmqpError> {
        self.paused = false;
        self.prefetch = prefetch.max(1);
        if self.link.is_none() {
            return self.reconnect().await;
        }
        // RabbitMQ applies a consumer's prefetch when it starts: a new pace needs a new
        // consumer (what the old one held is given back).
        if self.consuming_at != Some(self.prefetch) {
            self.cancel().await?;
        }
        self.start().await
    }
}

impl AmqpBroker {
    /// Cancels the consumer, if one runs, and gives back what it was sent.
    async fn cancel(&mut self) -> Result<(), AmqpError> {
        if self.starting.is_some() && self.link.is_some() {
            self.start().await?; // finish it, to cancel what it started
        }
        self.consuming_at = None;
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let Some(mut consumer) = link.consumer.take() else {
            return Ok(());
        };
        link.channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await?;
        // What the broker sent before the cancel is given back, not left unacknowledged.
        let give_back = BasicNackOptions {
            requeue: true,
            multiple: false,
        };
        let drain = async {
            while let Some(Ok(delivery)) =
                std::future::poll_fn(|cx| Pin::new(&mut consumer).poll_next(cx)).await
            {
                let _ = delivery.acker.nack(give_back).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
        Ok(())
    }
}
