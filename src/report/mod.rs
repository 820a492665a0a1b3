//! The report: result rows, balance tables, warnings and provenance, and their formats
//! (`table`, `json`, `csv`, `markdown`). Formatting only: every number is computed upstream.
//!
//! Output files are written atomically: to a temporary file in the destination folder, then
//! renamed, so a failed or interrupted run never leaves a half-written result.

pub mod format;
pub mod plot;

use crate::data::{CrossSection, Table};
use crate::diagnostics::BalanceRow;
use crate::error::InputError;
use crate::estimators::psm::PsmFit;
use crate::estimators::{Effect, Estimand};
use crate::inference::Interval;
use crate::plan::RunPlan;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Suppressed,
}

/// One effect: the contract's columns, in the contract's order (CSV uses the same order).
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub evaluation: String,
    pub intervention: String,
    pub outcome: String,
    pub method: String,
    pub estimand: Estimand,
    pub target: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub ci_level: f64,
    pub p_value: Option<f64>,
    pub n_treated: Option<usize>,
    pub n_control: Option<usize>,
    pub inference: String,
    pub status: Status,
    pub n_discarded: Option<usize>,
    pub n_unmatched: Option<usize>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl ResultRow {
    pub fn new(
        evaluation: &str,
        intervention: &str,
        outcome: &str,
        method: &str,
        estimand: Estimand,
    ) -> ResultRow {
        ResultRow {
            evaluation: evaluation.into(),
            intervention: intervention.into(),
            outcome: outcome.into(),
            method: method.into(),
            estimand,
            target: "overall".into(),
            estimate: None,
            std_error: None,
            ci_lower: None,
            ci_upper: None,
            ci_level: 0.95,
            p_value: None,
            n_treated: None,
            n_control: None,
            inference: String::new(),
            status: Status::Ok,
            n_discarded: None,
            n_unmatched: None,
        }
    }

    pub fn fill(&mut self, effect: &Effect, interval: &Interval, ci_level: f64) {
        self.estimate = finite(effect.estimate);
        self.std_error = finite(effect.std_error);
        self.ci_lower = finite(interval.lower);
        self.ci_upper = finite(interval.upper);
        self.ci_level = ci_level;
        self.p_value = finite(interval.p_value);
        self.n_treated = Some(effect.n_treated);
        self.n_control = Some(effect.n_control);
        self.inference = effect.inference.clone();
    }

    /// Disclosure control: a row describing too few units keeps its labels but loses its numbers.
    pub fn suppress(&mut self) {
        self.status = Status::Suppressed;
        self.estimate = None;
        self.std_error = None;
        self.ci_lower = None;
        self.ci_upper = None;
        self.p_value = None;
        self.n_treated = None;
        self.n_control = None;
        self.n_discarded = None;
        self.n_unmatched = None;
    }
}

/// Balance before and after matching for one comparison, with the matching counts.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceSection {
    pub evaluation: String,
    pub intervention: String,
    pub status: Status,
    pub n_treated: Option<usize>,
    pub n_control: Option<usize>,
    pub n_treated_matched: Option<usize>,
    pub n_control_matched: Option<usize>,
    pub n_discarded: Option<usize>,
    pub n_unmatched: Option<usize>,
    pub covariates: Vec<BalanceRow>,
}

