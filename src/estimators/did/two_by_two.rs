//! The canonical 2×2 difference-in-differences by regression:
//! y = b0 + b1·D + b2·post + b3·D·post (+ covariates) + e, effect = b3.
//!
//! Works on panels and repeated cross-sections (rows need not repeat units). Standard errors are
//! cluster-robust by the cluster column (default: the unit), CR1 with Stata's small-sample factor
//! G/(G−1)·(N−1)/(N−K) and t(G−1) reference (`estimatr::lm_robust(se_type = "stata")`), or CR2
//! (Bell–McCaffrey) with Satterthwaite degrees of freedom (`se_type = "CR2"`); without clusters
//! each row is its own cluster (HC1).

use crate::estimators::Effect;
use crate::ols;
use ndarray::{Array2, ArrayView2};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TwoByTwoError {
    #[error(
        "the regression is singular: a covariate is collinear with the treatment, period or each other"
    )]
    Singular,
    #[error("fewer than two clusters")]
    TooFewClusters,
}

/// `group` = 1 for the treated group, `post` = 1 for the later period; `x` are covariates.
pub fn estimate(
    y: &[f64],
    group: &[bool],
    post: &[bool],
    x: ArrayView2<f64>,
    clusters: &[u32],
    cr2: bool,
    weights: Option<&[f64]>,
) -> Result<Effect, TwoByTwoError> {
    let n = y.len();
    let p = x.ncols();
    let design = Array2::from_shape_fn((n, 3 + p), |(i, j)| match j {
        0 => f64::from(u8::from(group[i])),
        1 => f64::from(u8::from(post[i])),
        2 => f64::from(u8::from(group[i] && post[i])),
        _ => x[[i, j - 3]],
    });
    let weights: Vec<f64> = weights.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
    let fit = ols::fit(design.view(), y, &weights).ok_or(TwoByTwoError::Singular)?;
    let (covariance, g) = ols::cluster_robust(design.view(), &fit, &weights, clusters);
    if g < 2 {
        return Err(TwoByTwoError::TooFewClusters);
    }
    let (covariance, df, inference) = if cr2 {
        let (v, df, exact_df) = ols::cluster_robust_cr2(design.view(), &fit, clusters, 3);
        let label = if exact_df {
            "cluster-robust CR2 (Bell-McCaffrey), Satterthwaite df"
        } else {
            "cluster-robust CR2 (Bell-McCaffrey), t(G-1): too many clusters for the Satterthwaite df"
        };
        (v, df, label)
    } else {
        (
            covariance,
            g as f64 - 1.0,
            "cluster-robust CR1 (Stata), t(G-1)",
        )
    };
    // Coefficient 3 (after the intercept): the interaction.
    let n_treated = (0..n).filter(|&i| group[i] && weights[i] > 0.0).count();
    let n_used = weights.iter().filter(|w| **w > 0.0).count();
    Ok(Effect {
        estimate: fit.coefficients[3],
        std_error: covariance[[3, 3]].sqrt(),
        inference: inference.into(),
        degrees_of_freedom: Some(df),
        n_treated,
        n_control: n_used - n_treated,
    })
}
