//! The RabbitMQ broker's settings, and connecting.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use lapin::types::FieldTable;

use super::{AmqpBroker, AmqpError, Topology};

/// Configures an [`AmqpBroker`].
///
/// ```
/// use seawall::consume::amqp::AmqpBroker;
/// let builder = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").declare(false);
/// # let _ = builder;
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `connect()` to get the broker"]
pub struct Builder {
    pub(super) uri: String,
    pub(super) queue: String,
    pub(super) dead_letter: Option<String>,
    pub(super) declare: bool,
    pub(super) arguments: FieldTable,
    pub(super) tag: String,
}

impl Builder {
    /// The dead-letter queue. Default: `<queue>.dead`.
    ///
    /// ```
    /// # use seawall::consume::amqp::AmqpBroker;
    /// let builder = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").dead_letter_queue("orders.failed");
    /// # let _ = builder;
    /// ```
    pub fn dead_letter_queue(mut self, queue: impl Into<String>) -> Self {
        self.dead_letter = Some(queue.into());
        self
    }

    /// Whether to declare the queue and the dead-letter queue (durable) on connect;
    /// off when they are declared elsewhere (a quorum queue with a delivery limit, for
    /// instance). Default: on.
    ///
    /// ```
    /// # use seawall::consume::amqp::AmqpBroker;
    /// let builder = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").declare(false);
    /// # let _ = builder;
    /// ```
    pub fn declare(mut self, on: bool) -> Self {
        self.declare = on;
        self
    }

    /// Arguments for the queue's declaration (`x-queue-type`, `x-delivery-limit`, …).
    ///
    /// ```
    /// # use seawall::consume::amqp::AmqpBroker;
    /// use lapin::types::{AMQPValue, FieldTable};
    /// let mut arguments = FieldTable::default();
    /// arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    /// let builder = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").queue_arguments(arguments);
    /// # let _ = builder;
    /// ```
    pub fn queue_arguments(mut self, arguments: FieldTable) -> Self {
        self.arguments = arguments;
        self
    }

    /// Connects, declares the topology and returns the broker (consuming starts when
    /// the consumer runs).
    ///
    /// # Errors
    ///
    /// The connection or a declaration failed.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), seawall::consume::amqp::AmqpError> {
    /// # use seawall::consume::amqp::AmqpBroker;
    /// let broker = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "orders").connect().await?;
    /// # let _ = broker; Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<AmqpBroker, AmqpError> {
        let dead_letter =
            (self.dead_letter.clone()).unwrap_or_else(|| format!("{}.dead", self.queue));
        let topology = Arc::new(Topology {
            queue: self.queue.clone(),
            dead_letter,
            delays: Mutex::new(HashSet::new()),
        });
        let mut broker = AmqpBroker {
            settings: self,
            topology,
            link: None,
            paused: true,
            prefetch: 1,
            failures: 0,
            generation: 0,
            consuming_at: None,
            starting: None,
        };
        broker.reconnect().await?;
        Ok(broker)
    }
}
