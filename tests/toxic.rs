//! The toxic TCP proxy between a real client and a real (echo) server on loopback.
#![cfg(feature = "toxic")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use seawall::chaos::toxic::{Toxic, ToxicProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// A server that echoes what it reads, until the client closes.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Sends `message` through `proxy` and reads the echo to its end.
async fn round_trip(proxy: &ToxicProxy, message: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut client = TcpStream::connect(proxy.addr()).await?;
    client.write_all(message).await?;
    client.shutdown().await?;
    let mut got = Vec::new();
    client.read_to_end(&mut got).await?;
    Ok(got)
}

#[tokio::test]
async fn without_a_toxic_bytes_pass_both_ways() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    assert_eq!(round_trip(&proxy, b"ping").await.unwrap(), b"ping");
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn latency_delays_each_direction() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    proxy.set(Toxic::Latency(Duration::from_millis(40)));
    let started = Instant::now();
    assert_eq!(round_trip(&proxy, b"ping").await.unwrap(), b"ping");
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "at least both ways' delay"
    );
}

#[tokio::test]
async fn a_reset_reaches_the_client_as_a_reset() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    proxy.set(Toxic::Reset);
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = [0u8; 8];
    let read = client.read(&mut buf).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}

/// Paused time: the client's timeout passes at once, since nothing ever answers.
#[tokio::test(start_paused = true)]
async fn a_hang_answers_nothing() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    proxy.set(Toxic::Hang);
    let answer = tokio::time::timeout(Duration::from_secs(30), round_trip(&proxy, b"ping")).await;
    assert!(answer.is_err(), "no answer: {answer:?}");
}

#[tokio::test]
async fn slow_bytes_arrive_no_faster_than_their_rate() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    proxy.set(Toxic::SlowBytes(10_000));
    let message = vec![7u8; 1_000];
    let started = Instant::now();
    assert_eq!(round_trip(&proxy, &message).await.unwrap(), message);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "1,000 bytes at 10,000 a second"
    );
}

#[tokio::test]
async fn a_truncated_response_ends_after_its_bytes() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    proxy.set(Toxic::Truncate(10));
    let got = round_trip(&proxy, &[1u8; 100]).await.unwrap();
    assert_eq!(got, [1u8; 10]);
}

/// A toxic set while a connection is open acts on its next bytes.
#[tokio::test(start_paused = true)]
async fn a_toxic_set_later_acts_on_open_connections() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = [0u8; 4];
    client.write_all(b"one!").await.unwrap();
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"one!");
    proxy.set(Toxic::Hang);
    client.write_all(b"two!").await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(30), client.read_exact(&mut buf)).await;
    assert!(read.is_err(), "the second exchange hangs");
}

/// A real HTTP client with seawall's attempt timeout, a real HTTP server, the proxy
/// between them: a hang ends as the attempt timeout's rejection, a response cut short
/// as the client's own error, and with no toxic the call is answered. Time is paused
/// around the hang only: the timeout passes at once while nothing answers.
#[cfg(feature = "http")]
#[tokio::test]
async fn seawalls_attempt_timeout_turns_a_hang_behind_the_proxy_into_a_rejection() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full};
    use hyper::{Request, Response};
    use seawall::timeout::AttemptTimeoutLayer;
    use seawall::{AsRejected, Reason};
    use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let app = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                    "a healthy answer of some length",
                ))))
            });
            common::serve_http1(stream, app);
        }
    });
    let proxy = ToxicProxy::start(server).await.unwrap();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0) // a new connection per call, so each meets the toxic
        .build_http::<Empty<Bytes>>();
    let client = ServiceBuilder::new()
        .layer(AttemptTimeoutLayer::new(Duration::from_secs(2)).unwrap())
        .map_err(BoxError::from)
        .service(http);
    let url = format!("http://{}/", proxy.addr());
    let mut client = client;
    let mut fetch = async || -> Result<Bytes, BoxError> {
        let request = Request::get(url.as_str())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = client.ready().await?.call(request).await?;
        Ok(response.into_body().collect().await?.to_bytes())
    };
    assert_eq!(
        &fetch().await.unwrap()[..],
        b"a healthy answer of some length"
    );
    proxy.set(Toxic::Hang);
    // Paused only while nothing can answer: with real sockets, paused time may pass a
    // timer before the kernel delivers bytes that are on their way.
    tokio::time::pause();
    let hung = fetch().await.unwrap_err();
    tokio::time::resume();
    assert_eq!(
        hung.as_rejected().map(|r| r.reason()),
        Some(Reason::AttemptTimeout {
            after: Duration::from_secs(2)
        })
    );
    proxy.set(Toxic::Truncate(40));
    let cut = fetch().await.unwrap_err();
    assert!(cut.as_rejected().is_none(), "the client's own error: {cut}");
    proxy.set(Toxic::None);
    assert!(fetch().await.is_ok());
}

/// A reset set while a connection is open resets it at its next bytes (review finding:
/// it closed cleanly).
#[tokio::test]
async fn a_reset_set_later_resets_an_open_connection() {
    let proxy = ToxicProxy::start(echo_server().await).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = [0u8; 4];
    client.write_all(b"one!").await.unwrap();
    client.read_exact(&mut buf).await.unwrap();
    proxy.set(Toxic::Reset);
    client.write_all(b"two!").await.unwrap();
    let read = client.read(&mut buf).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}
