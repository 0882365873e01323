//! One delivery, from decoding to settling: poison is dead-lettered at once, a
//! duplicate acknowledged, a transient failure retried in place within the lease, then
//! sent to the next delayed tier, then dead-lettered; a permanent one dead-lettered.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

use super::broker::{Delivery, Record, Settlement};
use super::builder::Settings;
use super::dedup::Dedup;
use super::{Decode, Fate, Sort};
use crate::Outcome;
use crate::circuit_breaker::CircuitBreakerHandle;
use crate::random::Draws;

/// What every delivery's task shares.
pub(super) struct Shared<D, F> {
    pub(super) settings: Settings,
    pub(super) decode: D,
    pub(super) fate: F,
    pub(super) breaker: Option<CircuitBreakerHandle>,
    pub(super) dedup: Option<Arc<dyn Dedup>>,
    pub(super) draws: Draws,
}

/// How one delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Done {
    /// Handled and acknowledged.
    Handled,
    /// Its id was handled before: acknowledged without handling.
    Duplicate,
    /// Could not be decoded: dead-lettered.
    Poison,
    /// Failed for good (permanent, or every tier spent): dead-lettered.
    DeadLettered,
    /// Sent to a delayed-redelivery tier.
    Delayed,
    /// Given back unhandled because the breaker is open; it stays open this long.
    Refused(Option<Duration>),
    /// Given back unhandled because the consumer is shutting down.
    Stopped,
    /// The broker refused the settlement (a lost connection): it redelivers the message.
    Unsettled,
}

/// Handles `delivery` with `handler`, and settles it.
pub(super) async fn process<B, S, M, D, F>(
    delivery: B,
    mut handler: S,
    shared: Arc<Shared<D, F>>,
    mut stop: watch::Receiver<bool>,
    origin: Arc<str>,
) -> Done
where
    B: Delivery,
    S: Service<M, Response = ()> + Send,
    S::Error: std::fmt::Display + Send + 'static,
    S::Future: Send + 'static,
    M: Clone + Send,
    D: Decode<M>,
    F: Sort<S::Error>,
{
    let arrived = Instant::now();
    let lease_ends = arrived + shared.settings.lease;
    let message = match shared.decode.decode(delivery.payload()) {
        Ok(message) => message,
        Err(error) => {
            let record = record(&delivery, &origin, "poison", error, 0);
            return dead_letter(delivery, record, Done::Poison, &shared).await;
        }
    };
    let id = delivery.id().map(str::to_owned);
    if let (Some(store), Some(id)) = (&shared.dedup, &id)
        && store.handled(id)
    {
        return settle(delivery, Settlement::Ack, Done::Duplicate, &shared).await;
    }
    let mut attempts = 0;
    let mut last_error = String::new();
    loop {
        let stopping = *stop.borrow();
        if stopping {
            return settle(delivery, Settlement::Requeue, Done::Stopped, &shared).await;
        }
        let permit = match &shared.breaker {
            Some(breaker) => match breaker.try_acquire_owned() {
                Ok(permit) => Some(permit),
                // Untried, the message goes back as it was. Tried and failed, it
                // moves on to its next tier: given back to the head of the queue, a
                // message that always fails would be the probe forever.
                Err(refused) if attempts == 0 => {
                    let open_for = refused.retry_after();
                    return settle(
                        delivery,
                        Settlement::Requeue,
                        Done::Refused(open_for),
                        &shared,
                    )
                    .await;
                }
                Err(_) => {
                    let error = format!("{last_error} (then the breaker opened)");
                    return escalate(delivery, error, attempts, &origin, &shared).await;
                }
            },
            None => None,
        };
        attempts += 1;
        let copy = message.clone();
        let attempt = async {
            poll_fn(|cx| handler.poll_ready(cx))
                .await
                .map_err(Failed::Error)?;
            // A task of its own, so that a handler that panics fails this attempt
            // instead of losing the delivery; dropped, it is aborted.
            match Abort(tokio::spawn(handler.call(copy))).await {
                Ok(result) => result.map_err(Failed::Error),
                Err(_) => Err(Failed::Panicked),
            }
        };
        let result = tokio::select! {
            result = tokio::time::timeout_at(lease_ends, attempt) => result,
            () = stopped(&mut stop) => {
                drop(permit); // the attempt was stopped, not judged
                return settle(delivery, Settlement::Requeue, Done::Stopped, &shared).await;
            }
        };
        let error = match result {
            Ok(Ok(())) => {
                if let Some(permit) = permit {
                    permit.record(Outcome::Success);
                }
                if let (Some(store), Some(id)) = (&shared.dedup, &id) {
                    store.remember(id);
                }
                return settle(delivery, Settlement::Ack, Done::Handled, &shared).await;
            }
            Ok(Err(Failed::Error(error))) if shared.fate.sort(&error) == Fate::Permanent => {
                if let Some(permit) = permit {
                    permit.record(Outcome::Ignored);
                }
                let record = record(&delivery, &origin, "permanent", error, attempts);
                return dead_letter(delivery, record, Done::DeadLettered, &shared).await;
            }
            Ok(Err(Failed::Error(error))) => error.to_string(),
            Ok(Err(Failed::Panicked)) => "the handler panicked".to_owned(),
            Err(_) => format!(
                "still running when its lease of {:?} ended",
                shared.settings.lease
            ),
        };
        if let Some(permit) = permit {
            permit.record(Outcome::Failure);
        }
        let delay = backoff(&shared, attempts);
        let in_place = attempts < shared.settings.attempts && Instant::now() + delay < lease_ends;
        if in_place {
            last_error = error;
            tokio::select! {
                () = tokio::time::sleep(delay) => continue,
                () = stopped(&mut stop) => {
                    return settle(delivery, Settlement::Requeue, Done::Stopped, &shared).await;
                }
            }
        }
        return escalate(delivery, error, attempts, &origin, &shared).await;
    }
}

