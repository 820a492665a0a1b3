//! Two-way fixed-effects regressions on a balanced panel: the event study with leads and lags
//! relative to treatment (reference period −1) and the static TWFE effect.
//!
//! y_it = α_i + λ_t + Σ_e β_e 1{t − g_i = e} + u_it, estimated by the exact two-way within
//! transformation of a balanced panel (x − x̄_i − x̄_t + x̄), cluster-robust CR1 by unit (or
//! cluster) with the factor G/(G−1)·(N−1)/(N−K), K = slopes + units + periods − 1 (the absorbed
//! fixed effects counted, as `estimatr::lm_robust(fixed_effects = ~ unit + time, se_type =
//! "stata")` does; Stata's reghdfe would drop the unit effects nested in unit clusters), and
//! t(G−1) inference.
//! Validated on mpdta (`benches/peers/r_twfe_reference.R`). Under staggered adoption with
//! heterogeneous effects TWFE is biased (Goodman-Bacon 2021; Sun & Abraham 2021): it is here as
//! the familiar benchmark and for its pre-trend test, next to Callaway–Sant'Anna.

use crate::linalg::inverse_spd;
use ndarray::{Array1, Array2, ArrayView2};

#[derive(Debug, Clone)]
pub struct TwfeFit {
    pub coefficients: Vec<f64>,
    pub covariance: Array2<f64>,
    pub n_clusters: usize,
}

/// Fits the TWFE regression with `m` dummies; `dummy(g, t)` gives the dummy index switched on for
/// a unit of cohort `g` (None = never treated) in period `t`. `None` when the design is singular.
pub fn fit(
    y: ArrayView2<f64>,
    group: &[Option<usize>],
    m: usize,
    dummy: impl Fn(Option<usize>, usize) -> Option<usize> + Sync,
    clusters: Option<&[u32]>,
) -> Option<TwfeFit> {
    let (n, periods) = y.dim();
    let (nf, tf) = (n as f64, periods as f64);
    // Means of y.
    let unit_mean: Vec<f64> = (0..n).map(|i| y.row(i).sum() / tf).collect();
    let time_mean: Vec<f64> = (0..periods).map(|t| y.column(t).sum() / nf).collect();
    let grand_mean = unit_mean.iter().sum::<f64>() / nf;
    // Means of the dummies: per unit (as a function of the cohort), per period, overall.
    let mut cohorts: Vec<Option<usize>> = group.to_vec();
    cohorts.sort_unstable();
    cohorts.dedup();
    let cohort_index = |g: Option<usize>| cohorts.binary_search(&g).expect("cohort listed");
    let mut cohort_mean = vec![vec![0.0; m]; cohorts.len()];
    for (c, &g) in cohorts.iter().enumerate() {
        for t in 0..periods {
            if let Some(e) = dummy(g, t) {
                cohort_mean[c][e] += 1.0 / tf;
            }
        }
    }
    let mut cohort_size = vec![0.0; cohorts.len()];
    for &g in group {
        cohort_size[cohort_index(g)] += 1.0;
    }
    let mut time_dummy_mean = vec![vec![0.0; m]; periods];
    for (c, &g) in cohorts.iter().enumerate() {
        for (t, means) in time_dummy_mean.iter_mut().enumerate() {
            if let Some(e) = dummy(g, t) {
                means[e] += cohort_size[c] / nf;
            }
        }
    }
    let overall: Vec<f64> = (0..m)
        .map(|e| time_dummy_mean.iter().map(|v| v[e]).sum::<f64>() / tf)
        .collect();
    let demeaned_dummy = |c: usize, t: usize, g: Option<usize>, e: usize| -> f64 {
        let on = f64::from(u8::from(dummy(g, t) == Some(e)));
        on - cohort_mean[c][e] - time_dummy_mean[t][e] + overall[e]
    };
    let demeaned_y = |i: usize, t: usize| y[[i, t]] - unit_mean[i] - time_mean[t] + grand_mean;
    // Normal equations: D'MD and D'My, summing over the observations where a dummy is on.
    let mut xtx = Array2::<f64>::zeros((m, m));
    let mut xty = Array1::<f64>::zeros(m);
    for i in 0..n {
        let g = group[i];
        let c = cohort_index(g);
        for t in 0..periods {
            if let Some(e) = dummy(g, t) {
                xty[e] += demeaned_y(i, t);
                for f in 0..m {
                    xtx[[e, f]] += demeaned_dummy(c, t, g, f);
                }
            }
        }
    }
    let bread = inverse_spd(xtx.view())?;
    let beta = bread.dot(&xty);
    // Cluster scores s_c = Σ_{i∈c} Σ_t D̃_it ẽ_it.
    let mut scores: std::collections::BTreeMap<u32, Array1<f64>> = Default::default();
    for i in 0..n {
        let g = group[i];
        let c = cohort_index(g);
        let key = clusters.map_or(i as u32, |ids| ids[i]);
        let score = scores.entry(key).or_insert_with(|| Array1::zeros(m));
        for t in 0..periods {
            let d: Vec<f64> = (0..m).map(|e| demeaned_dummy(c, t, g, e)).collect();
            let residual =
                demeaned_y(i, t) - d.iter().zip(beta.iter()).map(|(a, b)| a * b).sum::<f64>();
            for e in 0..m {
                score[e] += d[e] * residual;
            }
        }
    }
    let mut meat = Array2::<f64>::zeros((m, m));
    for s in scores.values() {
        for a in 0..m {
            for b in 0..m {
                meat[[a, b]] += s[a] * s[b];
            }
        }
    }
    let g = scores.len() as f64;
    let observations = nf * tf;
    // K counts the absorbed fixed effects too (n + T − 1), as estimatr does.
    let k = (m + n + periods - 1) as f64;
    let factor = g / (g - 1.0) * (observations - 1.0) / (observations - k);
    let covariance = bread.dot(&meat).dot(&bread) * factor;
    Some(TwfeFit {
        coefficients: beta.to_vec(),
        covariance,
        n_clusters: scores.len(),
    })
}
