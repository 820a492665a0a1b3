//! One test per bad input: a clear message naming file, column and row where they apply, a
//! suggested fix, exit code 2, no panic, and no output file left behind.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const EXIT_INPUT: i32 = 2;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("results.json")
    }

    /// Runs `cominev estimate` with `--output` in the case folder; checks exit 2, no panic, no
    /// output file; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output_path = self.output();
        let out = Command::cargo_bin("cominev")
            .expect("binary built")
            .arg("estimate")
            .args(args)
            .arg("--output")
            .arg(&output_path)
            .current_dir(self.dir.path())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(EXIT_INPUT), "stderr: {stderr}");
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        assert!(stderr.contains("hint:"), "no suggested fix: {stderr}");
        assert!(!output_path.exists(), "an output file was left behind");
        assert_no_temporary_files(self.dir.path());
        stderr
    }
}

fn assert_no_temporary_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("list folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            !name.starts_with(".tmp"),
            "temporary file {name} left behind"
        );
    }
}

/// Overlapping arms (no separation) in both strata of z.
const GOOD: &str = "treat,x,z,y\n1,0.5,1,10\n1,1.5,0,12\n1,0.7,1,11\n1,0.1,0,13\n1,1.2,1,12\n0,0.4,0,8\n0,1.1,1,9\n0,0.2,0,7\n0,1.9,1,9\n0,0.6,1,8\n0,1.3,0,9\n";

fn psm_args<'a>(data: &'a str, covariates: &'a str) -> Vec<&'a str> {
    vec![
        "--data",
        data,
        "--treatment",
        "treat",
        "--outcome",
        "y",
        "--covariates",
        covariates,
    ]
}

#[test]
fn missing_file() {
    let case = Case::new();
    let err = case.fails(&psm_args("nowhere.csv", "x"));
    assert!(
        err.contains("nowhere.csv") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn unreadable_file_a_folder() {
    let case = Case::new();
    std::fs::create_dir(case.dir.path().join("folder.csv")).expect("mkdir");
    let err = case.fails(&psm_args("folder.csv", "x"));
    assert!(
        err.contains("folder.csv") && err.contains("folder"),
        "{err}"
    );
}

#[test]
fn ragged_rows() {
    let case = Case::new();
    case.file("d.csv", "treat,x,y\n1,0.5,10\n0,0.4\n");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("d.csv") && err.contains("data row 2 has 2 fields but the header has 3"),
        "{err}"
    );
}

#[test]
fn bad_quoting() {
    let case = Case::new();
    case.file("d.csv", "treat,x,y\n1,\"0.5,10\n0,0.4,9\n");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(err.contains("d.csv") && err.contains("quote"), "{err}");
}

#[test]
fn wrong_delimiter() {
    let case = Case::new();
    case.file("d.csv", "treat;x;y\n1;0.5;10\n0;0.4;9\n");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("semicolon-separated") && err.contains("delimiter"),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let case = Case::new();
    case.file("d.csv", "");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("d.csv") && err.contains("no data rows"),
        "{err}"
    );
}

#[test]
fn header_only() {
    let case = Case::new();
    case.file("d.csv", "treat,x,y\n");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("d.csv") && err.contains("no data rows"),
        "{err}"
    );
}

#[test]
fn absent_column_suggests_the_closest() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    let err = case.fails(&psm_args("d.csv", "xx,zz"));
    assert!(
        err.contains("column `xx` not found") && err.contains("did you mean `x`?"),
        "{err}"
    );
}

#[test]
fn non_numeric_value_names_the_row() {
    let case = Case::new();
    case.file(
        "d.csv",
        "treat,x,y\n1,0.5,10\n0,0.4,9\n1,oops,11\n0,0.3,8\n1,0.6,9\n0,0.7,8\n",
    );
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("column `x`, row 3: value is not a number"),
        "{err}"
    );
    assert!(!err.contains("oops"), "the value must not be echoed: {err}");
}

#[test]
fn treatment_not_zero_one() {
    let case = Case::new();
    case.file("d.csv", "treat,x,y\n1,0.5,10\n2,0.4,9\n0,0.3,8\n");
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("column `treat`, row 2: treatment must be 0 or 1"),
        "{err}"
    );
}