impl BalanceSection {
    pub fn new(
        evaluation: &str,
        intervention: &str,
        design: &CrossSection,
        fit: &PsmFit,
        rows: Vec<BalanceRow>,
        suppressed: bool,
    ) -> BalanceSection {
        let matched = |arm: bool| {
            fit.weights
                .weights
                .iter()
                .zip(&design.treated)
                .filter(|(w, t)| **w > 0.0 && **t == arm)
                .count()
        };
        if suppressed {
            return BalanceSection {
                evaluation: evaluation.into(),
                intervention: intervention.into(),
                status: Status::Suppressed,
                n_treated: None,
                n_control: None,
                n_treated_matched: None,
                n_control_matched: None,
                n_discarded: None,
                n_unmatched: None,
                covariates: Vec::new(),
            };
        }
        BalanceSection {
            evaluation: evaluation.into(),
            intervention: intervention.into(),
            status: Status::Ok,
            n_treated: Some(design.n_treated()),
            n_control: Some(design.n_control()),
            n_treated_matched: Some(matched(true)),
            n_control_matched: Some(matched(false)),
            n_discarded: Some(fit.n_discarded),
            n_unmatched: Some(fit.n_unmatched),
            covariates: rows,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InputHash {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub cominev_version: String,
    pub config_sha256: String,
    pub inputs: Vec<InputHash>,
    pub seed: u64,
    pub threads: usize,
    pub min_cell: usize,
    /// True when the config lowered `min-cell` below the default (10): said in every manifest.
    pub min_cell_lowered: bool,
    pub platform: String,
}

impl Provenance {
    pub fn new(plan: &RunPlan, table: &Table, threads: usize) -> Provenance {
        Provenance {
            cominev_version: env!("CARGO_PKG_VERSION").into(),
            config_sha256: plan.config_sha256.clone(),
            inputs: vec![InputHash {
                path: table
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: table.sha256.clone(),
            }],
            seed: plan.seed,
            threads,
            min_cell: plan.min_cell,
            min_cell_lowered: plan.min_cell < crate::plan::DEFAULT_MIN_CELL,
            platform: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        }
    }
}

/// Joint Wald test that all pre-treatment ATT(g,t) are zero.
#[derive(Debug, Clone, Serialize)]
pub struct PreTrendTest {
    pub evaluation: String,
    pub outcome: String,
    pub statistic: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
}

/// A synthetic control's composition and fit, for one treated unit (or cohort) and outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSection {
    pub evaluation: String,
    pub outcome: String,
    pub method: String,
    /// The treated unit (a region), or `cohort:<start>` for several treated units.
    pub treated: String,
    pub n_donors: usize,
    /// Donors with positive weight, largest first.
    pub donor_weights: Vec<NamedWeight>,
    /// Synthetic DiD's pre-period weights (positive ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_weights: Vec<NamedWeight>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predictors: Vec<PredictorBalance>,
    /// Root mean squared gap over the pre-period.
    pub pre_rmspe: f64,
    /// Every period: the treated outcome (mean over treated units) and the weighted donors'
    /// (for synthetic DiD, before its intercept: the gap is then compared with the λ-weighted
    /// pre-period gap). For plots of treated against synthetic.
    pub path: Vec<PathPoint>,
    /// Every weight solve converged (synthdid's solver stops at 10,000 steps, as the reference).
    pub converged: bool,
    /// Synthetic DiD's unit-weight regularisation ζ and noise level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zeta_omega: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_level: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathPoint {
    pub period: String,
    pub treated: f64,
    pub synthetic: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamedWeight {
    pub name: String,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PredictorBalance {
    pub predictor: String,
    /// Predictor weight (V).
    pub v: f64,
    pub treated: f64,
    pub synthetic: f64,
    pub donor_mean: f64,
}

/// Placebo in space: every donor as pseudo-treated; the permutation p-value of the treated unit's
/// post/pre RMSPE ratio.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceboSection {
    pub evaluation: String,
    pub outcome: String,
    pub treated: String,
    pub ratio: f64,
    pub rank: usize,
    pub n_compared: usize,
    pub p_value: f64,
    pub mspe_cutoff: Option<f64>,
    pub units: Vec<PlaceboUnit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaceboUnit {
    pub unit: String,
    pub pre_rmspe: f64,
    pub post_rmspe: f64,
    pub ratio: f64,
    /// False when dropped by the pre-period MSPE cutoff.
    pub included: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cominev_version: String,
    pub results: Vec<ResultRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub balance: Vec<BalanceSection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_trend_tests: Vec<PreTrendTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synthetic_controls: Vec<SynthSection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placebo_tests: Vec<PlaceboSection>,
    pub warnings: Vec<String>,
    pub provenance: Provenance,
}

impl Report {
    pub fn new(provenance: Provenance) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            cominev_version: env!("CARGO_PKG_VERSION").into(),
            results: Vec::new(),
            balance: Vec::new(),
            pre_trend_tests: Vec::new(),
            synthetic_controls: Vec::new(),
            placebo_tests: Vec::new(),
            warnings: Vec::new(),
            provenance,
        }
    }
}

/// Fails early (before any estimation) when `path` cannot be written: creates and removes a
/// probe file in the destination folder.
pub fn check_writable(path: &Path) -> Result<(), InputError> {
    let output_error = |reason: String| InputError::Output {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return Err(output_error("it is a folder".into()));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let probe =
        tempfile::NamedTempFile::new_in(&folder).map_err(|e| output_error(e.to_string()))?;
    drop(probe);
    Ok(())
}

/// Writes `contents` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), InputError> {
    let output_error = |reason: String| InputError::Output {
        path: path.to_path_buf(),
        reason,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut file =
        tempfile::NamedTempFile::new_in(&folder).map_err(|e| output_error(e.to_string()))?;
    file.write_all(contents)
        .map_err(|e| output_error(e.to_string()))?;
    file.as_file()
        .sync_all()
        .map_err(|e| output_error(e.to_string()))?;
    file.persist(path)
        .map_err(|e| output_error(e.to_string()))?;
    Ok(())
}
