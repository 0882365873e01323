//! Hedging (backup requests), in progress (issue #17): its lock-free latency histogram
//! comes first; the layer that reads a percentile from it follows.

// Used by the hedging layer still being built; tested on its own meanwhile.
#[allow(dead_code)]
mod histogram;
