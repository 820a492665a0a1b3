//! Difference-in-differences: Callaway–Sant'Anna on `mpdta` against the published figures (R did
//! documentation; `../shared/reference-data/README.md`), and the panel checks.

use crate::util::run;
use assert_cmd::Command;

/// Published aggregates are rounded to 4 decimals, the pre-test p-value to 5.
const TOL_PUBLISHED_4DP: f64 = 0.5e-4;
const TOL_PUBLISHED_5DP: f64 = 0.5e-5;

const MPDTA: &str = r#"
[data]
path = "{fixtures}/mpdta.csv"
unit = "countyreal"
time = "year"
first-treated = "first_treat"
[[evaluation]]
name = "mw"
method = "did"
outcomes = ["lemp"]
"#;

/// Asserts that the row `target` of `report` has this estimate and SE (relative tolerance).
fn assert_row(
    report: &cominev::report::Report,
    label: &str,
    target: &str,
    att: f64,
    se: f64,
    tolerance: f64,
) {
    let row = report
        .results
        .iter()
        .find(|r| r.target == target)
        .unwrap_or_else(|| panic!("{label}: no row {target}"));
    crate::util::assert_relative(
        &format!("{label} {target} estimate"),
        row.estimate.expect("estimate"),
        att,
        tolerance,
    );
    crate::util::assert_relative(
        &format!("{label} {target} SE"),
        row.std_error.expect("se"),
        se,
        tolerance,
    );
}

fn estimate(report: &cominev::report::Report, target: &str) -> f64 {
    report
        .results
        .iter()
        .find(|r| r.target == target)
        .and_then(|r| r.estimate)
        .unwrap_or_else(|| panic!("no row for {target}"))
}

#[test]
fn mpdta_published_aggregates_and_pre_test() {
    let report = run(MPDTA);
    for (target, published) in [
        ("overall", -0.0400),
        ("event:overall", -0.0772),
        ("group:overall", -0.0310),
        ("period:overall", -0.0417),
    ] {
        let obtained = estimate(&report, target);
        assert!(
            (obtained - published).abs() <= TOL_PUBLISHED_4DP,
            "{target}: {obtained} vs {published}"
        );
    }
    let test = &report.pre_trend_tests[0];
    assert_eq!(test.degrees_of_freedom, 5);
    assert!(
        (test.p_value - 0.16812).abs() <= TOL_PUBLISHED_5DP,
        "pre-test p = {}",
        test.p_value
    );
}

/// The 12 group-time effects as printed by R did's `att_gt` example (4 decimals).
#[test]
fn mpdta_group_time_effects() {
    let report = run(MPDTA);
    let published = [
        ("gt:2004:2004", -0.0105),
        ("gt:2004:2005", -0.0704),
        ("gt:2004:2006", -0.1373),
        ("gt:2004:2007", -0.1008),
        ("gt:2006:2004", 0.0065),
        ("gt:2006:2005", -0.0028),
        ("gt:2006:2006", -0.0046),
        ("gt:2006:2007", -0.0412),
        ("gt:2007:2004", 0.0305),
        ("gt:2007:2005", -0.0027),
        ("gt:2007:2006", -0.0311),
        ("gt:2007:2007", -0.0261),
    ];
    for (target, value) in published {
        let obtained = estimate(&report, target);
        assert!(
            (obtained - value).abs() <= TOL_PUBLISHED_4DP,
            "{target}: {obtained} vs {value}"
        );
    }
}

