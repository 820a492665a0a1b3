//! Difference in means for randomised experiments (the benchmark every observational estimate is
//! judged against, e.g. the NSW experiment in LaLonde 1986 and Dehejia & Wahba 1999).
//!
//! Estimand: ATE = ATT under randomisation. Standard errors: `unequal` (Neyman / Welch,
//! sqrt(s1²/n1 + s0²/n0), equal to `estimatr::difference_in_means` and HC2) by default, or `pooled`
//! (the classical equal-variance two-sample SE, the OLS SE of y on the treatment dummy), which is
//! what Dehejia & Wahba report (SE 633 on the DW sample). Degrees of freedom: Welch–Satterthwaite
//! for `unequal`, n − 2 for `pooled`.

use crate::estimators::Effect;

fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// `None` when either group has fewer than two units.
pub fn difference_in_means(y: &[f64], treated: &[bool], pooled: bool) -> Option<Effect> {
    let (t, c): (Vec<(f64, bool)>, Vec<(f64, bool)>) = y
        .iter()
        .copied()
        .zip(treated.iter().copied())
        .partition(|(_, d)| *d);
    let t: Vec<f64> = t.into_iter().map(|(v, _)| v).collect();
    let c: Vec<f64> = c.into_iter().map(|(v, _)| v).collect();
    if t.len() < 2 || c.len() < 2 {
        return None;
    }
    let (n1, n0) = (t.len() as f64, c.len() as f64);
    let (m1, v1) = mean_var(&t);
    let (m0, v0) = mean_var(&c);
    let (std_error, df, inference) = if pooled {
        let s2 = ((n1 - 1.0) * v1 + (n0 - 1.0) * v0) / (n1 + n0 - 2.0);
        (
            (s2 * (1.0 / n1 + 1.0 / n0)).sqrt(),
            n1 + n0 - 2.0,
            "pooled-variance two-sample",
        )
    } else {
        let (a, b) = (v1 / n1, v0 / n0);
        let df = (a + b).powi(2) / (a * a / (n1 - 1.0) + b * b / (n0 - 1.0));
        ((a + b).sqrt(), df, "unequal-variance (Neyman/Welch)")
    };
    Some(Effect {
        estimate: m1 - m0,
        std_error,
        inference: inference.to_string(),
        degrees_of_freedom: Some(df),
        n_treated: t.len(),
        n_control: c.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL_CLOSED_FORM: f64 = 1e-12;

    #[test]
    fn pooled_and_unequal_standard_errors() {
        let y = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 8.0];
        let d = [false, false, false, true, true, true, true];
        let unequal = difference_in_means(&y, &d, false).expect("two groups");
        assert!((unequal.estimate - 3.0).abs() < TOL_CLOSED_FORM);
        // s1² = 20/3 over 4, s0² = 1 over 3
        assert!(
            (unequal.std_error - (20.0 / 3.0 / 4.0 + 1.0 / 3.0_f64).sqrt()).abs() < TOL_CLOSED_FORM
        );
        let pooled = difference_in_means(&y, &d, true).expect("two groups");
        let s2 = (20.0 + 2.0) / 5.0;
        assert!((pooled.std_error - (s2 * (0.25 + 1.0 / 3.0_f64)).sqrt()).abs() < TOL_CLOSED_FORM);
    }
}
