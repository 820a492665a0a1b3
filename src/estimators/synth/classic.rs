//! Classic synthetic control (Abadie, Diamond & Hainmueller 2010).
//!
//! Donor weights W solve min (X₁ − X₀W)ᵀ V (X₁ − X₀W) on the simplex, exactly (`simplex`), with
//! every predictor scaled by its standard deviation over treated and donors (as R `Synth`).
//! The predictor weights V (diagonal, summing to one) are chosen by `VMethod`:
//! - `Nested` (default): minimise the pre-period outcome MSPE of the synthetic control over V,
//!   as `Synth`: V = |v|/Σ|v|, Nelder–Mead (reflection 1, contraction ½, expansion 2, initial
//!   step 10%, relative tolerance 1e-10, at most 400·k evaluations per run) from two starts —
//!   equal weights and the regression-based weights below — each restarted from its own optimum
//!   until a restart no longer improves by 1e-10 (at most 4 runs). The best of all runs wins.
//!   The V problem is not identified (many V give the same W), which is why implementations
//!   disagree on V while agreeing on W and the fit.
//! - `Regression`: v_k ∝ Σ_t β_kt², the squared slopes of regressions of each fit-period outcome
//!   on the scaled predictors over all units (Synth's second start; Stata's default V).
//! - `Equal`: v_k = 1/k.

use super::simplex::simplex_least_squares;
use ndarray::{Array2, ArrayView2};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VMethod {
    Nested,
    Equal,
    Regression,
}

#[derive(Debug, Clone)]
pub struct ScFit {
    /// Donor weights (sum to one).
    pub weights: Vec<f64>,
    /// Predictor weights (sum to one).
    pub v: Vec<f64>,
    /// Mean squared gap over the fit window.
    pub mspe: f64,
    /// Every inner solve converged (and, for `Nested`, the outer search met its tolerance).
    pub converged: bool,
    /// Inner (W) solves used.
    pub solves: usize,
}

/// `x1`: the treated unit's k predictors; `x0`: k × J donors'; `z1`, `z0`: the outcome over the
/// fit window (T × 1, T × J). Without predictors (k = 0) the fit-window outcomes are the
/// predictors with equal weights (the outcome-only synthetic control).
pub fn fit(
    x1: &[f64],
    x0: ArrayView2<f64>,
    z1: &[f64],
    z0: ArrayView2<f64>,
    method: VMethod,
) -> ScFit {
    let k = x1.len();
    if k == 0 {
        let inner = simplex_least_squares(z0, z1);
        return ScFit {
            mspe: mspe(z1, z0, &inner.weights),
            weights: inner.weights,
            v: Vec::new(),
            converged: inner.converged,
            solves: 1,
        };
    }
    let (x1s, x0s) = scale(x1, x0);
    let mut problem = Problem {
        x1: &x1s,
        x0: x0s.view(),
        z1,
        z0: z0.view(),
        solves: 0,
        all_converged: true,
    };
    let (v, search_converged) = match method {
        VMethod::Equal => (vec![1.0 / k as f64; k], true),
        VMethod::Regression => (regression_v(&x1s, x0s.view(), z1, z0), true),
        VMethod::Nested => problem.nested(),
    };
    let (weights, loss) = problem.weights_and_loss(&v);
    ScFit {
        weights,
        v: v.clone(),
        mspe: loss,
        converged: problem.all_converged && search_converged,
        solves: problem.solves,
    }
}

/// Mean squared gap of the synthetic control with weights `w`.
pub fn mspe(z1: &[f64], z0: ArrayView2<f64>, w: &[f64]) -> f64 {
    let t = z1.len();
    (0..t)
        .map(|r| {
            let synthetic: f64 = (0..w.len()).map(|j| z0[[r, j]] * w[j]).sum();
            (z1[r] - synthetic).powi(2)
        })
        .sum::<f64>()
        / t as f64
}