/// A panel where units 1-2 are treated from period 2 with an effect of exactly 3 and everybody
/// shares the same trend: every post-treatment ATT is 3 with either comparison group.
#[test]
fn known_effect_is_recovered_exactly() {
    let dir = tempfile::tempdir().expect("folder");
    let mut text = String::from("id,t,g,y\n");
    for unit in 1..=6 {
        let g = if unit <= 2 {
            2
        } else if unit <= 4 {
            3
        } else {
            0
        };
        for t in 1..=4 {
            let treated = g > 0 && t >= g;
            let y = f64::from(unit) + 0.5 * f64::from(t) + if treated { 3.0 } else { 0.0 };
            text.push_str(&format!("{unit},{t},{g},{y}\n"));
        }
    }
    let path = dir.path().join("p.csv");
    std::fs::write(&path, text).expect("write");
    for control in ["never", "not-yet"] {
        let report = run(&format!(
            "min-cell = 1\n[data]\npath = \"{}\"\nunit = \"id\"\ntime = \"t\"\nfirst-treated = \"g\"\n[[evaluation]]\nname = \"e\"\nmethod = \"did\"\noutcomes = [\"y\"]\n[evaluation.did]\ncontrol = \"{control}\"\n",
            path.display()
        ));
        for target in [
            "overall",
            "group:overall",
            "event:overall",
            "period:overall",
            "gt:2:2",
            "gt:3:4",
        ] {
            assert!(
                (estimate(&report, target) - 3.0).abs() < 1e-12,
                "{control} {target}"
            );
        }
        assert!(
            estimate(&report, "gt:3:2").abs() < 1e-12,
            "pre-period effect is zero"
        );
    }
}

