//! A registry of named, shared layers: two clients of the same dependency get the same
//! breaker, budget or pipeline by asking for it by name.
//!
//! ```
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//! use seawall::registry::Registry;
//!
//! let breakers = Registry::new(|name: &str| CircuitBreakerLayer::builder().name(name).build());
//! let a = breakers.get("payments")?; // built on first use
//! let b = breakers.get("payments")?; // the same breaker
//! a.handle().force_open();
//! assert_eq!(b.handle().state(), seawall::circuit_breaker::State::ForcedOpen);
//! assert_eq!(breakers.names(), vec!["payments".to_owned()]);
//! # Ok::<(), seawall::ConfigError>(())
//! ```
//!
//! Lookups take a lock; they happen when clients are built, not per call. Names come
//! from your code or configuration: the registry keeps every name it is asked for, so
//! do not key it by request data (use [`keyed`](crate::keyed) for that, which caps and
//! evicts keys).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use crate::config::ConfigError;

/// Named layers, each built once by the factory and shared by every `get`.
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use seawall::registry::Registry;
///
/// let bulkheads = Registry::new(|name: &str| BulkheadLayer::builder().name(name).build());
/// let search = bulkheads.get("search")?;
/// assert_eq!(search.handle().max_concurrent(), bulkheads.get("search")?.handle().max_concurrent());
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct Registry<L, F> {
    factory: F,
    entries: Mutex<BTreeMap<String, L>>,
}

impl<L, F> Registry<L, F>
where
    L: Clone,
    F: Fn(&str) -> Result<L, ConfigError>,
{
    /// A registry that builds missing entries with `factory(name)`.
    ///
    /// ```
    /// use seawall::registry::Registry;
    /// use seawall::retry::RetryLayer;
    /// let budgets = Registry::new(|name: &str| RetryLayer::builder().name(name).build());
    /// # let _ = budgets;
    /// ```
    pub fn new(factory: F) -> Self {
        Registry {
            factory,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// The layer named `name`, built on first use; later calls share its state.
    ///
    /// # Errors
    ///
    /// The factory's [`ConfigError`], with the name prefixed to the field; nothing is
    /// stored then, so a corrected configuration can be tried again.
    ///
    /// ```
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::registry::Registry;
    /// let bad = Registry::new(|_: &str| CircuitBreakerLayer::builder().half_open_calls(0).build());
    /// let err = bad.get("search").unwrap_err();
    /// assert_eq!(err.to_string(), "search.circuit_breaker.half_open_calls: 0 is outside 1..=1000");
    /// ```
    pub fn get(&self, name: &str) -> Result<L, ConfigError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(layer) = entries.get(name) {
            return Ok(layer.clone());
        }
        let layer = (self.factory)(name).map_err(|e| e.within(name))?;
        entries.insert(name.to_owned(), layer.clone());
        Ok(layer)
    }

    /// The names built so far, sorted.
    ///
    /// ```
    /// use seawall::registry::Registry;
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let r = Registry::new(|n: &str| CircuitBreakerLayer::builder().name(n).build());
    /// assert!(r.names().is_empty());
    /// ```
    pub fn names(&self) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.keys().cloned().collect()
    }
}

impl<L, F> fmt::Debug for Registry<L, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Registry")
            .field("names", &entries.keys().collect::<Vec<_>>())
            .finish()
    }
}