#[test]
fn no_comparison_units_in_an_intervention() {
    let case = Case::new();
    case.file(
        "d.csv",
        "treat,kind,x,y\n1,a,0.5,10\n1,b,0.4,9\n1,a,0.3,8\n",
    );
    let mut args = psm_args("d.csv", "x");
    args.extend(["--intervention", "kind"]);
    let err = case.fails(&args);
    assert!(
        err.contains("intervention `a`") && err.contains("no comparison units"),
        "{err}"
    );
}

#[test]
fn more_covariates_than_observations() {
    let case = Case::new();
    case.file("d.csv", "treat,a,b,c,y\n1,1,2,3,1\n0,2,1,5,2\n1,3,3,1,3\n");
    let err = case.fails(&psm_args("d.csv", "a,b,c"));
    assert!(
        err.contains("3 covariate columns but only 3 observations"),
        "{err}"
    );
}

#[test]
fn perfect_separation() {
    let case = Case::new();
    case.file(
        "d.csv",
        "treat,x,y\n0,1,1\n0,2,2\n0,3,3\n1,4,4\n1,5,5\n1,6,6\n",
    );
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("complete separation") && err.contains("`x`"),
        "{err}"
    );
}

#[test]
fn constant_covariate() {
    let case = Case::new();
    case.file(
        "d.csv",
        "treat,x,k,y\n1,0.5,7,10\n0,0.4,7,9\n1,0.3,7,8\n0,0.9,7,8\n",
    );
    let err = case.fails(&psm_args("d.csv", "x,k"));
    assert!(err.contains("covariate `k` is constant"), "{err}");
}

#[test]
fn caliper_that_leaves_nobody_matched() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    let mut args = psm_args("d.csv", "x,z");
    args.extend(["--caliper", "0.000001"]);
    let err = case.fails(&args);
    assert!(
        err.contains("no unit found a match") && err.contains("caliper"),
        "{err}"
    );
}

#[test]
fn unknown_config_key() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    case.file("c.toml", "[data]\npath = \"d.csv\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"e\"\noutcomes = [\"y\"]\ncovariates = [\"x\"]\n[evaluation.psm]\ncalipr = 0.2\n");
    let err = case.fails(&["--config", "c.toml"]);
    assert!(
        err.contains("c.toml") && err.contains("calipr") && err.contains("line 9"),
        "{err}"
    );
}

#[test]
fn incompatible_options() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    let mut args = psm_args("d.csv", "x");
    args.extend(["--replace", "true", "--se", "bootstrap"]);
    let err = case.fails(&args);
    assert!(err.contains("naive bootstrap is invalid"), "{err}");
    let mut args = psm_args("d.csv", "x");
    args.extend(["--replace", "false", "--estimand", "ate"]);
    let err = case.fails(&args);
    assert!(err.contains("ATE needs matching with replacement"), "{err}");
}

#[test]
fn output_path_not_writable_is_checked_before_estimating() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    let out = Command::cargo_bin("cominev")
        .expect("binary built")
        .args([
            "estimate",
            "--data",
            "d.csv",
            "--treatment",
            "treat",
            "--outcome",
            "y",
            "--covariates",
            "x",
        ])
        .args(["--output", "no/such/folder/results.json"])
        .current_dir(case.dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_INPUT), "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
}

