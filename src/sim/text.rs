//! The reports as text: a Markdown table and a per-second CSV.

use std::fmt::Write as _;

use super::report::Report;

/// The reports' first runs, second by second, as one CSV with a header (RFC 4180: names
/// holding commas, quotes or line breaks are quoted).
///
/// ```
/// use seawall::sim::{csv, Dependency, Scenario, Simulation};
/// let sim = Simulation::new(Scenario::hard_outage().rate(5.0));
/// let text = csv(&[sim.run("a", |d: Dependency| d), sim.run("b", |d: Dependency| d)]);
/// assert_eq!(text.lines().count(), 1 + 2 * 60);
/// ```
pub fn csv(reports: &[Report]) -> String {
    let mut out =
        String::from("scenario,stack,second,calls,ok,failed,refused,timed_out,arrivals\n");
    for r in reports {
        for s in r.seconds() {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(r.scenario()),
                csv_field(r.name()),
                s.second,
                s.calls,
                s.ok,
                s.failed,
                s.refused,
                s.timed_out,
                s.arrivals
            );
        }
    }
    out
}

/// A Markdown table: one row per report ("–" for what did not happen: no refusal, no
/// fault).
///
/// ```
/// use seawall::sim::{table, Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
/// let text = table(&[report]);
/// assert!(text.contains("| bare |"));
/// ```
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| stack | success | in the fault | load in the fault | peak 1 s load | first refusal | recovery mean / max | p50 / p99 in the fault | refused |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let refusal = r
            .first_refusal()
            .map_or_else(|| "–".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
        let refused = r.mean(|m| m.refused as f64);
        let (in_fault, load, latency) = if r.fault_success().is_nan() {
            ("–".to_owned(), "–".to_owned(), "–".to_owned())
        } else {
            let p50 = r.mean_time(|m| m.fault_p50).as_secs_f64();
            (
                percent(r.fault_success()),
                format!("{:.3}×", r.fault_load()),
                format!(
                    "{:.0} / {:.0} ms",
                    p50 * 1e3,
                    r.fault_p99().as_secs_f64() * 1e3
                ),
            )
        };
        let mut recovery = format!(
            "{:.2} / {:.2} s",
            r.recovery_mean().as_secs_f64(),
            r.recovery_max().as_secs_f64()
        );
        if let Some(d) = r.dependency_recovery() {
            let _ = write!(recovery, " (line gone {:.2} s)", d.as_secs_f64());
        }
        let _ = writeln!(
            out,
            "| {} | {} | {in_fault} | {load} | {:.2}× | {refusal} | {recovery} | {latency} | {refused:.0} |",
            r.name().replace('|', "\\|").replace(['\n', '\r'], " "),
            percent(r.success()),
            r.peak_load(),
        );
    }
    out
}

/// A share as a percentage with one decimal, "–" for NaN.
fn percent(share: f64) -> String {
    if share.is_nan() {
        "–".to_owned()
    } else {
        format!("{:.1} %", 100.0 * share)
    }
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}
