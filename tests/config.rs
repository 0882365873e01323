//! Settings from files (feature `serde`): round trips, defaults, and exact errors.
#![cfg(feature = "serde")]

use std::collections::BTreeMap;
use std::time::Duration;

use seawall::circuit_breaker::{
    CircuitBreakerLayer, CircuitBreakerOverrides, OpenBackoffConfig, WindowConfig,
};

#[derive(Debug, serde::Deserialize)]
struct Dependency {
    circuit_breaker: CircuitBreakerOverrides,
}

const FILE: &str = r#"
[payments.circuit_breaker]
name = "payments"
window = { time = { window = "30s", buckets = 10 } }
failure_rate_threshold = "25%"
slow_call_duration = "1500ms"
open_duration = "5s"
open_backoff = { multiplier = 2.0, max = "1m" }

[inventory.circuit_breaker]
window = { consecutive_failures = 5 }
"#;

#[test]
fn a_toml_file_configures_breakers_with_human_durations_and_defaults() {
    let deps: BTreeMap<String, Dependency> = toml::from_str(FILE).unwrap();
    let payments = &deps["payments"].circuit_breaker;
    let payments = CircuitBreakerLayer::builder().with_config(payments);
    let payments = payments.config();
    assert_eq!(
        payments.window,
        WindowConfig::Time {
            window: Duration::from_secs(30),
            buckets: 10
        }
    );
    assert_eq!(
        payments.slow_call_duration,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        payments.open_backoff,
        Some(OpenBackoffConfig::new(2.0, Duration::from_secs(60)))
    );
    assert_eq!(
        payments.half_open_calls, 1,
        "unset fields keep their defaults"
    );
    let inventory = &deps["inventory"].circuit_breaker;
    assert_eq!(inventory.window, Some(WindowConfig::ConsecutiveFailures(5)));
    for dep in deps.values() {
        CircuitBreakerLayer::builder()
            .with_config(&dep.circuit_breaker)
            .build()
            .unwrap();
    }
}

