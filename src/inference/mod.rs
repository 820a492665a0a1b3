//! Confidence intervals and p-values, built in one place from an `Effect`.
//!
//! Wald intervals: estimate ± q · SE with q the (1 + level)/2 quantile of the standard normal, or
//! of Student's t when the variance method supplies degrees of freedom. Two-sided p-value for the
//! null of no effect.

pub mod multiplier;

use crate::estimators::Effect;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
    pub p_value: f64,
}

pub fn wald(effect: &Effect, ci_level: f64) -> Interval {
    let se = effect.std_error;
    if !(se.is_finite() && se > 0.0) {
        return Interval {
            lower: f64::NAN,
            upper: f64::NAN,
            p_value: f64::NAN,
        };
    }
    let z = effect.estimate / se;
    let (quantile, p_value) = match effect.degrees_of_freedom {
        Some(df) if df > 0.0 => {
            let t = StudentsT::new(0.0, 1.0, df).expect("df > 0 and unit scale are valid");
            (t.inverse_cdf(0.5 + ci_level / 2.0), 2.0 * t.cdf(-z.abs()))
        }
        _ => {
            let normal = Normal::standard();
            (
                normal.inverse_cdf(0.5 + ci_level / 2.0),
                2.0 * normal.cdf(-z.abs()),
            )
        }
    };
    Interval {
        lower: effect.estimate - quantile * se,
        upper: effect.estimate + quantile * se,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL_QUANTILE: f64 = 1e-9;

    #[test]
    fn normal_interval_uses_1_96() {
        let effect = Effect {
            estimate: 10.0,
            std_error: 2.0,
            inference: "test".into(),
            degrees_of_freedom: None,
            n_treated: 1,
            n_control: 1,
        };
        let interval = wald(&effect, 0.95);
        assert!((interval.upper - (10.0 + 1.959963984540054 * 2.0)).abs() < TOL_QUANTILE);
        // z = 5 → p = 5.733e-7
        assert!((interval.p_value - 5.733031438470704e-7).abs() < 1e-15);
    }
}
