//! Synthetic control and synthetic DiD: California's Proposition 99 against R synthdid 0.0.9
//! (`benches/peers/sc_r_prop99.R`, fixture `benches/peers/fixtures/sc_r_prop99.json`) and the
//! published ADH (2010) figures (`../shared/reference-data/README.md`), plus the special cases.

use crate::util::{reference_at, repo};
use cominev::estimators::synth::{double_difference, sdid};
use ndarray::Array2;

/// Estimates and weights: the same algorithm as R, so equal up to rounding.
const R_TOLERANCE: f64 = 1e-9;
/// ADH's published weights are rounded to 3 digits and the V problem is not identified, so
/// implementations differ by a few thousandths (R Synth 1.1-8 is 0.017 off on Montana).
const ADH_WEIGHT_TOLERANCE: f64 = 0.02;

struct Prop99 {
    y: Array2<f64>,
    units: Vec<String>,
}

/// The outcome matrix in R's unit order: 38 controls alphabetically, then California.
fn prop99() -> Prop99 {
    let text = std::fs::read_to_string(repo("tests/fixtures/california_prop99.csv")).unwrap();
    let fixture = reference_at("benches/peers/fixtures/sc_r_prop99.json");
    let units: Vec<String> = fixture["setup"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let mut y = Array2::from_elem((units.len(), 31), f64::NAN);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let unit = units.iter().position(|u| u == f[0]).unwrap();
        let year: usize = f[1].parse().unwrap();
        y[[unit, year - 1970]] = f[2].parse().unwrap();
    }
    assert!(y.iter().all(|v| v.is_finite()));
    Prop99 { y, units }
}

/// The estimator's fit with its default options (38 donors, 19 pre-periods).
fn prop99_fit(data: &Prop99, kind: sdid::SdidKind) -> (sdid::SdidOptions, sdid::SdidFit) {
    let (options, omega0, lambda0) = sdid::options(kind, data.y.view(), 38, 19);
    let fit = sdid::fit(
        data.y.view(),
        38,
        19,
        omega0.as_deref(),
        lambda0.as_deref(),
        &options,
    );
    (options, fit)
}

