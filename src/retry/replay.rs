//! Replay: how a request is copied so that it can be sent again.

/// Makes the copies of a request that later attempts send.
///
/// The first attempt sends the caller's request; a copy is kept for each retry. A
/// request that cannot be copied (`replay` returns `None`) is sent once and not retried.
/// [`CloneRequest`], the default, replays every `Clone` request; with the `http`
/// feature, `retry::http::HttpReplay` replays `http::Request`s whose
/// bodies are `Clone` and small enough.
///
/// ```
/// use seawall::retry::Replay;
///
/// /// Requests that are consumed by sending: only the ones marked idempotent are
/// /// replayed.
/// struct Idempotent;
///
/// impl Replay<(bool, String)> for Idempotent {
///     fn replay(&self, req: &(bool, String)) -> Option<(bool, String)> {
///         req.0.then(|| req.clone())
///     }
/// }
/// assert!(Idempotent.replay(&(false, "POST".into())).is_none());
/// ```
pub trait Replay<Req> {
    /// A copy of `req` for a later attempt, or `None` if it must not be sent again.
    ///
    /// ```
    /// use seawall::retry::{CloneRequest, Replay};
    /// assert_eq!(CloneRequest.replay(&"GET /"), Some("GET /"));
    /// ```
    fn replay(&self, req: &Req) -> Option<Req>;

    /// Marks a copy as attempt number `attempt` (2 for the first retry) before it is
    /// sent. The default does nothing.
    ///
    /// ```
    /// use seawall::retry::{CloneRequest, Replay};
    /// let mut req = 5_u32;
    /// CloneRequest.mark(&mut req, 2);
    /// assert_eq!(req, 5, "the default leaves the request as it is");
    /// ```
    fn mark(&self, req: &mut Req, attempt: u32) {
        let _ = (req, attempt);
    }
}

/// The default: replays any `Clone` request by cloning it. Cheap-to-clone requests
/// (`Arc`s, `Bytes`, small structs) keep the retry layer free of allocation.
///
/// ```
/// use seawall::retry::{CloneRequest, Replay};
/// assert_eq!(CloneRequest.replay(&"ping"), Some("ping"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneRequest;

impl<Req: Clone> Replay<Req> for CloneRequest {
    #[inline]
    fn replay(&self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}
