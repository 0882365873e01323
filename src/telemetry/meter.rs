//! The metric handles a layer keeps: real ones with the `metrics` feature, nothing
//! without it.

#[cfg(feature = "metrics")]
pub(crate) mod enabled {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use metrics::{Counter, Histogram, SharedString, Unit};

    use super::super::names;
    use crate::classify::Outcome;
    use crate::rejection::Reason;

    /// One layer's metric handles: the call counters registered when the layer is
    /// built, the others on first use (so a breaker exports no bulkhead reasons), then
    /// kept. After that, recording is an atomic add with no allocation.
    #[derive(Clone, Debug)]
    pub(crate) struct Meter {
        layer: &'static str,
        name: SharedString,
        calls: [Counter; 3],
        rejections: [OnceLock<Counter>; Reason::KINDS],
        retries: OnceLock<Counter>,
        /// One per reason a failed call is not retried (`GiveUp`).
        not_retried: [OnceLock<Counter>; super::super::NOT_RETRIED_REASONS],
        attempt_durations: OnceLock<Histogram>,
    }

    /// Every metric's description and unit, in the words of the module's table.
    const DESCRIPTIONS: [(&str, Kind, Unit, &str); 19] = [
        (
            names::CALLS,
            Kind::Counter,
            Unit::Count,
            "Calls a seawall layer let through, by outcome",
        ),
        (
            names::REJECTIONS,
            Kind::Counter,
            Unit::Count,
            "Calls a seawall layer refused, by reason",
        ),
        (
            names::RETRY_ATTEMPTS,
            Kind::Counter,
            Unit::Count,
            "Retries sent (attempts after the first)",
        ),
        (
            names::RETRY_NOT_RETRIED,
            Kind::Counter,
            Unit::Count,
            "Failed calls returned without another attempt, by reason",
        ),
        (
            names::BREAKER_STATE,
            Kind::Gauge,
            Unit::Count,
            "Circuit breaker state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only",
        ),
        (
            names::BREAKER_TRANSITIONS,
            Kind::Counter,
            Unit::Count,
            "Circuit breaker state changes",
        ),
        (
            names::ATTEMPT_DURATION,
            Kind::Histogram,
            Unit::Seconds,
            "Time per attempt, in seconds",
        ),
        (
            names::IN_FLIGHT,
            Kind::Gauge,
            Unit::Count,
            "Calls running through a bulkhead or adaptive limiter",
        ),
        (
            names::QUEUED,
            Kind::Gauge,
            Unit::Count,
            "Calls waiting in a bulkhead's queue",
        ),
        (
            names::LIMIT,
            Kind::Gauge,
            Unit::Count,
            "A bulkhead's or adaptive limiter's current limit, in calls",
        ),
        (
            names::FLEET_INSTANCES,
            Kind::Gauge,
            Unit::Count,
            "Live instances of the fleet",
        ),
        (
            names::FLEET_REDIS_UP,
            Kind::Gauge,
            Unit::Count,
            "1 while this instance's syncs with Redis succeed, else 0",
        ),
        (
            names::FLEET_SYNCS,
            Kind::Counter,
            Unit::Count,
            "Round trips to Redis, by outcome",
        ),
        (
            names::HEDGE_ATTEMPTS,
            Kind::Counter,
            Unit::Count,
            "Hedges sent, or refused by the budget or cap",
        ),
        (
            names::FALLBACK_USED,
            Kind::Counter,
            Unit::Count,
            "Errors a fallback rule accepted, by what became of them",
        ),
        (
            names::CHAOS_INJECTED,
            Kind::Counter,
            Unit::Count,
            "Faults a chaos layer injected, by kind",
        ),
        (
            names::GRPC_CALL_RETRIES,
            Kind::Histogram,
            Unit::Count,
            "Number of retries during the client call ({retry}); 0 is not recorded",
        ),
        (
            names::GRPC_CALL_RETRY_DELAY,
            Kind::Histogram,
            Unit::Seconds,
            "Time a retried call spent between attempts, in seconds",
        ),
        (
            names::GRPC_CALL_HEDGES,
            Kind::Histogram,
            Unit::Count,
            "Number of hedges during the client call ({hedge}); 0 is not recorded",
        ),
    ];

