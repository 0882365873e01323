//! Settings from files (feature `serde`): round trips, defaults, and exact errors.
#![cfg(feature = "serde")]

mod breaker_files;
mod every_layer;
mod one_field;
mod values;
