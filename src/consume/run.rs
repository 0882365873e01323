//! The consumer loop: takes deliveries up to the concurrency, hands each to a task,
//! pauses while the breaker is open, probes with one message, and drains on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

use super::broker::Broker;
use super::process::{Done, process};
use super::{Consumer, Decode, Sort};
use crate::circuit_breaker::State;

/// How often a paused consumer looks at its breaker when the breaker gave no time.
const RECHECK: Duration = Duration::from_millis(100);
/// At shutdown, how long the broker may take to stop consuming, and stopped messages
/// to be given back, before the consumer returns anyway.
const GIVE_UP: Duration = Duration::from_secs(5);
/// How long the loop waits after the broker reported an error, before asking again.
const AFTER_ERROR: Duration = Duration::from_millis(100);

/// What a [`run`](Consumer::run) did, by count.
///
/// ```
/// let report = seawall::consume::Report::default();
/// assert_eq!(report.handled, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Handled and acknowledged.
    pub handled: u64,
    /// Acknowledged without handling: the dedup store knew their ids.
    pub duplicates: u64,
    /// Could not be decoded: dead-lettered.
    pub poison: u64,
    /// Dead-lettered after a permanent error or the last tier.
    pub dead_lettered: u64,
    /// Sent to a delayed-redelivery tier.
    pub delayed: u64,
    /// Given back unhandled because the breaker was open.
    pub refused: u64,
    /// Given back unhandled at shutdown.
    pub stopped: u64,
    /// Deliveries whose settlement the broker refused (it redelivers them).
    pub unsettled: u64,
    /// Times consumption paused for an open breaker.
    pub pauses: u64,
    /// Errors the broker reported (lost connections).
    pub broker_errors: u64,
}

impl Report {
    fn count(&mut self, done: Done) {
        let counter = match done {
            Done::Handled => &mut self.handled,
            Done::Duplicate => &mut self.duplicates,
            Done::Poison => &mut self.poison,
            Done::DeadLettered => &mut self.dead_lettered,
            Done::Delayed => &mut self.delayed,
            Done::Refused(_) => &mut self.refused,
            Done::Stopped => &mut self.stopped,
            Done::Unsettled => &mut self.unsettled,
        };
        *counter += 1;
    }
}

/// Whether deliveries are taken, and how many at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Running,
    /// The breaker is open: nothing taken until then.
    Paused(Instant),
    /// The breaker's open period ended: one message at a time until it closes.
    Probing,
}

