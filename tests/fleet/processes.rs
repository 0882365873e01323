//! The multi-process proof: `examples/fleet` runs four worker processes against one
//! Redis and one flaky HTTP dependency, with local and then fleet-wide layers, and
//! prints what the dependency saw. Real processes keep real time, so the bounds are
//! wide; the example's README table has the measured values.

use std::process::Command;

use super::server::Server;

/// The example binary `cargo test` built beside this test, if it did. (`cargo test`
/// builds examples; `cargo test --test fleet` alone runs the last one built.)
fn example() -> Option<std::path::PathBuf> {
    let dir = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("examples");
    let binary = dir.join(format!("fleet{}", std::env::consts::EXE_SUFFIX));
    binary.exists().then_some(binary)
}

fn result(output: &str, line: &str, field: &str) -> i64 {
    let line = output
        .lines()
        .find(|l| l.starts_with(&format!("RESULT {line} ")))
        .unwrap_or_else(|| panic!("no `RESULT {line}` in:\n{output}"));
    line.split(' ')
        .find_map(|word| word.strip_prefix(&format!("{field}=")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {line}"))
}

#[test]
fn four_processes_share_one_breaker_and_one_rate_limit() {
    let Some(server) = Server::start() else {
        return;
    };
    let Some(binary) = example() else {
        let why = "the `fleet` example is not built (cargo test --all-features builds it)";
        assert!(
            std::env::var("SEAWALL_REQUIRE_REDIS").as_deref() != Ok("1"),
            "SEAWALL_REQUIRE_REDIS=1 but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    };
    let output = Command::new(binary)
        .env("SEAWALL_REDIS_URL", &server.url)
        .output()
        .expect("the example runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let minimum_calls = 20;
    let (local, fleet) = (
        result(&text, "breaker local", "before"),
        result(&text, "breaker fleet", "before"),
    );
    assert!(
        fleet <= minimum_calls * 3 / 2 && fleet < local,
        "calls to the dead dependency before it was shut off: fleet {fleet}, local {local}\n{text}"
    );
    let (local, fleet) = (
        result(&text, "breaker local", "probes"),
        result(&text, "breaker fleet", "probes"),
    );
    assert!(
        fleet < local,
        "probes while dead: fleet {fleet}, local {local}\n{text}"
    );
    assert!(result(&text, "breaker fleet", "recovery_ms") >= 0, "{text}");
    let admitted = result(&text, "rate fleet", "admitted");
    assert!(
        (1_900..=2_100).contains(&admitted),
        "the fleet admitted {admitted} in 10 s against 2000 (±5 %)\n{text}"
    );
}
