//! Every public item's doc has a runnable example (the project's rule): a scan of the
//! sources for `pub` items and trait methods whose doc comment holds no code block.
//! Doctests then run every example; this only finds the missing ones.

use std::fs;
use std::path::Path;

/// Whether `line` starts a public item (or a trait method, inside a public trait).
fn item(line: &str, in_trait: bool) -> bool {
    let line = line.trim_start();
    let public = [
        "pub fn ",
        "pub const fn ",
        "pub struct ",
        "pub enum ",
        "pub trait ",
        "pub type ",
    ];
    public.iter().any(|p| line.starts_with(p)) || (in_trait && line.starts_with("fn "))
}

/// Whether the doc comment and attributes right above line `at` hold a code block.
fn has_example(lines: &[&str], at: usize) -> bool {
    lines[..at]
        .iter()
        .rev()
        .map(|l| l.trim())
        // Doc lines, and attributes (which may span lines), up to the item before.
        .take_while(|l| l.starts_with("///") || !(l.is_empty() || l.ends_with(['}', ';', '{'])))
        .any(|l| l.starts_with("/// ```"))
}

fn scan(dir: &Path, missing: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, missing);
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut trait_depth: Option<i32> = None;
        for (at, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break; // unit tests to the end of the file
            }
            if item(line, trait_depth.is_some()) && !has_example(&lines, at) {
                missing.push(format!("{}:{}: {}", path.display(), at + 1, line.trim()));
            }
            if line.trim_start().starts_with("pub trait ") {
                trait_depth = Some(0);
            }
            if let Some(depth) = trait_depth.as_mut() {
                *depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
                if *depth <= 0 && line.contains('}') {
                    trait_depth = None;
                }
            }
        }
    }
}

#[test]
fn every_public_item_has_an_example() {
    let mut missing = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "public items without an example:\n{}",
        missing.join("\n")
    );
}