#[test]
fn missing_values_are_dropped_with_a_count_or_refused() {
    let case = Case::new();
    case.file(
        "d.csv",
        &GOOD
            .replace("1,1.5,0,12", "1,,0,12")
            .replace("0,0.2,0,7", "0,0.2,0,7\n1,0.8,0,12"),
    );
    let out = Command::cargo_bin("cominev")
        .expect("binary built")
        .args([
            "estimate",
            "--data",
            "d.csv",
            "--treatment",
            "treat",
            "--outcome",
            "y",
            "--covariates",
            "x,z",
        ])
        .args(["--format", "json", "--min-cell", "1"])
        .current_dir(case.dir.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    crate::util::assert_success(&out);
    assert!(
        stdout.contains("dropped 1 of 12 rows with missing values (1 missing in `x`)"),
        "{stdout}"
    );
    let err = case.fails(&[
        "--data",
        "d.csv",
        "--treatment",
        "treat",
        "--outcome",
        "y",
        "--covariates",
        "x,z",
        "--missing",
        "error",
    ]);
    assert!(err.contains("column `x`, row 2: value is missing"), "{err}");
}

/// Column types are inferred from the first 10,000 rows; a bad value after that must still be
/// named by its row.
#[test]
fn non_numeric_value_after_the_type_inference_window() {
    let case = Case::new();
    let mut text = String::from("treat,x,y\n");
    for i in 0..10_050 {
        let x = if i == 10_019 {
            "oops".to_string()
        } else {
            format!("{}", (i % 97) as f64 / 10.0)
        };
        text.push_str(&format!("{},{x},{}\n", i % 2, i % 13));
    }
    case.file("d.csv", &text);
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("column `x`, row 10020: value is not a number"),
        "{err}"
    );
}

/// A coarse covariate makes every comparison unit a tie: the run stops with advice instead of
/// exhausting memory.
#[test]
fn ties_that_would_exhaust_memory() {
    let case = Case::new();
    let mut text = String::from("treat,z,y\n");
    for i in 0..30_000 {
        text.push_str(&format!("{},{},{}\n", i % 2, (i / 2) % 2, i % 7));
    }
    case.file("d.csv", &text);
    let mut args = psm_args("d.csv", "z");
    args.extend(["--replace", "true"]);
    let err = case.fails(&args);
    assert!(
        err.contains("ties make more than 50,000,000 matched pairs")
            && err.contains("ties = false"),
        "{err}"
    );
}

/// A column that looks like a direct identifier stops the run unless declared, and its values are
/// never echoed.
#[test]
fn undeclared_direct_identifiers_stop_the_run() {
    let case = Case::new();
    let mut text = String::from("treat,x,z,y,codice\n");
    for (i, row) in GOOD.lines().skip(1).enumerate() {
        text.push_str(&format!("{row},RSSMRA85T10A56{}S\n", i % 10));
    }
    case.file("d.csv", &text);
    let err = case.fails(&psm_args("d.csv", "x"));
    assert!(
        err.contains("column `codice`")
            && err.contains("codici fiscali")
            && err.contains("identifiers"),
        "{err}"
    );
    assert!(!err.contains("RSSMRA"), "values must not be echoed: {err}");
    // Declared, it is accepted (and still never printed).
    case.file("c.toml", "[data]\npath = \"d.csv\"\ntreatment = \"treat\"\nidentifiers = [\"codice\"]\n[[evaluation]]\nname = \"e\"\noutcomes = [\"y\"]\ncovariates = [\"x\"]\n");
    let out = Command::cargo_bin("cominev")
        .expect("binary built")
        .args([
            "estimate",
            "--config",
            "c.toml",
            "--format",
            "json",
            "--min-cell",
            "1",
        ])
        .current_dir(case.dir.path())
        .output()
        .expect("runs");
    crate::util::assert_success(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("RSSMRA"));
}

/// `validate` lists every evaluation's problem, not just the first, and exits 2.
#[test]
fn validate_reports_every_problem() {
    let case = Case::new();
    case.file("d.csv", GOOD);
    case.file(
        "c.toml",
        "[data]\npath = \"d.csv\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"one\"\noutcomes = [\"yy\"]\ncovariates = [\"x\"]\n[[evaluation]]\nname = \"two\"\noutcomes = [\"y\"]\ncovariates = [\"xz\"]\n",
    );
    let out = Command::cargo_bin("cominev")
        .expect("binary built")
        .args(["validate", "--config", "c.toml"])
        .current_dir(case.dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_INPUT), "{stderr}");
    assert!(
        stderr.contains("column `yy` not found") && stderr.contains("column `xz` not found"),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s) found"), "{stderr}");
}

