//! The atomics and the lock of seawall's hand-written concurrent structures: the
//! standard library's, or `loom`'s when the crate is built for model checking with
//! `RUSTFLAGS="--cfg seawall_loom"` (the models are `src/models.rs` and a `models.rs` in the breaker, rate-limit and retry folders; a cfg of our own,
//! since tokio and others change under a plain `--cfg loom`).
//!
//! Only the structures a model covers take their atomics from here: the semaphore, the
//! GCRA word, the breaker's state word, probe slots and windows, the shared ring and the
//! retry budgets.
//!
//! loom 0.7 lets a plain store land between the read and the write of another thread's
//! compare-and-swap (tokio-rs/loom#254; the fix, #391, is not released), which no real
//! processor or the language's memory model allows. So where a store would race a
//! compare-and-swap in these structures (window resets: cold paths only), they write
//! with a swap, and the models check the code exactly as it runs.

#[cfg(not(seawall_loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicI64, AtomicU32, AtomicU64},
};

#[cfg(seawall_loom)]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicI64, AtomicU32, AtomicU64},
};

/// Runs `model` under loom for every interleaving its threads allow, with at most
/// `LOOM_MAX_PREEMPTIONS` (default 3) preemptions per run.
#[cfg(all(test, seawall_loom))]
pub(crate) fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(model);
}