/// Each predictor divided by its sample SD over the treated unit and the donors.
fn scale(x1: &[f64], x0: ArrayView2<f64>) -> (Vec<f64>, Array2<f64>) {
    let (k, j) = x0.dim();
    let mut x1s = x1.to_vec();
    let mut x0s = x0.to_owned();
    for p in 0..k {
        let values: Vec<f64> = std::iter::once(x1[p])
            .chain(x0.row(p).iter().copied())
            .collect();
        let mean = values.iter().sum::<f64>() / (j + 1) as f64;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / j as f64).sqrt();
        // A constant predictor cannot discriminate; leave it unscaled rather than divide by 0.
        let sd = if sd > 0.0 { sd } else { 1.0 };
        x1s[p] /= sd;
        x0s.row_mut(p).mapv_inplace(|v| v / sd);
    }
    (x1s, x0s)
}

/// Synth's regression start: v_k ∝ Σ_t β_kt² from the OLS of each fit-period outcome on an
/// intercept and the scaled predictors, over all units.
fn regression_v(x1s: &[f64], x0s: ArrayView2<f64>, z1: &[f64], z0: ArrayView2<f64>) -> Vec<f64> {
    let (k, j) = x0s.dim();
    let units = j + 1;
    let design = Array2::from_shape_fn((units, k + 1), |(u, c)| match (u, c) {
        (_, 0) => 1.0,
        (0, c) => x1s[c - 1],
        (u, c) => x0s[[c - 1, u - 1]],
    });
    let xtx = design.t().dot(&design);
    let Some(inverse) = crate::linalg::inverse_spd(xtx.view()) else {
        return vec![1.0 / k as f64; k];
    };
    let mut v = vec![0.0; k];
    for t in 0..z1.len() {
        let y: Vec<f64> = std::iter::once(z1[t])
            .chain(z0.row(t).iter().copied())
            .collect();
        let xty = design.t().dot(&ndarray::Array1::from(y));
        let beta = inverse.dot(&xty);
        for p in 0..k {
            v[p] += beta[p + 1] * beta[p + 1];
        }
    }
    let sum: f64 = v.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        v.iter().map(|x| x / sum).collect()
    } else {
        vec![1.0 / k as f64; k]
    }
}

struct Problem<'a, 'b> {
    x1: &'a [f64],
    x0: ArrayView2<'a, f64>,
    z1: &'b [f64],
    z0: ArrayView2<'b, f64>,
    solves: usize,
    all_converged: bool,
}

