//! Every configurable layer, and a whole pipeline, read from a file.

use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};

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
