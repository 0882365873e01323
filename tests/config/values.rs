//! How durations and rates are written in files, and the errors for the forms refused.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};

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
