//! seawall's spans and events, exported to OpenTelemetry through `tracing-opentelemetry`
//! and kept in process (no collector, no network), then printed as the traces a
//! backend such as Jaeger or Tempo would show.
//!
//! A retry layer with spans switched on calls an inventory service that fails each
//! request's first attempt: every call becomes one trace, `seawall.call`, with one
//! `seawall.attempt` child per attempt; the retry's decisions become span events.
//!
//! Run: `cargo run -p seawall-extras --example opentelemetry`

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use seawall::retry::{Jitter, RetryLayer};
use tower::{BoxError, Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // The OpenTelemetry side: a tracer whose spans land in memory as they end.
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("seawall-example");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let _guard = tracing::subscriber::set_default(subscriber);

    // The seawall side: one switch.
    let retry = RetryLayer::builder()
        .name("inventory")
        .spans(true)
        .max_attempts(3)
        .constant(Duration::from_millis(20))
        .jitter(Jitter::None)
        .build()?;
    let calls = Arc::new(AtomicU32::new(0));
    let inventory = service_fn(move |sku: u32| {
        let n = calls.fetch_add(1, Relaxed);
        async move {
            tracing::info!(sku, "inventory looked up"); // nests under its attempt
            if n.is_multiple_of(2) {
                Err::<u32, BoxError>(std::io::Error::other("connection reset").into())
            } else {
                Ok(sku * 10)
            }
        }
    });
    let client = retry.layer(inventory);
    for sku in [7, 8] {
        let stock = client.clone().oneshot(sku).await?;
        println!("sku {sku}: {stock} in stock");
    }

    provider.force_flush()?;
    let spans = exporter.get_finished_spans()?;
    println!("\n{} spans exported:", spans.len());
    for root in spans.iter().filter(|s| s.name == "seawall.call") {
        print_tree(root, &spans, 0);
    }
    let calls = spans.iter().filter(|s| s.name == "seawall.call").count();
    let attempts = spans.iter().filter(|s| s.name == "seawall.attempt").count();
    assert_eq!(
        (calls, attempts),
        (2, 4),
        "one trace per call, a child per attempt"
    );
    provider.shutdown()?;
    Ok(())
}

/// Prints `span`, its attributes and events, then its children, indented.
fn print_tree(span: &SpanData, all: &[SpanData], depth: usize) {
    let pad = "  ".repeat(depth);
    let attributes: Vec<String> = span
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str().starts_with("seawall.") || kv.key.as_str().contains('.'))
        .filter(|kv| {
            !kv.key.as_str().starts_with("code.") && !kv.key.as_str().starts_with("thread.")
        })
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    println!("{pad}{} [{}]", span.name, attributes.join(", "));
    for event in span.events.iter() {
        let fields: Vec<String> = event
            .attributes
            .iter()
            .filter(|kv| {
                let key = kv.key.as_str();
                key.starts_with("seawall.") || key.starts_with("error.") || key == "sku"
            })
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        println!("{pad}  · {} [{}]", event.name, fields.join(", "));
    }
    let id = span.span_context.span_id();
    for child in all.iter().filter(|s| s.parent_span_id == id) {
        print_tree(child, all, depth + 1);
    }
}
