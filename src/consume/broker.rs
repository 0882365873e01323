//! What a consumer needs from a broker: a small trait pair that an adapter implements
//! (RabbitMQ through `lapin` in [`amqp`](super::amqp); Kafka's commit-and-seek model fits
//! the same shape).

use std::future::Future;
use std::time::{Duration, SystemTime};

/// A broker's stream of deliveries, as a consumer drives it.
///
/// The adapter reconnects on its own: [`next`](Broker::next) waits through a lost
/// connection and returns an error only to report it (the consumer logs it and calls
/// again). Pausing stops the broker from sending new deliveries; what it sent before
/// stays the consumer's to settle.
///
/// ```
/// use seawall::consume::{Broker, Delivery, Settlement};
/// use std::time::{Duration, SystemTime};
///
/// /// A broker that holds one message and forgets what it is told.
/// struct One(Option<Vec<u8>>);
/// struct Message(Vec<u8>);
///
/// impl Delivery for Message {
///     type Error = std::io::Error;
///     fn payload(&self) -> &[u8] { &self.0 }
///     fn id(&self) -> Option<&str> { None }
///     fn tier(&self) -> u32 { 0 }
///     fn attempts_before(&self) -> u32 { 0 }
///     fn first_seen(&self) -> Option<SystemTime> { None }
///     async fn settle(self, _: Settlement) -> Result<(), std::io::Error> { Ok(()) }
/// }
///
/// impl Broker for One {
///     type Delivery = Message;
///     fn origin(&self) -> &str { "one" }
///     async fn next(&mut self) -> Result<Message, std::io::Error> {
///         match self.0.take() {
///             Some(body) => Ok(Message(body)),
///             None => std::future::pending().await,
///         }
///     }
///     async fn pause(&mut self) -> Result<(), std::io::Error> { Ok(()) }
///     async fn resume(&mut self, _prefetch: u16) -> Result<(), std::io::Error> { Ok(()) }
/// }
/// # let _ = One(Some(b"hi".to_vec()));
/// ```
pub trait Broker: Send + 'static {
    /// One message as delivered.
    type Delivery: Delivery;

    /// Where deliveries come from (a queue's name), recorded on dead-lettered messages.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// assert_eq!(broker.origin(), "jobs");
    /// # }
    /// ```
    fn origin(&self) -> &str;

    /// The next delivery. Waits while paused or reconnecting; an error reports a
    /// problem (a lost connection) and the consumer calls again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(8).await.unwrap();
    /// let delivery = broker.next().await.unwrap();
    /// assert_eq!(delivery.payload(), b"hi");
    /// # }
    /// ```
    fn next(
        &mut self,
    ) -> impl Future<Output = Result<Self::Delivery, <Self::Delivery as Delivery>::Error>> + Send;

    /// Stops new deliveries (RabbitMQ: cancels the consumer; Kafka: pauses the
    /// partitions without dropping fetched records).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.pause().await.unwrap();
    /// # }
    /// ```
    fn pause(
        &mut self,
    ) -> impl Future<Output = Result<(), <Self::Delivery as Delivery>::Error>> + Send;

    /// Resumes deliveries (or changes how many may be outstanding while running): at
    /// most `prefetch` unsettled at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap(); // one at a time: a probe
    /// # }
    /// ```
    fn resume(
        &mut self,
        prefetch: u16,
    ) -> impl Future<Output = Result<(), <Self::Delivery as Delivery>::Error>> + Send;
}

/// One delivered message, settled exactly once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
/// let mut broker = MemoryBroker::new("jobs");
/// broker.publish(b"hi".to_vec(), None);
/// broker.resume(1).await.unwrap();
/// broker.next().await.unwrap().settle(Settlement::Ack).await.unwrap();
/// # }
/// ```
pub trait Delivery: Send + 'static {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The message's bytes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// assert_eq!(broker.next().await.unwrap().payload(), b"hi");
    /// # }
    /// ```
    fn payload(&self) -> &[u8];

    /// The message's id, for deduplication (RabbitMQ: the `message_id` property).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// assert_eq!(broker.next().await.unwrap().id(), Some("1"));
    /// # }
    /// ```
    fn id(&self) -> Option<&str>;

    /// How many delayed-redelivery tiers the message went through already (0 on its
    /// first delivery).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// assert_eq!(broker.next().await.unwrap().tier(), 0);
    /// # }
    /// ```
    fn tier(&self) -> u32;

    /// How many handler attempts earlier deliveries of this message made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// assert_eq!(broker.next().await.unwrap().attempts_before(), 0);
    /// # }
    /// ```
    fn attempts_before(&self) -> u32;

    /// When a consumer first failed to handle the message, if one did.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// assert_eq!(broker.next().await.unwrap().first_seen(), None);
    /// # }
    /// ```
    fn first_seen(&self) -> Option<SystemTime>;

    /// Settles the delivery: acknowledged, given back, delayed or dead-lettered.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
    /// let mut broker = MemoryBroker::new("jobs");
    /// broker.publish(b"hi".to_vec(), Some("1"));
    /// broker.resume(1).await.unwrap();
    /// broker.next().await.unwrap().settle(Settlement::Requeue).await.unwrap();
    /// assert_eq!(broker.stats().requeued, 1);
    /// # }
    /// ```
    fn settle(self, how: Settlement) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How a delivery is settled.
///
/// ```
/// use seawall::consume::Settlement;
/// assert!(matches!(Settlement::Ack, Settlement::Ack));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Settlement {
    /// Processed: remove it.
    Ack,
    /// Not processed: give it back to the queue as it was (shutdown, a paused consumer).
    Requeue,
    /// Failed for now: deliver it again after `after` (a delayed-redelivery tier), then
    /// remove this delivery.
    Later {
        /// How long it waits before it is delivered again.
        after: Duration,
        /// What happened so far, carried in the message's headers.
        record: Record,
    },
    /// Failed for good: publish it to the dead-letter destination with `record` in its
    /// headers, then remove this delivery.
    DeadLetter(Record),
}

/// What happened to a message that failed, carried in its headers.
///
/// ```
/// use seawall::consume::Record;
/// let record = Record::new("poison", "expected value at line 1", 0, "orders");
/// assert_eq!(record.reason, "poison");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// `poison` (could not be decoded), `permanent` (the handler's error says retrying
    /// cannot help) or `exhausted` (every in-place retry and tier failed).
    pub reason: &'static str,
    /// The last error, as text (at most 1 KiB).
    pub error: String,
    /// Handler attempts made, over every delivery of the message.
    pub attempts: u32,
    /// When a consumer first failed to handle the message.
    pub first_seen: SystemTime,
    /// Where the message was consumed from.
    pub origin: String,
    /// The tier the message goes to next (for [`Settlement::Later`]), or went through.
    pub tier: u32,
}

impl Record {
    /// A record first seen now; the error is cut to 1 KiB.
    ///
    /// ```
    /// # use seawall::consume::Record;
    /// let record = Record::new("exhausted", "x".repeat(5000), 7, "orders");
    /// assert_eq!(record.error.len(), 1024);
    /// ```
    pub fn new(
        reason: &'static str,
        error: impl Into<String>,
        attempts: u32,
        origin: &str,
    ) -> Self {
        let mut error = error.into();
        if error.len() > MAX_ERROR {
            let mut end = MAX_ERROR;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            error.truncate(end);
        }
        Record {
            reason,
            error,
            attempts,
            first_seen: SystemTime::now(),
            origin: origin.to_owned(),
            tier: 0,
        }
    }
}

/// The longest error text a record carries.
const MAX_ERROR: usize = 1024;