impl Problem<'_, '_> {
    /// W for predictor weights `v` (any sign, any scale: |v|/Σ|v| is used) and its fit MSPE.
    fn weights_and_loss(&mut self, v: &[f64]) -> (Vec<f64>, f64) {
        let total: f64 = v.iter().map(|x| x.abs()).sum();
        let (k, j) = self.x0.dim();
        let root: Vec<f64> = v
            .iter()
            .map(|x| {
                if total > 0.0 {
                    (x.abs() / total).sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let a = Array2::from_shape_fn((k, j), |(p, d)| root[p] * self.x0[[p, d]]);
        let b: Vec<f64> = (0..k).map(|p| root[p] * self.x1[p]).collect();
        let inner = simplex_least_squares(a.view(), &b);
        self.solves += 1;
        self.all_converged &= inner.converged;
        let loss = mspe(self.z1, self.z0, &inner.weights);
        (inner.weights, loss)
    }

    fn loss(&mut self, v: &[f64]) -> f64 {
        let loss = self.weights_and_loss(v).1;
        if loss.is_finite() {
            loss
        } else {
            f64::INFINITY
        }
    }

    /// The nested search; returns V (normalised) and whether the search met its tolerance.
    fn nested(&mut self) -> (Vec<f64>, bool) {
        let k = self.x1.len();
        let starts = [
            vec![1.0 / k as f64; k],
            regression_v(self.x1, self.x0, self.z1, self.z0),
        ];
        let mut best: Option<(Vec<f64>, f64, bool)> = None;
        for start in starts {
            let mut point = start;
            let mut value = self.loss(&point);
            let mut met = false;
            for _ in 0..4 {
                let (next, next_value, converged) = self.nelder_mead(&point, 400 * k);
                let improved = value - next_value > 1e-10 * value.abs().max(1e-300);
                if next_value < value {
                    point = next;
                    value = next_value;
                }
                met = converged;
                if !improved {
                    break;
                }
            }
            if best.as_ref().is_none_or(|b| value < b.1) {
                best = Some((point, value, met));
            }
        }
        let (v, _, met) = best.expect("two starts");
        let total: f64 = v.iter().map(|x| x.abs()).sum();
        (v.iter().map(|x| x.abs() / total).collect(), met)
    }

    /// Nelder–Mead from `start`; returns the best vertex, its value and whether the relative
    /// spread of the simplex values fell below the tolerance.
    fn nelder_mead(&mut self, start: &[f64], max_evaluations: usize) -> (Vec<f64>, f64, bool) {
        const TOLERANCE: f64 = 1e-10;
        let k = start.len();
        let size = 0.1 * start.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-3);
        let mut simplex: Vec<Vec<f64>> = vec![start.to_vec()];
        for i in 0..k {
            let mut vertex = start.to_vec();
            vertex[i] += size;
            simplex.push(vertex);
        }
        let mut values: Vec<f64> = simplex.iter().map(|p| self.loss(p)).collect();
        let mut evaluations = k + 1;
        let mut converged = false;
        while evaluations < max_evaluations {
            let mut order: Vec<usize> = (0..=k).collect();
            order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            simplex = order.iter().map(|&i| simplex[i].clone()).collect();
            values = order.iter().map(|&i| values[i]).collect();
            let (low, high) = (values[0], values[k]);
            if high - low <= TOLERANCE * (low.abs() + TOLERANCE) {
                converged = true;
                break;
            }
            let centroid: Vec<f64> = (0..k)
                .map(|c| simplex[..k].iter().map(|p| p[c]).sum::<f64>() / k as f64)
                .collect();
            let towards = |t: f64, worst: &[f64]| -> Vec<f64> {
                (0..k)
                    .map(|c| centroid[c] + t * (worst[c] - centroid[c]))
                    .collect()
            };
            let reflected = towards(-1.0, &simplex[k]);
            let reflected_value = self.loss(&reflected);
            evaluations += 1;
            if reflected_value < values[0] {
                let expanded = towards(-2.0, &simplex[k]);
                let expanded_value = self.loss(&expanded);
                evaluations += 1;
                if expanded_value < reflected_value {
                    simplex[k] = expanded;
                    values[k] = expanded_value;
                } else {
                    simplex[k] = reflected;
                    values[k] = reflected_value;
                }
            } else if reflected_value < values[k - 1] {
                simplex[k] = reflected;
                values[k] = reflected_value;
            } else {
                let outside = reflected_value < values[k];
                let contracted = if outside {
                    towards(-0.5, &simplex[k])
                } else {
                    towards(0.5, &simplex[k])
                };
                let contracted_value = self.loss(&contracted);
                evaluations += 1;
                if contracted_value < values[k].min(reflected_value) {
                    simplex[k] = contracted;
                    values[k] = contracted_value;
                } else {
                    // Shrink towards the best vertex.
                    for i in 1..=k {
                        let shrunk: Vec<f64> = (0..k)
                            .map(|c| simplex[0][c] + 0.5 * (simplex[i][c] - simplex[0][c]))
                            .collect();
                        values[i] = self.loss(&shrunk);
                        simplex[i] = shrunk;
                    }
                    evaluations += k;
                }
            }
        }
        let best = (0..=k)
            .min_by(|&a, &b| values[a].total_cmp(&values[b]))
            .expect("k + 1 vertices");
        (simplex[best].clone(), values[best], converged)
    }
}
