//! Outcome stage of matching: the effect and its standard error from the matched sets.
//!
//! - `abadie_imbens`: matching with replacement. Estimate = mean over matched focal units of
//!   the (bias-adjusted) difference between the unit's outcome and the mean of its matches.
//!   Variance (Abadie & Imbens 2006, as R `Matching::Match` 4.10 computes it):
//!   V = [Σ_i (τ_i − τ)² + Σ_j σ²_j (K_j² − K'_j)] / N_f², with K_j = Σ_i 1/|J(i)| over the focal
//!   units that use j and K'_j = Σ_i 1/|J(i)|² (for the ATE the second sum uses K² + 2K − K').
//!   σ²_j is either one homoskedastic value, half the weighted variance of the matched-pair
//!   differences (`variance_matches = 0`, Match's `Var.calc = 0`), or the sample variance of the
//!   outcome over unit j and its J nearest same-arm neighbours (`Var.calc = J`).
//! - `matched_set_regression`: matching without replacement. Weighted difference in means (the
//!   slope of y on the treatment with MatchIt's weights), CR1 cluster-robust by matched set.

use super::matching::{MatchedSets, Metric, Pools, match_with_replacement};
use crate::estimators::Effect;
use crate::ols;
use ndarray::{Array2, ArrayView2};

/// Inputs shared by the variance computations that rematch within an arm.
pub struct Geometry<'a> {
    pub metric: &'a Metric,
    pub treated: &'a [bool],
    pub eligible: &'a [bool],
    pub strata: Option<&'a [u32]>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EffectError {
    #[error("no unit found a match (check the caliper, exact strata and common support)")]
    NothingMatched,
    #[error(
        "the bias-adjustment regression is singular on the matched units; use fewer covariates or turn bias adjustment off"
    )]
    SingularBiasRegression,
    #[error("fewer than two matched sets: a cluster-robust standard error needs at least two")]
    TooFewClusters,
    #[error("ties make more than 50,000,000 matched pairs in the conditional-variance matching")]
    TooManyTies,
}

/// Abadie–Imbens matching estimator and analytic SE. `sets` holds one `MatchedSets` for ATT or
/// ATC, two (treated-focal then control-focal) for ATE. `bias_covariates` turns on the AI (2011)
/// regression adjustment.
pub fn abadie_imbens(
    y: &[f64],
    sets: &[&MatchedSets],
    geometry: &Geometry,
    bias_covariates: Option<ArrayView2<f64>>,
    variance_matches: usize,
    tie_tolerance: Option<f64>,
) -> Result<Effect, EffectError> {
    let n = y.len();
    let treated = geometry.treated;
    let is_ate = sets.len() == 2;
    let (k, k2) = {
        let mut k = vec![0.0; n];
        let mut k2 = vec![0.0; n];
        for s in sets {
            let (a, b) = s.usage_counts(n);
            for j in 0..n {
                k[j] += a[j];
                k2[j] += b[j];
            }
        }
        (k, k2)
    };
    // Bias adjustment: one regression per matched arm, weighted by usage K.
    let mut slopes: [Option<Vec<f64>>; 2] = [None, None];
    if let Some(z) = bias_covariates {
        for s in sets {
            let Some(first) = s.focal.first() else {
                continue;
            };
            let arm = !treated[*first];
            let w: Vec<f64> = (0..n)
                .map(|j| if treated[j] == arm { k[j] } else { 0.0 })
                .collect();
            let fit = ols::fit_with_ridge_fallback(z, y, &w)
                .ok_or(EffectError::SingularBiasRegression)?;
            slopes[usize::from(arm)] = Some(fit.coefficients.iter().skip(1).copied().collect());
        }
    }
    let adjustment = |i: usize, j: usize| -> f64 {
        match (&slopes[usize::from(treated[j])], bias_covariates) {
            (Some(b), Some(z)) => b
                .iter()
                .enumerate()
                .map(|(c, beta)| beta * (z[[i, c]] - z[[j, c]]))
                .sum(),
            _ => 0.0,
        }
    };
    // Unit-level and pair-level effects.
    let mut unit_tau = Vec::new();
    let mut pair_tau = Vec::new();
    let mut pair_weight = Vec::new();
    for s in sets {
        for (&i, matches) in s.focal.iter().zip(&s.matches) {
            if matches.is_empty() {
                continue;
            }
            let sign = if treated[i] { 1.0 } else { -1.0 };
            let w = 1.0 / matches.len() as f64;
            let mut sum = 0.0;
            for &j in matches {
                let tau = sign * (y[i] - (y[j] + adjustment(i, j)));
                pair_tau.push(tau);
                pair_weight.push(w);
                sum += tau;
            }
            unit_tau.push(sum * w);
        }
    }
    if unit_tau.is_empty() {
        return Err(EffectError::NothingMatched);
    }
    let n_focal = unit_tau.len() as f64;
    let estimate = unit_tau.iter().sum::<f64>() / n_focal;
    let sigma2: Vec<f64> = if variance_matches == 0 {
        let total_weight: f64 = pair_weight.iter().sum();
        let spread: f64 = pair_tau
            .iter()
            .zip(&pair_weight)
            .map(|(t, w)| w * (t - estimate).powi(2))
            .sum();
        vec![0.5 * spread / total_weight; n]
    } else {
        conditional_variances(y, geometry, &k, is_ate, variance_matches, tie_tolerance)?
    };
    let heterogeneity: f64 = unit_tau.iter().map(|t| (t - estimate).powi(2)).sum();
    let reuse: f64 = (0..n)
        .filter(|&j| k[j] > 0.0 || is_ate)
        .map(|j| {
            let factor = if is_ate {
                k[j] * k[j] + 2.0 * k[j] - k2[j]
            } else {
                k[j] * k[j] - k2[j]
            };
            sigma2[j] * factor
        })
        .sum();
    let variance = (heterogeneity + reuse) / (n_focal * n_focal);
    let (n_treated, n_control) = matched_counts(sets, treated, &k);
    Ok(Effect {
        estimate,
        std_error: variance.sqrt(),
        inference: if variance_matches == 0 {
            "abadie-imbens-2006 (homoskedastic)".to_string()
        } else {
            format!("abadie-imbens-2006 (robust, {variance_matches} variance matches)")
        },
        degrees_of_freedom: None,
        n_treated,
        n_control,
    })
}

