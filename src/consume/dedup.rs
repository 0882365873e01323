//! The deduplication hook: delivery is at least once, so a message whose handling
//! succeeded may come again (its acknowledgement lost with the connection). A store of
//! ids already handled turns that into effectively once.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Remembers the ids of messages handled. Implement it over a shared store for a fleet
/// of consumers (Redis: `EXISTS` in [`handled`](Dedup::handled), `SET key 1 EX ttl` in
/// [`remember`](Dedup::remember); a database's unique key); the in-process
/// [`MemoryDedup`] covers one process. `handled` must only read: an id claimed before
/// its handler succeeded would make a failed message's redelivery look handled.
///
/// ```
/// use seawall::consume::{Dedup, MemoryDedup};
/// let seen = MemoryDedup::new(1000);
/// assert!(!seen.handled("order-1"));
/// seen.remember("order-1");
/// assert!(seen.handled("order-1"));
/// ```
pub trait Dedup: Send + Sync + 'static {
    /// Whether the message with this id was handled already.
    ///
    /// ```
    /// use seawall::consume::{Dedup, MemoryDedup};
    /// assert!(!MemoryDedup::new(10).handled("order-1"));
    /// ```
    fn handled(&self, id: &str) -> bool;
    /// Records that the message with this id was handled (before it is acknowledged).
    ///
    /// ```
    /// use seawall::consume::{Dedup, MemoryDedup};
    /// let seen = MemoryDedup::new(10);
    /// seen.remember("order-1");
    /// assert!(seen.handled("order-1"));
    /// ```
    fn remember(&self, id: &str);
}

/// The last `capacity` ids handled by this process, oldest forgotten first: memory stays
/// bounded whatever ids arrive.
///
/// ```
/// use seawall::consume::{Dedup, MemoryDedup};
/// let seen = MemoryDedup::new(1);
/// seen.remember("a");
/// seen.remember("b");
/// assert!(!seen.handled("a"), "forgotten: the capacity is one");
/// ```
#[derive(Debug)]
pub struct MemoryDedup {
    capacity: usize,
    // A cold lock: taken once per message, never across an await.
    ids: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl MemoryDedup {
    /// Remembers up to `capacity` ids (at least one).
    ///
    /// ```
    /// let seen = seawall::consume::MemoryDedup::new(100_000);
    /// # let _ = seen;
    /// ```
    pub fn new(capacity: usize) -> Self {
        MemoryDedup {
            capacity: capacity.max(1),
            ids: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }
}

impl Dedup for MemoryDedup {
    fn handled(&self, id: &str) -> bool {
        let ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.0.contains(id)
    }

    fn remember(&self, id: &str) {
        let mut guard = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (set, order) = &mut *guard;
        if set.insert(id.to_owned()) {
            order.push_back(id.to_owned());
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
    }
}
