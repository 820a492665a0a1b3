//! Estimator families. Each family turns design arrays into `Effect`s; `inference.rs` turns an
//! `Effect` into a confidence interval and p-value, and `report/` formats the rows.

pub mod did;
pub mod experiment;
pub mod psm;
pub mod synth;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimand {
    /// Average effect on the treated (the beneficiaries).
    Att,
    /// Average effect on the comparison group, had they been treated.
    Atc,
    /// Average effect over both groups.
    Ate,
}

impl Estimand {
    pub fn name(self) -> &'static str {
        match self {
            Estimand::Att => "att",
            Estimand::Atc => "atc",
            Estimand::Ate => "ate",
        }
    }
}

/// A point estimate with its standard error, before intervals are built.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub estimate: f64,
    pub std_error: f64,
    /// Name of the variance method, as printed in the `inference` output column.
    pub inference: String,
    /// Degrees of freedom for a t reference distribution; `None` = standard normal.
    pub degrees_of_freedom: Option<f64>,
    pub n_treated: usize,
    pub n_control: usize,
}
