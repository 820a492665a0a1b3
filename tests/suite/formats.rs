//! Input and output formats: Parquet gives the same numbers as CSV; every output format carries
//! the same rows; JSON output follows the contract.

use crate::util::{fixture, run};
use polars::prelude::*;

#[test]
fn parquet_input_equals_csv_input() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let parquet = dir.path().join("lalonde.parquet");
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(fixture("lalonde_psid.csv")))
        .and_then(|r| r.finish())
        .expect("fixture reads");
    let file = std::fs::File::create(&parquet).expect("create");
    ParquetWriter::new(file)
        .finish(&mut frame)
        .expect("write parquet");
    let config = |path: &str| {
        format!(
            "[data]\npath = \"{path}\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"e\"\noutcomes = [\"re78\"]\ncovariates = [\"age\", \"education\", \"black\", \"re74\", \"re75\"]\n[evaluation.psm]\nreplace = true\n"
        )
    };
    let from_csv = run(&config(&fixture("lalonde_psid.csv").to_string_lossy()));
    let from_parquet = run(&config(&parquet.to_string_lossy()));
    assert_eq!(
        from_csv.results[0].estimate,
        from_parquet.results[0].estimate
    );
    assert_eq!(
        from_csv.results[0].std_error,
        from_parquet.results[0].std_error
    );
    assert_ne!(
        from_csv.provenance.inputs[0].sha256,
        from_parquet.provenance.inputs[0].sha256
    );
}

#[test]
fn json_has_the_contract_fields() {
    let out = assert_cmd::Command::cargo_bin("cominev")
        .expect("binary built")
        .args([
            "estimate",
            "--config",
            "examples/lalonde-psid.toml",
            "--format",
            "json",
            "-q",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in [
        "schema_version",
        "cominev_version",
        "results",
        "warnings",
        "provenance",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    let row = &json["results"][0];
    for key in [
        "evaluation",
        "intervention",
        "outcome",
        "method",
        "estimand",
        "target",
        "estimate",
        "std_error",
        "ci_lower",
        "ci_upper",
        "ci_level",
        "p_value",
        "n_treated",
        "n_control",
        "inference",
        "status",
    ] {
        assert!(row.get(key).is_some(), "result row misses {key}");
    }
    let provenance = &json["provenance"];
    let sha = provenance["inputs"][0]["sha256"].as_str().expect("hash");
    let bytes = std::fs::read(fixture("lalonde_psid.csv")).expect("fixture");
    let expected: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(sha, expected);
    assert_eq!(provenance["config_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn csv_and_markdown_carry_the_same_rows() {
    let render = |format: &str| {
        let out = assert_cmd::Command::cargo_bin("cominev")
            .expect("binary built")
            .args([
                "estimate",
                "--config",
                "data-samples/integration.toml",
                "-q",
                "--format",
                format,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let csv = render("csv");
    let header = csv.lines().next().expect("header");
    assert!(header.starts_with("evaluation,intervention,outcome,method,estimand,target,estimate,std_error,ci_lower,ci_upper,ci_level,p_value,n_treated,n_control,inference,status"));
    assert_eq!(csv.lines().count(), 1 + 6);
    let markdown = render("markdown");
    assert_eq!(
        markdown
            .lines()
            .filter(|l| l.starts_with("| integration-services |"))
            .count(),
        6
    );
}

#[test]
fn small_cells_are_suppressed() {
    let report = run(
        "min-cell = 200\n[data]\npath = \"{fixtures}/lalonde_psid.csv\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"e\"\noutcomes = [\"re78\"]\ncovariates = [\"age\", \"education\"]\n",
    );
    let row = &report.results[0];
    assert_eq!(row.status, cominev::report::Status::Suppressed);
    assert!(row.estimate.is_none() && row.std_error.is_none() && row.n_treated.is_none());
    assert!(report.warnings.iter().any(|w| w.contains("suppressed")));
    assert!(report.balance[0].covariates.is_empty());
}

#[test]
fn completions_man_page_and_default_config_are_generated() {
    for (args, expected) in [
        (vec!["completions", "bash"], "_cominev()"),
        (vec!["man"], ".TH cominev 1"),
        (vec!["config", "init"], "[evaluation.psm]"),
    ] {
        let out = assert_cmd::Command::cargo_bin("cominev")
            .expect("binary")
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expected),
            "{args:?}"
        );
    }
}

/// `simulate` writes Parquet when asked, and the estimates from it equal those from the CSV.
#[test]
fn simulate_writes_parquet_that_estimates_like_the_csv() {
    let dir = tempfile::tempdir().expect("folder");
    let mut estimates = Vec::new();
    for name in ["p.csv", "p.parquet"] {
        let out = assert_cmd::Command::cargo_bin("cominev")
            .expect("binary")
            .args([
                "simulate",
                "--design",
                "regional-panel",
                "--units",
                "12",
                "--output",
                name,
            ])
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        let report = crate::util::run(&format!(
            "min-cell = 5\n[data]\npath = \"{}\"\nunit = \"unit\"\ntime = \"quarter\"\ntreatment = \"treated\"\n[[evaluation]]\nname = \"s\"\nmethod = \"sdid\"\noutcomes = [\"outcome\"]\n",
            dir.path().join(name).display()
        ));
        // A lowered disclosure threshold is said in the manifest and in a warning.
        assert!(report.provenance.min_cell_lowered);
        assert!(report.warnings.iter().any(|w| w.contains("min-cell = 5")));
        estimates.push(report.results[0].estimate.unwrap());
    }
    assert!(
        std::fs::read(dir.path().join("p.parquet"))
            .unwrap()
            .starts_with(b"PAR1")
    );
    assert_eq!(estimates[0], estimates[1]);
}

/// `--plot`: an SVG with the treated and synthetic paths of every synthetic control and the event
/// study of every DiD evaluation; nothing written when there is nothing to plot.
#[test]
fn plot_draws_synthetic_controls_and_event_studies() {
    let dir = tempfile::tempdir().expect("folder");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = [
        (
            "data-samples/regional-panel.toml",
            Some(("Calabria and its synthetic control", 2 * 2)),
        ),
        (
            "examples/mpdta.toml",
            Some(("effect by periods since adoption", 1)),
        ),
        ("examples/lalonde-experimental.toml", None),
    ];
    for (config, expected) in cases {
        let plot = dir.path().join("plot.svg");
        let _ = std::fs::remove_file(&plot);
        let out = assert_cmd::Command::cargo_bin("cominev")
            .expect("binary")
            .args(["estimate", "-q", "--format", "json", "--config"])
            .arg(repo.join(config))
            .arg("--plot")
            .arg(&plot)
            .output()
            .expect("runs");
        crate::util::assert_success(&out);
        match expected {
            Some((title, polylines)) => {
                let svg = std::fs::read_to_string(&plot).expect("plot written");
                assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
                assert!(svg.contains(title), "{config}");
                assert_eq!(svg.matches("<polyline").count(), polylines, "{config}");
            }
            None => assert!(!plot.exists(), "{config}: nothing to plot, no file"),
        }
    }
}
