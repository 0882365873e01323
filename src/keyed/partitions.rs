//! The key → layer map: one lock around a `HashMap`, taken once per call.
//!
//! Keys are created lazily from the template, capped, and evicted when idle. Each entry
//! counts the calls it has in flight, so that eviction never drops a key that is in use.
//!
//! Under a flood of new keys (attacker-chosen, say) a full map evicts its least recently
//! used idle key in amortized constant time: uses are queued as `(key, stamp)` records,
//! the oldest record whose stamp is still its key's is the least recently used, stale
//! records are skipped, and the queue is rebuilt from the map when it grows past twice
//! the keys (each record is looked at a constant number of times).
//!
//! Why not the `lru` crate: it evicts the least recently used key whatever its state,
//! and a key with calls in flight must never be evicted (its layer's permits and probe
//! slots live in it); skipping busy keys is the part a plain LRU cannot do.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::rejection::{Reason, Rejected};
use crate::template::Template;

pub(crate) struct Partitions<T: Template, K> {
    template: T,
    pub(crate) max_keys: u32,
    idle_ttl: Duration,
    map: Mutex<Map<K, T::Layer>>,
}

struct Map<K, L> {
    entries: HashMap<K, Entry<L>>,
    last_sweep: Instant,
    /// Uses, oldest first: `(key, stamp)`; a record is current while its stamp is its
    /// key's `stamp`.
    order: VecDeque<(K, u64)>,
    next_stamp: u64,
}

struct Entry<L> {
    layer: L,
    active: Arc<AtomicU32>,
    last_used: Instant,
    /// The stamp of this key's current record in `order`.
    stamp: u64,
}

impl<L> Entry<L> {
    fn idle(&self) -> bool {
        self.active.load(Acquire) == 0
    }
}

/// One call in flight on a key; dropping it marks the call finished.
#[derive(Debug)]
pub(crate) struct Active(Arc<AtomicU32>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Release);
    }
}

impl<T: Template, K: Hash + Eq + Clone> Partitions<T, K> {
    pub(crate) fn new(template: T, max_keys: u32, idle_ttl: Duration) -> Self {
        Partitions {
            template,
            max_keys,
            idle_ttl,
            map: Mutex::new(Map {
                entries: HashMap::new(),
                last_sweep: Instant::now(),
                order: VecDeque::new(),
                next_stamp: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Map<K, T::Layer>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn live_keys(&self) -> usize {
        self.lock().entries.len()
    }

    pub(crate) fn get(&self, key: &K) -> Option<T::Layer> {
        self.lock().entries.get(key).map(|e| e.layer.clone())
    }

    /// The key's layer (created if new) and a mark of one call in flight on it.
    pub(crate) fn enter(&self, key: &K) -> Result<(T::Layer, Active), Rejected> {
        let now = Instant::now();
        let mut map = self.lock();
        if now.saturating_duration_since(map.last_sweep) >= self.idle_ttl / 2 {
            self.sweep(&mut map, now);
        }
        let stamp = map.next_stamp;
        map.next_stamp += 1;
        if let Some(entry) = map.entries.get_mut(key) {
            entry.last_used = now;
            entry.stamp = stamp;
            entry.active.fetch_add(1, AcqRel);
            let found = (entry.layer.clone(), Active(entry.active.clone()));
            map.order.push_back((key.clone(), stamp));
            Self::compact(&mut map);
            return Ok(found);
        }
        if map.entries.len() >= self.max_keys as usize && !Self::evict_oldest_idle(&mut map) {
            let max_keys = self.max_keys;
            return Err(Rejected::new(Reason::TooManyKeys { max_keys }, None));
        }
        // The template was built once when the keyed layer was, so its settings are valid.
        let layer = self.template.build_layer().map_err(|_| {
            let max_keys = self.max_keys;
            Rejected::new(Reason::TooManyKeys { max_keys }, None)
        })?;
        let active = Arc::new(AtomicU32::new(1));
        let entry = Entry {
            layer: layer.clone(),
            active: active.clone(),
            last_used: now,
            stamp,
        };
        map.entries.insert(key.clone(), entry);
        map.order.push_back((key.clone(), stamp));
        Self::compact(&mut map);
        Ok((layer, Active(active)))
    }

    /// Drops keys idle for the idle TTL.
    fn sweep(&self, map: &mut Map<K, T::Layer>, now: Instant) {
        let ttl = self.idle_ttl;
        map.entries
            .retain(|_, e| !e.idle() || now.saturating_duration_since(e.last_used) < ttl);
        map.last_sweep = now;
    }

    /// Drops the least recently used idle key; `false` if every key is busy. Busy keys
    /// met on the way go to the back (as if just used), so each record is looked at a
    /// constant number of times between two uses.
    fn evict_oldest_idle(map: &mut Map<K, T::Layer>) -> bool {
        let mut busy_seen = 0;
        while let Some((key, stamp)) = map.order.pop_front() {
            let Some(entry) = map.entries.get_mut(&key) else {
                continue; // the key went (a sweep): a stale record
            };
            if entry.stamp != stamp {
                continue; // used since: a later record stands for it
            }
            if entry.idle() {
                map.entries.remove(&key);
                return true;
            }
            // In use: requeued. After every key, or 32 of them, seen busy, give up
            // (the call is refused; the busy keys now wait at the back).
            busy_seen += 1;
            let stamp = map.next_stamp;
            map.next_stamp += 1;
            entry.stamp = stamp;
            map.order.push_back((key, stamp));
            if busy_seen >= map.entries.len().min(32) {
                return false;
            }
        }
        false
    }

    /// Rebuilds the queue of uses from the map when stale records outnumber the keys
    /// (amortized constant time per use).
    fn compact(map: &mut Map<K, T::Layer>) {
        if map.order.len() <= 2 * map.entries.len() + 16 {
            return;
        }
        let mut live: Vec<(K, u64)> = map
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.stamp))
            .collect();
        live.sort_unstable_by_key(|(_, stamp)| *stamp);
        map.order = live.into();
    }
}
