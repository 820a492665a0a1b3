//! Propensity model: unpenalised maximum-likelihood logistic regression by Newton–Raphson (IRLS).
//!
//! Estimand: P(D = 1 | X) under a logit link, the model of R's `glm(family = binomial)`.
//! We do not use linfa-logistic: it adds an L2 penalty unless told otherwise, picks the more
//! frequent label as the positive class and has no convergence flag (see the foundation issue's
//! note); Newton also hands us the information matrix needed for the coefficient standard errors
//! and the Abadie–Imbens (2016) correction. Validated against R 4.x `glm` (see
//! `benches/peers/r_matching_reference.R`): fitted probabilities agree to 1e-8.
//!
//! Numerics: covariates are centred and scaled before the fit (earnings in dollars next to
//! dummies would otherwise give a Hessian with condition number ~1e12) and coefficients are mapped
//! back. Every pass over the rows is a fixed-chunk parallel reduction, so the fit is bit-identical
//! on any number of threads.

use crate::linalg::{cholesky, cholesky_solve, inverse_spd};
use crate::parallel::chunked_reduce;
use ndarray::{Array1, Array2, ArrayView2};

/// Relative change in deviance at which Newton stops (R's glm uses 1e-8; we go further because
/// the iteration is quadratic and the extra step is cheap).
pub const CONVERGENCE_TOLERANCE: f64 = 1e-11;
/// Newton iterations before we report non-convergence (R's glm: 25).
pub const MAX_ITERATIONS: usize = 50;
/// A fitted probability this close to 0 or 1 counts as "numerically 0 or 1" (R's glm: 10 ε).
pub const BOUNDARY: f64 = 1e-10;

#[derive(Debug, Clone)]
pub struct LogitFit {
    /// Intercept first, then one coefficient per covariate, on the covariates' original scale.
    pub coefficients: Array1<f64>,
    /// Model-based standard errors, sqrt(diag(I⁻¹)), as `summary.glm`.
    pub std_errors: Array1<f64>,
    /// Covariance of the coefficients, I⁻¹ (intercept first).
    pub covariance: Array2<f64>,
    /// Fitted probabilities.
    pub fitted: Vec<f64>,
    /// Linear predictor (log-odds).
    pub linear_predictor: Vec<f64>,
    pub log_likelihood: f64,
    pub iterations: usize,
    /// Units whose fitted probability is numerically 0 or 1 (quasi-complete separation sign).
    pub n_boundary: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LogitError {
    #[error(
        "the treatment is perfectly predicted by the covariates (complete separation), most strongly by `{column}`"
    )]
    CompleteSeparation { column: usize },
    #[error(
        "the propensity model did not converge in {iterations} iterations (quasi-complete separation likely, most strongly by covariate `{column}`)"
    )]
    NotConverged { iterations: usize, column: usize },
    #[error("the covariates are collinear: the propensity model's information matrix is singular")]
    Singular,
}

struct Standardised {
    z: Array2<f64>,
    mean: Array1<f64>,
    scale: Array1<f64>,
}