/// σ²_j = sample variance of y over unit j and its J nearest same-arm neighbours (ties kept), for
/// the units that enter the variance (K_j > 0, or all units for the ATE).
fn conditional_variances(
    y: &[f64],
    geometry: &Geometry,
    k: &[f64],
    all: bool,
    j_matches: usize,
    tie_tolerance: Option<f64>,
) -> Result<Vec<f64>, EffectError> {
    let n = y.len();
    let needed: Vec<usize> = (0..n)
        .filter(|&j| geometry.eligible[j] && (all || k[j] > 0.0))
        .collect();
    let mut sigma2 = vec![0.0; n];
    for arm in [false, true] {
        let focal: Vec<usize> = needed
            .iter()
            .copied()
            .filter(|&j| geometry.treated[j] == arm)
            .collect();
        if focal.is_empty() {
            continue;
        }
        let pools = Pools::new(geometry.treated, geometry.eligible, geometry.strata, arm);
        // Ask for one more neighbour and drop the unit itself (it is at distance 0 in its own pool).
        let own = match_with_replacement(
            geometry.metric,
            &focal,
            &pools,
            j_matches + 1,
            None,
            tie_tolerance,
        )
        .map_err(|_| EffectError::TooManyTies)?;
        for (&i, neighbours) in own.focal.iter().zip(&own.matches) {
            let others = without_self(i, neighbours, geometry, j_matches, tie_tolerance);
            let values: Vec<f64> = std::iter::once(y[i])
                .chain(others.iter().map(|&j| y[j]))
                .collect();
            sigma2[i] = sample_variance(&values);
        }
    }
    Ok(sigma2)
}

/// The J nearest same-arm neighbours of `i` excluding itself, with ties at the J-th kept: from the
/// (J+1)-nearest set including i, recompute the threshold without i.
fn without_self(
    i: usize,
    neighbours: &[usize],
    geometry: &Geometry,
    j_matches: usize,
    tie_tolerance: Option<f64>,
) -> Vec<usize> {
    let mut pool: Vec<(f64, usize)> = neighbours
        .iter()
        .filter(|&&j| j != i)
        .map(|&j| (squared(geometry.metric, i, j), j))
        .collect();
    if pool.len() <= j_matches {
        return pool.into_iter().map(|(_, j)| j).collect();
    }
    pool.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let Some(tolerance) = tie_tolerance else {
        return pool.into_iter().take(j_matches).map(|(_, j)| j).collect();
    };
    let threshold = pool[j_matches - 1].0 + tolerance;
    pool.into_iter()
        .filter(|(d, _)| *d <= threshold)
        .map(|(_, j)| j)
        .collect()
}

fn squared(metric: &Metric, i: usize, j: usize) -> f64 {
    match metric {
        Metric::Scalar(z) => (z[i] - z[j]).powi(2),
        Metric::Whitened(w) => w
            .row(i)
            .iter()
            .zip(w.row(j).iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum(),
    }
}

fn sample_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

/// Units that enter the estimate: matched focal units and every unit used as a match.
fn matched_counts(sets: &[&MatchedSets], treated: &[bool], k: &[f64]) -> (usize, usize) {
    let mut used = vec![false; treated.len()];
    for s in sets {
        for (&i, m) in s.focal.iter().zip(&s.matches) {
            if !m.is_empty() {
                used[i] = true;
            }
        }
    }
    for (j, kj) in k.iter().enumerate() {
        if *kj > 0.0 {
            used[j] = true;
        }
    }
    let n_treated = (0..treated.len())
        .filter(|&j| used[j] && treated[j])
        .count();
    let n_control = (0..treated.len())
        .filter(|&j| used[j] && !treated[j])
        .count();
    (n_treated, n_control)
}

/// Weighted difference in means on the matched sample with a CR1 SE clustered by matched set
/// (or by the user's clusters when given).
pub fn matched_set_regression(
    y: &[f64],
    treated: &[bool],
    weights: &[f64],
    clusters: &[u32],
) -> Result<Effect, EffectError> {
    let n = y.len();
    let d = Array2::from_shape_fn((n, 1), |(i, _)| f64::from(u8::from(treated[i])));
    let fit = ols::fit(d.view(), y, weights).ok_or(EffectError::NothingMatched)?;
    let (covariance, g) = ols::cluster_robust(d.view(), &fit, weights, clusters);
    if g < 2 {
        return Err(EffectError::TooFewClusters);
    }
    let n_treated = (0..n).filter(|&i| weights[i] > 0.0 && treated[i]).count();
    let n_control = (0..n).filter(|&i| weights[i] > 0.0 && !treated[i]).count();
    Ok(Effect {
        estimate: fit.coefficients[1],
        std_error: covariance[[1, 1]].sqrt(),
        inference: "cluster-robust CR1 by matched set".to_string(),
        degrees_of_freedom: None,
        n_treated,
        n_control,
    })
}
