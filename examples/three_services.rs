//! gateway → orders → inventory: three real HTTP services on loopback.
//!
//! * Every hop accepts the caller's deadline from a header and passes on what is left,
//!   so the budget shrinks hop by hop (printed for the first calls).
//! * Inventory fails and slows down on a schedule; the breaker in orders opens, fails
//!   fast, and closes when inventory recovers — the gateway keeps answering.
//! * Orders also calls a slow recommendation endpoint through a bulkhead of 2: when it is
//!   full, orders answers without recommendations instead of piling up waiting calls.
//!
//! ```text
//! cargo run --example three_services
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use seawall::bulkhead::BulkheadLayer;
use seawall::deadline::{
    self, AcceptDeadlineLayer, DeadlineHeader, DeadlineLayer, PropagateDeadlineLayer,
};
use seawall::pipeline::StandardPipeline;
use seawall::timeout::AttemptTimeoutLayer;
use tokio::time::{Instant, sleep};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

type Body = Full<Bytes>;
type HttpClient =
    BoxCloneSyncService<Request<Empty<Bytes>>, Response<hyper::body::Incoming>, BoxError>;

/// Serves `handler` on a loopback port; the handler runs with the caller's deadline.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = (StatusCode, String)> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = ServiceBuilder::new()
        .layer(
            AcceptDeadlineLayer::new(DeadlineHeader::default(), Duration::from_secs(10))
                .expect("valid"),
        )
        .service(tower::service_fn(
            move |req: Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                async move {
                    let (status, text) = handler(req.uri().path().to_owned()).await;
                    let mut response = Response::new(Body::new(Bytes::from(text)));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            },
        ));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), app)
                    .await;
            });
        }
    });
    addr
}

fn budget_ms() -> u128 {
    deadline::remaining().map_or(0, |d| d.as_millis())
}