fn standardise(x: ArrayView2<f64>) -> Standardised {
    let n = x.nrows() as f64;
    let p = x.ncols();
    let mut mean = Array1::zeros(p);
    let mut scale = Array1::ones(p);
    for j in 0..p {
        let column = x.column(j);
        let m = column.sum() / n;
        let sd = (column.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
        mean[j] = m;
        // A constant column is rejected by data validation; keep the scale finite regardless.
        scale[j] = if sd > 0.0 { sd } else { 1.0 };
    }
    let mut z = x.to_owned();
    for j in 0..p {
        let (m, s) = (mean[j], scale[j]);
        z.column_mut(j).mapv_inplace(|v| (v - m) / s);
    }
    Standardised { z, mean, scale }
}

/// Gradient, Hessian (information) and deviance at `beta` for the standardised design.
struct Pass {
    gradient: Array1<f64>,
    information: Array2<f64>,
    deviance: f64,
}

fn evaluate(z: &Array2<f64>, y: &[f64], beta: &Array1<f64>) -> Pass {
    let k = beta.len();
    let p = k - 1;
    let rows = z
        .as_slice()
        .expect("standardised design is in standard layout");
    let beta = beta.as_slice().expect("coefficients are contiguous");
    let empty = || Pass {
        gradient: Array1::zeros(k),
        information: Array2::zeros((k, k)),
        deviance: 0.0,
    };
    chunked_reduce(
        z.nrows(),
        |range| {
            // Accumulate into flat buffers (lower triangle) to keep the inner loop free of
            // bounds checks; 1M rows × 8 covariates is a few hundred million multiply-adds.
            let mut gradient = vec![0.0; k];
            let mut information = vec![0.0; k * k];
            let mut deviance = 0.0;
            let mut x = vec![0.0; k];
            x[0] = 1.0;
            for i in range {
                x[1..].copy_from_slice(&rows[i * p..(i + 1) * p]);
                let eta: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
                let probability = logistic(eta);
                let w = probability * (1.0 - probability);
                let residual = y[i] - probability;
                deviance -= 2.0 * log_likelihood_term(y[i], eta);
                for a in 0..k {
                    gradient[a] += x[a] * residual;
                    let wa = w * x[a];
                    let row = &mut information[a * k..a * k + a + 1];
                    for (cell, xb) in row.iter_mut().zip(&x[..=a]) {
                        *cell += wa * xb;
                    }
                }
            }
            Pass {
                gradient: Array1::from(gradient),
                information: Array2::from_shape_vec((k, k), information).expect("k × k buffer"),
                deviance,
            }
        },
        empty(),
        |mut acc, part| {
            acc.gradient += &part.gradient;
            acc.information += &part.information;
            acc.deviance += part.deviance;
            acc
        },
    )
    .symmetrised()
}

impl Pass {
    fn symmetrised(mut self) -> Self {
        let k = self.gradient.len();
        for a in 0..k {
            for b in 0..a {
                self.information[[b, a]] = self.information[[a, b]];
            }
        }
        self
    }
}

/// log P(Y = y | eta), computed without overflow for large |eta|.
fn log_likelihood_term(y: f64, eta: f64) -> f64 {
    // log(1 + e^eta) evaluated stably
    let softplus = if eta > 0.0 {
        eta + (-eta).exp().ln_1p()
    } else {
        eta.exp().ln_1p()
    };
    y * eta - softplus
}

/// The fitted probability exactly as R's `binomial()$linkinv` computes it (and so as MatchIt's
/// and Matching's scores are): t/(1 + t) with t = exp(η), where η below −30 gives t = ε and η
/// above 30 gives t = 1/ε. The clamping makes extreme units share one score, which decides ties in
/// matching; reproducing it is what lets our matches equal MatchIt's.
pub fn fitted_probability(eta: f64) -> f64 {
    let t = if eta < -30.0 {
        f64::EPSILON
    } else if eta > 30.0 {
        1.0 / f64::EPSILON
    } else {
        eta.exp()
    };
    t / (1.0 + t)
}

pub fn logistic(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// Fits `P(y = 1 | x) = logistic(b0 + x b)` by maximum likelihood. `x` excludes the intercept.
pub fn fit(x: ArrayView2<f64>, y: &[f64]) -> Result<LogitFit, LogitError> {
    let standardised = standardise(x);
    let z = &standardised.z;
    let k = x.ncols() + 1;
    let mut beta = Array1::<f64>::zeros(k);
    // Start at the marginal log-odds: one Newton step fewer than starting at zero.
    let share = y.iter().sum::<f64>() / y.len().max(1) as f64;
    if share > 0.0 && share < 1.0 {
        beta[0] = (share / (1.0 - share)).ln();
    }
    let mut pass = evaluate(z, y, &beta);
    let mut converged = false;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let l = cholesky(pass.information.view()).ok_or(LogitError::Singular)?;
        let step = cholesky_solve(l.view(), pass.gradient.view());
        let mut candidate = &beta + &step;
        let mut next = evaluate(z, y, &candidate);
        // Step halving keeps the deviance decreasing when a full Newton step overshoots.
        let mut halvings = 0;
        while !(next.deviance <= pass.deviance + 1e-12 * pass.deviance.abs()) && halvings < 30 {
            halvings += 1;
            candidate = &beta + &(&step * 0.5_f64.powi(halvings));
            next = evaluate(z, y, &candidate);
        }
        let change = (next.deviance - pass.deviance).abs() / (next.deviance.abs() + 0.1);
        beta = candidate;
        pass = next;
        if change < CONVERGENCE_TOLERANCE {
            converged = true;
            break;
        }
    }
    let strongest = strongest_covariate(&beta);
    let n = y.len() as f64;
    if pass.deviance < 1e-6 * n.max(1.0).sqrt() {
        return Err(LogitError::CompleteSeparation { column: strongest });
    }
    if !converged {
        return Err(LogitError::NotConverged {
            iterations,
            column: strongest,
        });
    }
    let covariance_std = inverse_spd(pass.information.view()).ok_or(LogitError::Singular)?;
    // Map standardised coefficients back: b_j = g_j / s_j, b_0 = g_0 − Σ g_j m_j / s_j.
    let mut transform = Array2::<f64>::zeros((k, k));
    transform[[0, 0]] = 1.0;
    for j in 1..k {
        let (m, s) = (standardised.mean[j - 1], standardised.scale[j - 1]);
        transform[[0, j]] = -m / s;
        transform[[j, j]] = 1.0 / s;
    }
    let coefficients = transform.dot(&beta);
    let covariance = transform.dot(&covariance_std).dot(&transform.t());
    let std_errors = covariance.diag().mapv(f64::sqrt);
    let linear_predictor: Vec<f64> = (0..z.nrows())
        .map(|i| beta[0] + (1..k).map(|j| beta[j] * z[[i, j - 1]]).sum::<f64>())
        .collect();
    let fitted: Vec<f64> = linear_predictor
        .iter()
        .map(|&e| fitted_probability(e))
        .collect();
    let n_boundary = fitted
        .iter()
        .filter(|&&p| !(BOUNDARY..=1.0 - BOUNDARY).contains(&p))
        .count();
    Ok(LogitFit {
        coefficients,
        std_errors,
        covariance,
        fitted,
        linear_predictor,
        log_likelihood: -pass.deviance / 2.0,
        iterations,
        n_boundary,
    })
}

/// Index (0-based, among covariates) of the largest standardised coefficient: the covariate most
/// involved in a separation, reported so the user knows where to look.
fn strongest_covariate(beta: &Array1<f64>) -> usize {
    (1..beta.len())
        .max_by(|&a, &b| beta[a].abs().total_cmp(&beta[b].abs()))
        .map_or(0, |j| j - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const TOL_CLOSED_FORM: f64 = 1e-9;

    #[test]
    fn saturated_binary_covariate_reproduces_cell_proportions() {
        // With one 0/1 covariate the MLE fits each cell's proportion exactly:
        // P(y=1|x=0) = 1/4, P(y=1|x=1) = 3/4.
        let x = array![[0.0], [0.0], [0.0], [0.0], [1.0], [1.0], [1.0], [1.0]];
        let y = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let fit = fit(x.view(), &y).expect("converges");
        assert!((fit.fitted[0] - 0.25).abs() < TOL_CLOSED_FORM);
        assert!((fit.fitted[4] - 0.75).abs() < TOL_CLOSED_FORM);
        // logit(3/4) − logit(1/4) = 2 ln 3
        assert!((fit.coefficients[1] - 2.0 * 3.0_f64.ln()).abs() < TOL_CLOSED_FORM);
        // SE of a log odds ratio: sqrt(1/1 + 1/3 + 1/3 + 1/1)
        let se = (1.0 + 1.0 / 3.0 + 1.0 / 3.0 + 1.0_f64).sqrt();
        assert!((fit.std_errors[1] - se).abs() < 1e-7);
    }

    #[test]
    fn complete_separation_is_an_error() {
        let x = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
        let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        assert!(matches!(
            fit(x.view(), &y),
            Err(LogitError::CompleteSeparation { column: 0 })
        ));
    }
}
