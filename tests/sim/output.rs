//! The output formats: Markdown table, CSV and SVG.

use std::time::Duration;

use seawall::sim::{Dependency, Report, Scenario, Simulation, csv, svg, table};

use crate::{bare, hair_trigger_breaker, secs};

fn two_reports() -> [Report; 2] {
    let sim = Simulation::new(Scenario::hard_outage().rate(10.0));
    [
        bare(&sim),
        sim.run("breaker <1> & co", hair_trigger_breaker(secs(5.0))),
    ]
}

#[test]
fn the_table_has_one_row_per_report() {
    let reports = two_reports();
    let text = table(&reports);
    assert_eq!(text.lines().count(), 2 + reports.len());
    assert!(text.lines().nth(2).unwrap().starts_with("| bare |"));
}

#[test]
fn the_csv_has_a_header_and_one_row_per_second_per_report() {
    let reports = two_reports();
    let text = csv(&reports);
    let rows: usize = reports.iter().map(|r| r.seconds().len()).sum();
    assert_eq!(text.lines().count(), 1 + rows);
    assert_eq!(rows, 2 * 60);
    assert!(text.starts_with("scenario,stack,second,"));
    assert!(text.lines().skip(1).all(|l| l.split(',').count() == 9));
}

#[test]
fn the_svg_has_one_line_per_stack_per_panel_and_escapes_names() {
    let reports = two_reports();
    let picture = svg(&reports);
    assert!(picture.starts_with("<svg"));
    assert!(picture.trim_end().ends_with("</svg>"));
    assert_eq!(picture.matches("<polyline").count(), 2 * reports.len());
    assert!(picture.contains("breaker &lt;1&gt; &amp; co"));
    assert!(!picture.contains("<1>"));
}

#[test]
fn the_csv_quotes_names_that_hold_commas_or_quotes() {
    let sim = Simulation::new(Scenario::new("a, \"b\"", Duration::from_secs(2)).rate(5.0));
    let text = sim.run("retry, budget", |d: Dependency| d).csv();
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("\"a, \"\"b\"\"\",\"retry, budget\",0,5,"),
        "{row}"
    );
}

#[test]
fn the_table_escapes_pipes_in_names() {
    let sim = Simulation::new(Scenario::new("x", Duration::from_secs(2)).rate(5.0));
    let text = table(&[sim.run("a | b", |d: Dependency| d)]);
    let row = text.lines().nth(2).unwrap();
    assert!(row.starts_with("| a \\| b |"), "{row}");
    assert_eq!(
        row.matches(" | ").count() + 2,
        text.lines().next().unwrap().matches('|').count()
    );
}
