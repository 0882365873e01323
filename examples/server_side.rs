//! An axum server that stays up under a burst it cannot serve.
//!
//! The handler needs one of 8 "database connections" for 50 ms. A burst of 200
//! concurrent requests hits two copies of the server: one bare, which queues everything
//! (latency grows for everyone), and one behind a seawall bulkhead that admits 8 at once,
//! queues 8 more for at most 100 ms, and sheds the rest at once with 503 and
//! `Retry-After`, so the requests it serves stay fast.
//!
//! ```text
//! cargo run --example server_side
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use seawall::AsRejected;
use seawall::bulkhead::BulkheadLayer;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};
use tower::{BoxError, ServiceBuilder};

const BURST: usize = 200;

/// Work that needs one of 8 connections for 50 ms.
async fn handler(pool: Arc<Semaphore>) -> &'static str {
    let _connection = pool.acquire().await.expect("pool open");
    sleep(Duration::from_millis(50)).await;
    "done"
}

/// Turns a seawall rejection into 503 with a Retry-After hint.
async fn shed(err: BoxError) -> Response {
    match err.as_rejected() {
        Some(rejected) => {
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, rejected.to_string()).into_response();
            let wait = rejected
                .retry_after()
                .unwrap_or(Duration::from_secs(1))
                .as_secs()
                .max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            response
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

async fn start(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// Fires `BURST` requests at once; returns (served latencies, shed count).
async fn burst(addr: std::net::SocketAddr) -> (Vec<Duration>, usize) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let calls: Vec<_> = (0..BURST)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let uri = format!("http://{addr}/work").parse().expect("uri");
                let status = client.get(uri).await.map(|r| r.status());
                (status, started.elapsed())
            })
        })
        .collect();
    let (mut served, mut shed) = (Vec::new(), 0);
    for call in calls {
        match call.await.expect("task") {
            (Ok(StatusCode::OK), took) => served.push(took),
            _ => shed += 1,
        }
    }
    served.sort();
    (served, shed)
}

fn report(name: &str, (served, shed): (Vec<Duration>, usize)) {
    let at = |q: f64| {
        served
            .get(((served.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name:<18} served {:>3}  shed {:>3}   served p50 {:>5} ms  p99 {:>5} ms",
        served.len(),
        shed,
        at(0.5).as_millis(),
        at(0.99).as_millis()
    );
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    println!("{BURST} requests at once; the server can do 8 at a time, 50 ms each.\n");

    let pool = Arc::new(Semaphore::new(8));
    let bare_pool = pool.clone();
    let bare = Router::new().route("/work", get(move || handler(bare_pool.clone())));

    let guarded_pool = Arc::new(Semaphore::new(8));
    let bulkhead = BulkheadLayer::builder()
        .name("work")
        .max_concurrent(8)
        .max_queued(8)
        .max_wait(Duration::from_millis(100))
        .build()?;
    let route = Router::new().route("/work", get(move || handler(guarded_pool.clone())));
    let guarded = route.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(shed))
            .layer(bulkhead)
            .map_err(|never: std::convert::Infallible| -> BoxError { match never {} }),
    );

    report("bare axum", burst(start(bare).await).await);
    report("seawall bulkhead", burst(start(guarded).await).await);
    println!(
        "\n(the bare server serves everything, but late; the guarded one answers the excess at once with 503 + Retry-After)"
    );
    Ok(())
}