fn kinds() -> [(sdid::SdidKind, &'static str); 3] {
    [
        (sdid::SdidKind::Sdid, "synthdid"),
        (sdid::SdidKind::Sc, "sc"),
        (sdid::SdidKind::Did, "did"),
    ]
}

#[test]
fn prop99_estimates_weights_and_effect_curves_equal_r_synthdid() {
    let data = prop99();
    let fixture = reference_at("benches/peers/fixtures/sc_r_prop99.json");
    for (kind, key) in kinds() {
        let r = &fixture["estimators"][key];
        let (options, fit) = prop99_fit(&data, kind);
        let expected = r["estimate"].as_f64().unwrap();
        assert!(
            (fit.estimate - expected).abs() < R_TOLERANCE,
            "{key}: {} vs R {expected}",
            fit.estimate
        );
        for (i, unit) in data.units[..38].iter().enumerate() {
            let w = r["omega"][unit].as_f64().unwrap();
            assert!((fit.omega[i] - w).abs() < R_TOLERANCE, "{key} ω {unit}");
        }
        for t in 0..19 {
            let l = r["lambda"][(1970 + t).to_string()].as_f64().unwrap();
            assert!(
                (fit.lambda[t] - l).abs() < R_TOLERANCE,
                "{key} λ {}",
                1970 + t
            );
        }
        for (k, value) in fit.curve.iter().enumerate() {
            let c = r["effect_curve"][(1989 + k).to_string()].as_f64().unwrap();
            assert!((value - c).abs() < R_TOLERANCE, "{key} curve {}", 1989 + k);
        }
        if kind == sdid::SdidKind::Sdid {
            let z = r["regularisation"]["zeta_omega"].as_f64().unwrap();
            assert!((options.zeta_omega - z).abs() < 1e-12 * z);
        }
    }
    // The published figures (Arkhangelsky et al. 2021, Table 1).
    assert!(
        (-15.604f64
            - fixture["estimators"]["synthdid"]["estimate"]
                .as_f64()
                .unwrap())
        .abs()
            < 0.001
    );
}

/// R's 200 placebo permutations, replayed: every placebo estimate equals R's.
#[test]
fn prop99_placebo_draws_replayed_equal_r_synthdid() {
    let data = prop99();
    let fixture = reference_at("benches/peers/fixtures/sc_r_prop99.json");
    let draws = fixture["placebo_permutations"]["draws"].as_array().unwrap();
    assert_eq!(draws.len(), 200);
    for (kind, key) in kinds() {
        let r = &fixture["estimators"][key];
        let (options, fit) = prop99_fit(&data, kind);
        let expected: Vec<f64> = r["placebo_estimates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mut obtained = Vec::new();
        for (b, draw) in draws.iter().enumerate() {
            let order: Vec<usize> = draw
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize - 1)
                .collect();
            let placebo = sdid::placebo_fit(data.y.view(), 38, 19, &fit, &options, &order);
            assert!(
                (placebo.estimate - expected[b]).abs() < 1e-8,
                "{key} draw {b}: {} vs R {}",
                placebo.estimate,
                expected[b]
            );
            obtained.push(placebo.estimate);
        }
        assert_eq!(obtained.len(), 200);
        // With one treated unit cominev uses every donor once as the pseudo-treated (R's 200
        // random draws repeat those 38 values): its SE is the SD of R's distinct placebo values.
        let mut distinct = expected.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        assert_eq!(distinct.len(), 38, "{key}");
        let mean = distinct.iter().sum::<f64>() / 38.0;
        let sd = (distinct.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 37.0).sqrt();
        let se = sdid::standard_error(
            data.y.view(),
            38,
            19,
            &fit,
            &options,
            sdid::SdidVariance::Placebo,
            0,
            1,
        );
        let se = se.overall.unwrap();
        assert!((se - sd).abs() < 1e-8 * sd, "{key}: SE {se} vs {sd}");
    }
}

#[test]
fn sc_and_sdid_with_uniform_weights_equal_the_two_by_two_did() {
    let data = prop99();
    let y = &data.y;
    // The 2×2 difference of means, by hand.
    let mean = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
        let n = (rows.len() * cols.len()) as f64;
        rows.flat_map(|i| cols.clone().map(move |t| (i, t)))
            .map(|(i, t)| y[[i, t]])
            .sum::<f64>()
            / n
    };
    let by_hand =
        (mean(38..39, 19..31) - mean(38..39, 0..19)) - (mean(0..38, 19..31) - mean(0..38, 0..19));
    let uniform = double_difference(y.view(), &[1.0 / 38.0; 38], &[1.0 / 19.0; 19], 38, 19);
    assert!((uniform - by_hand).abs() < 1e-10, "{uniform} vs {by_hand}");
    assert!(
        (by_hand - -27.349).abs() < 0.001,
        "published DiD -27.349: {by_hand}"
    );
}