impl<D, F> Consumer<D, F> {
    /// Consumes from `broker` with `handler` until `shutdown` completes, then drains
    /// (see [`Builder::drain`](super::Builder::drain)) and returns what happened. The
    /// broker's [`next`](Broker::next) must be cancel-safe.
    ///
    /// ```no_run
    /// # #[cfg(feature = "amqp")]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use seawall::consume::{amqp::AmqpBroker, Consumer};
    /// let consumer = Consumer::builder(|b: &[u8]| Ok::<_, String>(b.to_vec())).build()?;
    /// let broker = AmqpBroker::builder("amqp://127.0.0.1:5672/%2f", "jobs").connect().await?;
    /// let handler = tower::service_fn(|job: Vec<u8>| async move { Ok::<(), std::io::Error>(()) });
    /// let report = consumer.run(broker, handler, tokio::signal::ctrl_c()).await;
    /// # let _ = report; Ok(()) }
    /// ```
    pub async fn run<B, S, M, Z>(&self, mut broker: B, handler: S, shutdown: Z) -> Report
    where
        B: Broker,
        S: Service<M, Response = ()> + Clone + Send + 'static,
        S::Error: std::fmt::Display + Send + 'static,
        S::Future: Send + 'static,
        M: Clone + Send + 'static,
        D: Decode<M>,
        F: Sort<S::Error>,
        Z: Future,
    {
        let shared = Arc::clone(&self.shared);
        let name = shared.settings.name.clone();
        let origin: Arc<str> = Arc::from(broker.origin());
        let full = shared.settings.concurrency;
        let (stop, stopping) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut report = Report::default();
        let mut mode = Mode::Running;
        if let Err(error) = broker.resume(full).await {
            report.broker_errors += 1;
            crate::telemetry::event!(warn, "consume", name.as_str(), "broker_error", %error, "the broker refused to start consuming");
        }
        let shutdown = std::pin::pin!(shutdown);
        let mut shutdown = shutdown;
        loop {
            let limit = match mode {
                Mode::Running => usize::from(full),
                Mode::Probing => 1,
                Mode::Paused(_) => 0,
            };
            let wake = match mode {
                Mode::Paused(until) => until,
                _ => Instant::now() + Duration::from_secs(3600),
            };
            let mut refused = None;
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    // A panicked task dropped its delivery unsettled: the broker redelivers it.
                    let done = joined.unwrap_or(Done::Unsettled);
                    report.count(done);
                    if let Done::Refused(open_for) = done {
                        refused = Some(open_for.unwrap_or(RECHECK));
                    }
                }
                next = broker.next(), if tasks.len() < limit => match next {
                    Ok(delivery) => {
                        let task = process(delivery, handler.clone(), Arc::clone(&shared), stopping.clone(), Arc::clone(&origin));
                        tasks.spawn(task);
                    }
                    Err(error) => {
                        report.broker_errors += 1;
                        crate::telemetry::event!(warn, "consume", name.as_str(), "broker_error", %error, "the broker reported an error; consuming again");
                        tokio::time::sleep(AFTER_ERROR).await;
                    }
                },
                () = tokio::time::sleep_until(wake), if matches!(mode, Mode::Paused(_)) => {}
            }
            let next = self.next_mode(mode, refused);
            if next != mode {
                self.switch(&mut broker, mode, next, &mut report).await;
                mode = next;
            }
        }
        // Shutdown: nothing new; what runs gets the drain time, then is given back.
        match tokio::time::timeout(GIVE_UP, broker.pause()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                report.broker_errors += 1;
                crate::telemetry::event!(warn, "consume", name.as_str(), "broker_error", %error, "the broker refused to stop consuming");
            }
            Err(_) => report.broker_errors += 1,
        }
        let drained = tokio::time::timeout(shared.settings.drain, async {
            while let Some(joined) = tasks.join_next().await {
                report.count(joined.unwrap_or(Done::Unsettled));
            }
        })
        .await;
        if drained.is_err() {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(GIVE_UP, async {
                while let Some(joined) = tasks.join_next().await {
                    report.count(joined.unwrap_or(Done::Unsettled));
                }
            })
            .await;
            // Settlements stuck on a dead connection: the broker redelivers them.
            report.unsettled += tasks.len() as u64;
        }
        report
    }

    /// The mode after this turn: paused while the breaker is open, probing once its
    /// open period ended, running once it closed.
    fn next_mode(&self, mode: Mode, refused: Option<Duration>) -> Mode {
        let Some(breaker) = &self.shared.breaker else {
            return Mode::Running;
        };
        let now = Instant::now();
        let metrics = breaker.metrics();
        match metrics.state {
            State::Open | State::ForcedOpen => {
                let left = metrics.remaining_open.or(refused).unwrap_or(RECHECK);
                if left.is_zero() && metrics.state == State::Open {
                    Mode::Probing
                } else {
                    Mode::Paused(now + left.max(Duration::from_millis(1)))
                }
            }
            // Another user of the breaker holds its probe slots: wait, do not spin.
            State::HalfOpen if refused.is_some() => Mode::Paused(now + RECHECK),
            State::HalfOpen => Mode::Probing,
            _ if refused.is_some() => Mode::Paused(now + refused.unwrap_or(RECHECK)),
            _ if mode == Mode::Probing => Mode::Running,
            _ => match mode {
                Mode::Paused(_) => Mode::Probing,
                other => other,
            },
        }
    }

    /// Tells the broker about a change of mode.
    async fn switch<B: Broker>(&self, broker: &mut B, from: Mode, to: Mode, report: &mut Report) {
        let name = self.shared.settings.name.as_str();
        let result = match (from, to) {
            (Mode::Paused(_), Mode::Paused(_)) => Ok(()),
            (_, Mode::Paused(until)) => {
                report.pauses += 1;
                let for_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64;
                crate::telemetry::event!(
                    warn,
                    "consume",
                    name,
                    "paused",
                    for_ms,
                    "the breaker is open: consumption paused"
                );
                broker.pause().await
            }
            (_, Mode::Probing) => {
                crate::telemetry::event!(
                    info,
                    "consume",
                    name,
                    "probing",
                    "taking one message to probe the dependency"
                );
                broker.resume(1).await
            }
            (_, Mode::Running) => {
                crate::telemetry::event!(
                    info,
                    "consume",
                    name,
                    "resumed",
                    "the breaker closed: consumption resumed"
                );
                broker.resume(self.shared.settings.concurrency).await
            }
        };
        if let Err(error) = result {
            report.broker_errors += 1;
            crate::telemetry::event!(warn, "consume", name, "broker_error", %error, "the broker refused a change of pace");
        }
    }
}
