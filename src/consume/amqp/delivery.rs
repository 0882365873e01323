//! One RabbitMQ delivery and how it is settled: acknowledged, given back, or published
//! to a delay queue or the dead-letter queue (with a publisher confirm) and then
//! acknowledged, so that a failed publish leaves the message where it was.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::Channel;
use lapin::Confirmation;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use super::{AmqpError, Topology};
use crate::consume::broker::{Delivery, Record, Settlement};

/// Header names seawall writes on delayed and dead-lettered messages.
pub(super) mod headers {
    pub(in crate::consume) const TIER: &str = "x-seawall-tier";
    pub(in crate::consume) const ATTEMPTS: &str = "x-seawall-attempts";
    pub(in crate::consume) const FIRST_SEEN: &str = "x-seawall-first-seen-ms";
    pub(in crate::consume) const REASON: &str = "x-seawall-reason";
    pub(in crate::consume) const ERROR: &str = "x-seawall-error";
    pub(in crate::consume) const ORIGIN: &str = "x-seawall-origin";
}

/// A message delivered by RabbitMQ, to settle once.
///
/// ```no_run
/// # async fn f(mut broker: seawall::consume::amqp::AmqpBroker) -> Result<(), seawall::consume::amqp::AmqpError> {
/// use seawall::consume::{Broker, Delivery, Settlement};
/// let delivery = broker.next().await?;
/// delivery.settle(Settlement::Ack).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AmqpDelivery {
    pub(super) inner: lapin::message::Delivery,
    pub(super) channel: Channel,
    pub(super) topology: Arc<Topology>,
}

impl AmqpDelivery {
    /// The delivery as lapin gave it: properties, headers, routing key.
    ///
    /// ```no_run
    /// # fn f(d: seawall::consume::amqp::AmqpDelivery) {
    /// let redelivered = d.lapin().redelivered;
    /// # }
    /// ```
    pub fn lapin(&self) -> &lapin::message::Delivery {
        &self.inner
    }

    fn header(&self, name: &str) -> Option<&AMQPValue> {
        self.inner.properties.headers().as_ref()?.inner().get(name)
    }

    /// A numeric header, read defensively: any integer type, clamped to `u32`.
    fn number(&self, name: &str) -> Option<u64> {
        let value = match self.header(name)? {
            AMQPValue::LongLongInt(v) => u64::try_from(*v).ok()?,
            AMQPValue::LongInt(v) => u64::try_from(*v).ok()?,
            AMQPValue::LongUInt(v) => u64::from(*v),
            AMQPValue::ShortInt(v) => u64::try_from(*v).ok()?,
            AMQPValue::ShortUInt(v) => u64::from(*v),
            AMQPValue::Timestamp(v) => *v,
            _ => return None,
        };
        Some(value)
    }

    /// Publishes a copy to `queue` (through the default exchange, mandatory: a queue
    /// that does not exist is an error, not a silent drop) with `record` in its headers,
    /// and waits for the broker's confirm.
    async fn copy_to(&self, queue: &str, record: &Record) -> Result<(), AmqpError> {
        let mut table = self.inner.properties.headers().clone().unwrap_or_default();
        let first_seen = record
            .first_seen
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        let long = |n: u64| AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX));
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()));
        table.insert(headers::TIER.into(), long(u64::from(record.tier)));
        table.insert(headers::ATTEMPTS.into(), long(u64::from(record.attempts)));
        table.insert(
            headers::FIRST_SEEN.into(),
            long(u64::try_from(first_seen).unwrap_or(u64::MAX)),
        );
        table.insert(headers::REASON.into(), text(record.reason));
        table.insert(headers::ERROR.into(), text(&record.error));
        table.insert(headers::ORIGIN.into(), text(&record.origin));
        let properties = self
            .inner
            .properties
            .clone()
            .with_headers(table)
            .with_delivery_mode(2);
        let confirm = self
            .channel
            .basic_publish(
                ShortString::from(""),
                ShortString::from(queue),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &self.inner.data,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Nack(_) => Err(AmqpError::Refused(
                "the broker refused the copy (publisher nack)",
            )),
            Confirmation::Ack(Some(_)) => Err(AmqpError::Refused(
                "the copy was returned unroutable: its queue does not exist",
            )),
            _ => Ok(()),
        }
    }

    /// Moves the message to `queue`: the copy confirmed, then this delivery
    /// acknowledged. A copy that failed gives the delivery back to its queue.
    async fn move_to(
        self,
        queue: Result<String, AmqpError>,
        record: &Record,
    ) -> Result<(), AmqpError> {
        let copied = match queue {
            Ok(queue) => self.copy_to(&queue, record).await,
            Err(error) => Err(error),
        };
        if let Err(error) = copied {
            let _ = self.inner.acker.nack(GIVE_BACK).await;
            return Err(error);
        }
        answered(self.inner.acker.ack(BasicAckOptions::default()).await)
    }
}

/// Nack with requeue.
const GIVE_BACK: BasicNackOptions = BasicNackOptions {
    requeue: true,
    multiple: false,
};

/// lapin says `Ok(false)` when the channel was closed and nothing was sent.
fn answered(sent: Result<bool, lapin::Error>) -> Result<(), AmqpError> {
    match sent? {
        true => Ok(()),
        false => Err(AmqpError::Refused(
            "the channel is closed; the broker redelivers the message",
        )),
    }
}

impl Delivery for AmqpDelivery {
    type Error = AmqpError;

    fn payload(&self) -> &[u8] {
        &self.inner.data
    }

    fn id(&self) -> Option<&str> {
        self.inner
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str)
    }

    fn tier(&self) -> u32 {
        let tier = self.number(headers::TIER).unwrap_or(0);
        u32::try_from(tier).unwrap_or(u32::MAX).min(1024)
    }

    fn attempts_before(&self) -> u32 {
        let attempts = self.number(headers::ATTEMPTS).unwrap_or(0);
        u32::try_from(attempts).unwrap_or(u32::MAX)
    }

    fn first_seen(&self) -> Option<SystemTime> {
        let ms = self.number(headers::FIRST_SEEN)?;
        UNIX_EPOCH.checked_add(Duration::from_millis(ms))
    }

    async fn settle(self, how: Settlement) -> Result<(), AmqpError> {
        match how {
            Settlement::Ack => answered(self.inner.acker.ack(BasicAckOptions::default()).await),
            Settlement::Requeue => answered(self.inner.acker.nack(GIVE_BACK).await),
            Settlement::Later { after, record } => {
                let queue = self.topology.delay_queue(&self.channel, after).await;
                self.move_to(queue, &record).await
            }
            Settlement::DeadLetter(record) => {
                let queue = Ok(self.topology.dead_letter.clone());
                self.move_to(queue, &record).await
            }
        }
    }
}

/// The arguments of a delay queue: its messages wait `after`, then go back to `queue`.
pub(super) fn delay_arguments(queue: &str, after: Duration) -> FieldTable {
    let mut arguments = FieldTable::default();
    let ttl = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    let back = AMQPValue::LongString(LongString::from(queue.as_bytes().to_vec()));
    arguments.insert("x-dead-letter-routing-key".into(), back);
    arguments
}
