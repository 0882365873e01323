//! A loopback TCP proxy that misbehaves on purpose (feature `toxic`): put it between a
//! real client and a real server in a test to see what resets, hangs, slow bytes, cut
//! responses and latency do to the client (toxiproxy's toxics, in-process).
//!
//! ```
//! use seawall::chaos::toxic::{Toxic, ToxicProxy};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // A server that says hello.
//! let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut socket, _)) = server.accept().await {
//!         let _ = socket.write_all(b"hello, world").await;
//!     }
//! });
//! let proxy = ToxicProxy::start(upstream).await?;
//! proxy.set(Toxic::Truncate(5));
//! let mut client = tokio::net::TcpStream::connect(proxy.addr()).await?;
//! let mut got = Vec::new();
//! client.read_to_end(&mut got).await?;
//! assert_eq!(got, b"hello", "cut after five bytes");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to the connections through it.
///
/// ```
/// use seawall::chaos::toxic::Toxic;
/// use std::time::Duration;
/// let toxic = Toxic::Latency(Duration::from_millis(300));
/// assert_ne!(toxic, Toxic::None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Toxic {
    /// Bytes pass as they come.
    None,
    /// Each chunk, either way, waits this long before it is passed on.
    Latency(Duration),
    /// New connections are reset at once (the client reads a reset, not a clean end);
    /// bytes of open ones are no longer passed and they are reset.
    Reset,
    /// Connections are kept open and nothing is passed either way.
    Hang,
    /// The server's bytes reach the client at this many bytes a second (at least 1).
    SlowBytes(u32),
    /// Of the server's bytes, this many reach the client; then both sides are closed.
    Truncate(usize),
}

/// A proxy on a loopback port in front of `upstream`, misbehaving as its current
/// [`Toxic`] says. Dropping it stops accepting; open connections end with their peers.
///
/// ```
/// use seawall::chaos::toxic::{Toxic, ToxicProxy};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let proxy = ToxicProxy::start(server.local_addr()?).await?;
/// assert!(proxy.addr().ip().is_loopback());
/// assert_eq!(proxy.toxic(), Toxic::None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ToxicProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepting: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    toxic: Mutex<Toxic>,
    connections: AtomicU64,
    /// Closed when the proxy is dropped: hung connections end then.
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    fn toxic(&self) -> Toxic {
        *self.toxic.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the proxy is dropped.
    async fn until_stopped(&self) {
        let mut stopped = self.stopped.subscribe();
        let _ = stopped.wait_for(|s| *s).await;
    }
}

impl ToxicProxy {
    /// Starts a proxy on `127.0.0.1` (a free port) in front of `upstream`, passing bytes
    /// as they come until [`set`](Self::set) says otherwise.
    ///
    /// # Errors
    ///
    /// If no loopback port can be bound.
    ///
    /// ```
    /// # use seawall::chaos::toxic::ToxicProxy;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let proxy = ToxicProxy::start(server.local_addr()?).await?;
    /// # let _ = proxy;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            toxic: Mutex::new(Toxic::None),
            connections: AtomicU64::new(0),
            stopped: tokio::sync::watch::Sender::new(false),
        });
        let accepting = tokio::spawn(accept(listener, shared.clone()));
        Ok(ToxicProxy {
            addr,
            shared,
            accepting,
        })
    }

    /// Where clients connect.
    ///
    /// ```
    /// # use seawall::chaos::toxic::ToxicProxy;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let proxy = ToxicProxy::start(server.local_addr()?).await?;
    /// let url = format!("http://{}/", proxy.addr());
    /// # let _ = url;
    /// # Ok(())
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the misbehaviour, for new connections and for the next bytes of open ones.
    ///
    /// ```
    /// # use seawall::chaos::toxic::{Toxic, ToxicProxy};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let proxy = ToxicProxy::start(server.local_addr()?).await?;
    /// proxy.set(Toxic::Hang);
    /// assert_eq!(proxy.toxic(), Toxic::Hang);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set(&self, toxic: Toxic) {
        *self.shared.toxic.lock().unwrap_or_else(|e| e.into_inner()) = toxic;
    }

    /// The current misbehaviour.
    ///
    /// ```
    /// # use seawall::chaos::toxic::{Toxic, ToxicProxy};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let proxy = ToxicProxy::start(server.local_addr()?).await?;
    /// assert_eq!(proxy.toxic(), Toxic::None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn toxic(&self) -> Toxic {
        self.shared.toxic()
    }

    /// Connections accepted so far.
    ///
    /// ```
    /// # use seawall::chaos::toxic::ToxicProxy;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let proxy = ToxicProxy::start(server.local_addr()?).await?;
    /// assert_eq!(proxy.connections(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Relaxed)
    }
}

