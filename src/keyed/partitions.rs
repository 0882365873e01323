//! The key → layer map: one lock around a `HashMap`, taken once per call.
//!
//! Keys are created lazily from the template, capped, and evicted when idle. Each entry
//! counts the calls it has in flight, so that eviction never drops a key that is in use.

use std::collections::HashMap;
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
}

struct Entry<L> {
    layer: L,
    active: Arc<AtomicU32>,
    last_used: Instant,
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
        if let Some(entry) = map.entries.get_mut(key) {
            entry.last_used = now;
            entry.active.fetch_add(1, AcqRel);
            return Ok((entry.layer.clone(), Active(entry.active.clone())));
        }
        if map.entries.len() >= self.max_keys as usize {
            self.sweep(&mut map, now);
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
        };
        map.entries.insert(key.clone(), entry);
        Ok((layer, Active(active)))
    }

    /// Drops keys idle for the idle TTL.
    fn sweep(&self, map: &mut Map<K, T::Layer>, now: Instant) {
        let ttl = self.idle_ttl;
        map.entries
            .retain(|_, e| !e.idle() || now.saturating_duration_since(e.last_used) < ttl);
        map.last_sweep = now;
    }

    /// Drops the least recently used idle key; `false` if every key is busy.
    fn evict_oldest_idle(map: &mut Map<K, T::Layer>) -> bool {
        let oldest = map
            .entries
            .iter()
            .filter(|(_, e)| e.idle())
            .min_by_key(|(_, e)| e.last_used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => map.entries.remove(&key).is_some(),
            None => false,
        }
    }
}