/// The ADH (2010) specification through the command line's pipeline.
#[test]
fn prop99_adh_weights_gap_and_placebo_rank_match_the_published_figures() {
    let text = std::fs::read_to_string(repo("examples/prop99-adh.toml"))
        .unwrap()
        .replace(
            "../tests/fixtures",
            &repo("tests/fixtures").to_string_lossy(),
        );
    let config: cominev::config::ConfigFile = toml::from_str(&text).unwrap();
    let plan = cominev::plan::plan(&config, None).unwrap();
    let report = cominev::run::estimate(&plan, 2).unwrap();
    let section = &report.synthetic_controls[0];
    assert!(section.converged);
    let published = [
        ("Utah", 0.334),
        ("Nevada", 0.234),
        ("Montana", 0.199),
        ("Colorado", 0.164),
        ("Connecticut", 0.069),
    ];
    for (state, weight) in published {
        let obtained = section
            .donor_weights
            .iter()
            .find(|w| w.name == state)
            .map_or(0.0, |w| w.weight);
        assert!(
            (obtained - weight).abs() <= ADH_WEIGHT_TOLERANCE,
            "{state}: {obtained} vs published {weight}"
        );
    }
    let others: f64 = section
        .donor_weights
        .iter()
        .filter(|w| !published.iter().any(|(s, _)| *s == w.name))
        .map(|w| w.weight)
        .sum();
    assert!(others < 0.02, "weight outside ADH's five states: {others}");
    // Table 1: predictor means, California / synthetic California.
    let balance = |name: &str| {
        section
            .predictors
            .iter()
            .find(|p| p.predictor.starts_with(name))
            .map(|p| (p.treated, p.synthetic))
            .unwrap()
    };
    let (t, s) = balance("retprice");
    assert!(
        (t - 89.42).abs() < 0.01 && (s - 89.41).abs() < 0.5,
        "{t} {s}"
    );
    let (t, s) = balance("cigsale (1975)");
    assert!(
        (t - 127.10).abs() < 0.01 && (s - 126.99).abs() < 0.5,
        "{t} {s}"
    );
    // "almost 20 packs" on average over 1989-2000 (R Synth: -18.72).
    let overall = report
        .results
        .iter()
        .find(|r| r.target == "overall")
        .unwrap();
    let gap = overall.estimate.unwrap();
    assert!((-20.5..=-18.5).contains(&gap), "average gap {gap}");
    // California has the largest post/pre RMSPE ratio of the 39 states: p = 1/39.
    let placebo = &report.placebo_tests[0];
    assert_eq!((placebo.rank, placebo.n_compared), (1, 39));
    assert!((overall.p_value.unwrap() - 1.0 / 39.0).abs() < 1e-12);
    // Every post-period row carries a conformal interval around its gap.
    for row in report
        .results
        .iter()
        .filter(|r| r.target.starts_with("period:"))
    {
        let (lo, hi, est) = (
            row.ci_lower.unwrap(),
            row.ci_upper.unwrap(),
            row.estimate.unwrap(),
        );
        assert!(
            lo <= est && est <= hi,
            "{}: [{lo}, {hi}] around {est}",
            row.target
        );
    }
    // Leave-one-out over the donors with weight: the effect stays negative and large.
    let loo: Vec<f64> = report
        .results
        .iter()
        .filter(|r| r.target.starts_with("leave-one-out:"))
        .map(|r| r.estimate.unwrap())
        .collect();
    assert!(loo.len() >= 5 && loo.iter().all(|v| *v < -15.0), "{loo:?}");
}

/// Staggered adoption (as Stata `sdid`): one synthetic DiD per cohort against the never-treated,
/// and their average weighted by treated unit-periods; each cohort's estimate near its true
/// average effect.
#[test]
fn staggered_synthetic_did_averages_the_cohorts() {
    let (records, truth) = cominev::simulate::staggered_panel(400, 8, 11);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("panel.csv");
    std::fs::write(&data, cominev::simulate::records_to_csv(&records)).unwrap();
    let report = crate::util::run(&format!(
        "[data]\npath = \"{}\"\nunit = \"unit\"\ntime = \"period\"\nfirst-treated = \"first_treated\"\n[[evaluation]]\nname = \"s\"\nmethod = \"sdid\"\noutcomes = [\"y\"]\n",
        data.display()
    ));
    let cohorts: Vec<&cominev::report::ResultRow> = report
        .results
        .iter()
        .filter(|r| r.target.starts_with("cohort:") && !r.target.contains(":period:"))
        .collect();
    assert_eq!(cohorts.len(), truth.cohort_sizes.len());
    let mut weighted = 0.0;
    let mut total = 0.0;
    for row in &cohorts {
        let g: usize = row.target["cohort:".len()..].parse().unwrap();
        let post = 8 - g + 1;
        let true_mean = (g..=8)
            .map(|t| truth.att_gt[&format!("{g}:{t}")])
            .sum::<f64>()
            / post as f64;
        let estimate = row.estimate.unwrap();
        let se = row.std_error.unwrap();
        assert!(
            (estimate - true_mean).abs() < 4.0 * se,
            "cohort {g}: {estimate} (SE {se}) vs true {true_mean}"
        );
        let w = (row.n_treated.unwrap() * post) as f64;
        weighted += w * estimate;
        total += w;
    }
    let overall = report
        .results
        .iter()
        .find(|r| r.target == "overall")
        .unwrap();
    assert!((overall.estimate.unwrap() - weighted / total).abs() < 1e-12);
}