#[test]
fn configs_round_trip_through_toml_and_json() {
    let deps: BTreeMap<String, Dependency> = toml::from_str(FILE).unwrap();
    let original = deps["payments"].circuit_breaker.clone();
    let text = toml::to_string(&original).unwrap();
    assert_eq!(
        toml::from_str::<CircuitBreakerOverrides>(&text).unwrap(),
        original
    );
    let json = serde_json::to_string(&original).unwrap();
    assert!(json.contains(r#""open_duration":"5s""#), "{json}");
    assert_eq!(
        serde_json::from_str::<CircuitBreakerOverrides>(&json).unwrap(),
        original
    );
}

#[test]
fn the_running_config_round_trips_through_a_file() {
    let file = toml::from_str(r#"window = { count = 20 }"#).unwrap();
    let layer = CircuitBreakerLayer::builder()
        .with_config(&file)
        .build()
        .unwrap();
    let running = layer.handle().config();
    let text = toml::to_string(&running).unwrap();
    let back: CircuitBreakerOverrides = toml::from_str(&text).unwrap();
    let mut config = CircuitBreakerLayer::builder().config().clone();
    back.apply_to(&mut config);
    assert_eq!(config, running);
    layer.handle().reconfigure(&config).unwrap();
}

#[test]
fn an_out_of_range_value_names_its_full_path() {
    let file = "[payments.circuit_breaker]\nfailure_rate_threshold = \"140%\"\n";
    let deps: BTreeMap<String, Dependency> = toml::from_str(file).unwrap();
    let err = CircuitBreakerLayer::builder()
        .with_config(&deps["payments"].circuit_breaker)
        .build()
        .map_err(|e| e.within("payments"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "payments.circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]"
    );
}

#[test]
fn unknown_fields_and_bad_durations_are_refused_by_the_parser() {
    let typo =
        toml::from_str::<CircuitBreakerOverrides>("failure_rate_treshold = 5.0").unwrap_err();
    assert!(
        typo.to_string()
            .contains("unknown field `failure_rate_treshold`"),
        "{typo}"
    );
    let bad =
        toml::from_str::<CircuitBreakerOverrides>(r#"open_duration = "5 parsecs""#).unwrap_err();
    assert!(
        bad.to_string().contains(r#""5 parsecs" is not a duration"#),
        "{bad}"
    );
    let two = toml::from_str::<CircuitBreakerOverrides>(
        "window = { count = 5, consecutive_failures = 3 }",
    );
    assert!(two.is_err(), "one window kind at a time");
}

#[test]
fn a_whole_pipeline_reads_from_a_file_and_reports_errors_by_path() {
    use seawall::pipeline::{Builder as Pipeline, PipelineConfig};
    let config: PipelineConfig = toml::from_str(
        r#"
        name = "payments"
        max_concurrent = 50
        total_timeout = "5s"
        attempt_timeout = "1s"
        [retry]
        max_attempts = 2
        jitter = { proportional = 0.2 }
        "#,
    )
    .unwrap();
    let pipeline = Pipeline::from_config(&config).build().unwrap();
    assert_eq!(pipeline.bulkhead().max_concurrent(), 50);
    assert_eq!(pipeline.circuit_breaker().name(), "payments");

    let mut bad = config.clone();
    bad.circuit_breaker = toml::from_str("failure_rate_threshold = \"140%\"").unwrap();
    let err = Pipeline::from_config(&bad).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "payments.circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]"
    );
    let round_trip: PipelineConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(round_trip, config);
}

#[test]
fn an_adaptive_limit_reads_its_algorithm_from_a_file() {
    use seawall::adaptive::{AdaptiveConfig, Algorithm, Builder as Adaptive, Vegas};
    let config: AdaptiveConfig = toml::from_str(
        r#"
        min_limit = 5
        algorithm = { vegas = { probe_multiplier = 60 } }
        "#,
    )
    .unwrap();
    assert_eq!(
        config.algorithm,
        Some(Algorithm::Vegas(Vegas::default().probe_multiplier(60))),
        "unset algorithm fields keep their defaults"
    );
    Adaptive::from_config(&config).build().unwrap();
    let round_trip: AdaptiveConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(round_trip, config);

    let bad: AdaptiveConfig =
        toml::from_str("algorithm = { vegas = { smoothing = 0.0 } }").unwrap();
    let err = Adaptive::from_config(&bad).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "adaptive.vegas.smoothing: 0 is outside (0, 1]"
    );
}

#[test]
fn every_configurable_layer_reads_from_one_file() {
    use seawall::bulkhead::{Builder as Bulkhead, BulkheadConfig};
    use seawall::rate_limit::{Builder as RateLimit, RateLimitConfig};
    use seawall::retry::{RetryConfig, RetryLayer};

    #[derive(serde::Deserialize)]
    struct Service {
        retry: RetryConfig,
        bulkhead: BulkheadConfig,
        rate_limit: RateLimitConfig,
        circuit_breaker: CircuitBreakerOverrides,
    }
    let file = r#"
        [retry]
        max_attempts = 2
        budget = "none"
        [bulkhead]
        max_concurrent = 5
        [rate_limit]
        permits = 50
        per = "1s"
        [circuit_breaker]
        window = { count = 20 }
    "#;
    let s: Service = toml::from_str(file).unwrap();
    RetryLayer::builder().with_config(&s.retry).build().unwrap();
    assert_eq!(
        Bulkhead::from_config(&s.bulkhead)
            .build()
            .unwrap()
            .handle()
            .max_concurrent(),
        5
    );
    assert_eq!(
        RateLimit::from_config(&s.rate_limit)
            .build()
            .unwrap()
            .handle()
            .burst(),
        50
    );
    CircuitBreakerLayer::builder()
        .with_config(&s.circuit_breaker)
        .build()
        .unwrap();

    let mut bad = s.bulkhead.clone();
    bad.max_concurrent = Some(0);
    let err = Bulkhead::from_config(&bad).build().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bulkhead.max_concurrent: 0 is outside"),
        "{err}"
    );
}

#[test]
fn durations_in_files_take_spaced_parts_and_exact_decimals() {
    use seawall::config::human;
    assert_eq!(human::parse("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(human::parse("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(
        human::parse("123456789.123456789s"),
        Ok(Duration::new(123_456_789, 123_456_789))
    );
    let config: CircuitBreakerOverrides = toml::from_str(r#"open_duration = "1m 30s""#).unwrap();
    assert_eq!(config.open_duration, Some(Duration::from_secs(90)));
}

#[test]
fn a_bare_number_for_a_duration_is_refused_with_the_accepted_forms() {
    use seawall::pipeline::PipelineConfig;
    let err = toml::from_str::<PipelineConfig>("total_timeout = 10").unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"a duration string such as "250ms", "30s" or "1h 30m""#),
        "{err}"
    );
    let err = toml::from_str::<PipelineConfig>(r#"total_timeout = "10""#).unwrap_err();
    assert!(err.to_string().contains(r#""1h 30m""#), "{err}");
}

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

#[test]
fn a_bare_number_for_a_rate_is_refused_with_the_accepted_form() {
    use seawall::pipeline::PipelineConfig;
    for file in [
        "[circuit_breaker]\nfailure_rate_threshold = 0.5",
        "[circuit_breaker]\nslow_call_rate_threshold = 50",
        "[retry]\nbudget = { window = { ttl = \"10s\", min_per_sec = 1, percent = 20.0 } }",
    ] {
        let err = toml::from_str::<PipelineConfig>(file).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"a percentage string such as "25%""#),
            "{file}: {err}"
        );
    }
    let config: PipelineConfig =
        toml::from_str("[circuit_breaker]\nfailure_rate_threshold = \"0.5%\"").unwrap();
    let pipeline = seawall::pipeline::Builder::from_config(&config)
        .build()
        .unwrap();
    assert_eq!(
        pipeline.circuit_breaker().config().failure_rate_threshold,
        seawall::Ratio::percent(0.5)
    );
}

#[test]
fn a_rate_means_the_same_whether_written_as_a_fraction_or_a_percentage() {
    use seawall::Ratio;
    let quarter = CircuitBreakerLayer::builder().failure_rate_threshold(Ratio::fraction(0.25));
    let file: CircuitBreakerOverrides =
        toml::from_str(r#"failure_rate_threshold = "25%""#).unwrap();
    assert_eq!(
        quarter.config().failure_rate_threshold,
        Ratio::percent(25.0)
    );
    assert_eq!(
        CircuitBreakerLayer::builder().with_config(&file).config(),
        quarter.config()
    );
}
