//! The flaky dependency every worker calls: a real HTTP server on loopback that answers
//! 200, or 503 while it is down, and remembers when each request came and how it was
//! answered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One request: when it came (unix ms) and whether the dependency was down.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub at: u64,
    pub down: bool,
}

/// The running dependency.
#[derive(Clone, Default)]
pub struct Dependency {
    down: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Dependency {
    /// Serves on a free loopback port; returns its address.
    pub async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let this = this.clone();
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(move |_: Request<_>| {
                        let down = this.down.load(Relaxed);
                        let hit = Hit {
                            at: super::unix_ms(),
                            down,
                        };
                        this.hits.lock().expect("hits").push(hit);
                        let status = if down {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            StatusCode::OK
                        };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        addr
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Relaxed);
    }

    /// Every request so far, and forgets them.
    pub fn take(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.hits.lock().expect("hits"))
    }
}
