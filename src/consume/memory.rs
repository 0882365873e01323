//! An in-process broker: a queue in memory that settles as a real broker does, for
//! tests and examples (it runs on tokio's paused clock).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Notify;

use super::broker::{Broker, Delivery, Record, Settlement};

/// A message held by a [`MemoryBroker`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Stored {
    payload: Vec<u8>,
    id: Option<String>,
    tier: u32,
    attempts: u32,
    first_seen: Option<SystemTime>,
    deliveries: u32,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Stored>,
    dead: Vec<(Vec<u8>, Record)>,
    unsettled: u32,
    stats: MemoryStats,
}

/// What a [`MemoryBroker`] saw.
///
/// ```
/// let stats = seawall::consume::MemoryBroker::new("jobs").stats();
/// assert_eq!(stats.delivered, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Deliveries made, redeliveries included.
    pub delivered: u64,
    /// Deliveries of a message delivered before (given back, or back from a tier).
    pub redelivered: u64,
    /// Messages acknowledged.
    pub acked: u64,
    /// Messages given back.
    pub requeued: u64,
    /// Messages sent to a delayed tier.
    pub delayed: u64,
    /// Messages dead-lettered.
    pub dead_lettered: u64,
    /// Messages waiting in the queue.
    pub ready: u64,
}

/// A broker whose queue lives in this process; clones share it (and its prefetch: one
/// consumer per broker and its clones).
///
/// ```
/// use seawall::consume::MemoryBroker;
/// let broker = MemoryBroker::new("jobs");
/// broker.publish(b"one".to_vec(), Some("1"));
/// assert_eq!(broker.stats().ready, 1);
/// ```
#[derive(Clone, Debug)]
pub struct MemoryBroker {
    origin: Arc<str>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    paused: bool,
    prefetch: u32,
}

impl MemoryBroker {
    /// An empty queue named `origin`.
    ///
    /// ```
    /// let broker = seawall::consume::MemoryBroker::new("jobs");
    /// # let _ = broker;
    /// ```
    pub fn new(origin: &str) -> Self {
        MemoryBroker {
            origin: Arc::from(origin),
            state: Arc::default(),
            changed: Arc::new(Notify::new()),
            paused: true,
            prefetch: 1,
        }
    }

    /// Adds a message at the back of the queue.
    ///
    /// ```
    /// # let broker = seawall::consume::MemoryBroker::new("jobs");
    /// broker.publish(b"{\"sku\": 7}".to_vec(), Some("order-1"));
    /// ```
    pub fn publish(&self, payload: Vec<u8>, id: Option<&str>) {
        let stored = Stored {
            payload,
            id: id.map(str::to_owned),
            ..Stored::default()
        };
        self.with(|state| state.ready.push_back(stored));
    }

    /// What the broker saw so far.
    ///
    /// ```
    /// # let broker = seawall::consume::MemoryBroker::new("jobs");
    /// assert_eq!(broker.stats().acked, 0);
    /// ```
    pub fn stats(&self) -> MemoryStats {
        self.peek(|state| MemoryStats {
            ready: state.ready.len() as u64,
            ..state.stats
        })
    }

    /// The dead-lettered messages, with their records.
    ///
    /// ```
    /// # let broker = seawall::consume::MemoryBroker::new("jobs");
    /// assert!(broker.dead_letters().is_empty());
    /// ```
    pub fn dead_letters(&self) -> Vec<(Vec<u8>, Record)> {
        self.peek(|state| state.dead.clone())
    }

    /// Reads or changes the state without waking anyone.
    fn peek<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the state and wakes a waiting `next`.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = self.peek(f);
        self.changed.notify_waiters();
        out
    }
}