fn fails(csv: &str, data_keys: &str, did: &str) -> String {
    let dir = tempfile::tempdir().expect("folder");
    std::fs::write(dir.path().join("p.csv"), csv).expect("write");
    std::fs::write(
        dir.path().join("c.toml"),
        format!("[data]\npath = \"p.csv\"\nunit = \"id\"\ntime = \"t\"\n{data_keys}\n[[evaluation]]\nname = \"e\"\nmethod = \"did\"\noutcomes = [\"y\"]\n[evaluation.did]\n{did}\n"),
    )
    .expect("write");
    let out = Command::cargo_bin("cominev")
        .expect("binary")
        .args(["estimate", "--config", "c.toml", "--output", "out.json"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("hint:") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.json").exists());
    stderr
}

const FIRST: &str = "first-treated = \"g\"";

#[test]
fn duplicate_unit_period_rows_are_named_by_row() {
    let err = fails(
        "id,t,g,y\n1,1,2,1\n1,2,2,2\n1,2,2,3\n2,1,0,1\n2,2,0,1\n",
        FIRST,
        "",
    );
    assert!(
        err.contains("rows 2 and 3 are the same unit in the same period"),
        "{err}"
    );
}

#[test]
fn treatment_that_switches_off() {
    let err = fails(
        "id,t,d,y\n1,1,0,1\n1,2,1,2\n1,3,0,3\n2,1,0,1\n2,2,0,1\n2,3,0,1\n",
        "treatment = \"d\"",
        "",
    );
    assert!(
        err.contains("row 3") && err.contains("switches off"),
        "{err}"
    );
}

#[test]
fn first_treated_varying_within_a_unit() {
    let err = fails("id,t,g,y\n1,1,2,1\n1,2,3,2\n2,1,0,1\n2,2,0,1\n", FIRST, "");
    assert!(
        err.contains("constant within each unit") && err.contains("rows 1 and 2"),
        "{err}"
    );
}

#[test]
fn no_never_treated_units_with_never_controls() {
    let err = fails(
        "id,t,g,y\n1,1,2,1\n1,2,2,2\n1,3,2,2\n2,1,3,1\n2,2,3,1\n2,3,3,1\n",
        FIRST,
        "control = \"never\"",
    );
    assert!(
        err.contains("no never-treated units") && err.contains("not-yet"),
        "{err}"
    );
}

#[test]
fn cohort_treated_in_the_first_period() {
    let err = fails("id,t,g,y\n1,1,1,1\n1,2,1,2\n2,1,0,1\n2,2,0,1\n", FIRST, "");
    assert!(err.contains("treated from the first period"), "{err}");
}

#[test]
fn fewer_than_two_periods() {
    let err = fails("id,t,g,y\n1,1,0,1\n2,1,0,1\n", FIRST, "");
    assert!(
        err.contains("1 distinct period(s)") && err.contains("at least two periods"),
        "{err}"
    );
}

#[test]
fn time_labels_that_cannot_be_parsed() {
    let err = fails("id,t,g,y\n1,spring,0,1\n1,summer,0,2\n", FIRST, "");
    assert!(
        err.contains("column `t`, row 1") && err.contains("cannot be parsed"),
        "{err}"
    );
}

#[test]
fn a_cluster_column_with_one_cluster() {
    let err = fails(
        "id,t,g,y,c\n1,1,2,1,a\n1,2,2,2,a\n2,1,0,1,a\n2,2,0,1,a\n",
        "first-treated = \"g\"\ncluster = \"c\"",
        "",
    );
    assert!(err.contains("has 1 cluster(s)"), "{err}");
}

#[test]
fn quarter_labels_are_ordered() {
    let dir = tempfile::tempdir().expect("folder");
    let mut text = String::from("id,q,g,y\n");
    for unit in 1..=4 {
        let g = if unit <= 2 { "2025Q1" } else { "0" };
        for (k, q) in ["2024Q3", "2024Q4", "2025Q1", "2025Q2"].iter().enumerate() {
            let treated = unit <= 2 && k >= 2;
            text.push_str(&format!(
                "{unit},{q},{g},{}\n",
                f64::from(unit) + k as f64 + if treated { 2.0 } else { 0.0 }
            ));
        }
    }
    let path = dir.path().join("q.csv");
    std::fs::write(&path, text).expect("write");
    let report = run(&format!(
        "min-cell = 1\n[data]\npath = \"{}\"\nunit = \"id\"\ntime = \"q\"\nfirst-treated = \"g\"\n[[evaluation]]\nname = \"e\"\nmethod = \"did\"\noutcomes = [\"y\"]\n",
        path.display()
    ));
    assert!((estimate(&report, "gt:2025Q1:2025Q2") - 2.0).abs() < 1e-12);
    assert!((estimate(&report, "event:1") - 2.0).abs() < 1e-12);
}

/// Analytic SEs (and estimates) equal the Python port moderndid 0.4.1 (and csdid, differences,
/// diff-diff, which agree with it to 3e-15) on mpdta, for never-treated and not-yet-treated
/// comparison units. Script: `benches/peers/py_csdid_reference.py`.
#[test]
fn mpdta_equals_moderndid_including_standard_errors() {
    const TOL_PEER: f64 = 1e-6;
    let reference = crate::util::reference("mpdta_reference.json");
    for (key, control, base) in [
        ("nevertreated/varying", "never", "varying"),
        ("notyettreated/varying", "not-yet", "varying"),
        ("nevertreated/universal", "never", "universal"),
        ("notyettreated/universal", "not-yet", "universal"),
    ] {
        let peer = &reference["results"][key]["moderndid"];
        let report = run(&MPDTA.replace(
            "outcomes = [\"lemp\"]",
            &format!("outcomes = [\"lemp\"]\n[evaluation.did]\ncontrol = \"{control}\"\nbase-period = \"{base}\""),
        ));
        let label = format!("{control}/{base}");
        assert_equals_moderndid(&report, peer, &label);
        let wald = &peer["wald_pretest"];
        if let Some(p) = wald["p_value"].as_f64() {
            crate::util::assert_relative(
                &format!("{control} pre-test p"),
                report.pre_trend_tests[0].p_value,
                p,
                TOL_PEER,
            );
        }
    }
}

/// Every ATT(g,t) and aggregate that moderndid reports (`peer`, a block of the mpdta reference
/// fixtures) equals the row of `report` to 1e-6.
fn assert_equals_moderndid(
    report: &cominev::report::Report,
    peer: &serde_json::Value,
    label: &str,
) {
    const TOL_PEER: f64 = 1e-6;
    let check =
        |target: &str, att: f64, se: f64| assert_row(report, label, target, att, se, TOL_PEER);
    for cell in peer["att_gt"].as_array().expect("cells") {
        // With a universal base period the peer lists the reference cell itself (ATT 0, no SE).
        let Some(se) = cell["se"].as_f64() else {
            continue;
        };
        let target = format!("gt:{}:{}", cell["group"], cell["time"]);
        check(&target, cell["att"].as_f64().expect("att"), se);
    }
    let aggregates = &peer["aggregates"];
    for (kind, target, by_key, prefix) in [
        ("simple", "overall", "", ""),
        ("group", "group:overall", "group", "group"),
        ("dynamic", "event:overall", "e", "event"),
        ("calendar", "period:overall", "time", "period"),
    ] {
        let a = &aggregates[kind];
        check(
            target,
            a["overall_att"].as_f64().expect("att"),
            a["overall_se"].as_f64().expect("se"),
        );
        if let Some(by) = a["by"].as_array() {
            for entry in by {
                // The universal base's reference event (e = −1) is 0 by construction.
                let Some(se) = entry["se"].as_f64() else {
                    continue;
                };
                check(
                    &format!("{prefix}:{}", entry[by_key]),
                    entry["att"].as_f64().expect("att"),
                    se,
                );
            }
        }
    }
}

/// With one period of anticipation (cohort 2004 then has no pre-treatment period and drops out;
/// the others compare with 2004 and 2005), cells, aggregates and the pre-test statistic equal
/// moderndid 0.4.1's, for never-treated and not-yet-treated comparison units. Script:
/// `benches/peers/py_moderndid_anticipation.py`.
#[test]
fn mpdta_with_anticipation_equals_moderndid() {
    const TOL_PEER: f64 = 1e-6;
    let reference = crate::util::reference("mpdta_anticipation_reference.json");
    for (key, control) in [
        ("nevertreated/varying", "never"),
        ("notyettreated/varying", "not-yet"),
    ] {
        let peer = &reference["results"][key]["moderndid"];
        let report = run(&MPDTA.replace(
            "outcomes = [\"lemp\"]",
            &format!(
                "outcomes = [\"lemp\"]\n[evaluation.did]\ncontrol = \"{control}\"\nanticipation = 1"
            ),
        ));
        assert_equals_moderndid(&report, peer, &format!("anticipation 1, {control}"));
        assert!(
            !report
                .results
                .iter()
                .any(|r| r.target.starts_with("gt:2004"))
        );
        crate::util::assert_relative(
            &format!("{control} pre-test statistic"),
            report.pre_trend_tests[0].statistic,
            peer["wald_pretest"]["statistic"]
                .as_f64()
                .expect("statistic"),
            TOL_PEER,
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("2004") && w.contains("anticipation")),
            "{:?}",
            report.warnings
        );
    }
}

/// Analytic SEs clustered by state (countyreal // 1000, 29 clusters: G/(G−1)·Σ_c (Σ_{i∈c} ψ_i)²,
/// as Stata's CR1) equal diff-diff 3.13.0's on mpdta, for the cells, the overall effect, the
/// event-time and the group effects. Script: `benches/peers/py_diffdiff_clustered.py`.
#[test]
fn mpdta_clustered_standard_errors_equal_diff_diff() {
    const TOL_PEER: f64 = 1e-6;
    let reference = crate::util::reference("mpdta_clustered_reference.json");
    // mpdta with its state: the first two digits of the five-digit county code.
    let text = std::fs::read_to_string(crate::util::fixture("mpdta.csv")).expect("mpdta");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let county = header
        .split(',')
        .position(|c| c == "countyreal")
        .expect("countyreal");
    let mut with_state = format!("{header},state\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let code: u32 = line
            .split(',')
            .nth(county)
            .expect("county")
            .parse()
            .expect("number");
        with_state.push_str(&format!("{line},{}\n", code / 1000));
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("mpdta_state.csv");
    std::fs::write(&path, with_state).expect("write");
    let config = MPDTA
        .replace("{fixtures}/mpdta.csv", &path.to_string_lossy())
        .replace(
            "first-treated = \"first_treat\"",
            "first-treated = \"first_treat\"\ncluster = \"state\"",
        );
    let report = run(&config);
    assert!(report.results[0].inference.contains("clustered"));
    let check = |target: String, entry: &serde_json::Value| {
        let (att, se) = (
            entry["att"].as_f64().expect("att"),
            entry["se"].as_f64().expect("se"),
        );
        assert_row(&report, "clustered by state", &target, att, se, TOL_PEER);
    };
    for cell in reference["cells"].as_array().expect("cells") {
        check(format!("gt:{}:{}", cell["group"], cell["time"]), cell);
    }
    check("overall".into(), &reference["overall"]);
    for entry in reference["event"].as_array().expect("event") {
        check(format!("event:{}", entry["e"]), entry);
    }
    for entry in reference["group"].as_array().expect("group") {
        check(format!("group:{}", entry["group"]), entry);
    }
}

/// 2×2 DiD against `estimatr::lm_robust` 1.0.0 (R 4.2.2), CR1 ("stata") and CR2, with and without
/// a covariate: estimate, SE, df (through the p-value) to 1e-6. Script:
/// `benches/peers/r_did_2x2_reference.R`.
#[test]
fn two_by_two_equals_estimatr() {
    const TOL_ESTIMATR: f64 = 1e-6;
    let reference = crate::util::reference("did_2x2_reference.json");
    for (key, covariates, se) in [
        ("no_covariates/stata", "", "cr1"),
        ("no_covariates/CR2", "", "cr2"),
        ("with_lpop/stata", "covariates = [\"lpop\"]", "cr1"),
        ("with_lpop/CR2", "covariates = [\"lpop\"]", "cr2"),
    ] {
        let expected = &reference["models"][key];
        let report = run(&format!(
            "[data]\npath = \"{{fixtures}}/mpdta_2x2.csv\"\nunit = \"countyreal\"\ntime = \"year\"\ntreatment = \"D\"\n[[evaluation]]\nname = \"e\"\nmethod = \"did\"\noutcomes = [\"lemp\"]\n{covariates}\n[evaluation.did]\nestimator = \"2x2\"\nse = \"{se}\"\n"
        ));
        let row = &report.results[0];
        for (field, obtained) in [
            ("estimate", row.estimate),
            ("std_error", row.std_error),
            ("p_value", row.p_value),
            ("conf_low", row.ci_lower),
            ("conf_high", row.ci_upper),
        ] {
            let value = expected[field].as_f64().expect("reference value");
            crate::util::assert_relative(
                &format!("{key} {field}"),
                obtained.expect("value"),
                value,
                TOL_ESTIMATR,
            );
        }
    }
}

/// Monte Carlo on simulated staggered panels with known, time-varying effects
/// (`simulate::staggered_panel`: 400 units × 6 periods, cohorts adopting in periods 3–6 and 40%
/// never treated). Pointwise 95% intervals (analytic SEs) over every ATT(g,t) must cover 93–97%;
/// the bootstrap uniform band must cover all ATT(g,t) of a replication at once in at least 95% of
/// replications, up to Monte Carlo error (300 replications: SE 1.3 points, so ≥ 93%).
#[test]
fn staggered_intervals_and_uniform_bands_cover_the_truth() {
    const REPLICATIONS: u64 = 300;
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("panel.csv");
    let (mut covered, mut intervals, mut bands_covering) = (0usize, 0usize, 0usize);
    for replication in 0..REPLICATIONS {
        let (records, truth) = cominev::simulate::staggered_panel(400, 6, 70_000 + replication);
        std::fs::write(&path, cominev::simulate::records_to_csv(&records)).expect("write");
        let config = |did: &str| {
            format!(
                "min-cell = 1\nseed = {replication}\n[data]\npath = \"{}\"\nunit = \"unit\"\ntime = \"period\"\nfirst-treated = \"first_treated\"\n[[evaluation]]\nname = \"mc\"\nmethod = \"did\"\noutcomes = [\"y\"]\n[evaluation.did]\n{did}\n",
                path.display()
            )
        };
        let covers = |row: &cominev::report::ResultRow| {
            let (g, t) = row
                .target
                .trim_start_matches("gt:")
                .split_once(':')
                .expect("gt target");
            let true_att = truth.att_gt[&format!("{g}:{t}")];
            row.ci_lower.expect("ci") <= true_att && true_att <= row.ci_upper.expect("ci")
        };
        let analytic = run(&config(""));
        for row in analytic
            .results
            .iter()
            .filter(|r| r.target.starts_with("gt:"))
        {
            intervals += 1;
            covered += usize::from(covers(row));
        }
        let bootstrap = run(&config("bootstrap = 499"));
        if bootstrap
            .results
            .iter()
            .filter(|r| r.target.starts_with("gt:"))
            .all(covers)
        {
            bands_covering += 1;
        }
    }
    let pointwise = covered as f64 / intervals as f64;
    let uniform = bands_covering as f64 / REPLICATIONS as f64;
    eprintln!(
        "staggered DiD: pointwise coverage {pointwise:.4} over {intervals} intervals; uniform band coverage {uniform:.3}"
    );
    assert!(
        (0.93..=0.97).contains(&pointwise),
        "pointwise coverage {pointwise}"
    );
    assert!(uniform >= 0.93, "uniform band coverage {uniform}");
}

/// Bootstrap SEs on mpdta agree with the analytic ones within Monte Carlo error: an IQR-based SE
/// from 999 draws has a relative sampling SD of about 4%, so 15% allows for 3.5 SDs.
#[test]
fn mpdta_bootstrap_standard_errors_match_the_analytic_ones() {
    const TOL_BOOTSTRAP_RELATIVE: f64 = 0.15;
    let analytic = run(MPDTA);
    let bootstrap = run(&MPDTA.replace(
        "outcomes = [\"lemp\"]",
        "outcomes = [\"lemp\"]\n[evaluation.did]\nbootstrap = 999",
    ));
    assert!(
        bootstrap.results[0]
            .inference
            .contains("multiplier bootstrap")
    );
    for (a, b) in analytic.results.iter().zip(&bootstrap.results) {
        assert_eq!(a.target, b.target);
        assert_eq!(a.estimate, b.estimate);
        let ratio = b.std_error.expect("se") / a.std_error.expect("se");
        assert!(
            (ratio - 1.0).abs() < TOL_BOOTSTRAP_RELATIVE,
            "{}: bootstrap/analytic SE = {ratio}",
            a.target
        );
    }
    // Uniform bands are wider than pointwise intervals for the ATT(g,t) rows.
    let width = |r: &cominev::report::ResultRow| r.ci_upper.expect("ci") - r.ci_lower.expect("ci");
    let cell = |rep: &cominev::report::Report| {
        rep.results
            .iter()
            .find(|r| r.target == "gt:2004:2006")
            .cloned()
            .expect("cell")
    };
    assert!(width(&cell(&bootstrap)) > width(&cell(&analytic)));
}

/// TWFE event study and static effect on mpdta against `estimatr::lm_robust(fixed_effects =
/// ~ countyreal + year, clusters = countyreal, se_type = "stata")` (R 4.2.2, estimatr 1.0.0;
/// `benches/peers/r_twfe_reference.R`), and the joint Wald pre-trend test on the leads.
#[test]
fn twfe_event_study_equals_estimatr() {
    const TOL_ESTIMATR: f64 = 1e-6;
    let reference = crate::util::reference("twfe_reference.json");
    let report = run(&MPDTA.replace(
        "outcomes = [\"lemp\"]",
        "outcomes = [\"lemp\"]\n[evaluation.did]\nestimator = \"twfe\"",
    ));
    let row = |target: &str| {
        report
            .results
            .iter()
            .find(|r| r.target == target)
            .cloned()
            .unwrap_or_else(|| panic!("{target}"))
    };
    for entry in reference["event_study"].as_array().expect("events") {
        let r = row(&format!("event:{}", entry["event"]));
        for (field, obtained) in [
            ("estimate", r.estimate),
            ("std_error", r.std_error),
            ("p_value", r.p_value),
        ] {
            crate::util::assert_relative(
                &format!("event {} {field}", entry["event"]),
                obtained.expect("value"),
                entry[field].as_f64().expect("reference"),
                TOL_ESTIMATR,
            );
        }
    }
    let static_row = row("overall");
    crate::util::assert_relative(
        "static estimate",
        static_row.estimate.expect("estimate"),
        reference["static"]["estimate"].as_f64().expect("reference"),
        TOL_ESTIMATR,
    );
    crate::util::assert_relative(
        "static SE",
        static_row.std_error.expect("se"),
        reference["static"]["std_error"]
            .as_f64()
            .expect("reference"),
        TOL_ESTIMATR,
    );
    let wald = &reference["pre_trend_wald"];
    let test = &report.pre_trend_tests[0];
    assert_eq!(
        test.degrees_of_freedom as u64,
        wald["df"].as_u64().expect("df")
    );
    crate::util::assert_relative(
        "Wald statistic",
        test.statistic,
        wald["statistic"].as_f64().expect("reference"),
        TOL_ESTIMATR,
    );
    crate::util::assert_relative(
        "Wald p",
        test.p_value,
        wald["p_value_chisq"].as_f64().expect("reference"),
        TOL_ESTIMATR,
    );
}

/// Conditional parallel trends on mpdta with `lpop`: doubly robust (Sant'Anna–Zhao), outcome
/// regression and normalised IPW; every ATT(g,t), the simple and dynamic aggregates and their
/// analytic SEs equal moderndid 0.4.1 (`benches/peers/py_csdid_covariates.py`) to 1e-6.
#[test]
fn covariates_dr_reg_ipw_equal_moderndid() {
    const TOL_PEER: f64 = 1e-6;
    let reference = crate::util::reference("mpdta_covariates_reference.json");
    for method in ["dr", "reg", "ipw"] {
        let peer = &reference["results"][method];
        let report = run(&MPDTA.replace(
            "outcomes = [\"lemp\"]",
            &format!("outcomes = [\"lemp\"]\ncovariates = [\"lpop\"]\n[evaluation.did]\nest-method = \"{method}\""),
        ));
        let check = |target: &str, att: f64, se: f64| {
            assert_row(&report, method, target, att, se, TOL_PEER)
        };
        for cell in peer["att_gt"].as_array().expect("cells") {
            check(
                &format!("gt:{}:{}", cell["group"], cell["time"]),
                cell["att"].as_f64().expect("att"),
                cell["se"].as_f64().expect("se"),
            );
        }
        check(
            "overall",
            peer["simple"]["att"].as_f64().expect("att"),
            peer["simple"]["se"].as_f64().expect("se"),
        );
        check(
            "event:overall",
            peer["dynamic"]["att"].as_f64().expect("att"),
            peer["dynamic"]["se"].as_f64().expect("se"),
        );
    }
}

/// Matched DiD (PSM-DiD, the EC's evaluation practice): nearest-neighbour matching on the baseline
/// (2003) rows, then the matching-weighted 2×2 regression with CR1 SEs by county, equal to MatchIt
/// 4.7.2 + `estimatr::lm_robust(weights = w)` (`benches/peers/r_matched_did_reference.R`) to 1e-6.
#[test]
fn matched_did_equals_matchit_then_estimatr() {
    const TOL_R: f64 = 1e-6;
    let reference = crate::util::reference("matched_did_reference.json");
    let report = run(r#"
[data]
path = "{fixtures}/mpdta_2x2.csv"
unit = "countyreal"
time = "year"
treatment = "D"
[[evaluation]]
name = "baseline-match"
outcomes = ["lemp"]
covariates = ["lpop"]
[evaluation.psm]
distance = "score"
replace = false
[[evaluation]]
name = "matched-did"
method = "did"
outcomes = ["lemp"]
[evaluation.did]
estimator = "2x2"
weights-from = "baseline-match"
"#);
    let row = report
        .results
        .iter()
        .find(|r| r.evaluation == "matched-did")
        .expect("matched DiD row");
    for (field, obtained) in [
        ("estimate", row.estimate),
        ("std_error", row.std_error),
        ("p_value", row.p_value),
        ("conf_low", row.ci_lower),
        ("conf_high", row.ci_upper),
    ] {
        crate::util::assert_relative(
            &format!("matched DiD {field}"),
            obtained.expect("value"),
            reference[field].as_f64().expect("reference"),
            TOL_R,
        );
    }
}
