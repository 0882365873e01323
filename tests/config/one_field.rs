//! A file that sets one field keeps every other setting as the builder has it.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};

/// A file's builder and the code's builder hold the same settings, field for field.
fn assert_same_settings(from_file: impl std::fmt::Debug, in_code: impl std::fmt::Debug) {
    assert_eq!(format!("{from_file:#?}"), format!("{in_code:#?}"));
}

#[test]
fn a_one_field_breaker_table_in_a_pipeline_keeps_every_other_pipeline_setting() {
    use seawall::pipeline::{Builder as Pipeline, PipelineConfig, StandardPipeline};
    let config: PipelineConfig =
        toml::from_str("[circuit_breaker]\nfailure_rate_threshold = \"25%\"").unwrap();
    assert_same_settings(
        Pipeline::from_config(&config),
        StandardPipeline::builder()
            .circuit_breaker(|b| b.failure_rate_threshold(seawall::Ratio::percent(25.0))),
    );
}

#[test]
fn a_one_field_retry_table_in_a_pipeline_keeps_every_other_pipeline_setting() {
    use seawall::pipeline::{Builder as Pipeline, PipelineConfig, StandardPipeline};
    let config: PipelineConfig = toml::from_str("[retry]\nmax_attempts = 3").unwrap();
    assert_same_settings(
        Pipeline::from_config(&config),
        StandardPipeline::builder().retry(|r| r.max_attempts(3)),
    );
    let config: PipelineConfig = toml::from_str("[retry]\ninitial_backoff = \"1s\"").unwrap();
    assert_same_settings(
        Pipeline::from_config(&config),
        StandardPipeline::builder()
            .retry(|r| r.exponential(Duration::from_secs(1), 2.0, Duration::from_secs(10))),
    );
}

#[test]
fn a_one_field_pipeline_file_keeps_every_other_pipeline_setting() {
    use seawall::pipeline::{Builder as Pipeline, PipelineConfig, StandardPipeline};
    let config: PipelineConfig = toml::from_str(r#"attempt_timeout = "2s""#).unwrap();
    assert_same_settings(
        Pipeline::from_config(&config),
        StandardPipeline::builder().attempt_timeout(Duration::from_secs(2)),
    );
    let empty: PipelineConfig = toml::from_str("").unwrap();
    assert_same_settings(Pipeline::from_config(&empty), StandardPipeline::builder());
}

#[test]
fn a_one_field_breaker_file_keeps_every_other_standalone_setting() {
    let file: CircuitBreakerOverrides = toml::from_str("half_open_calls = 3").unwrap();
    assert_same_settings(
        CircuitBreakerLayer::builder().with_config(&file),
        CircuitBreakerLayer::builder().half_open_calls(3),
    );
}

#[test]
fn a_one_field_retry_file_keeps_every_other_standalone_setting() {
    use seawall::retry::{RetryConfig, RetryLayer};
    let file: RetryConfig = toml::from_str(r#"max_backoff = "3s""#).unwrap();
    assert_same_settings(
        RetryLayer::builder().with_config(&file),
        RetryLayer::builder().exponential(Duration::from_millis(100), 2.0, Duration::from_secs(3)),
    );
}

#[test]
fn a_one_field_bulkhead_file_keeps_every_other_standalone_setting() {
    use seawall::bulkhead::{Builder, BulkheadConfig, BulkheadLayer};
    let file: BulkheadConfig = toml::from_str("max_queued = 5").unwrap();
    assert_same_settings(
        Builder::from_config(&file),
        BulkheadLayer::builder().max_queued(5),
    );
}

#[test]
fn a_one_field_throttle_file_keeps_every_other_standalone_setting() {
    use seawall::throttle::{Builder, ThrottleConfig, ThrottleLayer};
    let file: ThrottleConfig = toml::from_str("buckets = 6").unwrap();
    assert_same_settings(
        Builder::from_config(&file),
        ThrottleLayer::builder().window(Duration::from_secs(120), 6),
    );
}

#[test]
fn a_one_field_adaptive_file_keeps_every_other_standalone_setting() {
    use seawall::adaptive::{AdaptiveConfig, AdaptiveLimitLayer, Builder, Vegas};
    let file: AdaptiveConfig = toml::from_str("max_limit = 50").unwrap();
    assert_same_settings(
        AdaptiveLimitLayer::builder(Vegas::default()).with_config(&file),
        AdaptiveLimitLayer::builder(Vegas::default()).max_limit(50),
    );
    assert_same_settings(
        Builder::from_config(&file),
        AdaptiveLimitLayer::builder(seawall::adaptive::Aimd::default()).max_limit(50),
    );
}

#[test]
fn a_rate_limit_file_with_only_the_rate_keeps_every_other_standalone_setting() {
    use seawall::rate_limit::{Builder, RateLimitConfig, RateLimitLayer};
    let file: RateLimitConfig = toml::from_str("permits = 5\nper = \"1s\"").unwrap();
    assert_same_settings(
        Builder::from_config(&file),
        RateLimitLayer::builder(5, Duration::from_secs(1)),
    );
}
