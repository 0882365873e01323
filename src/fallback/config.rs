//! The fallback layer's settings as a configuration file gives them (feature `serde`).

use std::time::Duration;

use super::Builder;

/// A fallback layer's limits from a file (feature `serde`): each field left out keeps
/// the builder's value; unknown fields are errors. The rule and the fallback are code.
///
/// ```
/// use seawall::fallback::{FallbackLayer, FallbackOverrides};
/// let file: FallbackOverrides = toml::from_str(r#"
///     time_limit = "50ms"
///     max_concurrent = 20
/// "#).unwrap();
/// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
///     .with_config(&file)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FallbackOverrides {
    /// Name in metrics.
    pub name: Option<String>,
    /// The longest a fallback may run.
    #[serde(with = "crate::config::human::option")]
    pub time_limit: Option<Duration>,
    /// The most fallbacks running at once.
    pub max_concurrent: Option<u32>,
}

impl<W, R> Builder<W, R> {
    /// Applies the limits a file gives; those it leaves out keep this builder's values
    /// (feature `serde`).
    ///
    /// ```
    /// use seawall::fallback::{FallbackLayer, FallbackOverrides};
    /// let file: FallbackOverrides = toml::from_str("max_concurrent = 0").unwrap();
    /// let err = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
    ///     .with_config(&file)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "fallback.max_concurrent: 0 is outside 1..=4294967295");
    /// ```
    pub fn with_config(mut self, file: &FallbackOverrides) -> Self {
        use crate::config::keep_unless_set as set;
        set(&mut self.name, &file.name);
        set(&mut self.time_limit, &file.time_limit.map(Some));
        set(&mut self.max_concurrent, &file.max_concurrent);
        self
    }
}