/// GETs `url` through `client` and returns the status and body text.
async fn get(client: &HttpClient, url: &str) -> Result<(StatusCode, String), BoxError> {
    let req = Request::get(url).body(Empty::new())?;
    let response = client.clone().oneshot(req).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A hyper client behind `layer`, passing the remaining budget on in a header.
fn client_with<L>(layer: L) -> HttpClient
where
    L: tower::Layer<
            seawall::deadline::PropagateDeadline<
                tower::util::MapErr<
                    Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
                    fn(
                        hyper_util::client::legacy::Error,
                    ) -> seawall::Error<hyper_util::client::legacy::Error>,
                >,
            >,
        >,
    L::Service: Service<
            Request<Empty<Bytes>>,
            Response = Response<hyper::body::Incoming>,
            Error = seawall::Error<hyper_util::client::legacy::Error>,
        > + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<Request<Empty<Bytes>>>>::Future: Send + 'static,
{
    let http = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let wrap: fn(_) -> _ = seawall::Error::Service;
    let stack = ServiceBuilder::new()
        .layer(layer)
        .layer(PropagateDeadlineLayer::new(DeadlineHeader::default()))
        .service(tower::util::MapErr::new(http, wrap))
        .map_err(
            |e: seawall::Error<hyper_util::client::legacy::Error>| match e {
                seawall::Error::Rejected(r) => BoxError::from(r),
                seawall::Error::Service(e) => BoxError::from(e),
            },
        );
    BoxCloneSyncService::new(stack)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let start = Instant::now();
    let at = move || start.elapsed().as_secs_f64();

    // inventory: /stock fails from 2 s to 4 s (slowly: 300 ms), /recommend is always slow.
    let inventory = serve(move |path: String| async move {
        let budget = budget_ms();
        if path == "/recommend" {
            sleep(Duration::from_millis(600)).await;
            return (StatusCode::OK, "recommend=ok".to_owned());
        }
        if (2.0..4.0).contains(&at()) {
            sleep(Duration::from_millis(300)).await;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("inventory={budget}ms:down"),
            );
        }
        (StatusCode::OK, format!("inventory={budget}ms"))
    })
    .await;

    // orders: stock through the standard pipeline (breaker, retry, timeouts); recommendations
    // through a bulkhead of 2 with no queue and a 1 s attempt timeout.
    let stock_pipeline = StandardPipeline::http()
        .name("inventory")
        .total_timeout(Duration::from_millis(1500))
        .attempt_timeout(Duration::from_millis(400))
        .retry(|r| {
            r.max_attempts(2).exponential(
                Duration::from_millis(20),
                2.0,
                Duration::from_millis(100),
            )
        })
        .circuit_breaker(|b| {
            b.count_window(10)
                .minimum_calls(5)
                .open_duration(Duration::from_millis(700))
                .half_open_calls(1)
                .on_state_change(move |c| {
                    println!(
                        "  [{:>4.1}s] orders → inventory breaker: {} → {}",
                        at(),
                        c.from.as_str(),
                        c.to.as_str()
                    )
                })
        })
        .build()?;
    let stock = client_with(stock_pipeline);
    let bulkhead = BulkheadLayer::builder()
        .name("recommend")
        .max_concurrent(2)
        .build()?;
    let recommend = client_with(
        ServiceBuilder::new()
            .layer(bulkhead)
            .layer(AttemptTimeoutLayer::new(Duration::from_secs(1))?)
            .into_inner(),
    );
    let skipped = Arc::new(AtomicU64::new(0));
    let skipped_in = skipped.clone();
    let orders = serve(move |_path: String| {
        let (stock, recommend, skipped) = (stock.clone(), recommend.clone(), skipped_in.clone());
        async move {
            let budget = budget_ms();
            let recommendations = tokio::spawn({
                let url = format!("http://{inventory}/recommend");
                let budgeted = deadline::current();
                async move {
                    match budgeted {
                        Some(d) => deadline::scope(d, async { get(&recommend, &url).await }).await,
                        None => get(&recommend, &url).await,
                    }
                }
            });
            let stock = get(&stock, &format!("http://{inventory}/stock")).await;
            let recommended = match recommendations.await {
                Ok(Ok(_)) => "with recommendations",
                _ => {
                    skipped.fetch_add(1, Relaxed);
                    "without recommendations"
                }
            };
            match stock {
                Ok((StatusCode::OK, body)) => (
                    StatusCode::OK,
                    format!("orders={budget}ms {body} ({recommended})"),
                ),
                Ok((_, body)) => (StatusCode::BAD_GATEWAY, format!("orders={budget}ms {body}")),
                Err(e) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("orders={budget}ms refused: {e}"),
                ),
            }
        }
    })
    .await;

    // gateway: gives each request 2 s and calls orders.
    let to_orders = client_with(DeadlineLayer::new(Duration::from_secs(2))?);
    let gateway = serve(move |_path: String| {
        let to_orders = to_orders.clone();
        async move {
            match get(&to_orders, &format!("http://{orders}/order")).await {
                Ok((status, body)) => (status, format!("gateway set 2000ms → {body}")),
                Err(e) => (StatusCode::GATEWAY_TIMEOUT, format!("gateway: {e}")),
            }
        }
    })
    .await;

    println!(
        "gateway {gateway} → orders {orders} → inventory {inventory}; inventory fails from 2 s to 4 s\n"
    );
    let user = client_with(tower::layer::util::Identity::new());
    let (mut ok, mut failed) = (0, 0);
    let mut shown = 0;
    while at() < 6.0 {
        let mut calls = Vec::new();
        for _ in 0..4 {
            let (user, url) = (user.clone(), format!("http://{gateway}/"));
            calls.push(tokio::spawn(async move { get(&user, &url).await }));
        }
        for call in calls {
            match call.await? {
                Ok((status, body)) => {
                    if status == StatusCode::OK {
                        ok += 1
                    } else {
                        failed += 1
                    }
                    if shown < 3 || (status != StatusCode::OK && shown < 6) {
                        shown += 1;
                        println!("  [{:>4.1}s] {status}: {body}", at());
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("  [{:>4.1}s] gateway unreachable: {e}", at());
                }
            }
        }
        sleep(Duration::from_millis(50)).await;
    }
    println!(
        "\n{ok} orders served, {failed} failed; {} served without recommendations because the bulkhead was full",
        skipped.load(Relaxed)
    );
    println!(
        "(budgets above: what each hop had left of the gateway's 2 s; orders gives inventory at most 1.5 s)"
    );
    Ok(())
}
