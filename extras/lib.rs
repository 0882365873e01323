//! seawall's examples that need heavy crates, in a workspace member of their own so that
//! the first build (`cargo run --example quickstart`) compiles none of them:
//!
//! * `grpc`: a tonic client and server, gRPC status codes classified, deadlines sent as
//!   `grpc-timeout`, retries marked with `grpc-previous-rpc-attempts`;
//! * `metrics`: seawall's metrics exported in Prometheus's text format.
//!
//! `cargo run --example grpc` and `cargo run --example metrics` run them from the
//! repository's root; `cargo test` there builds them.
