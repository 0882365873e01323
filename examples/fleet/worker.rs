//! One worker process: joins the fleet, then calls the dependency at a steady pace
//! through a fleet-wide breaker or rate limit (or a local one, to compare), printing each
//! breaker change as `EVENT <unix ms> <state>` and its totals as `DONE <ok> <refused>
//! <failed>` at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::fleet::Fleet;
use seawall::rate_limit::RateLimitLayer;
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};

/// What a worker is told on its command line.
pub struct Orders {
    pub kind: String,
    pub redis: String,
    pub dependency: String,
    pub namespace: String,
    pub fleet: bool,
    pub rate: f64,
    pub seconds: u64,
    pub start_at: u64,
    pub sync_ms: u64,
}

impl Orders {
    pub fn to_args(&self) -> Vec<String> {
        [
            "worker",
            &self.kind,
            &self.redis,
            &self.dependency,
            &self.namespace,
            if self.fleet { "1" } else { "0" },
            &self.rate.to_string(),
            &self.seconds.to_string(),
            &self.start_at.to_string(),
            &self.sync_ms.to_string(),
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn parse(args: &[String]) -> Option<Orders> {
        let [
            kind,
            redis,
            dependency,
            namespace,
            fleet,
            rate,
            seconds,
            start_at,
            sync_ms,
        ] = args
        else {
            return None;
        };
        Some(Orders {
            kind: kind.clone(),
            redis: redis.clone(),
            dependency: dependency.clone(),
            namespace: namespace.clone(),
            fleet: fleet == "1",
            rate: rate.parse().ok()?,
            seconds: seconds.parse().ok()?,
            start_at: start_at.parse().ok()?,
            sync_ms: sync_ms.parse().ok()?,
        })
    }
}

type Error = seawall::Error<String>;
type Client_ = BoxCloneService<(), (), Error>;

/// The dependency, as a service: a 2xx answer is a success, anything else a failure.
fn http(dependency: &str) -> Client_ {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = format!("http://{dependency}/").parse().expect("address");
    BoxCloneService::new(tower::service_fn(move |()| {
        let (client, uri) = (client.clone(), uri.clone());
        async move {
            let response = client
                .get(uri)
                .await
                .map_err(|e| seawall::Error::Service(e.to_string()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(seawall::Error::Service(response.status().to_string()))
            }
        }
    }))
}

pub async fn run(orders: Orders) -> Result<(), seawall::ConfigError> {
    let fleet = Fleet::builder(orders.redis.clone())
        .namespace(orders.namespace.clone())
        .sync_interval(Duration::from_millis(orders.sync_ms))
        .start()?;
    let inner = http(&orders.dependency);
    let service: Client_ = match orders.kind.as_str() {
        "breaker" => {
            let layer = CircuitBreakerLayer::builder()
                .name("dependency")
                .count_window(20)
                .minimum_calls(20)
                .confidence(None)
                .open_duration(Duration::from_millis(500))
                .open_jitter(0.0)
                .half_open_calls(1)
                .on_state_change(|change| {
                    println!("EVENT {} {}", super::unix_ms(), change.to.as_str());
                })
                .build()?;
            let layer = if orders.fleet {
                layer.fleet(&fleet)
            } else {
                layer
            };
            BoxCloneService::new(layer.layer(inner))
        }
        _ => {
            let builder = RateLimitLayer::builder(200, Duration::from_secs(1))
                .name("dependency")
                .burst(20);
            let layer = if orders.fleet {
                builder.fleet(&fleet)
            } else {
                builder
            }
            .build()?;
            BoxCloneService::new(layer.layer(inner))
        }
    };
    // Wait for the common start (the fleet has synced by then).
    let start = orders.start_at.saturating_sub(super::unix_ms());
    tokio::time::sleep(Duration::from_millis(start)).await;
    let totals: Arc<[AtomicU64; 3]> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / orders.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = tokio::time::Instant::now() + Duration::from_secs(orders.seconds);
    let mut calls = Vec::new();
    while tokio::time::Instant::now() < end {
        tick.tick().await;
        let (service, totals) = (service.clone(), totals.clone());
        calls.push(tokio::spawn(async move {
            let outcome = match service.oneshot(()).await {
                Ok(()) => 0,
                Err(seawall::Error::Rejected(_)) => 1,
                Err(_) => 2,
            };
            totals[outcome].fetch_add(1, Relaxed);
        }));
    }
    for call in calls {
        let _ = call.await;
    }
    let [ok, refused, failed] = &*totals;
    println!(
        "DONE {} {} {}",
        ok.load(Relaxed),
        refused.load(Relaxed),
        failed.load(Relaxed)
    );
    drop(fleet);
    Ok(())
}
