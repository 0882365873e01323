//! Which requests may be hedged, and how each copy is marked: any request by default;
//! for HTTP, only idempotent methods, each copy numbered in a header; for gRPC, the
//! `grpc-previous-rpc-attempts` header of gRPC's own hedging.

/// Which requests a [`HedgeLayer`](super::HedgeLayer) may hedge, and what it does to
/// each copy it sends.
///
/// ```
/// use seawall::hedge::{AnyRequest, HedgePolicy};
/// let mut request = 7_u32;
/// assert!(AnyRequest.may_hedge(&request));
/// AnyRequest.prepare(&mut request, 2); // changes nothing
/// assert_eq!(request, 7);
/// ```
pub trait HedgePolicy<Req> {
    /// Whether `request` may be sent more than once. Default: yes.
    ///
    /// ```
    /// use seawall::hedge::{AnyRequest, HedgePolicy};
    /// assert!(AnyRequest.may_hedge(&"anything"));
    /// ```
    fn may_hedge(&self, request: &Req) -> bool {
        let _ = request;
        true
    }

    /// Prepares the copy sent as attempt `attempt` (2 for the first hedge). Default:
    /// nothing.
    ///
    /// ```
    /// use seawall::hedge::{AnyRequest, HedgePolicy};
    /// let mut copy = 1_u8;
    /// AnyRequest.prepare(&mut copy, 2);
    /// assert_eq!(copy, 1);
    /// ```
    fn prepare(&self, request: &mut Req, attempt: u32) {
        let _ = (request, attempt);
    }
}

/// Every request may be hedged, and copies are sent as they are: the default.
///
/// ```
/// use seawall::hedge::{AnyRequest, HedgePolicy};
/// assert!(AnyRequest.may_hedge(&()));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyRequest;

impl<Req> HedgePolicy<Req> for AnyRequest {}

/// HTTP (feature `http`): only idempotent methods are hedged (GET, HEAD, OPTIONS, TRACE,
/// PUT, DELETE), and each copy carries its attempt number in `x-seawall-attempt`, so the
/// server's logs can tell a hedge from a first try.
///
/// ```
/// use seawall::hedge::{HedgePolicy, HttpIdempotent};
/// let get = http::Request::get("/").body(()).unwrap();
/// let post = http::Request::post("/").body(()).unwrap();
/// assert!(HttpIdempotent.may_hedge(&get));
/// assert!(!HttpIdempotent.may_hedge(&post));
/// let mut copy = get;
/// HttpIdempotent.prepare(&mut copy, 2);
/// assert_eq!(copy.headers()["x-seawall-attempt"], "2");
/// ```
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpIdempotent;

#[cfg(feature = "http")]
impl<B> HedgePolicy<http::Request<B>> for HttpIdempotent {
    fn may_hedge(&self, request: &http::Request<B>) -> bool {
        use http::Method;
        matches!(
            *request.method(),
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        )
    }

    fn prepare(&self, request: &mut http::Request<B>, attempt: u32) {
        request
            .headers_mut()
            .insert("x-seawall-attempt", http::HeaderValue::from(attempt));
    }
}

/// gRPC over HTTP/2 (feature `http`): every call may be hedged (mark only idempotent
/// methods' clients with it), and each copy carries `grpc-previous-rpc-attempts`, as
/// gRPC's own hedging policy sends it.
///
/// ```
/// use seawall::hedge::{GrpcAttempts, HedgePolicy};
/// let mut copy = http::Request::post("/pkg.Service/Get").body(()).unwrap();
/// GrpcAttempts.prepare(&mut copy, 3);
/// assert_eq!(copy.headers()["grpc-previous-rpc-attempts"], "2");
/// ```
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcAttempts;

#[cfg(feature = "http")]
impl<B> HedgePolicy<http::Request<B>> for GrpcAttempts {
    fn prepare(&self, request: &mut http::Request<B>, attempt: u32) {
        request.headers_mut().insert(
            "grpc-previous-rpc-attempts",
            http::HeaderValue::from(attempt.saturating_sub(1)),
        );
    }
}
