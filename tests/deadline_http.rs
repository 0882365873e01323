//! Deadlines crossing process boundaries in headers (feature `http`).
#![cfg(feature = "http")]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::ms;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use seawall::deadline::{
    self, AcceptDeadlineLayer, DeadlineHeader, DeadlineLayer, PropagateDeadlineLayer,
    RequestDeadline,
};
use tokio::time::sleep;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};

/// A downstream server: reads the header, then reports the budget it got.
fn server(
    max: Duration,
) -> impl Service<Request<()>, Response = Option<Duration>, Error = BoxError> + Clone {
    ServiceBuilder::new()
        .layer(AcceptDeadlineLayer::new(DeadlineHeader::default(), max).unwrap())
        .service(service_fn(|req: Request<()>| async move {
            assert_eq!(
                req.extensions().get::<RequestDeadline>().map(|d| d.0),
                deadline::current()
            );
            Ok::<_, BoxError>(deadline::remaining())
        }))
}

async fn send(header: &str, value: &str) -> Option<Duration> {
    let req = Request::builder().header(header, value).body(()).unwrap();
    server(Duration::from_secs(30)).oneshot(req).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_accepted_budget_polled_inside_a_tighter_scope_keeps_the_tighter_deadline() {
    let mut server = AcceptDeadlineLayer::new(DeadlineHeader::default(), ms(30_000))
        .unwrap()
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, BoxError>(deadline::remaining())
        }));
    let req = Request::builder()
        .header("x-request-timeout-ms", "10000")
        .body(())
        .unwrap();
    let future = server.ready().await.unwrap().call(req); // made outside the scope
    let seen = deadline::scope(tokio::time::Instant::now() + ms(300), future).await;
    assert_eq!(seen.unwrap(), Some(ms(300)));
}

#[tokio::test(start_paused = true)]
async fn the_server_accepts_well_formed_budgets() {
    assert_eq!(send("x-request-timeout-ms", "1500").await, Some(ms(1500)));
}

#[tokio::test(start_paused = true)]
async fn the_server_ignores_garbage_negative_and_zero_budgets_with_a_warning() {
    let recorder = common::Recorder::default();
    let _guard = recorder.install();
    for bad in [
        "-5",
        "0",
        "abc",
        "1.5",
        "",
        "12ms",
        "99999999999999999999999",
    ] {
        assert_eq!(send("x-request-timeout-ms", bad).await, None, "{bad:?}");
    }
    let warnings = recorder.take();
    assert_eq!(warnings.len(), 7);
    assert!(warnings.iter().all(|w| w.target == "seawall::deadline"));
    assert_eq!(warnings[1].field("seawall.reason"), Some("zero"));
}

#[tokio::test(start_paused = true)]
async fn the_server_clamps_huge_budgets_to_its_maximum() {
    assert_eq!(
        send("x-request-timeout-ms", "86400000").await,
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        send("x-request-timeout-ms", "9999999999999999999").await,
        Some(Duration::from_secs(30))
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_without_the_header_gets_no_deadline() {
    let req = Request::new(());
    assert_eq!(
        server(Duration::from_secs(30)).oneshot(req).await.unwrap(),
        None
    );
}

/// A hop: accepts the caller's budget, spends `work`, then calls `next` (in a fresh task,
/// as a real network hop would) with the remaining budget in the header.
fn hop<N>(
    work: Duration,
    next: N,
) -> impl Service<Request<()>, Response = Vec<Duration>, Error = BoxError, Future: Send>
+ Clone
+ Send
+ 'static
where
    N: Service<Request<()>, Response = Vec<Duration>, Error = BoxError> + Clone + Send + 'static,
    N::Future: Send,
{
    ServiceBuilder::new()
        .layer(AcceptDeadlineLayer::new(DeadlineHeader::grpc(), Duration::from_secs(60)).unwrap())
        .service(service_fn(move |_req: Request<()>| {
            let next = next.clone();
            async move {
                let seen = deadline::remaining().expect("a deadline arrived");
                sleep(work).await;
                let mut client = ServiceBuilder::new()
                    .layer(PropagateDeadlineLayer::new(DeadlineHeader::grpc()))
                    .service(service_fn(move |req: Request<()>| {
                        let next = next.clone();
                        // A new task: nothing but the header carries the deadline over.
                        async move { tokio::spawn(next.oneshot(req)).await.unwrap() }
                    }));
                let mut chain = client.ready().await?.call(Request::new(())).await?;
                chain.insert(0, seen);
                Ok(chain)
            }
        }))
}

#[tokio::test(start_paused = true)]
async fn the_budget_shrinks_hop_by_hop_across_three_services() {
    let inventory = service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(vec![deadline::remaining().unwrap()])
    });
    let inventory = ServiceBuilder::new()
        .layer(AcceptDeadlineLayer::new(DeadlineHeader::grpc(), Duration::from_secs(60)).unwrap())
        .service(inventory);
    let orders = hop(ms(1000), inventory);
    let gateway = hop(ms(500), orders);
    let mut gateway = DeadlineLayer::new(ms(5000)).unwrap().layer(gateway);
    let seen = gateway
        .ready()
        .await
        .unwrap()
        .call(Request::new(()))
        .await
        .unwrap();
    assert_eq!(
        seen,
        vec![ms(5000), ms(4500), ms(3500)],
        "gateway, orders, inventory"
    );
}

