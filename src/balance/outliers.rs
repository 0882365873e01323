//! Success-rate outliers (Envoy's meaning): every `interval`, among the closed
//! endpoints whose breaker window holds at least `minimum_calls`, if there are at least
//! `minimum_endpoints` of them, an endpoint whose success rate is below
//! `mean − factor × standard deviation` is ejected (its breaker tripped, within the
//! group's share). It catches an endpoint worse than its peers that no absolute
//! threshold would (30 % failures where the others have none).

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::circuit_breaker::{CircuitBreakerHandle, State};

/// The detector's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SuccessRate {
    pub(crate) factor: f64,
    pub(crate) minimum_calls: u64,
    pub(crate) minimum_endpoints: usize,
    pub(crate) interval: Duration,
}

impl SuccessRate {
    /// Envoy's factor, 50 calls, 5 endpoints, every second.
    pub(crate) const DEFAULT: SuccessRate = SuccessRate {
        factor: 1.9,
        minimum_calls: 50,
        minimum_endpoints: 5,
        interval: Duration::from_secs(1),
    };

    /// Ejects the outliers among `members`; returns how many it ejected.
    pub(crate) fn eject(&self, members: &[Arc<CircuitBreakerHandle>]) -> usize {
        let rates: Vec<(&CircuitBreakerHandle, f64)> = members
            .iter()
            .map(|m| (&**m, m.metrics()))
            .filter(|(_, m)| m.state == State::Closed && m.calls >= self.minimum_calls)
            .map(|(h, m)| (h, 1.0 - m.failures as f64 / m.calls as f64))
            .collect();
        if rates.len() < self.minimum_endpoints.max(2) {
            return 0;
        }
        let n = rates.len() as f64;
        let mean = rates.iter().map(|(_, r)| r).sum::<f64>() / n;
        let variance = rates.iter().map(|(_, r)| (r - mean).powi(2)).sum::<f64>() / n;
        let threshold = mean - self.factor * variance.sqrt();
        rates
            .iter()
            .filter(|(_, rate)| *rate < threshold)
            .filter(|(handle, _)| handle.trip())
            .count()
    }
}

/// Runs the detector every interval until the endpoints are gone.
pub(crate) async fn watch(shared: Weak<super::Shared>, rule: SuccessRate, name: Arc<str>) {
    loop {
        tokio::time::sleep(rule.interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let members = shared.members();
        let ejected = rule.eject(&members);
        if ejected > 0 {
            crate::telemetry::event!(
                warn,
                "balance",
                &*name,
                "outliers_ejected",
                ejected,
                "endpoints ejected as success-rate outliers"
            );
        }
    }
}
