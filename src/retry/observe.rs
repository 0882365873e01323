//! The builder's telemetry switches: spans per call and attempt, and gRPC's per-call
//! retry metrics.

use super::Builder;

impl<C, H, R> Builder<C, H, R> {
    /// Runs each call in a `tracing` span `seawall.call` and each attempt in a child
    /// span `seawall.attempt` (fields in [`telemetry`](crate::telemetry#spans-tracing-a-switch-per-layer)),
    /// so that what the inner service logs nests under the attempt that made it, and
    /// `tracing-opentelemetry` exports one trace per call. Default: off; a call then
    /// makes no span and allocates nothing for one.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().name("inventory").spans(true).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn spans(mut self, on: bool) -> Self {
        self.settings.spans = on;
        self
    }

    /// Records gRPC's per-call retry histograms (gRFC A96): `grpc.client.call.retries`
    /// and `grpc.client.call.retry_delay`, labelled `grpc.method` and `grpc.target` with
    /// the names given (a layer per method, or `"other"`, as gRPC labels methods it does
    /// not know). A call that was not retried is not recorded. Both names must be
    /// non-empty. Default: off.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder()
    ///     .grpc_metrics("inventory.v1.Stock/Reserve", "dns:///inventory:50051")
    ///     .build()?;
    /// # let _ = layer;
    /// let err = RetryLayer::builder().grpc_metrics("", "x").build().unwrap_err();
    /// assert_eq!(err.field(), "retry.grpc_metrics.method");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn grpc_metrics(mut self, method: impl Into<String>, target: impl Into<String>) -> Self {
        self.settings.grpc = Some((method.into(), target.into()));
        self
    }
}