/// Several treated units in a classic synthetic control: one synthetic control each, and the
/// average of their effects.
#[test]
fn several_treated_units_get_one_synthetic_control_each() {
    let report = crate::util::run(&format!(
        "[data]\npath = \"{}\"\nunit = \"state\"\ntime = \"year\"\n[[evaluation]]\nname = \"two\"\nmethod = \"sc\"\noutcomes = [\"packs_per_capita\"]\n[evaluation.sc]\ntreated-units = [\"California\", \"Utah\"]\ntreatment-start = 1989\nplacebo = false\nconformal = false\nleave-one-out = false\n",
        repo("tests/fixtures/california_prop99.csv").display()
    ));
    assert_eq!(report.synthetic_controls.len(), 2);
    let unit = |name: &str| {
        report
            .results
            .iter()
            .find(|r| r.target == format!("unit:{name}:overall"))
            .and_then(|r| r.estimate)
            .unwrap()
    };
    let overall = report
        .results
        .iter()
        .find(|r| r.target == "overall")
        .unwrap();
    assert_eq!(overall.n_treated, Some(2));
    let mean = (unit("California") + unit("Utah")) / 2.0;
    assert!((overall.estimate.unwrap() - mean).abs() < 1e-12);
    // Utah is not a donor for California when both are treated.
    assert!(report.synthetic_controls.iter().all(|s| {
        s.donor_weights
            .iter()
            .all(|w| w.name != "Utah" && w.name != "California")
    }));
}

/// Several treated units: the placebo, bootstrap and jackknife standard errors are all defined
/// and agree in size (each estimates the same sampling spread), and the estimate is near the truth.
#[test]
fn sdid_standard_errors_agree_in_size_with_several_treated_units() {
    let (records, truth) = cominev::simulate::regional_panel(100, 24, 5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("panel.csv");
    std::fs::write(&data, cominev::simulate::records_to_csv(&records)).unwrap();
    let mut ses = Vec::new();
    for variance in ["placebo", "bootstrap", "jackknife"] {
        let report = crate::util::run(&format!(
            "[data]\npath = \"{}\"\nunit = \"unit\"\ntime = \"quarter\"\ntreatment = \"treated\"\n[[evaluation]]\nname = \"s\"\nmethod = \"sdid\"\noutcomes = [\"outcome\"]\n[evaluation.sdid]\nvariance = \"{variance}\"\nreplications = 100\n",
            data.display()
        ));
        let row = report
            .results
            .iter()
            .find(|r| r.target == "overall")
            .unwrap();
        assert_eq!(row.n_treated, Some(10));
        let (estimate, se) = (row.estimate.unwrap(), row.std_error.unwrap());
        assert!(se > 0.0 && se.is_finite(), "{variance}: {se}");
        assert!(
            (estimate - truth.average_effect).abs() < 4.0 * se,
            "{variance}: {estimate} ± {se} vs {}",
            truth.average_effect
        );
        ses.push(se);
    }
    let (low, high) = ses
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), s| (l.min(*s), h.max(*s)));
    assert!(
        high / low < 2.0,
        "placebo, bootstrap, jackknife SEs {ses:?}"
    );
}

/// Panels from flags alone (`--unit`, `--time`, `--treatment`, `--method`), as from a config.
#[test]
fn panel_methods_run_from_command_line_flags() {
    let out = assert_cmd::Command::cargo_bin("cominev")
        .expect("binary")
        .args([
            "estimate",
            "-q",
            "--format",
            "json",
            "--data",
            "data-samples/regional-panel.csv",
            "--method",
            "sdid",
            "--unit",
            "unit",
            "--time",
            "quarter",
            "--treatment",
            "treated",
            "--outcome",
            "outcome",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    crate::util::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let from_flags = json["results"][0]["estimate"].as_f64().unwrap();
    let text = std::fs::read_to_string(repo("data-samples/regional-panel.toml"))
        .unwrap()
        .replace(
            "regional-panel.csv",
            &repo("data-samples/regional-panel.csv").to_string_lossy(),
        );
    let report = crate::util::run(&text);
    let from_config = report
        .results
        .iter()
        .find(|r| r.evaluation == "one-stop-centres-sdid" && r.target == "overall")
        .and_then(|r| r.estimate)
        .unwrap();
    assert_eq!(from_flags, from_config);
}
