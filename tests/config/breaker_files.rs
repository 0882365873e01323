//! Breakers from files: human durations and defaults, round trips, and errors named by
//! their full path.

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