    #[derive(Clone, Copy)]
    enum Kind {
        Counter,
        Gauge,
        Histogram,
    }

    /// Describes every metric to the installed recorder (a no-op without one).
    pub(crate) fn describe() {
        for (name, kind, unit, text) in DESCRIPTIONS {
            match kind {
                Kind::Counter => metrics::describe_counter!(name, unit, text),
                Kind::Gauge => metrics::describe_gauge!(name, unit, text),
                Kind::Histogram => metrics::describe_histogram!(name, unit, text),
            }
        }
    }

    impl Meter {
        pub(crate) fn new(layer: &'static str, name: &Arc<str>) -> Self {
            describe();
            let name = SharedString::from(name.clone());
            let call = |outcome: &'static str| {
                let labels = [
                    ("layer", layer.into()),
                    ("name", name.clone()),
                    ("outcome", outcome.into()),
                ];
                metrics::counter!(names::CALLS, &labels)
            };
            Meter {
                layer,
                calls: [call("success"), call("failure"), call("ignored")],
                rejections: std::array::from_fn(|_| OnceLock::new()),
                retries: OnceLock::new(),
                not_retried: std::array::from_fn(|_| OnceLock::new()),
                attempt_durations: OnceLock::new(),
                name,
            }
        }

        #[inline]
        pub(crate) fn call(&self, outcome: Outcome) {
            let i = match outcome {
                Outcome::Success => 0,
                Outcome::Failure => 1,
                Outcome::Ignored => 2,
            };
            self.calls[i].increment(1);
        }

        pub(crate) fn rejected(&self, reason: Reason) {
            let counter = self.rejections[reason.kind()].get_or_init(|| {
                let labels = [
                    ("layer", self.layer.into()),
                    ("name", self.name.clone()),
                    ("reason", reason.as_str().into()),
                ];
                metrics::counter!(names::REJECTIONS, &labels)
            });
            counter.increment(1);
        }

        /// One retry sent.
        pub(crate) fn retry(&self) {
            self.retries
                .get_or_init(
                    || metrics::counter!(names::RETRY_ATTEMPTS, "name" => self.name.clone()),
                )
                .increment(1);
        }

        /// A failed call returned without another attempt, for the reason in slot `kind`.
        pub(crate) fn not_retried(&self, kind: usize, reason: &'static str) {
            let Some(slot) = self.not_retried.get(kind) else {
                return;
            };
            slot.get_or_init(|| {
                let labels = [("name", self.name.clone()), ("reason", reason.into())];
                metrics::counter!(names::RETRY_NOT_RETRIED, &labels)
            })
            .increment(1);
        }

        /// How long one attempt took.
        pub(crate) fn attempt_duration(&self, took: Duration) {
            self.attempt_durations
                .get_or_init(
                    || metrics::histogram!(names::ATTEMPT_DURATION, "name" => self.name.clone()),
                )
                .record(took.as_secs_f64());
        }

        pub(crate) fn counter(&self, metric: &'static str, extra: &[(&'static str, &'static str)]) {
            let mut labels = vec![("name", self.name.clone())];
            labels.extend(extra.iter().map(|(k, v)| (*k, SharedString::from(*v))));
            metrics::counter!(metric, &labels).increment(1);
        }

        pub(crate) fn gauge(&self, metric: &'static str, value: f64) {
            metrics::gauge!(metric, "name" => self.name.clone()).set(value);
        }

