//! Published LaLonde / Dehejia–Wahba figures (sources in `../shared/reference-data/README.md`).

use crate::util::{only_row, run};

/// Published figures are rounded to the dollar.
const TOL_PUBLISHED_DOLLARS: f64 = 0.5;

fn difference_in_means(file: &str, se: &str) -> (f64, f64) {
    let report = run(&format!(
        r#"
[data]
path = "{{fixtures}}/{file}"
treatment = "treat"
[[evaluation]]
name = "experiment"
method = "difference-in-means"
outcomes = ["re78"]
[evaluation.difference-in-means]
se = "{se}"
"#
    ));
    let row = only_row(&report);
    (row.estimate.expect("estimate"), row.std_error.expect("se"))
}

/// DW (1999, 2002): experimental benchmark on the DW subsample, $1,794 (SE 633). The published SE
/// is the classical pooled-variance one.
#[test]
fn dehejia_wahba_experimental_benchmark() {
    let (estimate, se) = difference_in_means("nsw_dw.csv", "pooled");
    assert!(
        (estimate - 1794.0).abs() <= TOL_PUBLISHED_DOLLARS,
        "estimate {estimate}"
    );
    assert!((se - 633.0).abs() <= TOL_PUBLISHED_DOLLARS, "se {se}");
}

/// DW 1999 Table 3, raw differences in means: PSID-1 −15,205, CPS-1 −8,498.
#[test]
fn raw_differences_against_observational_comparison_groups() {
    let (psid, _) = difference_in_means("lalonde_psid.csv", "unequal");
    let (cps, _) = difference_in_means("lalonde_cps.csv", "unequal");
    assert!(
        (psid + 15205.0).abs() <= TOL_PUBLISHED_DOLLARS,
        "PSID {psid}"
    );
    assert!((cps + 8498.0).abs() <= TOL_PUBLISHED_DOLLARS, "CPS {cps}");
}

/// DW 1999 Table 3, propensity-score matching with replacement on DW's score specification,
/// comparison units outside the treated score range discarded: PSID-1 $1,691 (SE 2,209), CPS-1
/// $1,582 (SE 1,069). The estimate depends on the number of neighbours, ties and trimming details
/// the paper does not pin down, so the test asks for agreement within one published SE, for one
/// and for four neighbours (README of the reference data: "agreement within a few hundred dollars
/// (well inside the SEs) is the realistic test"), and that matching removes the huge raw bias.
#[test]
fn dehejia_wahba_matching_estimates_within_published_standard_error() {
    for (example, published, published_se) in [
        ("lalonde-dw-psid", 1691.0, 2209.0),
        ("lalonde-dw-cps", 1582.0, 1069.0),
    ] {
        for ratio in [1, 4] {
            let path = crate::util::repo(&format!("examples/{example}.toml"));
            let args = cominev::cli::EstimateArgs {
                config: Some(path),
                ratio: Some(ratio),
                ..Default::default()
            };
            let plan = cominev::commands::plan_from_args(&args).expect("example config plans");
            let report = cominev::run::estimate(&plan, 2).expect("example runs");
            let estimate = only_row(&report).estimate.expect("estimate");
            assert!(
                (estimate - published).abs() < published_se,
                "{example}, {ratio} neighbours: {estimate} vs published {published} (SE {published_se})"
            );
        }
    }
}
