//! A timeline of reports as a self-contained SVG: success and dependency load per
//! second, one line per stack, the fault shaded.

use std::fmt::Write as _;

use super::report::Report;

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];
const WIDTH: f64 = 760.0;
const PANEL: f64 = 170.0;
const LEFT: f64 = 56.0;
const TOP: f64 = 36.0;
const GAP: f64 = 44.0;

/// Two panels over the first run of each report (all of one scenario): the share of
/// calls that succeeded, and attempts reaching the dependency per call, second by
/// second. The fault window is shaded.
///
/// ```
/// use seawall::sim::{svg, Dependency, Scenario, Simulation};
/// let report = Simulation::new(Scenario::hard_outage().rate(5.0)).run("bare", |d: Dependency| d);
/// let picture = svg(&[report]);
/// assert!(picture.starts_with("<svg") && picture.contains("bare"));
/// ```
pub fn svg(reports: &[Report]) -> String {
    let seconds = reports
        .iter()
        .map(|r| r.seconds().len())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let peak = reports
        .iter()
        .flat_map(|r| r.seconds().iter())
        .filter(|s| s.calls > 0)
        .map(|s| s.arrivals as f64 / s.calls as f64)
        .fold(1.0, f64::max)
        .ceil();
    let height = TOP + 2.0 * PANEL + GAP + 40.0;
    let plot = WIDTH - LEFT - 150.0;
    let x = |second: f64| LEFT + plot * second / seconds;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let title = reports.first().map_or("", |r| r.scenario());
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="18" font-size="13">{}</text>"#,
        escape(title)
    );
    for (panel, label, max) in [(0.0, "success %", 100.0), (1.0, "attempts per call", peak)] {
        let top = TOP + panel * (PANEL + GAP);
        if let Some(r) = reports.first() {
            let (from, to) = r.fault();
            let (x0, x1) = (
                x(from.as_secs_f64().min(seconds)),
                x(to.as_secs_f64().min(seconds)),
            );
            let _ = write!(
                out,
                "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{PANEL}\" fill=\"#f3d6d6\"/>",
                (x1 - x0).max(0.0)
            );
        }
        let _ = write!(
            out,
            r##"<rect x="{LEFT}" y="{top}" width="{plot}" height="{PANEL}" fill="none" stroke="#888"/><text x="4" y="{:.1}">{label}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{max:.0}</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"##,
            top - 4.0,
            LEFT - 4.0,
            top + 10.0,
            LEFT - 4.0,
            top + PANEL
        );
        for (i, r) in reports.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let mut points = String::new();
            for s in r.seconds().iter().filter(|s| s.calls > 0) {
                let value = if panel == 0.0 {
                    100.0 * s.ok as f64 / s.calls as f64
                } else {
                    s.arrivals as f64 / s.calls as f64
                };
                let y = top + PANEL * (1.0 - (value / max).min(1.0));
                let _ = write!(points, "{:.1},{:.1} ", x(s.second as f64 + 0.5), y);
            }
            let _ = write!(
                out,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                points.trim_end()
            );
        }
    }
    let axis_y = TOP + 2.0 * PANEL + GAP + 14.0;
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{axis_y:.1}">0 s</text><text x="{:.1}" y="{axis_y:.1}" text-anchor="end">{seconds:.0} s</text>"#,
        LEFT + plot
    );
    for (i, r) in reports.iter().enumerate() {
        let y = TOP + 14.0 + 16.0 * i as f64;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="3" fill="{colour}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            LEFT + plot + 12.0,
            y - 4.0,
            LEFT + plot + 28.0,
            escape(r.name())
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Text for an element's content: markup escaped, control characters (which XML
/// forbids) dropped.
fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
