//! A span per call and a child per attempt, for the layers whose builder switches them
//! on; and the `error.type` of a failed result.

use std::sync::Arc;

use tracing::Span;
use tracing::field::Empty;

use crate::classify::Outcome;

/// The spans of one call: made only when the layer's spans are switched on.
#[derive(Debug)]
pub(crate) struct CallTrace {
    layer: &'static str,
    name: Arc<str>,
    call: Span,
    attempt: Span,
}

impl CallTrace {
    /// Opens the `seawall.call` span of a call through `layer` named `name`, and the
    /// `seawall.attempt` span of its first attempt under it.
    pub(crate) fn start(layer: &'static str, name: &Arc<str>) -> Self {
        let call = tracing::info_span!(
            target: "seawall::call",
            "seawall.call",
            seawall.layer = layer,
            seawall.name = &**name,
            seawall.outcome = Empty,
            seawall.attempt = Empty,
            error.type = Empty,
        );
        let attempt = attempt_span(&call, layer, name, 1);
        CallTrace {
            layer,
            name: Arc::clone(name),
            call,
            attempt,
        }
    }

    /// The current attempt's span, to enter while the attempt is made and polled.
    pub(crate) fn attempt(&self) -> &Span {
        &self.attempt
    }

    /// The call's span, to enter between attempts.
    pub(crate) fn call(&self) -> &Span {
        &self.call
    }

    /// Closes the current attempt's span with its outcome.
    pub(crate) fn attempt_ended(&self, outcome: Outcome, error: Option<&'static str>) {
        record(&self.attempt, outcome, error);
    }

    /// Opens the span of attempt number `number` (the one before is closed).
    pub(crate) fn next_attempt(&mut self, number: u32) {
        self.attempt = attempt_span(&self.call, self.layer, &self.name, number);
    }

    /// Records how the call ended, after `attempts` attempts.
    pub(crate) fn call_ended(&self, outcome: Outcome, attempts: u32, error: Option<&'static str>) {
        self.call.record("seawall.attempt", attempts);
        record(&self.call, outcome, error);
    }
}

fn attempt_span(call: &Span, layer: &'static str, name: &str, number: u32) -> Span {
    let span = tracing::info_span!(
        target: "seawall::call",
        parent: call,
        "seawall.attempt",
        seawall.layer = layer,
        seawall.name = name,
        seawall.attempt = number,
        http.request.resend_count = Empty,
        seawall.outcome = Empty,
        error.type = Empty,
    );
    if number > 1 {
        // OpenTelemetry sets the resend count on resends only.
        span.record("http.request.resend_count", number - 1);
    }
    span
}

fn record(span: &Span, outcome: Outcome, error: Option<&'static str>) {
    span.record("seawall.outcome", outcome.as_str());
    if let Some(error) = error {
        span.record("error.type", error);
    }
}

/// OpenTelemetry's `error.type` of a failed `result`: the error's type name, or
/// `_OTHER` (the convention's fallback) for a response classified as a failure and for
/// a boxed error, whose type name says nothing.
pub(crate) fn error_type<T, E>(result: &Result<T, E>) -> &'static str {
    match result {
        Ok(_) => "_OTHER",
        Err(_) => {
            let name = std::any::type_name::<E>();
            if name.starts_with("alloc::boxed::Box<dyn ") {
                "_OTHER"
            } else {
                name
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_name_the_error_or_fall_back() {
        let io: Result<(), std::io::Error> = Err(std::io::ErrorKind::Other.into());
        assert_eq!(error_type(&io), "std::io::error::Error");
        let boxed: Result<(), tower::BoxError> = Err("x".into());
        assert_eq!(error_type(&boxed), "_OTHER");
        assert_eq!(error_type(&Ok::<u16, ()>(503)), "_OTHER");
    }
}
