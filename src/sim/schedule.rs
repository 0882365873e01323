//! When the callers' calls start: the scenario's rate, surges included, integrated over
//! time, so that a second at rate `r` holds `r` calls whatever came before it.

use std::time::Duration;

use super::scenario::Scenario;

/// The start of each call (since the run began), in order: call `k` (from 0) starts
/// when the rate integrated from the start reaches `k`.
#[derive(Debug)]
pub(crate) struct CallStarts {
    /// Spans of constant rate: (from, until, calls a second), back to back.
    spans: Vec<(Duration, Duration, f64)>,
    /// The span in progress.
    span: usize,
    /// Calls due by the start of that span.
    due: f64,
    /// The number of the next call.
    next: u64,
}

impl CallStarts {
    pub(crate) fn new(scenario: &Scenario) -> Self {
        let end = scenario.duration;
        let mut edges: Vec<Duration> = scenario
            .surges
            .iter()
            .flat_map(|&(from, until, _)| [from, until])
            .filter(|edge| *edge < end)
            .chain([Duration::ZERO, end])
            .collect();
        edges.sort();
        edges.dedup();
        let spans = edges
            .windows(2)
            .map(|w| (w[0], w[1], scenario.rate_at(w[0])))
            .collect();
        CallStarts {
            spans,
            span: 0,
            due: 0.0,
            next: 0,
        }
    }
}

impl Iterator for CallStarts {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        while let Some(&(from, until, rate)) = self.spans.get(self.span) {
            let in_span = rate * (until - from).as_secs_f64();
            // Rounding can leave the next call a hair before this span's start.
            let into = (self.next as f64 - self.due).max(0.0);
            if into < in_span {
                let at = from + Duration::from_secs_f64(into / rate);
                if at < until {
                    self.next += 1;
                    return Some(at);
                }
            }
            self.due += in_span;
            self.span += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(scenario: &Scenario) -> Vec<Duration> {
        CallStarts::new(scenario).collect()
    }

    #[test]
    fn calls_start_evenly_at_each_rate_in_turn() {
        let ms = Duration::from_millis;
        let s = Scenario::new("s", ms(2000))
            .rate(2.0)
            .surge(ms(1000)..ms(1500), 8.0)
            .surge(ms(1200)..ms(1300), 0.0);
        // 3.6 calls are due when the silence begins; the fourth follows 0.4 call after it.
        let expected = [0, 500, 1000, 1125, 1350, 1475, 1900].map(ms);
        assert_eq!(starts(&s), expected);
    }

    #[test]
    fn a_fractional_call_carries_over_into_the_next_span() {
        let ms = Duration::from_millis;
        // 1.5 calls are due at 1.5 s; the third comes half a call later, at 10/s.
        let s = Scenario::new("s", ms(2000))
            .rate(1.0)
            .surge(ms(1500)..ms(2000), 10.0);
        assert_eq!(starts(&s)[..3], [0, 1000, 1550].map(ms));
    }
}
