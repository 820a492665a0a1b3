//! Propensity-score and covariate matching.
//!
//! Stages, as in MatchIt: a propensity model (`logit`), matching that produces `UnitWeights` and
//! matched sets (`matching`), then the outcome stage (`effect`), with balance diagnostics kept
//! separate (`crate::diagnostics`).
//!
//! Estimands: ATT (default), ATC, and ATE (only with replacement: greedy matching without
//! replacement cannot reuse units to impute both potential outcomes for everyone).
//! Identification: unconfoundedness given the covariates and overlap of the propensity score.
//!
//! Conventions, and the reference each is validated against:
//! - With replacement we follow R `Matching::Match` 4.10 (Abadie & Imbens 2006): all controls tied
//!   with the k-th nearest (squared standardised distance within `TIE_TOLERANCE`) are kept, each
//!   with weight 1/(number matched); distance on one dimension is standardised by its sample SD
//!   over all units; Mahalanobis uses the covariance over all units with divisor n. Standard errors:
//!   the Abadie–Imbens analytic variance, homoskedastic (`variance-matches = 0`, Match's
//!   `Var.calc = 0`) or with conditional variances from J same-arm matches (`Var.calc = J`). Bias
//!   adjustment (Abadie & Imbens 2011) regresses the outcome on the covariates in the matched arm,
//!   weighted by how often each unit is used.
//! - Without replacement we follow MatchIt 4.7's greedy nearest neighbour (order `largest` by
//!   default, caliper in SDs of the distance), and the effect is the weighted difference in means
//!   with a CR1 cluster-robust SE by matched set — MatchIt's recommended analysis.
//! - A naive bootstrap is refused for matching with replacement (Abadie & Imbens 2008 show it is
//!   inconsistent).

pub mod ai2016;
pub mod effect;
pub mod logit;
pub mod matching;

pub use matching::{Discard, DistanceKind, MatchOrder, MatchedSets, UnitWeights};

use crate::data::CrossSection;
use crate::estimators::{Effect, Estimand};
use effect::{EffectError, Geometry};
use logit::{LogitError, LogitFit};
use matching::{Metric, Pools};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsmVariance {
    /// Abadie–Imbens (2006) analytic variance; 0 = homoskedastic, J = J same-arm matches.
    AbadieImbens { variance_matches: usize },
    /// Weighted regression on the matched sample, CR1 clustered by matched set.
    MatchedSetCluster,
    /// Abadie–Imbens (2016) correction for the estimated propensity score; `neighbours` is the
    /// size of the local sets (unit included), Stata's `nn()`.
    AbadieImbens2016 { neighbours: usize },
}

/// Validated matching parameters (built by `plan.rs` from the config's `[evaluation.psm]`).
#[derive(Debug, Clone)]
pub struct PsmParams {
    pub distance: DistanceKind,
    pub ratio: usize,
    pub replace: bool,
    /// In standard deviations of the distance.
    pub caliper: Option<f64>,
    pub exact: Vec<String>,
    pub order: MatchOrder,
    pub discard: Discard,
    pub bias_adjust: bool,
    pub variance: PsmVariance,
    /// With replacement: `Some(tolerance)` keeps every candidate whose squared standardised
    /// distance is within `tolerance` of the k-th nearest; `None` takes exactly k (MatchIt).
    pub tie_tolerance: Option<f64>,
}