/// A small regional panel: 8 regions × 24 quarters, region `R3` adopts in period 20.
fn regional_csv(
    skip: Option<(usize, usize)>,
    blank: Option<(usize, usize)>,
    duplicate: bool,
) -> String {
    let mut text = String::from("region,quarter,rate\n");
    for u in 0..8 {
        for t in 0..24 {
            if skip == Some((u, t)) {
                continue;
            }
            let value = 40.0 + u as f64 + 0.1 * t as f64 + ((u * 7 + t * 3) % 5) as f64 * 0.2;
            let value = if blank == Some((u, t)) {
                String::new()
            } else {
                format!("{value}")
            };
            text.push_str(&format!("R{u},{},{value}\n", 2000 + t));
            if duplicate && (u, t) == (5, 7) {
                text.push_str(&format!("R{u},{},{value}\n", 2000 + t));
            }
        }
    }
    text
}

fn synth_config(method: &str, extra: &str) -> String {
    format!(
        "[data]\npath = \"d.csv\"\nunit = \"region\"\ntime = \"quarter\"\n[[evaluation]]\nname = \"sc\"\nmethod = \"{method}\"\noutcomes = [\"rate\"]\n[evaluation.{method}]\ntreated-units = [\"R3\"]\ntreatment-start = 2020\n{extra}"
    )
}

#[test]
fn synthetic_control_treated_unit_absent() {
    let case = Case::new();
    case.file("d.csv", &regional_csv(None, None, false));
    case.file(
        "c.toml",
        &synth_config("sc", "").replace("[\"R3\"]", "[\"Atlantis\"]"),
    );
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("treated unit `Atlantis` is not in the data"),
        "{stderr}"
    );
    assert!(stderr.contains("column `region`"), "{stderr}");
}

#[test]
fn synthetic_control_donor_without_outcome_in_the_fit_window() {
    for (skip, blank) in [(Some((5, 6)), None), (None, Some((5, 6)))] {
        let case = Case::new();
        case.file("d.csv", &regional_csv(skip, blank, false));
        case.file("c.toml", &synth_config("sc", "conformal = false\n"));
        let stderr = case.fails(&["--config", "c.toml"]);
        assert!(
            stderr.contains("unit `R5` has no outcome for period 2006"),
            "{stderr}"
        );
        assert!(stderr.contains("column `rate`, row"), "{stderr}");
    }
}

#[test]
fn synthetic_control_too_few_pre_periods_or_donors_for_the_inference() {
    let case = Case::new();
    case.file("d.csv", &regional_csv(None, None, false));
    // 20 pre-periods give p ≥ 1/21: fine. 10 give p ≥ 1/11: no 95% conformal interval.
    case.file(
        "c.toml",
        &synth_config("sc", "").replace("treatment-start = 2020", "treatment-start = 2010"),
    );
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("too few for 95% conformal intervals"),
        "{stderr}"
    );
    // Synthetic DiD: one pre-period.
    case.file(
        "c.toml",
        &synth_config("sdid", "").replace("treatment-start = 2020", "treatment-start = 2001"),
    );
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(stderr.contains("too few for synthetic weights"), "{stderr}");
    // The jackknife with one treated unit.
    case.file(
        "c.toml",
        &synth_config("sdid", "variance = \"jackknife\"\n"),
    );
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("undefined with one treated unit"),
        "{stderr}"
    );
}

#[test]
fn synthetic_control_predictor_window_outside_the_data_or_pre_period() {
    let case = Case::new();
    case.file("d.csv", &regional_csv(None, None, false));
    let predictor = |from: u32, to: u32| {
        synth_config(
            "sc",
            &format!(
                "[[evaluation.sc.predictors]]\nvariable = \"rate\"\nfrom = {from}\nto = {to}\n"
            ),
        )
    };
    case.file("c.toml", &predictor(1990, 2005));
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("`1990` is not a period of the panel"),
        "{stderr}"
    );
    case.file("c.toml", &predictor(2015, 2021));
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("outside the pre-treatment periods"),
        "{stderr}"
    );
}

#[test]
fn synthetic_control_duplicate_unit_period() {
    let case = Case::new();
    case.file("d.csv", &regional_csv(None, None, true));
    case.file("c.toml", &synth_config("sdid", ""));
    let stderr = case.fails(&["--config", "c.toml"]);
    assert!(
        stderr.contains("are the same unit in the same period"),
        "{stderr}"
    );
}
