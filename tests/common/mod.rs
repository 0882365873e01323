//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tower::{Service, ServiceExt, service_fn};

/// Serves one accepted loopback connection over HTTP/1 with the tower service `app`, on
/// a task of its own.
#[cfg(feature = "http")]
pub fn serve_http1<S>(stream: tokio::net::TcpStream, app: S)
where
    S: Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<http_body_util::Full<bytes::Bytes>>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    tokio::spawn(async move {
        let io = hyper_util::rt::TokioIo::new(stream);
        let app = hyper_util::service::TowerToHyperService::new(app);
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, app)
            .await;
    });
}

/// Where a property test in a folder binary keeps its failing cases: beside its own file
/// (`model.rs`, `model.proptest-regressions`). Proptest's default walks up to the folder's
/// `main.rs` and files them under `tests/proptest-regressions/` instead.
pub fn regressions_beside_the_file() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(
        proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
    ))
}

/// The inner service's own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boom;

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

pub type Err = seawall::Error<Boom>;

/// What the test backend should do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Req {
    pub fail: bool,
    pub delay: Duration,
}

pub const OK: Req = Req {
    fail: false,
    delay: Duration::ZERO,
};
pub const FAIL: Req = Req {
    fail: true,
    delay: Duration::ZERO,
};

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `s` whole seconds.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn slow(delay_ms: u64, fail: bool) -> Req {
    Req {
        fail,
        delay: Duration::from_millis(delay_ms),
    }
}

/// A backend that does what each request says, sleeping on tokio's clock.
pub fn backend() -> impl Service<Req, Response = (), Error = Err, Future: Send> + Clone + Send {
    service_fn(|req: Req| async move {
        if !req.delay.is_zero() {
            tokio::time::sleep(req.delay).await;
        }
        if req.fail {
            Err(seawall::Error::Service(Boom))
        } else {
            Ok(())
        }
    })
}

/// Calls once, waiting for readiness.
pub async fn call<S>(svc: &mut S, req: Req) -> Result<(), Err>
where
    S: Service<Req, Response = (), Error = Err>,
{
    svc.ready().await?.call(req).await
}

/// Whether the result is a rejection by a seawall layer.
pub fn rejected(result: &Result<(), Err>) -> Option<seawall::Rejected> {
    match result {
        Err(seawall::Error::Rejected(r)) => Some(*r),
        _ => None,
    }
}

/// One captured `tracing` event: its target and fields, as text, and the span it was
/// emitted in.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub target: String,
    pub fields: Vec<(String, String)>,
    pub span: Option<u64>,
}

/// One captured `tracing` span: its id, name, parent and fields (those recorded later
/// included), as text.
#[derive(Debug, Clone, Default)]
pub struct CapturedSpan {
    pub id: u64,
    pub name: String,
    pub target: String,
    pub parent: Option<u64>,
    pub fields: Vec<(String, String)>,
}

impl CapturedSpan {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Captured {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Records the `tracing` events emitted on the current thread while installed.
///
/// One global subscriber routes each event to the recorder installed on the emitting
/// thread. (Per-thread `set_default` subscribers race with tracing's global callsite
/// interest cache when tests run in parallel, and then miss events.)
#[derive(Clone, Default)]
pub struct Recorder {
    pub events: Arc<Mutex<Vec<Captured>>>,
    pub spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Recorder>> = const { std::cell::RefCell::new(None) };
    /// The spans entered on this thread, innermost last.
    static ENTERED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

static NEXT_SPAN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Uninstalls the recorder when dropped.
pub struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

impl Recorder {
    /// Records this thread's events until the guard is dropped.
    pub fn install(&self) -> Installed {
        static ROUTER: std::sync::Once = std::sync::Once::new();
        ROUTER.call_once(|| {
            tracing::subscriber::set_global_default(Router).expect("no other global subscriber");
        });
        // A callsite first reached by another test while the router was being installed
        // can keep the "never" interest of the no-op subscriber before it; asking every
        // callsite again makes the router see it (tests run in parallel).
        tracing::callsite::rebuild_interest_cache();
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
        Installed(())
    }

    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    pub fn take_spans(&self) -> Vec<CapturedSpan> {
        std::mem::take(&mut *self.spans.lock().unwrap())
    }
}

fn current_span() -> Option<u64> {
    ENTERED.with(|e| e.borrow().last().copied())
}

/// The global subscriber: forwards events to the current thread's recorder.
struct Router;

struct Visitor<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl tracing::Subscriber for Router {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attributes: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = NEXT_SPAN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let parent = match attributes.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if attributes.is_contextual() => current_span(),
            None => None,
        };
        let mut span = CapturedSpan {
            id,
            name: attributes.metadata().name().to_owned(),
            target: attributes.metadata().target().to_owned(),
            parent,
            fields: Vec::new(),
        };
        attributes.record(&mut Visitor(&mut span.fields));
        CURRENT.with(|c| {
            if let Some(recorder) = &*c.borrow() {
                recorder.spans.lock().unwrap().push(span);
            }
        });
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        CURRENT.with(|c| {
            if let Some(recorder) = &*c.borrow() {
                let mut spans = recorder.spans.lock().unwrap();
                if let Some(span) = spans.iter_mut().find(|s| s.id == id.into_u64()) {
                    values.record(&mut Visitor(&mut span.fields));
                }
            }
        });
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut captured = Captured {
            target: event.metadata().target().to_owned(),
            fields: Vec::new(),
            span: current_span(),
        };
        event.record(&mut Visitor(&mut captured.fields));
        CURRENT.with(|c| {
            if let Some(recorder) = &*c.borrow() {
                recorder.events.lock().unwrap().push(captured);
            }
        });
    }
    fn enter(&self, id: &tracing::span::Id) {
        ENTERED.with(|e| e.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, id: &tracing::span::Id) {
        ENTERED.with(|e| {
            let mut entered = e.borrow_mut();
            if let Some(at) = entered.iter().rposition(|s| *s == id.into_u64()) {
                entered.remove(at);
            }
        });
    }
}

/// Raises its flag when dropped.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A backend whose calls take `delay` on tokio's clock; the flag goes up when a call's
/// future is gone, finished or dropped.
pub fn tracked(
    delay: Duration,
) -> (
    Arc<std::sync::atomic::AtomicBool>,
    impl Service<(), Response = (), Error = Err, Future: Send> + Clone + Send,
) {
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = gone.clone();
    let svc = service_fn(move |()| {
        let guard = DropFlag(flag.clone());
        async move {
            tokio::time::sleep(delay).await;
            drop(guard);
            Ok(())
        }
    });
    (gone, svc)
}

/// Whether a [`tracked`] call's future is gone.
pub fn is_gone(flag: &std::sync::atomic::AtomicBool) -> bool {
    flag.load(std::sync::atomic::Ordering::SeqCst)
}

/// An inner service whose readiness the test controls, counting the calls it gets.
#[derive(Clone)]
pub struct Gate {
    open: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl Gate {
    pub fn new() -> Self {
        Gate {
            open: Arc::new(AtomicBool::new(true)),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.open.store(ready, SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }
}

impl Service<Req> for Gate {
    type Response = ();
    type Error = Err;
    type Future = std::future::Ready<Result<(), Err>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Err>> {
        // Never woken: the tests give up on readiness with a timeout instead.
        if self.open.load(SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.calls.fetch_add(1, SeqCst);
        std::future::ready(if req.fail {
            Err(seawall::Error::Service(Boom))
        } else {
            Ok(())
        })
    }
}
