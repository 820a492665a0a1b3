//! Weighted least squares with heteroskedasticity- and cluster-robust variances.
//!
//! Used by the matching outcome stage (weighted difference in means with a CR1 SE by matched set,
//! MatchIt's recommended analysis) and the Abadie–Imbens bias-adjustment regressions; the
//! difference-in-differences family reuses it. Columns are centred and scaled before the normal
//! equations are formed, so earnings in dollars next to dummies do not cost us precision.

use crate::linalg::{cholesky, cholesky_solve, inverse_spd};
use ndarray::{Array1, Array2, ArrayView2};

#[derive(Debug, Clone)]
pub struct WlsFit {
    /// Intercept first, then one coefficient per column of x.
    pub coefficients: Array1<f64>,
    pub residuals: Vec<f64>,
    /// (X'WX)⁻¹ with the intercept column, on the original scale.
    pub bread: Array2<f64>,
}

/// Fits y = b0 + x b by weighted least squares over the rows with positive weight.
/// `None` when the design is singular on those rows.
pub fn fit(x: ArrayView2<f64>, y: &[f64], w: &[f64]) -> Option<WlsFit> {
    fit_with(x, y, w, false)
}

/// As `fit`, but a collinear design gets a tiny ridge (1.49e-8 × the mean diagonal of the
/// standardised normal equations) instead of failing: R Matching's rule for its bias-adjustment
/// regressions, where only fitted differences matter and collinear dummies are common among the
/// few units used as matches.
pub fn fit_with_ridge_fallback(x: ArrayView2<f64>, y: &[f64], w: &[f64]) -> Option<WlsFit> {
    fit_with(x, y, w, true)
}

