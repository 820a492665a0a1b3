//! Honest inference for the synthetic-control family: on simulated regional factor-model panels
//! with a known effect (`cominev::simulate::regional_panel`), the 95% intervals cover the true
//! effect about 95% of the time. Replications are few enough for CI (2 cores); the bands allow
//! for their Monte Carlo error (±2.5 points at 400 replications is about 2.3 Monte Carlo standard errors).

use cominev::estimators::synth::conformal::Conformal;
use cominev::estimators::synth::sdid;
use cominev::simulate::regional_panel;
use ndarray::Array2;
use rayon::prelude::*;

const REPLICATIONS: u64 = 400;
const UNITS: usize = 20;
const PERIODS: usize = 28;

/// Units × periods with the treated unit last, and the index of the first post period.
fn panel(seed: u64) -> (Array2<f64>, usize, Vec<f64>) {
    let (records, truth) = regional_panel(UNITS, PERIODS, seed);
    let mut names: Vec<String> = records.iter().map(|r| r.unit.clone()).collect();
    names.dedup();
    let treated = &truth.treated_units[0];
    let mut order: Vec<&String> = names.iter().filter(|n| *n != treated).collect();
    order.push(treated);
    let mut y = Array2::zeros((UNITS, PERIODS));
    for (k, r) in records.iter().enumerate() {
        let row = order.iter().position(|n| **n == r.unit).unwrap();
        y[[row, k % PERIODS]] = r.outcome;
    }
    let start = PERIODS - truth.effect_by_period.len();
    (y, start, truth.effect_by_period.values().copied().collect())
}

fn share(hits: &[bool]) -> f64 {
    hits.iter().filter(|h| **h).count() as f64 / hits.len() as f64
}

#[test]
fn sdid_placebo_intervals_cover_the_true_average_effect() {
    let hits: Vec<bool> = (0..REPLICATIONS)
        .into_par_iter()
        .map(|rep| {
            let (y, t0, effects) = panel(1_000 + rep);
            let truth = effects.iter().sum::<f64>() / effects.len() as f64;
            let n0 = UNITS - 1;
            let (options, _, _) = sdid::options(sdid::SdidKind::Sdid, y.view(), n0, t0);
            let fit = sdid::fit(y.view(), n0, t0, None, None, &options);
            let se_all = sdid::standard_error(
                y.view(),
                n0,
                t0,
                &fit,
                &options,
                sdid::SdidVariance::Placebo,
                0, // one treated unit: every comparison unit once, no random draws
                rep,
            );
            let effect = cominev::estimators::Effect {
                estimate: fit.estimate,
                std_error: se_all.overall.expect("placebo SE defined"),
                inference: String::new(),
                degrees_of_freedom: sdid::degrees_of_freedom(sdid::SdidVariance::Placebo, n0, 1),
                n_treated: 1,
                n_control: n0,
            };
            let interval = cominev::inference::wald(&effect, 0.95);
            interval.lower <= truth && truth <= interval.upper
        })
        .collect();
    let coverage = share(&hits);
    eprintln!("SDID placebo 95% CI coverage: {coverage:.3} over {REPLICATIONS} panels");
    assert!((0.925..=0.985).contains(&coverage), "coverage {coverage}");
}

#[test]
fn conformal_intervals_cover_the_true_effects() {
    let results: Vec<(bool, bool)> = (0..REPLICATIONS)
        .into_par_iter()
        .map(|rep| {
            let (y, t0, effects) = panel(5_000 + rep);
            let donors = Array2::from_shape_fn((PERIODS, UNITS - 1), |(t, d)| y[[d, t]]);
            let y1: Vec<f64> = (0..PERIODS).map(|t| y[[UNITS - 1, t]]).collect();
            let c = Conformal {
                y1: &y1,
                y0: donors.view(),
                t0,
            };
            // Per period: the fourth post period (effect fully built up).
            let t = t0 + 3;
            let pre_fit = cominev::estimators::synth::simplex::simplex_least_squares(
                donors.slice(ndarray::s![..t0, ..]),
                &y1[..t0],
            );
            let gap = |p: usize| {
                y1[p]
                    - (0..UNITS - 1)
                        .map(|d| donors[[p, d]] * pre_fit.weights[d])
                        .sum::<f64>()
            };
            let scale = ((0..t0).map(|p| gap(p).powi(2)).sum::<f64>() / t0 as f64).sqrt();
            let period = c.interval(|th| c.p_period(t, th), gap(t), scale, 0.05);
            let covered_period = period.lower <= effects[3] && effects[3] <= period.upper;
            let average = (t0..PERIODS).map(gap).sum::<f64>() / (PERIODS - t0) as f64;
            let truth = effects.iter().sum::<f64>() / effects.len() as f64;
            let overall = c.interval(|th| c.p_average(th), average, scale, 0.05);
            (
                covered_period,
                overall.lower <= truth && truth <= overall.upper,
            )
        })
        .collect();
    let period: Vec<bool> = results.iter().map(|r| r.0).collect();
    let overall: Vec<bool> = results.iter().map(|r| r.1).collect();
    let (period, overall) = (share(&period), share(&overall));
    eprintln!(
        "conformal 95% coverage over {REPLICATIONS} panels: one period {period:.3}, average effect {overall:.3}"
    );
    assert!(
        (0.925..=0.985).contains(&period),
        "per-period coverage {period}"
    );
    assert!(overall >= 0.925, "average-effect coverage {overall}");
    assert!(
        overall <= 0.995,
        "average-effect intervals are uninformative: {overall}"
    );
}
