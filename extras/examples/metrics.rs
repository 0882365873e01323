//! seawall's metrics in Prometheus form: a flaky dependency behind a retry, a breaker and
//! an attempt timeout, then the scrape output.
//!
//! ```text
//! cargo run --example metrics
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::retry::RetryLayer;
use seawall::timeout::AttemptTimeoutLayer;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), BoxError> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    // Every third call fails; every fifth hangs for a second.
    let count = Arc::new(AtomicU64::new(0));
    let dependency = service_fn(move |()| {
        let n = count.fetch_add(1, Ordering::Relaxed);
        async move {
            if n % 5 == 4 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if n % 3 == 2 {
                Err::<(), BoxError>("503".into())
            } else {
                Ok(())
            }
        }
    });
    let mut client = ServiceBuilder::new()
        .layer(RetryLayer::builder().name("inventory").build()?)
        .layer(
            CircuitBreakerLayer::builder()
                .name("inventory")
                .count_window(20)
                .build()?,
        )
        .layer(AttemptTimeoutLayer::new(Duration::from_millis(200))?.name("inventory"))
        .service(dependency);

    for _ in 0..200 {
        let _ = client.ready().await?.call(()).await;
    }
    print!("{}", prometheus.render());
    Ok(())
}
