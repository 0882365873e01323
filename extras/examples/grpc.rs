//! A tonic client and server with seawall's layers, gRPC status classification and the
//! deadline sent as `grpc-timeout`.
//!
//! The server answers `inventory.Inventory/Check` and returns UNAVAILABLE from 1 s to
//! 2.5 s into the run. The client wraps each call in a deadline, retry, circuit breaker
//! (UNAVAILABLE is a failure, NOT_FOUND is not) and attempt timeout; the channel passes
//! the remaining budget on as `grpc-timeout`, which the server reads back.
//!
//! The messages are written by hand with `prost` derives, so no `protoc` is needed.
//!
//! ```text
//! cargo run --example grpc
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::classify::http::grpc_code;
use seawall::deadline::{
    self, AcceptDeadlineLayer, DeadlineHeader, DeadlineLayer, PropagateDeadlineLayer,
};
use seawall::retry::RetryLayer;
use seawall::timeout::AttemptTimeoutLayer;
use seawall::{AsRejected, Outcome};
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

#[derive(Clone, PartialEq, prost::Message)]
struct CheckRequest {
    #[prost(string, tag = "1")]
    item: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CheckReply {
    #[prost(uint32, tag = "1")]
    in_stock: u32,
    /// The budget the server saw, in milliseconds (for the demo).
    #[prost(uint64, tag = "2")]
    budget_ms: u64,
}

const CHECK: &str = "/inventory.Inventory/Check";

// ------------------------------------------------------------------------------ server

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The server's handler for `Check`.
#[derive(Clone)]
struct Inventory {
    start: Instant,
}

impl Service<Request<CheckRequest>> for Inventory {
    type Response = Response<CheckReply>;
    type Error = Status;
    type Future = BoxFuture<Result<Response<CheckReply>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<CheckRequest>) -> Self::Future {
        let down = (1.0..2.5).contains(&self.start.elapsed().as_secs_f64());
        let budget_ms = deadline::remaining().map_or(0, |d| d.as_millis() as u64);
        Box::pin(async move {
            match req.into_inner().item.as_str() {
                _ if down => Err(Status::unavailable("restarting")),
                "unknown" => Err(Status::not_found("no such item")),
                _ => Ok(Response::new(CheckReply {
                    in_stock: 7,
                    budget_ms,
                })),
            }
        })
    }
}

/// Routes gRPC requests to the handler (what tonic's code generator would write).
#[derive(Clone)]
struct InventoryServer(Inventory);

impl tonic::server::NamedService for InventoryServer {
    const NAME: &'static str = "inventory.Inventory";
}

impl Service<http::Request<Body>> for InventoryServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let handler = self.0.clone();
        Box::pin(async move {
            if req.uri().path() != CHECK {
                return Ok(Status::unimplemented("unknown method").into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<CheckReply, CheckRequest>::default());
            Ok(grpc.unary(handler, req).await)
        })
    }
}

async fn serve() -> Result<std::net::SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // The server reads `grpc-timeout` into the handler's deadline (at most 10 s).
    let service = ServiceBuilder::new()
        .layer(AcceptDeadlineLayer::new(
            DeadlineHeader::grpc(),
            Duration::from_secs(10),
        )?)
        .service(InventoryServer(Inventory {
            start: Instant::now(),
        }));
    let accepted = AcceptDeadlineService(service);
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let _ = Server::builder()
            .add_service(accepted)
            .serve_with_incoming(incoming)
            .await;
    });
    Ok(addr)
}

/// Gives the deadline-accepting stack the service name tonic's router needs.
#[derive(Clone)]
struct AcceptDeadlineService(seawall::deadline::AcceptDeadline<InventoryServer>);

impl tonic::server::NamedService for AcceptDeadlineService {
    const NAME: &'static str = InventoryServer::NAME;
}

impl Service<http::Request<Body>> for AcceptDeadlineService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        seawall::deadline::AcceptFuture<BoxFuture<Result<http::Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.0.call(req)
    }
}

// ------------------------------------------------------------------------------ client

/// One `Check` call on a channel that writes the remaining budget as `grpc-timeout`.
async fn check(channel: Channel, item: String) -> Result<CheckReply, seawall::Error<Status>> {
    let channel = ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new(DeadlineHeader::grpc()))
        .service(channel);
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| seawall::Error::Service(Status::unavailable(e.to_string())))?;
    let codec = ProstCodec::<CheckRequest, CheckReply>::default();
    let reply = grpc
        .unary(
            Request::new(CheckRequest { item }),
            PathAndQuery::from_static(CHECK),
            codec,
        )
        .await
        .map_err(seawall::Error::Service)?;
    Ok(reply.into_inner())
}

/// gRPC status codes as outcomes: UNAVAILABLE fails, NOT_FOUND does not.
fn classify(result: &Result<CheckReply, seawall::Error<Status>>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(seawall::Error::Service(status)) => grpc_code(status.code() as i32),
        Err(seawall::Error::Rejected(_)) => Outcome::Failure,
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let addr = serve().await?;
    let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
    let start = Instant::now();
    let breaker = CircuitBreakerLayer::builder()
        .name("inventory")
        .count_window(6)
        .minimum_calls(3)
        .open_duration(Duration::from_millis(400))
        .half_open_calls(1)
        .classifier(classify)
        .on_state_change(move |c| {
            println!(
                "  [{:>4.1}s] breaker {} -> {}",
                start.elapsed().as_secs_f64(),
                c.from.as_str(),
                c.to.as_str()
            )
        })
        .build()?;
    let mut client = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_millis(800))?)
        .layer(
            RetryLayer::builder()
                .max_attempts(2)
                .exponential(Duration::from_millis(20), 2.0, Duration::from_millis(100))
                .classifier(classify)
                .build()?,
        )
        .layer(breaker)
        .layer(AttemptTimeoutLayer::new(Duration::from_millis(300))?)
        .service(tower::service_fn(move |item: String| {
            check(channel.clone(), item)
        }));

    let (mut ok, mut unavailable, mut refused) = (0, 0, 0);
    while start.elapsed() < Duration::from_secs(4) {
        let item = if ok % 10 == 3 { "unknown" } else { "widget" }.to_owned();
        match client.ready().await?.call(item).await {
            Ok(reply) => {
                if ok == 0 {
                    println!(
                        "  first reply: {} in stock; the server saw {} ms of the 800 ms budget",
                        reply.in_stock, reply.budget_ms
                    );
                }
                ok += 1;
            }
            Err(e) if e.as_rejected().is_some() => refused += 1,
            Err(seawall::Error::Service(status)) if status.code() == tonic::Code::NotFound => {
                ok += 1
            }
            Err(_) => unavailable += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\n{ok} answered (NOT_FOUND counts as answered), {unavailable} UNAVAILABLE, {refused} refused fast by seawall"
    );
    Ok(())
}