// ------------------------------------------------------------------ real loopback HTTP

async fn serve_once_per_connection() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = ServiceBuilder::new()
        .layer(
            AcceptDeadlineLayer::new(DeadlineHeader::default(), Duration::from_secs(60)).unwrap(),
        )
        .service(service_fn(|_req: Request<hyper::body::Incoming>| async {
            let seen =
                deadline::remaining().map_or("none".to_owned(), |d| d.as_millis().to_string());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(seen))))
        }));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let app = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, app)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_downstream_server_sees_the_remaining_budget_over_a_real_connection() {
    let addr = serve_once_per_connection().await;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let mut client = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(20)).unwrap())
        .layer(PropagateDeadlineLayer::new(DeadlineHeader::default()))
        .map_err(BoxError::from)
        .service(http);
    let req = Request::get(format!("http://{addr}/"))
        .body(Empty::new())
        .unwrap();
    let response = client.ready().await.unwrap().call(req).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let seen_ms: u64 = std::str::from_utf8(&body).unwrap().parse().unwrap();
    assert!(
        seen_ms > 0 && seen_ms <= 20_000,
        "server saw {seen_ms} ms of a 20 s budget"
    );

    // Without a deadline, nothing is sent and the server sets none.
    let plain = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let req = Request::get(format!("http://{addr}/"))
        .body(Empty::new())
        .unwrap();
    let body = plain
        .request(req)
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"none");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_can_come_from_a_request_extension() {
    use seawall::timeout::{AttemptTimeoutLayer, FromExtension, TimeoutOverride};
    let slow_backend = service_fn(|_req: Request<()>| async {
        sleep(ms(500)).await;
        Ok::<_, BoxError>(())
    });
    let mut svc = AttemptTimeoutLayer::new(ms(100))
        .unwrap()
        .per_request(FromExtension)
        .layer(slow_backend);
    let mut patient = Request::new(());
    patient.extensions_mut().insert(TimeoutOverride(ms(1000)));
    assert!(svc.ready().await.unwrap().call(patient).await.is_ok());
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(Request::new(()))
            .await
            .is_err()
    );
}

/// The largest budget each format carries: 19 digits of milliseconds, 8 digits of hours.
const MILLIS_MAX: Duration = Duration::from_millis(9_999_999_999_999_999_999);
const GRPC_MAX: Duration = Duration::from_secs(99_999_999 * 3600);

fn any_duration() -> impl proptest::strategy::Strategy<Value = Duration> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Duration::MAX),
        Just(Duration::ZERO),
        (any::<u64>(), 0..1_000_000_000_u32).prop_map(|(s, n)| Duration::new(s, n)),
        (0..u64::MAX / 1_000_000).prop_map(Duration::from_nanos),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7E4D),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn a_millis_header_decodes_to_the_budget_in_whole_millis_capped_at_its_maximum(
        d in any_duration(),
    ) {
        let header = DeadlineHeader::default();
        let want = d.as_millis().clamp(1, MILLIS_MAX.as_millis());
        let back = header.decode(&header.encode(d));
        proptest::prop_assert_eq!(back.map(|b| b.as_millis()), Ok(want));
    }

    #[test]
    fn a_grpc_timeout_decodes_to_the_budget_within_its_precision_capped_at_its_maximum(
        d in any_duration(),
    ) {
        let header = DeadlineHeader::grpc();
        let want = d.clamp(Duration::from_nanos(1), GRPC_MAX);
        let back = header.decode(&header.encode(d)).unwrap();
        proptest::prop_assert!(back <= want, "{:?} decoded as {:?}", d, back);
        proptest::prop_assert!(want - back <= want / 100_000, "{:?} decoded as {:?}", d, back);
    }
}