/// A failed attempt: the handler's error, or its panic.
enum Failed<E> {
    Error(E),
    Panicked,
}

/// A spawned attempt, aborted when dropped (a stopped or timed-out attempt ends).
struct Abort<T>(tokio::task::JoinHandle<T>);

impl<T> std::future::Future for Abort<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for Abort<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// After the in-place attempts: the next delayed tier, or the dead-letter queue.
async fn escalate<B: Delivery, D, F>(
    delivery: B,
    error: String,
    attempts: u32,
    origin: &str,
    shared: &Shared<D, F>,
) -> Done {
    let tier = delivery.tier();
    match shared.settings.tiers.get(tier as usize) {
        Some(&after) => {
            let mut record = record(&delivery, origin, "exhausted", error, attempts);
            record.tier = tier + 1;
            let later = Settlement::Later { after, record };
            settle(delivery, later, Done::Delayed, shared).await
        }
        None => {
            let record = record(&delivery, origin, "exhausted", error, attempts);
            dead_letter(delivery, record, Done::DeadLettered, shared).await
        }
    }
}

/// Completes when the consumer is told to stop (at once if it was already).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard it returns is not held across an await: a task must stay `Send`.
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

/// The jittered exponential delay after attempt number `attempts` (full jitter).
fn backoff<D, F>(shared: &Shared<D, F>, attempts: u32) -> Duration {
    let settings = &shared.settings;
    let doublings = attempts.saturating_sub(1).min(30);
    let ceiling = settings
        .initial
        .saturating_mul(1 << doublings)
        .min(settings.max_delay);
    ceiling.mul_f64(shared.draws.unit())
}

fn record<B: Delivery>(
    delivery: &B,
    origin: &str,
    reason: &'static str,
    error: impl std::fmt::Display,
    attempts: u32,
) -> Record {
    let total = delivery.attempts_before().saturating_add(attempts);
    let mut record = Record::new(reason, error.to_string(), total, origin);
    record.first_seen = delivery.first_seen().unwrap_or_else(SystemTime::now);
    record.tier = delivery.tier();
    record
}

async fn dead_letter<B: Delivery, D, F>(
    delivery: B,
    record: Record,
    done: Done,
    shared: &Shared<D, F>,
) -> Done {
    crate::telemetry::event!(
        warn,
        "consume",
        shared.settings.name.as_str(),
        "dead_lettered",
        seawall.reason = record.reason,
        seawall.attempt = record.attempts,
        error = record.error.as_str(),
        "message dead-lettered"
    );
    settle(delivery, Settlement::DeadLetter(record), done, shared).await
}

async fn settle<B: Delivery, D, F>(
    delivery: B,
    how: Settlement,
    done: Done,
    shared: &Shared<D, F>,
) -> Done {
    match delivery.settle(how).await {
        Ok(()) => done,
        Err(error) => {
            crate::telemetry::event!(
                warn,
                "consume",
                shared.settings.name.as_str(),
                "settle_failed",
                %error,
                "the broker refused a settlement; it will deliver the message again"
            );
            Done::Unsettled
        }
    }
}
