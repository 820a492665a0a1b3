//! Equality with MatchIt 4.7.2 (built from its GitHub source; `benches/peers/install_matchit.sh`)
//! on NSW treated vs PSID-1, 8 covariates, glm propensity score. Reference values:
//! `benches/peers/r_matchit_reference.R` → `tests/fixtures/r_matchit_reference.json`: the matched
//! weights, and `lm(re78 ~ treat, weights)` on `match.data()` with `sandwich::vcovCL(cluster =
//! ~subclass, type = "HC1")` (CR1) standard errors.

use crate::util::{assert_relative, only_row, reference, run};

/// Relative agreement required with MatchIt's numbers (the fixture stores 15 significant digits).
const TOL_R_MATCHIT: f64 = 1e-6;

fn config(psm: &str, estimand: &str) -> String {
    format!(
        r#"
[data]
path = "{{fixtures}}/lalonde_psid.csv"
treatment = "treat"
[[evaluation]]
name = "case"
outcomes = ["re78"]
covariates = ["age", "education", "black", "hispanic", "married", "nodegree", "re74", "re75"]
estimand = "{estimand}"
[evaluation.psm]
{psm}
"#
    )
}

fn check(case: &str, psm: &str, estimand: &str) {
    let expected = &reference("r_matchit_reference.json")["cases"][case];
    let report = run(&config(psm, estimand));
    let row = only_row(&report);
    let outcome = &expected["outcome"];
    let estimate = outcome["estimate"].as_f64().expect("estimate");
    assert_relative(
        &format!("case {case} estimate"),
        row.estimate.expect("estimate"),
        estimate,
        TOL_R_MATCHIT,
    );
    if let Some(se) = outcome["se_cr1"].as_f64() {
        assert_relative(
            &format!("case {case} CR1 SE"),
            row.std_error.expect("se"),
            se,
            TOL_R_MATCHIT,
        );
    }
    let counts = &expected["n"];
    let balance = &report.balance[0];
    assert_eq!(
        balance.n_treated_matched.map(|v| v as u64),
        counts["matched_treated"].as_u64(),
        "case {case} matched treated"
    );
    assert_eq!(
        balance.n_control_matched.map(|v| v as u64),
        counts["matched_control"].as_u64(),
        "case {case} matched controls"
    );
}

#[test]
fn a_one_to_one_without_replacement() {
    check("a", "distance = \"score\"\nreplace = false", "att");
}

#[test]
fn b_caliper() {
    check(
        "b",
        "distance = \"score\"\nreplace = false\ncaliper = 0.2",
        "att",
    );
}

#[test]
fn c_on_the_logit() {
    check("c", "distance = \"logit\"\nreplace = false", "att");
}

#[test]
fn d_smallest_first() {
    check(
        "d",
        "distance = \"score\"\nreplace = false\norder = \"smallest\"",
        "att",
    );
}

#[test]
fn e_data_order() {
    check(
        "e",
        "distance = \"score\"\nreplace = false\norder = \"data\"",
        "att",
    );
}

#[test]
fn g_two_to_one_without_replacement() {
    check(
        "g",
        "distance = \"score\"\nreplace = false\nratio = 2",
        "att",
    );
}

#[test]
fn h_common_support_discard() {
    check(
        "h",
        "distance = \"score\"\nreplace = false\ndiscard = \"both\"",
        "att",
    );
}

#[test]
fn k_exact_within_strata() {
    check(
        "k",
        "distance = \"score\"\nreplace = false\nexact = [\"black\"]",
        "att",
    );
}

/// MatchIt's `replace = TRUE, ratio = 3` takes exactly three controls per treated unit (no ties):
/// our `ties = false`. MatchIt gives no SE here, so only the estimate and counts are compared.
#[test]
fn f_three_to_one_with_replacement() {
    check(
        "f",
        "distance = \"score\"\nreplace = true\nratio = 3\nties = false",
        "att",
    );
}

#[test]
fn i_atc() {
    check("i", "distance = \"score\"\nreplace = false", "atc");
}

/// Mahalanobis distance without replacement: MatchIt's pooled within-group covariance and its
/// default data order.
#[test]
fn j_mahalanobis() {
    check("j", "distance = \"mahalanobis\"\nreplace = false", "att");
}