        /// Gauges for in-flight, queued and limit, registered once.
        pub(crate) fn levels(&self) -> Levels {
            let gauge = |metric: &'static str| {
                let labels = [("layer", self.layer.into()), ("name", self.name.clone())];
                metrics::gauge!(metric, &labels)
            };
            Levels {
                gauges: [
                    gauge(names::IN_FLIGHT),
                    gauge(names::QUEUED),
                    gauge(names::LIMIT),
                ],
            }
        }
    }

    /// gRFC A96's per-call histograms for one layer: how many retries (or hedges) a call
    /// made and, for retries, how long it spent between attempts. Registered when the
    /// layer is built.
    #[derive(Clone, Debug)]
    pub(crate) struct GrpcCall {
        count: Histogram,
        delay: Option<Histogram>,
    }

    impl GrpcCall {
        /// `grpc.client.call.retries` and `grpc.client.call.retry_delay`.
        pub(crate) fn retries(method: &str, target: &str) -> Self {
            let labels = grpc_labels(method, target);
            GrpcCall {
                count: metrics::histogram!(names::GRPC_CALL_RETRIES, &labels),
                delay: Some(metrics::histogram!(names::GRPC_CALL_RETRY_DELAY, &labels)),
            }
        }

        /// `grpc.client.call.hedges`.
        pub(crate) fn hedges(method: &str, target: &str) -> Self {
            GrpcCall {
                count: metrics::histogram!(names::GRPC_CALL_HEDGES, &grpc_labels(method, target)),
                delay: None,
            }
        }

        /// Records a finished call that made `count` extra attempts and spent `delay`
        /// between them; a call with none is not recorded (as A96 says).
        pub(crate) fn record(&self, count: u32, delay: Duration) {
            if count == 0 {
                return;
            }
            self.count.record(f64::from(count));
            if let Some(histogram) = &self.delay {
                histogram.record(delay.as_secs_f64());
            }
        }
    }

    fn grpc_labels(method: &str, target: &str) -> [(&'static str, SharedString); 2] {
        describe();
        [
            ("grpc.method", SharedString::from(method.to_owned())),
            ("grpc.target", SharedString::from(target.to_owned())),
        ]
    }

    /// The in-flight, queued and limit gauges of a semaphore-backed layer.
    #[derive(Clone, Debug)]
    pub(crate) struct Levels {
        gauges: [metrics::Gauge; 3],
    }

    impl Levels {
        #[inline]
        pub(crate) fn set(&self, in_flight: u32, queued: u32, limit: u32) {
            self.gauges[0].set(f64::from(in_flight));
            self.gauges[1].set(f64::from(queued));
            self.gauges[2].set(f64::from(limit));
        }
    }
}

#[cfg(not(feature = "metrics"))]
pub(crate) mod disabled {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::classify::Outcome;
    use crate::rejection::Reason;

    /// Without the `metrics` feature: nothing, at no cost.
    #[derive(Clone, Debug)]
    pub(crate) struct Meter;

    #[allow(clippy::unused_self)]
    impl Meter {
        pub(crate) fn new(_: &'static str, _: &Arc<str>) -> Self {
            Meter
        }
        #[inline(always)]
        pub(crate) fn call(&self, _: Outcome) {}
        #[inline(always)]
        pub(crate) fn rejected(&self, _: Reason) {}
        #[inline(always)]
        pub(crate) fn counter(&self, _: &'static str, _: &[(&'static str, &'static str)]) {}
        #[inline(always)]
        pub(crate) fn gauge(&self, _: &'static str, _: f64) {}
        #[inline(always)]
        pub(crate) fn retry(&self) {}
        #[inline(always)]
        pub(crate) fn not_retried(&self, _: usize, _: &'static str) {}
        #[inline(always)]
        pub(crate) fn attempt_duration(&self, _: Duration) {}
        pub(crate) fn levels(&self) -> Levels {
            Levels
        }
    }

    /// Without the `metrics` feature: nothing, at no cost.
    #[derive(Clone, Debug)]
    pub(crate) struct Levels;

    impl Levels {
        #[inline(always)]
        pub(crate) fn set(&self, _: u32, _: u32, _: u32) {}
    }
}
