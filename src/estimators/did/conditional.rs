//! ATT(g,t) under conditional parallel trends for one cell, from the cell's subsample (the cohort
//! and its comparison units): doubly robust (Sant'Anna & Zhao 2020, R did's default `dr`),
//! outcome regression (`reg`, Heckman, Ichimura & Todd 1997) and normalised inverse probability
//! weighting (`ipw`, Abadie 2005), each with its influence function including the estimation of
//! the propensity score (logit) and of the outcome regression (OLS on the comparison units), as R
//! DRDID's `drdid_panel`, `reg_did_panel` and `std_ipw_did_panel` compute them. Validated against
//! moderndid 0.4.1 on mpdta with `xformla = ~lpop` (tests).

use crate::estimators::psm::logit;
use crate::ols;
use ndarray::{Array1, Array2, ArrayView2};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstMethod {
    DoublyRobust,
    Regression,
    InverseProbability,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConditionalError {
    #[error("the propensity model for cohort vs comparison units failed: {0}")]
    Propensity(String),
    #[error("the outcome regression on the comparison units is singular")]
    Regression,
}

/// `delta` = outcome change, `treated` = cohort member, `x` = covariates (no intercept), all over
/// the cell's subsample. Returns the ATT and its influence function over the subsample, scaled as
/// DRDID's (Var = mean(IF²)/n_subsample).
pub fn cell(
    delta: &[f64],
    treated: &[bool],
    x: ArrayView2<f64>,
    method: EstMethod,
) -> Result<(f64, Vec<f64>), ConditionalError> {
    let n = delta.len();
    let nf = n as f64;
    let k = x.ncols() + 1;
    let row = |i: usize| crate::linalg::with_intercept(x, i);
    let d: Vec<f64> = treated.iter().map(|&t| f64::from(u8::from(t))).collect();
    let w_treat_mean = d.iter().sum::<f64>() / nf;
    // Outcome regression on the comparison units (reg and dr).
    let regression = || -> Result<(Vec<f64>, Vec<Array1<f64>>), ConditionalError> {
        let weights: Vec<f64> = d.iter().map(|v| 1.0 - v).collect();
        let fit = ols::fit(x, delta, &weights).ok_or(ConditionalError::Regression)?;
        let fitted: Vec<f64> = (0..n).map(|i| row(i).dot(&fit.coefficients)).collect();
        // Asymptotic linear representation of the OLS coefficients: w(1−D) e X (X'WX/n)⁻¹.
        let xpx_inverse = &fit.bread * nf;
        let lin: Vec<Array1<f64>> = (0..n)
            .map(|i| {
                let scale = (1.0 - d[i]) * (delta[i] - fitted[i]);
                xpx_inverse.dot(&(row(i) * scale))
            })
            .collect();
        Ok((fitted, lin))
    };
    // Propensity score (dr and ipw), trimmed above at 1 − 1e-6 as DRDID.
    let propensity = || -> Result<(Vec<f64>, Vec<Array1<f64>>), ConditionalError> {
        let fit = logit::fit(x, &d).map_err(|e| ConditionalError::Propensity(e.to_string()))?;
        let p: Vec<f64> = fit.fitted.iter().map(|v| v.min(1.0 - 1e-6)).collect();
        let hessian: Array2<f64> = &fit.covariance * nf;
        let lin: Vec<Array1<f64>> = (0..n)
            .map(|i| hessian.dot(&(row(i) * (d[i] - fit.fitted[i]))))
            .collect();
        Ok((p, lin))
    };
    let mean_of = |v: &dyn Fn(usize) -> Array1<f64>| -> Array1<f64> {
        let mut s = Array1::zeros(k);
        for i in 0..n {
            s = s + v(i);
        }
        s / nf
    };
    match method {
        EstMethod::Regression => {
            let (fitted, ols_lin) = regression()?;
            let eta_treat = (0..n).map(|i| d[i] * delta[i]).sum::<f64>() / nf / w_treat_mean;
            let eta_cont = (0..n).map(|i| d[i] * fitted[i]).sum::<f64>() / nf / w_treat_mean;
            let m1 = mean_of(&|i| row(i) * d[i]);
            let influence = (0..n)
                .map(|i| {
                    let inf_treat = (d[i] * delta[i] - d[i] * eta_treat) / w_treat_mean;
                    let inf_cont =
                        (d[i] * fitted[i] - d[i] * eta_cont + ols_lin[i].dot(&m1)) / w_treat_mean;
                    inf_treat - inf_cont
                })
                .collect();
            Ok((eta_treat - eta_cont, influence))
        }
        EstMethod::InverseProbability => {
            let (p, ps_lin) = propensity()?;
            let w_cont: Vec<f64> = (0..n).map(|i| p[i] * (1.0 - d[i]) / (1.0 - p[i])).collect();
            let w_cont_mean = w_cont.iter().sum::<f64>() / nf;
            let eta_treat = (0..n).map(|i| d[i] * delta[i]).sum::<f64>() / nf / w_treat_mean;
            let eta_cont = (0..n).map(|i| w_cont[i] * delta[i]).sum::<f64>() / nf / w_cont_mean;
            let m2 = mean_of(&|i| row(i) * (w_cont[i] * (delta[i] - eta_cont)));
            let influence = (0..n)
                .map(|i| {
                    let inf_treat = (d[i] * delta[i] - d[i] * eta_treat) / w_treat_mean;
                    let inf_cont = (w_cont[i] * delta[i] - w_cont[i] * eta_cont
                        + ps_lin[i].dot(&m2))
                        / w_cont_mean;
                    inf_treat - inf_cont
                })
                .collect();
            Ok((eta_treat - eta_cont, influence))
        }
        EstMethod::DoublyRobust => {
            let (fitted, ols_lin) = regression()?;
            let (p, ps_lin) = propensity()?;
            let w_cont: Vec<f64> = (0..n).map(|i| p[i] * (1.0 - d[i]) / (1.0 - p[i])).collect();
            let w_cont_mean = w_cont.iter().sum::<f64>() / nf;
            let residual: Vec<f64> = (0..n).map(|i| delta[i] - fitted[i]).collect();
            let eta_treat = (0..n).map(|i| d[i] * residual[i]).sum::<f64>() / nf / w_treat_mean;
            let eta_cont = (0..n).map(|i| w_cont[i] * residual[i]).sum::<f64>() / nf / w_cont_mean;
            let m1 = mean_of(&|i| row(i) * d[i]);
            let m2 = mean_of(&|i| row(i) * (w_cont[i] * (residual[i] - eta_cont)));
            let m3 = mean_of(&|i| row(i) * w_cont[i]);
            let influence = (0..n)
                .map(|i| {
                    let inf_treat = (d[i] * residual[i] - d[i] * eta_treat - ols_lin[i].dot(&m1))
                        / w_treat_mean;
                    let inf_cont = (w_cont[i] * residual[i] - w_cont[i] * eta_cont
                        + ps_lin[i].dot(&m2)
                        - ols_lin[i].dot(&m3))
                        / w_cont_mean;
                    inf_treat - inf_cont
                })
                .collect();
            Ok((eta_treat - eta_cont, influence))
        }
    }
}