fn fit_with(x: ArrayView2<f64>, y: &[f64], w: &[f64], ridge_fallback: bool) -> Option<WlsFit> {
    let n = x.nrows();
    let p = x.ncols();
    let k = p + 1;
    let total: f64 = w.iter().filter(|v| **v > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    // Centre and scale with weighted moments for conditioning.
    let mut mean = vec![0.0; p];
    let mut scale = vec![1.0; p];
    // Columns constant on the used rows get coefficient 0 instead of making the system singular
    // (R's lm reports NA; R Matching's bias adjustment adds a ridge with the same limit).
    let mut constant = vec![false; p];
    for j in 0..p {
        mean[j] = (0..n)
            .filter(|&i| w[i] > 0.0)
            .map(|i| w[i] * x[[i, j]])
            .sum::<f64>()
            / total;
        let var = (0..n)
            .filter(|&i| w[i] > 0.0)
            .map(|i| w[i] * (x[[i, j]] - mean[j]).powi(2))
            .sum::<f64>()
            / total;
        if var > 1e-24 * mean[j].powi(2).max(1.0) {
            scale[j] = var.sqrt();
        } else {
            constant[j] = true;
        }
    }
    let row = |i: usize| -> Vec<f64> {
        let mut r = Vec::with_capacity(k);
        r.push(1.0);
        r.extend((0..p).map(|j| {
            if constant[j] {
                0.0
            } else {
                (x[[i, j]] - mean[j]) / scale[j]
            }
        }));
        r
    };
    let mut xtx = Array2::<f64>::zeros((k, k));
    let mut xty = Array1::<f64>::zeros(k);
    for i in (0..n).filter(|&i| w[i] > 0.0) {
        let r = row(i);
        for a in 0..k {
            xty[a] += w[i] * r[a] * y[i];
            for b in 0..=a {
                xtx[[a, b]] += w[i] * r[a] * r[b];
            }
        }
    }
    for a in 0..k {
        for b in 0..a {
            xtx[[b, a]] = xtx[[a, b]];
        }
    }
    for j in (0..p).filter(|&j| constant[j]) {
        xtx[[j + 1, j + 1]] = 1.0;
    }
    let l = match cholesky(xtx.view()) {
        Some(l) => l,
        None if ridge_fallback => {
            let ridge = 1.49e-8 * xtx.diag().sum() / k as f64;
            for j in 0..k {
                xtx[[j, j]] += ridge;
            }
            cholesky(xtx.view())?
        }
        None => return None,
    };
    let g = cholesky_solve(l.view(), xty.view());
    let bread_std = inverse_spd(xtx.view())?;
    // Map back to the original scale: b_j = g_j / s_j, b_0 = g_0 − Σ g_j m_j / s_j.
    let mut transform = Array2::<f64>::zeros((k, k));
    transform[[0, 0]] = 1.0;
    for j in 0..p {
        transform[[0, j + 1]] = -mean[j] / scale[j];
        transform[[j + 1, j + 1]] = 1.0 / scale[j];
    }
    let coefficients = transform.dot(&g);
    let bread = transform.dot(&bread_std).dot(&transform.t());
    let residuals = (0..n)
        .map(|i| {
            let r = row(i);
            y[i] - r.iter().zip(g.iter()).map(|(a, b)| a * b).sum::<f64>()
        })
        .collect();
    Some(WlsFit {
        coefficients,
        residuals,
        bread,
    })
}

/// CR1 cluster-robust covariance (Stata's and `sandwich::vcovCL(type = "HC1")`'s convention):
/// G/(G−1) · (N−1)/(N−K) · B (Σ_g s_g s_gᵀ) B, with s_g = Σ_{i∈g} w_i x_i e_i over rows with
/// positive weight. Returns the covariance and the number of clusters G.
pub fn cluster_robust(
    x: ArrayView2<f64>,
    fit: &WlsFit,
    w: &[f64],
    clusters: &[u32],
) -> (Array2<f64>, usize) {
    let k = x.ncols() + 1;
    let mut scores: std::collections::BTreeMap<u32, Array1<f64>> =
        std::collections::BTreeMap::new();
    let mut n_used = 0usize;
    for i in (0..x.nrows()).filter(|&i| w[i] > 0.0) {
        n_used += 1;
        let s = scores
            .entry(clusters[i])
            .or_insert_with(|| Array1::zeros(k));
        let we = w[i] * fit.residuals[i];
        s[0] += we;
        for j in 0..x.ncols() {
            s[j + 1] += we * x[[i, j]];
        }
    }
    let g = scores.len();
    let mut meat = Array2::<f64>::zeros((k, k));
    for s in scores.values() {
        for a in 0..k {
            for b in 0..k {
                meat[[a, b]] += s[a] * s[b];
            }
        }
    }
    let factor = if g > 1 && n_used > k {
        (g as f64 / (g as f64 - 1.0)) * ((n_used as f64 - 1.0) / (n_used - k) as f64)
    } else {
        f64::NAN
    };
    let covariance = fit.bread.dot(&meat).dot(&fit.bread) * factor;
    (covariance, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const TOL_CLOSED_FORM: f64 = 1e-10;

    #[test]
    fn recovers_an_exact_line() {
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let y = [1.0, 3.0, 5.0, 7.0];
        let fit = fit(x.view(), &y, &[1.0; 4]).expect("full rank");
        assert!((fit.coefficients[0] - 1.0).abs() < TOL_CLOSED_FORM);
        assert!((fit.coefficients[1] - 2.0).abs() < TOL_CLOSED_FORM);
    }

    #[test]
    fn difference_in_means_with_clustered_errors() {
        // y on a dummy: slope = difference in means. With one unit per cluster, CR1 equals HC1:
        // var = n/(n−2) · Σ_arm Σ e²/n_arm² ... checked here against the closed form.
        let x = array![[1.0], [1.0], [1.0], [0.0], [0.0], [0.0]];
        let y = [4.0, 6.0, 8.0, 1.0, 2.0, 3.0];
        let w = [1.0; 6];
        let fit = fit(x.view(), &y, &w).expect("full rank");
        assert!((fit.coefficients[1] - 4.0).abs() < TOL_CLOSED_FORM);
        let (v, g) = cluster_robust(x.view(), &fit, &w, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(g, 6);
        // HC0 var of a difference in means = Σe1²/n1² + Σe0²/n0² = 8/9 + 2/9 = 10/9;
        // CR1 with G = N = 6, K = 2: × 6/5 × 5/4 = 1.5.
        assert!((v[[1, 1]] - 10.0 / 9.0 * 1.5).abs() < TOL_CLOSED_FORM);
    }
}

/// CR2 cluster-robust covariance (Bell & McCaffrey 2002, `estimatr::lm_robust(se_type = "CR2")`)
/// for an unweighted fit, with the Bell–McCaffrey Satterthwaite degrees of freedom for
/// coefficient `coefficient` (0 = intercept). V = B Σ_g X_gᵀ A_g e_g e_gᵀ A_g X_g B with
/// A_g = (I − H_gg)^{-1/2}; df = (Σλ)²/Σλ² over the eigenvalues λ of GᵀG, computed as traces.
/// The degrees of freedom need O(G²) work: beyond `MAX_CLUSTERS_FOR_CR2_DF` clusters they are
/// G − 1 (and the second value says so).
pub fn cluster_robust_cr2(
    x: ArrayView2<f64>,
    fit: &WlsFit,
    clusters: &[u32],
    coefficient: usize,
) -> (Array2<f64>, f64, bool) {
    let n = x.nrows();
    let k = x.ncols() + 1;
    let row = |i: usize| crate::linalg::with_intercept(x, i);
    let mut members: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for i in 0..n {
        members.entry(clusters[i]).or_default().push(i);
    }
    let bread = &fit.bread;
    let mut meat = Array2::<f64>::zeros((k, k));
    // For the df: v_g = A_g X_g B c and u_g = B X_gᵀ v_g, per cluster.
    let c = bread.column(coefficient).to_owned();
    let mut v_parts: Vec<Array1<f64>> = Vec::with_capacity(members.len());
    let mut xtv: Vec<Array1<f64>> = Vec::with_capacity(members.len());
    for rows in members.values() {
        let m = rows.len();
        let xg = Array2::from_shape_fn((m, k), |(a, j)| row(rows[a])[j]);
        let h = xg.dot(bread).dot(&xg.t());
        let identity_minus_h = Array2::<f64>::eye(m) - &h;
        let a = crate::linalg::inverse_sqrt_symmetric(identity_minus_h.view());
        let e = Array1::from_iter(rows.iter().map(|&i| fit.residuals[i]));
        let score = xg.t().dot(&a.dot(&e));
        for p in 0..k {
            for q in 0..k {
                meat[[p, q]] += score[p] * score[q];
            }
        }
        let v = a.dot(&xg.dot(&c));
        xtv.push(xg.t().dot(&v));
        v_parts.push(v);
    }
    let covariance = bread.dot(&meat).dot(bread);
    let g = members.len();
    if g > MAX_CLUSTERS_FOR_CR2_DF {
        return (covariance, g as f64 - 1.0, false);
    }
    // G_g = embed(v_g) − X u_g with u_g = B X_gᵀ v_g. Then
    // G_gᵀG_h = δ_gh |v_g|² − v_gᵀ X_g u_h − v_hᵀ X_h u_g + u_gᵀ (XᵀX) u_h, and XᵀX u_h = X_hᵀ v_h.
    let u: Vec<Array1<f64>> = xtv.iter().map(|w| bread.dot(w)).collect();
    let mut gram = Array2::<f64>::zeros((g, g));
    for a in 0..g {
        for b in 0..=a {
            let mut value = u[a].dot(&xtv[b]) - xtv[a].dot(&u[b]) - xtv[b].dot(&u[a]);
            if a == b {
                value += v_parts[a].dot(&v_parts[a]);
            }
            gram[[a, b]] = value;
            gram[[b, a]] = value;
        }
    }
    let trace: f64 = gram.diag().sum();
    let trace_of_square: f64 = gram.iter().map(|v| v * v).sum();
    (covariance, trace * trace / trace_of_square, true)
}

/// Above this many clusters the CR2 degrees of freedom (O(G²)) fall back to G − 1.
pub const MAX_CLUSTERS_FOR_CR2_DF: usize = 5_000;
