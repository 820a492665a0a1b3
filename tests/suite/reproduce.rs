//! `cominev reproduce`: the published studies in `examples/` reproduce (exit 0), and a config
//! whose expectation is off fails with exit 4 and says which check failed.

use assert_cmd::Command;

#[test]
fn published_examples_reproduce() {
    let out = Command::cargo_bin("cominev")
        .expect("binary")
        .args([
            "reproduce",
            "examples/lalonde-experimental.toml",
            "examples/mpdta.toml",
            "examples/prop99-sdid.toml",
            "examples/prop99-adh.toml",
            "data-samples/regional-panel.toml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(" pass").count(), 6 + 6 + 7 + 1, "{stdout}");
}

#[test]
fn a_failed_expectation_exits_4() {
    let dir = tempfile::tempdir().expect("folder");
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nsw_dw.csv");
    let config = dir.path().join("wrong.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\npath = \"{}\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"x\"\nmethod = \"difference-in-means\"\noutcomes = [\"re78\"]\n[[expect]]\nevaluation = \"x\"\noutcome = \"re78\"\nestimate = 2500.0\ntolerance = 1.0\n",
            fixtures.display()
        ),
    )
    .expect("write");
    let out = Command::cargo_bin("cominev")
        .expect("binary")
        .arg("reproduce")
        .arg(&config)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("x / re78 / overall / estimate"),
        "{stdout}"
    );
}
