//! Raw configuration as written in the TOML file: no defaults applied, no cross-checks.
//! `plan.rs` turns this (plus command-line flags) into a validated `RunPlan`.
//!
//! Unknown keys are errors (`deny_unknown_fields`): a typo that silently fell back to a default
//! would change the statistics without anyone noticing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    pub seed: Option<u64>,
    pub ci_level: Option<f64>,
    /// Smallest group size a published result may describe (output disclosure control).
    pub min_cell: Option<usize>,
    pub data: Option<DataSection>,
    #[serde(default)]
    pub evaluation: Vec<EvaluationSection>,
    #[serde(default)]
    pub expect: Vec<ExpectSection>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DataSection {
    pub path: Option<String>,
    pub unit: Option<String>,
    pub time: Option<String>,
    pub treatment: Option<String>,
    pub first_treated: Option<String>,
    pub intervention: Option<String>,
    pub cluster: Option<String>,
    /// "drop" (default) or "error".
    pub missing: Option<String>,
    /// CSV field delimiter, one character (default ",").
    pub delimiter: Option<String>,
    /// Columns to one-hot encode even when stored as numbers.
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Columns allowed to hold direct identifiers (never printed); others that look like
    /// codici fiscali, e-mails, phone numbers, IBANs or names stop the run.
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// Reference level per categorical column (default: the first level in sorted order).
    #[serde(default)]
    pub reference_levels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EvaluationSection {
    pub name: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    pub outcomes: Vec<String>,
    #[serde(default)]
    pub covariates: Vec<String>,
    pub estimand: Option<String>,
    pub psm: Option<PsmSection>,
    /// Options of `method = "difference-in-means"`.
    pub difference_in_means: Option<DifferenceInMeansSection>,
    pub did: Option<DidSection>,
    pub sc: Option<ScSection>,
    pub sdid: Option<SdidSection>,
}

/// A period in a config: an integer year (`1989`) or a label (`"2025Q3"`, `"2025-07-01"`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Period {
    Integer(i64),
    Label(String),
}

impl Period {
    pub fn label(&self) -> String {
        match self {
            Period::Integer(v) => v.to_string(),
            Period::Label(v) => v.clone(),
        }
    }
}