/// A message delivered by a [`MemoryBroker`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use seawall::consume::{Broker, Delivery, MemoryBroker, Settlement};
/// let mut broker = MemoryBroker::new("jobs");
/// broker.publish(b"hi".to_vec(), None);
/// broker.resume(1).await.unwrap();
/// let delivery = broker.next().await.unwrap();
/// assert_eq!(delivery.payload(), b"hi");
/// delivery.settle(Settlement::Ack).await.unwrap();
/// assert_eq!(broker.stats().acked, 1);
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryDelivery {
    // Taken when settled; a delivery dropped unsettled goes back to the queue, as
    // RabbitMQ gives back what a closed channel held.
    stored: Option<Stored>,
    broker: MemoryBroker,
}

impl Drop for MemoryDelivery {
    fn drop(&mut self) {
        if let Some(stored) = self.stored.take() {
            self.broker.with(|state| {
                state.unsettled = state.unsettled.saturating_sub(1);
                state.stats.requeued += 1;
                state.ready.push_front(stored);
            });
        }
    }
}

impl Broker for MemoryBroker {
    type Delivery = MemoryDelivery;

    fn origin(&self) -> &str {
        &self.origin
    }

    async fn next(&mut self) -> Result<MemoryDelivery, std::convert::Infallible> {
        loop {
            let changed = self.changed.notified();
            if !self.paused {
                let prefetch = self.prefetch;
                let taken = self.peek(|state| {
                    if state.unsettled >= prefetch {
                        return None;
                    }
                    let mut stored = state.ready.pop_front()?;
                    stored.deliveries += 1;
                    state.unsettled += 1;
                    state.stats.delivered += 1;
                    if stored.deliveries > 1 {
                        state.stats.redelivered += 1;
                    }
                    Some(stored)
                });
                if let Some(stored) = taken {
                    let broker = self.clone();
                    let stored = Some(stored);
                    return Ok(MemoryDelivery { stored, broker });
                }
            }
            changed.await;
        }
    }

    async fn pause(&mut self) -> Result<(), std::convert::Infallible> {
        self.paused = true;
        Ok(())
    }

    async fn resume(&mut self, prefetch: u16) -> Result<(), std::convert::Infallible> {
        self.paused = false;
        self.prefetch = u32::from(prefetch.max(1));
        self.changed.notify_waiters();
        Ok(())
    }
}

impl MemoryDelivery {
    fn stored(&self) -> &Stored {
        const NONE: &Stored = &Stored {
            payload: Vec::new(),
            id: None,
            tier: 0,
            attempts: 0,
            first_seen: None,
            deliveries: 0,
        };
        self.stored.as_ref().unwrap_or(NONE)
    }
}

impl Delivery for MemoryDelivery {
    type Error = std::convert::Infallible;

    fn payload(&self) -> &[u8] {
        &self.stored().payload
    }

    fn id(&self) -> Option<&str> {
        self.stored().id.as_deref()
    }

    fn tier(&self) -> u32 {
        self.stored().tier
    }

    fn attempts_before(&self) -> u32 {
        self.stored().attempts
    }

    fn first_seen(&self) -> Option<SystemTime> {
        self.stored().first_seen
    }

    async fn settle(mut self, how: Settlement) -> Result<(), std::convert::Infallible> {
        let mut stored = self.stored.take().unwrap_or_default();
        let broker = self.broker.clone();
        broker.with(|state| {
            state.unsettled = state.unsettled.saturating_sub(1);
            match &how {
                Settlement::Ack => state.stats.acked += 1,
                Settlement::Requeue => {
                    state.stats.requeued += 1;
                    state.ready.push_front(stored.clone());
                }
                Settlement::Later { .. } => state.stats.delayed += 1,
                Settlement::DeadLetter(record) => {
                    state.stats.dead_lettered += 1;
                    state.dead.push((stored.payload.clone(), record.clone()));
                }
            }
        });
        if let Settlement::Later { after, record } = how {
            stored.tier = record.tier;
            stored.attempts = record.attempts;
            stored.first_seen = Some(record.first_seen);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                broker.with(|state| state.ready.push_back(stored));
            });
        }
        Ok(())
    }
}
