//! Synthetic control family: one weighted double-difference core; the estimators differ only in
//! how the unit weights ω and the time weights λ are chosen.
//!
//! - `sdid`: synthetic DiD (regularised ω with intercept, λ), outcome-only synthetic control
//!   (ω, λ = 0) and DiD (uniform ω and λ), with R `synthdid`'s conventions;
//! - `classic`: Abadie–Diamond–Hainmueller synthetic control, ω fitted on predictors with
//!   predictor weights V chosen by the nested pre-period fit, λ = 0;
//! - `conformal`: Chernozhukov–Wüthrich–Zhu (2021) permutation intervals for either.

pub mod classic;
pub mod conformal;
pub mod fw;
pub mod sdid;
pub mod simplex;

use ndarray::ArrayView2;

/// τ = [−ω; 1/N1]ᵀ Y [−λ; 1/T1]: the treated-minus-weighted-controls difference between the
/// post-period mean and the λ-weighted pre-period mean. Rows: N0 controls then the treated.
pub fn double_difference(
    y: ArrayView2<f64>,
    omega: &[f64],
    lambda: &[f64],
    n0: usize,
    t0: usize,
) -> f64 {
    let curve = effect_curve(y, omega, lambda, n0, t0);
    curve.iter().sum::<f64>() / curve.len() as f64
}

/// The gap between the treated mean and the synthetic control in every period.
pub fn gaps(y: ArrayView2<f64>, omega: &[f64], n0: usize) -> Vec<f64> {
    let (n, t) = y.dim();
    let n1 = (n - n0) as f64;
    (0..t)
        .map(|p| {
            let treated: f64 = (n0..n).map(|i| y[[i, p]]).sum::<f64>() / n1;
            let synthetic: f64 = (0..n0).map(|i| omega[i] * y[[i, p]]).sum();
            treated - synthetic
        })
        .collect()
}

/// Effect in each post period: that period's gap minus the λ-weighted pre-period gap.
pub fn effect_curve(
    y: ArrayView2<f64>,
    omega: &[f64],
    lambda: &[f64],
    n0: usize,
    t0: usize,
) -> Vec<f64> {
    let g = gaps(y, omega, n0);
    let baseline: f64 = lambda.iter().zip(&g[..t0]).map(|(l, v)| l * v).sum();
    g[t0..].iter().map(|v| v - baseline).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn uniform_weights_give_the_two_by_two_difference_in_differences() {
        // Controls: rows 0-1; treated: row 2. Periods 0-1 pre, 2-3 post.
        let y = array![
            [1.0, 2.0, 3.0, 4.0],
            [3.0, 2.0, 5.0, 6.0],
            [2.0, 2.0, 9.0, 11.0]
        ];
        let did = double_difference(y.view(), &[0.5, 0.5], &[0.5, 0.5], 2, 2);
        // Treated: post mean 10, pre mean 2 → 8. Controls: post mean 4.5, pre mean 2 → 2.5.
        assert!((did - 5.5).abs() < 1e-12, "{did}");
    }
}