/// Who is treated and when, for extracts without a treatment column (synthetic control).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScSection {
    /// Treated units by label (the unit column's values), e.g. `["Calabria"]`.
    #[serde(default)]
    pub treated_units: Vec<String>,
    /// First treated period of `treated-units`.
    pub treatment_start: Option<Period>,
    /// Donor pool: only these units (default: every never-treated unit).
    #[serde(default)]
    pub donors: Vec<String>,
    /// Units to leave out of the donor pool.
    #[serde(default)]
    pub exclude_donors: Vec<String>,
    /// Predictor weights: "nested" (default), "regression" or "equal".
    pub v: Option<String>,
    /// First and last period of the pre-period outcome fit (default: every pre-period).
    pub fit_from: Option<Period>,
    pub fit_to: Option<Period>,
    /// Predictors beyond `covariates` (which are averaged over the pre-period): a variable
    /// averaged over a window, e.g. the outcome in one year (Synth's special predictors).
    #[serde(default)]
    pub predictors: Vec<PredictorSection>,
    /// Placebo in space: every donor as pseudo-treated (default true).
    pub placebo: Option<bool>,
    /// Leave placebos out of the permutation test whose pre-period MSPE exceeds this multiple of
    /// the treated unit's (ADH use 5, 10, 20).
    pub placebo_mspe_cutoff: Option<f64>,
    /// Placebo in time: pretend treatment started at these periods.
    #[serde(default)]
    pub placebo_times: Vec<Period>,
    /// Refit without each donor that has positive weight (default true).
    pub leave_one_out: Option<bool>,
    /// Conformal confidence intervals (default true).
    pub conformal: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PredictorSection {
    pub variable: String,
    /// Window of periods averaged (both ends included; default: the whole pre-period).
    pub from: Option<Period>,
    pub to: Option<Period>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SdidSection {
    #[serde(default)]
    pub treated_units: Vec<String>,
    pub treatment_start: Option<Period>,
    /// "sdid" (default), "sc" (outcome-only synthetic control) or "did" (uniform weights).
    pub estimator: Option<String>,
    /// "placebo" (default), "jackknife" or "bootstrap".
    pub variance: Option<String>,
    /// Placebo or bootstrap replications (default 200).
    pub replications: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PsmSection {
    /// "logit" (default), "score" or "mahalanobis".
    pub distance: Option<String>,
    pub ratio: Option<usize>,
    pub replace: Option<bool>,
    pub caliper: Option<f64>,
    #[serde(default)]
    pub exact: Vec<String>,
    pub order: Option<String>,
    pub discard: Option<String>,
    pub bias_adjust: Option<bool>,
    /// With replacement: keep all candidates tied with the k-th nearest (default) or exactly k.
    pub ties: Option<bool>,
    /// Squared standardised distance within which candidates tie with the k-th nearest (default
    /// 0: exact ties; R Matching's is 1e-5).
    pub tie_tolerance: Option<f64>,
    /// "auto" (default), "abadie-imbens", "abadie-imbens-2016", "cluster-matched-set", "bootstrap".
    pub se: Option<String>,
    /// Matches used to estimate conditional variances in the Abadie–Imbens SE; 0 = homoskedastic.
    pub variance_matches: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DidSection {
    /// "att-gt" (Callaway & Sant'Anna group-time effects; default).
    pub estimator: Option<String>,
    /// Comparison units: "never" (never treated; default) or "not-yet" (not yet treated).
    pub control: Option<String>,
    /// "varying" (default) or "universal".
    pub base_period: Option<String>,
    /// Periods before treatment in which units may already react.
    pub anticipation: Option<usize>,
    /// With covariates: "dr" (doubly robust; default), "reg" or "ipw".
    pub est_method: Option<String>,
    /// 2x2 standard errors: "cr1" (Stata; default) or "cr2" (Bell-McCaffrey).
    pub se: Option<String>,
    /// Multiplier-bootstrap draws for ATT(g,t) inference (0 or absent: analytic SEs).
    pub bootstrap: Option<usize>,
    /// "uniform" (default with the bootstrap) or "pointwise" intervals for ATT(g,t) and event time.
    pub bands: Option<String>,
    /// Matched DiD: name of a `psm` evaluation whose matching weights (estimated on the earliest
    /// period's rows) weight this 2x2 regression.
    pub weights_from: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DifferenceInMeansSection {
    /// "unequal" (default, Neyman/Welch) or "pooled" (classical equal-variance).
    pub se: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExpectSection {
    pub evaluation: String,
    pub outcome: String,
    pub intervention: Option<String>,
    pub target: Option<String>,
    /// Result field to check: "estimate" (default), "std-error", "p-value", "ci-lower",
    /// "ci-upper", "n-treated", "n-control", or `"weight:<donor>"` (a synthetic control's weight).
    pub field: Option<String>,
    pub value: Option<f64>,
    /// Shorthand for `field = "estimate"`, `value = ...`.
    pub estimate: Option<f64>,
    pub tolerance: Option<f64>,
    pub relative_tolerance: Option<f64>,
    /// Where the expected value comes from (paper, table, tool and version).
    pub source: Option<String>,
}

/// The fully commented default configuration printed by `cominev config init`.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_parses() {
        let parsed: ConfigFile = toml::from_str(DEFAULT_CONFIG).expect("default config is valid");
        assert_eq!(parsed.evaluation.len(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = "[data]\npath = \"x.csv\"\ntreatmnt = \"d\"\n";
        let error = toml::from_str::<ConfigFile>(text).unwrap_err().to_string();
        assert!(error.contains("treatmnt"), "{error}");
    }
}
