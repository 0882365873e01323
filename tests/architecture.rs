//! The rules of docs/ARCHITECTURE.md that a machine can check: layer folders import
//! only the core, no source file grows past 450 lines, and every `tracing` event goes
//! through `telemetry::event!` (one vocabulary).

use std::path::{Path, PathBuf};

/// The layer folders; `pipeline` and `keyed` compose layers by design, `sim` drives any
/// stack.
const LAYERS: [&str; 11] = [
    "adaptive",
    "bulkhead",
    "chaos",
    "fallback",
    "hedge",
    "circuit_breaker",
    "deadline",
    "rate_limit",
    "retry",
    "throttle",
    "timeout",
];
const COMPOSERS: [&str; 4] = ["pipeline", "keyed", "sim", "consume"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

/// The layer folder a source file is in, if any.
fn folder(path: &Path) -> Option<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let first = path.strip_prefix(&src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.to_owned();
    path.strip_prefix(src.join(&name)).ok().map(|_| name)
}

#[test]
fn layer_folders_import_only_the_core() {
    let mut arrows = Vec::new();
    for path in all_sources() {
        let Some(own) = folder(&path) else { continue };
        if COMPOSERS.contains(&own.as_str()) || !LAYERS.contains(&own.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // docs may link to other layers
            }
            for other in LAYERS.iter().chain(&COMPOSERS).filter(|l| **l != own) {
                if code.contains(&format!("crate::{other}::"))
                    || code.contains(&format!("crate::{other};"))
                {
                    arrows.push(format!("{}:{}: {}", path.display(), number + 1, code));
                }
            }
        }
    }
    assert!(
        arrows.is_empty(),
        "imports from another layer:\n{}",
        arrows.join("\n")
    );
}

#[test]
fn no_source_file_passes_450_lines() {
    let long: Vec<String> = all_sources()
        .into_iter()
        .map(|path| {
            (
                std::fs::read_to_string(&path).unwrap().lines().count(),
                path,
            )
        })
        .filter(|(lines, _)| *lines > 450)
        .map(|(lines, path)| format!("{}: {lines} lines", path.display()))
        .collect();
    assert!(long.is_empty(), "split by concept:\n{}", long.join("\n"));
}

/// Every `tracing` event in the source goes through `telemetry::event!`, so the fleet's
/// and the balancer's events (which need Redis or a load balancer to fire) keep the
/// vocabulary too.
#[test]
fn no_event_in_the_source_bypasses_the_vocabulary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = all_sources();
    let mut bypasses = Vec::new();
    for path in files
        .iter()
        .filter(|p| !p.starts_with(src.join("telemetry")))
    {
        let text = std::fs::read_to_string(path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // doc examples may log as users do
            }
            let direct = [
                "error!", "warn!", "info!", "debug!", "trace!", "event!", "span!",
            ]
            .iter()
            .any(|m| code.contains(&format!("tracing::{m}")) || code.contains("_span!("));
            if direct {
                bypasses.push(format!("{}:{}: {code}", path.display(), number + 1));
            }
        }
    }
    assert!(
        bypasses.is_empty(),
        "use crate::telemetry::event!:\n{}",
        bypasses.join("\n")
    );
    assert!(files.len() > 100, "the scan found the source");
}
