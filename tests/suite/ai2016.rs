//! Abadie–Imbens (2016) standard errors for matching on the estimated propensity score.
//! Reference: the independent R implementation `benches/peers/ai2016_lib.R` (whose ATE form
//! reproduces Stata `teffects psmatch`'s published SE to 7 digits), via
//! `benches/peers/ai2016_reference.R` → `tests/fixtures/ai2016_reference.json`; and a Monte Carlo
//! with known ATE and ATT.

use crate::util::{assert_relative, reference, run};
use rand::{RngExt, SeedableRng};

const TOL_ORACLE: f64 = 1e-6;

fn config(estimand: &str, ratio: usize) -> String {
    format!(
        r#"
[data]
path = "{{fixtures}}/lalonde_psid.csv"
treatment = "treat"
[[evaluation]]
name = "e"
outcomes = ["re78"]
covariates = ["age", "education", "black", "hispanic", "married", "nodegree", "re74", "re75"]
estimand = "{estimand}"
[evaluation.psm]
distance = "score"
replace = true
ratio = {ratio}
se = "abadie-imbens-2016"
"#
    )
}

#[test]
fn equals_the_r_oracle_on_lalonde_psid() {
    let reference = reference("ai2016_reference.json");
    for (case, estimand, ratio) in [
        ("ATE_M1", "ate", 1),
        ("ATET_M1", "att", 1),
        ("ATET_M4", "att", 4),
        ("ATE_M4", "ate", 4),
    ] {
        let expected = &reference["cases"][case];
        let report = run(&config(estimand, ratio));
        let row = &report.results[0];
        assert_relative(
            &format!("{case} estimate"),
            row.estimate.expect("estimate"),
            expected["estimate"].as_f64().expect("estimate"),
            TOL_ORACLE,
        );
        match expected["se_adjusted"].as_f64() {
            Some(se) => assert_relative(
                &format!("{case} adjusted SE"),
                row.std_error.expect("se"),
                se,
                TOL_ORACLE,
            ),
            // The oracle's adjusted variance is negative here (443 units with p < 1e-6): no SE.
            None => assert!(
                row.std_error.is_none(),
                "{case}: a non-positive adjusted variance must give no SE"
            ),
        }
    }
}

/// The oracle's Monte Carlo design (`benches/peers/ai2016_coverage.R`): X ~ N(0, I₃),
/// p = Λ(−0.3 + 0.5(X1 + X2 + X3)), Y0 = 3X1 − 3X2 + U0, Y1 = 5 + 5X1 + X2 + X3 + U1;
/// ATE = 5 and ATT = 6.700702 (population values). 300 replications of n = 2,000.
#[test]
fn adjusted_intervals_cover_the_population_effects() {
    const REPLICATIONS: u64 = 300;
    const N: usize = 2_000;
    const TRUE_ATE: f64 = 5.0;
    const TRUE_ATT: f64 = 6.700702;
    // 300 replications: Monte Carlo SE of a 95% coverage is 1.3 points.
    const COVERAGE_LOW: f64 = 0.92;
    const COVERAGE_HIGH: f64 = 0.98;
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("mc.csv");
    let (mut covered_ate, mut covered_att) = (0, 0);
    for replication in 0..REPLICATIONS {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5_000 + replication);
        let mut normal = || {
            let u1: f64 = rng.random::<f64>().max(1e-300);
            let u2: f64 = rng.random();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        let mut text = String::from("d,x1,x2,x3,y\n");
        let mut draws = Vec::with_capacity(N);
        for _ in 0..N {
            let (x1, x2, x3, u0, u1) = (normal(), normal(), normal(), normal(), normal());
            draws.push((x1, x2, x3, u0, u1));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9_000 + replication);
        for (x1, x2, x3, u0, u1) in draws {
            let p = 1.0 / (1.0 + (-(-0.3 + 0.5 * (x1 + x2 + x3))).exp());
            let d = rng.random::<f64>() < p;
            let y = if d {
                5.0 + 5.0 * x1 + x2 + x3 + u1
            } else {
                3.0 * x1 - 3.0 * x2 + u0
            };
            text.push_str(&format!("{},{x1},{x2},{x3},{y}\n", u8::from(d)));
        }
        std::fs::write(&path, text).expect("write");
        for (estimand, truth, counter) in [
            ("ate", TRUE_ATE, &mut covered_ate),
            ("att", TRUE_ATT, &mut covered_att),
        ] {
            let report = run(&format!(
                "[data]\npath = \"{}\"\ntreatment = \"d\"\n[[evaluation]]\nname = \"mc\"\noutcomes = [\"y\"]\ncovariates = [\"x1\", \"x2\", \"x3\"]\nestimand = \"{estimand}\"\n[evaluation.psm]\ndistance = \"score\"\nreplace = true\nse = \"abadie-imbens-2016\"\n",
                path.display()
            ));
            let row = &report.results[0];
            if row.ci_lower.expect("ci") <= truth && truth <= row.ci_upper.expect("ci") {
                *counter += 1;
            }
        }
    }
    let (ate, att) = (
        covered_ate as f64 / REPLICATIONS as f64,
        covered_att as f64 / REPLICATIONS as f64,
    );
    eprintln!("AI 2016 coverage: ATE {ate:.3}, ATT {att:.3}");
    assert!(
        (COVERAGE_LOW..=COVERAGE_HIGH).contains(&ate),
        "ATE coverage {ate}"
    );
    assert!(
        (COVERAGE_LOW..=COVERAGE_HIGH).contains(&att),
        "ATT coverage {att}"
    );
}
