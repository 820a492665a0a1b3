//! Shared helpers: run a config given as TOML text, read reference fixtures.

use cominev::report::{Report, ResultRow};
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Plans and runs a config written inline; `{fixtures}` expands to the fixtures folder.
pub fn run(text: &str) -> Report {
    try_run(text).unwrap_or_else(|e| panic!("run failed: {e}"))
}

pub fn try_run(text: &str) -> Result<Report, cominev::error::InputError> {
    let text = text.replace("{fixtures}", &fixture("").to_string_lossy());
    let config: cominev::config::ConfigFile = toml::from_str(&text).expect("test config parses");
    let plan = cominev::plan::plan(&config, None)?;
    cominev::run::estimate(&plan, 2)
}

/// Asserts that a `cominev` run exited 0, showing its stderr otherwise.
pub fn assert_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn only_row(report: &Report) -> &ResultRow {
    assert_eq!(report.results.len(), 1, "expected one result row");
    &report.results[0]
}

/// A JSON fixture by its path in the repository (peer fixtures live next to their scripts).
pub fn reference_at(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo(path)).expect("fixture is committed");
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub fn reference(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(name)).expect("reference fixture is committed");
    serde_json::from_str(&text).expect("reference fixture is JSON")
}

pub fn assert_relative(label: &str, obtained: f64, expected: f64, tolerance: f64) {
    let difference = (obtained - expected).abs() / expected.abs().max(1e-300);
    assert!(
        difference <= tolerance,
        "{label}: obtained {obtained}, expected {expected}, relative difference {difference:e} > {tolerance:e}"
    );
}

pub fn reference_path(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("file is committed");
    serde_json::from_str(&text).expect("file is JSON")
}