/// A fitted matching design: propensity model, eligibility, matched sets and unit weights.
pub struct PsmFit {
    pub logit: LogitFit,
    pub eligible: Vec<bool>,
    /// One set of matches for ATT/ATC; treated-focal then control-focal for the ATE.
    pub sets: Vec<MatchedSets>,
    pub weights: UnitWeights,
    pub metric: Metric,
    pub n_discarded: usize,
    /// Focal units left without a match (caliper, exact strata, too few candidates).
    pub n_unmatched: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PsmError {
    #[error("propensity model: {0}")]
    Logit(#[from] LogitError),
    #[error("the Mahalanobis covariance of the covariates is singular (collinear covariates)")]
    SingularCovariance,
    #[error("no unit found a match{0}")]
    NothingMatched(String),
    #[error("ties make more than 50,000,000 matched pairs")]
    TooManyTies,
    #[error(transparent)]
    Effect(#[from] EffectError),
}

/// Fits the propensity model and matches. `seed` drives only `order = "random"`.
pub fn fit(
    design: &CrossSection,
    params: &PsmParams,
    estimand: Estimand,
    seed: u64,
) -> Result<PsmFit, PsmError> {
    let n = design.treated.len();
    let y_treat: Vec<f64> = design
        .treated
        .iter()
        .map(|&t| f64::from(u8::from(t)))
        .collect();
    let logit = logit::fit(design.x.view(), &y_treat)?;
    let mut warnings = Vec::new();
    if logit.n_boundary > 0 {
        warnings.push(format!(
            "{} units have a fitted propensity score numerically 0 or 1 (quasi-complete separation): overlap is weak",
            logit.n_boundary
        ));
    }
    let eligible = matching::eligible_after_discard(&logit.fitted, &design.treated, params.discard);
    let n_discarded = eligible.iter().filter(|e| !**e).count();
    let metric = match params.distance {
        DistanceKind::Logit => Metric::scalar(&logit.linear_predictor, &eligible),
        DistanceKind::Score => Metric::scalar(&logit.fitted, &eligible),
        DistanceKind::Mahalanobis => {
            let pooled =
                (!params.replace).then_some((design.treated.as_slice(), eligible.as_slice()));
            Metric::mahalanobis(design.x.view(), pooled).ok_or(PsmError::SingularCovariance)?
        }
    };
    let strata = design.strata.as_deref();
    let focal_of = |arm: bool| -> Vec<usize> {
        (0..n)
            .filter(|&i| eligible[i] && design.treated[i] == arm)
            .collect()
    };
    let directions: Vec<bool> = match estimand {
        Estimand::Att => vec![true],
        Estimand::Atc => vec![false],
        Estimand::Ate => vec![true, false],
    };
    let sets: Vec<MatchedSets> = directions
        .iter()
        .map(|&arm| {
            let focal = focal_of(arm);
            let pools = Pools::new(&design.treated, &eligible, strata, !arm);
            if params.replace {
                matching::match_with_replacement(
                    &metric,
                    &focal,
                    &pools,
                    params.ratio,
                    params.caliper,
                    params.tie_tolerance,
                )
                .map_err(|_| PsmError::TooManyTies)
            } else {
                let order = matching::visiting_order(&focal, &logit.fitted, params.order, seed);
                Ok(matching::match_without_replacement(
                    &metric,
                    &focal,
                    &order,
                    &pools,
                    params.ratio,
                    params.caliper,
                ))
            }
        })
        .collect::<Result<_, _>>()?;
    let n_unmatched: usize = sets
        .iter()
        .map(|s| s.matches.len() - s.n_matched_focal())
        .sum();
    if sets.iter().all(|s| s.n_matched_focal() == 0) {
        let why = if params.caliper.is_some() {
            ": the caliper is too narrow; widen it or remove it"
        } else {
            "; check the exact-matching strata and common support"
        };
        return Err(PsmError::NothingMatched(why.to_string()));
    }
    if n_unmatched > 0 {
        warnings.push(format!(
            "{n_unmatched} focal units found no match and leave the estimand"
        ));
    }
    let weights = if sets.len() == 1 {
        matching::unit_weights(&sets[0], n, !params.replace)
    } else {
        // ATE: each unit stands for itself plus every unit it imputes, 1 + K.
        let mut w: Vec<f64> = (0..n).map(|i| f64::from(u8::from(eligible[i]))).collect();
        for s in &sets {
            let (k, _) = s.usage_counts(n);
            for (wi, ki) in w.iter_mut().zip(k) {
                *wi += ki;
            }
        }
        UnitWeights {
            weights: w,
            subclass: None,
        }
    };
    Ok(PsmFit {
        logit,
        eligible,
        sets,
        weights,
        metric,
        n_discarded,
        n_unmatched,
        warnings,
    })
}

/// The effect on one outcome with its standard error, from a fitted matching design.
pub fn estimate(
    design: &CrossSection,
    fit: &PsmFit,
    y: &[f64],
    params: &PsmParams,
) -> Result<Effect, PsmError> {
    // The geometry the variance estimators rematch in, and the matched sets.
    let geometry = Geometry {
        metric: &fit.metric,
        treated: &design.treated,
        eligible: &fit.eligible,
        strata: design.strata.as_deref(),
    };
    let sets: Vec<&MatchedSets> = fit.sets.iter().collect();
    match params.variance {
        PsmVariance::AbadieImbens { variance_matches } => {
            let bias = params.bias_adjust.then(|| design.x.view());
            Ok(effect::abadie_imbens(
                y,
                &sets,
                &geometry,
                bias,
                variance_matches,
                params.tie_tolerance,
            )?)
        }
        PsmVariance::AbadieImbens2016 { neighbours } => Ok(ai2016::estimate(
            y,
            &sets,
            &geometry,
            design.x.view(),
            &fit.logit.fitted,
            &fit.logit.covariance,
            neighbours,
            params.tie_tolerance,
        )?),
        PsmVariance::MatchedSetCluster => {
            let subclass = fit
                .weights
                .subclass
                .as_ref()
                .expect("without replacement every fit has subclasses");
            let clusters: Vec<u32> = subclass.iter().map(|s| s.unwrap_or(u32::MAX)).collect();
            Ok(effect::matched_set_regression(
                y,
                &design.treated,
                &fit.weights.weights,
                &clusters,
            )?)
        }
    }
}