impl Drop for ToxicProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.shared.stopped.send_replace(true);
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                shared.connections.fetch_add(1, Relaxed);
                tokio::spawn(serve(client, shared.clone()));
            }
            // Out of descriptors, a connection aborted before it was accepted: keep
            // accepting after a breath rather than stop for good.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Resets `socket`: a zero linger makes the close send a reset.
fn reset(socket: TcpStream) {
    let _ = socket.set_zero_linger();
    drop(socket);
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    match shared.toxic() {
        Toxic::Reset => return reset(client),
        Toxic::Hang => {
            // Read and drop what the client sends; answer nothing, and keep the
            // connection open (even after the client's end) until the proxy goes.
            let mut sink = [0u8; 4096];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            shared.until_stopped().await;
            return;
        }
        _ => {}
    }
    let Ok(mut server) = TcpStream::connect(shared.upstream).await else {
        return reset(client);
    };
    // Both directions in this task, on borrowed halves, so that a reset can take the
    // client's socket whole afterwards (dropping an owned half would close it cleanly).
    let end = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let up = pump(&mut client_read, &mut server_write, &shared, false);
        let down = pump(&mut server_read, &mut client_write, &shared, true);
        let (mut up, mut down) = (std::pin::pin!(up), std::pin::pin!(down));
        let (mut up_end, mut down_end) = (None, None);
        std::future::poll_fn(|cx| {
            if up_end.is_none()
                && let std::task::Poll::Ready(end) = up.as_mut().poll(cx)
            {
                up_end = Some(end);
            }
            if down_end.is_none()
                && let std::task::Poll::Ready(end) = down.as_mut().poll(cx)
            {
                down_end = Some(end);
            }
            match (up_end, down_end) {
                (Some(End::Reset), _) | (_, Some(End::Reset)) => std::task::Poll::Ready(End::Reset),
                (_, Some(End::Cut)) => std::task::Poll::Ready(End::Cut),
                (Some(_), Some(_)) => std::task::Poll::Ready(End::Clean),
                _ => std::task::Poll::Pending,
            }
        })
        .await
    };
    if end == End::Reset {
        reset(client);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The reading side closed; the writing side was shut down after it.
    Clean,
    /// The proxy cut the response short (a truncation).
    Cut,
    /// The proxy resets the connection.
    Reset,
}

/// Passes bytes from `from` to `to` as the toxic says; `down` is the server-to-client
/// direction (the one slow bytes and truncation act on).
async fn pump<R, W>(from: &mut R, to: &mut W, shared: &Shared, down: bool) -> End
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut passed = 0usize;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if shared.toxic() == Toxic::Hang {
                    shared.until_stopped().await; // a hang passes on no end either
                }
                let _ = to.shutdown().await;
                return End::Clean;
            }
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let ok = match shared.toxic() {
            Toxic::None => to.write_all(chunk).await.is_ok(),
            Toxic::Latency(d) => {
                tokio::time::sleep(d).await;
                to.write_all(chunk).await.is_ok()
            }
            Toxic::Reset => return End::Reset,
            Toxic::Hang => true, // dropped on the floor
            Toxic::SlowBytes(rate) if down => slowly(to, chunk, rate.max(1)).await,
            Toxic::Truncate(limit) if down => {
                let take = limit.saturating_sub(passed).min(n);
                passed += take;
                let ok = to.write_all(&chunk[..take]).await.is_ok();
                if passed >= limit {
                    let _ = to.shutdown().await;
                    return End::Cut;
                }
                ok
            }
            _ => to.write_all(chunk).await.is_ok(),
        };
        if !ok {
            return End::Clean;
        }
    }
}

/// Writes `chunk` at `rate` bytes a second, in pieces of a tenth of a second.
async fn slowly<W: tokio::io::AsyncWrite + Unpin>(to: &mut W, chunk: &[u8], rate: u32) -> bool {
    let piece = (rate as usize / 10).max(1);
    for part in chunk.chunks(piece) {
        let wait = Duration::from_secs_f64(part.len() as f64 / f64::from(rate));
        tokio::time::sleep(wait).await;
        if to.write_all(part).await.is_err() {
            return false;
        }
    }
    true
}
