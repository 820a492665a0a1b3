//! The synthetic-control pipeline: panel → treated units and donor pool → weights → effects,
//! inference (placebos, conformal intervals, SDID standard errors) → rows and report sections.
//!
//! Units here are aggregates (regions, provinces): their labels are printed with their weights,
//! because which regions make up the synthetic control is the result. The min-cell rule applies
//! to the people inside each aggregate, which the tool does not see; a warning says so.

use super::{derive_seed, panel_spec};
use crate::data::MissingPolicy;
use crate::data::Table;
use crate::data::panel::{Panel, prepare_panel, time_key};
use crate::error::InputError;
use crate::estimators::Effect;
use crate::estimators::synth::classic::{self, ScFit};
use crate::estimators::synth::conformal::Conformal;
use crate::estimators::synth::gaps;
use crate::estimators::synth::sdid::{self, SdidKind};
use crate::inference;
use crate::plan::{ClassicScPlan, EvaluationPlan, RunPlan, SynthEstimator, SynthPlan};
use crate::report::{
    NamedWeight, PathPoint, PlaceboSection, PlaceboUnit, PredictorBalance, ResultRow, SynthSection,
};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use std::collections::BTreeMap;

pub(super) struct SynthOutput {
    pub rows: Vec<ResultRow>,
    pub sections: Vec<SynthSection>,
    pub placebos: Vec<PlaceboSection>,
    pub warnings: Vec<String>,
}

/// Donor weights at or below this are reported as zero (interior-point solutions carry 1e-9s).
const WEIGHT_FLOOR: f64 = 1e-6;

pub(super) fn run_synth(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    synth: &SynthPlan,
    table: &Table,
) -> Result<SynthOutput, InputError> {
    let spec = synth_panel_spec(plan, evaluation, synth);
    let (panel, mut warnings) = prepare_panel(table, &spec)?;
    let design_error =
        |problem: String, hint: &str| InputError::design(&evaluation.name, "", problem, hint);
    let treated: Vec<usize> = (0..panel.n_units())
        .filter(|&u| panel.group[u].is_some())
        .collect();
    if treated.is_empty() {
        return Err(design_error(
            "no unit is treated within the panel's periods".into(),
            "check `treated-units` / `treatment-start` (or the treatment column) against the data",
        ));
    }
    let donors = donor_pool(&panel, synth, &evaluation.name)?;
    if donors.len() < 2 {
        return Err(design_error(
            format!(
                "{} donor unit(s): a synthetic control needs at least two",
                donors.len()
            ),
            "widen the donor pool (`donors`, `exclude-donors`) or add never-treated units",
        ));
    }
    warnings.push(format!(
        "evaluation `{}`: synthetic-control units are treated as aggregates (regions); the min-cell rule is not applied to unit counts — make sure every aggregate covers at least {} people",
        evaluation.name, plan.min_cell
    ));
    let mut output = SynthOutput {
        rows: Vec::new(),
        sections: Vec::new(),
        placebos: Vec::new(),
        warnings,
    };
    match &synth.estimator {
        SynthEstimator::Classic(classic) => {
            for (o, outcome) in evaluation.outcomes.iter().enumerate() {
                run_classic(
                    plan,
                    evaluation,
                    classic,
                    &panel,
                    panel.outcomes[o].view(),
                    outcome,
                    &treated,
                    &donors,
                    &mut output,
                )?;
            }
        }
        SynthEstimator::Sdid {
            kind,
            variance,
            replications,
        } => {
            for (o, outcome) in evaluation.outcomes.iter().enumerate() {
                run_sdid(
                    plan,
                    evaluation,
                    (*kind, *variance, *replications),
                    &panel,
                    panel.outcomes[o].view(),
                    outcome,
                    &treated,
                    &donors,
                    &mut output,
                )?;
            }
        }
    }
    Ok(output)
}

/// The panel roles of a synthetic-control evaluation (also used by `validate`).
pub fn synth_panel_spec(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    synth: &SynthPlan,
) -> crate::data::panel::PanelSpec {
    let mut spec = panel_spec(plan, evaluation);
    spec.covariates = Vec::new();
    spec.unit_labels = true;
    // A donor without an outcome in some period cannot be part of a synthetic control; say
    // which row and period rather than drop it silently.
    spec.missing = MissingPolicy::Error;
    if let (false, Some(start)) = (synth.treated_units.is_empty(), &synth.treatment_start) {
        spec.treated_units = Some((synth.treated_units.clone(), start.clone()));
        spec.first_treated = None;
        spec.treatment = None;
    }
    if let SynthEstimator::Classic(classic) = &synth.estimator {
        spec.series = series_variables(classic);
    }
    spec
}

/// The predictor variables read as series, each once, in order of first mention (the order of
/// `Panel::series`).
fn series_variables(settings: &ClassicScPlan) -> Vec<String> {
    let mut variables: Vec<String> = Vec::new();
    for (variable, _, _) in &settings.predictors {
        if !variables.contains(variable) {
            variables.push(variable.clone());
        }
    }
    variables
}

/// Never-treated units, restricted by `donors` / `exclude-donors` (every name must exist).
fn donor_pool(panel: &Panel, synth: &SynthPlan, name: &str) -> Result<Vec<usize>, InputError> {
    let (include, exclude): (&[String], &[String]) = match &synth.estimator {
        SynthEstimator::Classic(c) => (&c.donors, &c.exclude_donors),
        SynthEstimator::Sdid { .. } => (&[], &[]),
    };
    for label in include.iter().chain(exclude) {
        if !panel.unit_labels.contains(label) {
            return Err(InputError::design(
                name,
                "",
                format!("donor `{label}` is not a unit of the panel"),
                "check the spelling in `donors` / `exclude-donors` against the unit column",
            ));
        }
    }
    Ok((0..panel.n_units())
        .filter(|&u| panel.group[u].is_none())
        .filter(|&u| include.is_empty() || include.contains(&panel.unit_labels[u]))
        .filter(|&u| !exclude.contains(&panel.unit_labels[u]))
        .collect())
}

fn period_index(panel: &Panel, label: &str) -> Option<usize> {
    panel.periods.iter().position(|p| p == label).or_else(|| {
        let key = time_key(label)?;
        panel.periods.iter().position(|p| time_key(p) == Some(key))
    })
}

/// One classic fit's inputs: which unit is treated, from which period, against which donors.
struct ClassicJob<'a> {
    treated: usize,
    start: usize,
    donors: &'a [usize],
}

struct ClassicResult {
    fit: ScFit,
    /// Treated minus synthetic, every period.
    gaps: Vec<f64>,
    /// Predictor values: (label, treated, synthetic, donor mean).
    predictors: Vec<(String, f64, f64, f64)>,
}

impl ClassicResult {
    fn pre_mspe(&self, start: usize) -> f64 {
        self.gaps[..start].iter().map(|g| g * g).sum::<f64>() / start as f64
    }
    fn post_mspe(&self, start: usize) -> f64 {
        let post = &self.gaps[start..];
        post.iter().map(|g| g * g).sum::<f64>() / post.len() as f64
    }
    fn average_effect(&self, start: usize, end: usize) -> f64 {
        self.gaps[start..end].iter().sum::<f64>() / (end - start) as f64
    }
}

/// Fits one classic synthetic control; every window is checked against `start`.
fn fit_classic(
    settings: &ClassicScPlan,
    panel: &Panel,
    y: ArrayView2<f64>,
    job: &ClassicJob,
    name: &str,
) -> Result<ClassicResult, InputError> {
    let error = |problem: String, hint: &str| InputError::design(name, "", problem, hint);
    let start = job.start;
    let resolve =
        |label: &Option<String>, default: usize, what: &str| -> Result<usize, InputError> {
            match label {
                None => Ok(default),
                Some(l) => period_index(panel, l).ok_or_else(|| {
                    error(
                        format!("{what} `{l}` is not a period of the panel"),
                        "use one of the time column's periods",
                    )
                }),
            }
        };
    let fit_from = resolve(&settings.fit_from, 0, "fit-from")?;
    let fit_to = resolve(&settings.fit_to, start.saturating_sub(1), "fit-to")?;
    if fit_to >= start || fit_from > fit_to {
        return Err(error(
            format!(
                "the fit window {}–{} is not inside the pre-treatment periods (treatment starts {})",
                panel.periods[fit_from],
                panel.periods[fit_to.min(panel.periods.len() - 1)],
                panel.periods[start]
            ),
            "set `fit-from` / `fit-to` to periods before the treatment start",
        ));
    }
    if start < 2 {
        return Err(error(
            format!(
                "{start} pre-treatment period(s) before {}: too few to fit a synthetic control",
                panel.periods[start]
            ),
            "extend the panel backwards (synthetic control needs a long pre-period)",
        ));
    }
    let fit_periods: Vec<usize> = (fit_from..=fit_to).collect();
    let j = job.donors.len();
    let mut x1 = Vec::new();
    let mut x0_rows: Vec<Vec<f64>> = Vec::new();
    let mut labels = Vec::new();
    for (variable, from, to) in &settings.predictors {
        let first = resolve(from, 0, "predictor window start")?;
        let last = resolve(to, start.saturating_sub(1), "predictor window end")?;
        if last >= start || first > last {
            return Err(error(
                format!(
                    "predictor `{variable}`: window {}–{} is outside the pre-treatment periods (treatment starts {})",
                    panel.periods[first], panel.periods[last], panel.periods[start]
                ),
                "predictors must be measured before the treatment starts",
            ));
        }
        let series = &panel.series[series_variables(settings)
            .iter()
            .position(|v| v == variable)
            .expect("every predictor variable is a series")];
        let average = |unit: usize| -> Result<f64, InputError> {
            let values: Vec<f64> = (first..=last)
                .map(|p| series[[unit, p]])
                .filter(|v| v.is_finite())
                .collect();
            if values.is_empty() {
                return Err(error(
                    format!(
                        "predictor `{variable}` has no value for unit `{}` in {}–{}",
                        panel.unit_labels[unit], panel.periods[first], panel.periods[last]
                    ),
                    "choose a window where every unit has data, or drop the predictor",
                ));
            }
            Ok(values.iter().sum::<f64>() / values.len() as f64)
        };
        x1.push(average(job.treated)?);
        x0_rows.push(
            job.donors
                .iter()
                .map(|&d| average(d))
                .collect::<Result<_, _>>()?,
        );
        labels.push(if first == last {
            format!("{variable} ({})", panel.periods[first])
        } else {
            format!(
                "{variable} ({}–{})",
                panel.periods[first], panel.periods[last]
            )
        });
    }
    let k = x1.len();
    let x0 = Array2::from_shape_fn((k, j), |(p, d)| x0_rows[p][d]);
    let z1: Vec<f64> = fit_periods.iter().map(|&t| y[[job.treated, t]]).collect();
    let z0 = Array2::from_shape_fn((fit_periods.len(), j), |(r, d)| {
        y[[job.donors[d], fit_periods[r]]]
    });
    let fit = classic::fit(&x1, x0.view(), &z1, z0.view(), settings.v);
    let matrix = panel_rows(y, job.donors, job.treated);
    let gaps = gaps(matrix.view(), &fit.weights, j);
    let predictors = (0..k)
        .map(|p| {
            let synthetic: f64 = (0..j).map(|d| fit.weights[d] * x0[[p, d]]).sum();
            let mean = x0.row(p).sum() / j as f64;
            (labels[p].clone(), x1[p], synthetic, mean)
        })
        .collect();
    Ok(ClassicResult {
        fit,
        gaps,
        predictors,
    })
}

/// Treated (mean) and synthetic (ω-weighted donors) outcome in every period; rows of `matrix`:
/// `n0` donors, then the treated units.
fn path(panel: &Panel, matrix: ArrayView2<f64>, omega: &[f64], n0: usize) -> Vec<PathPoint> {
    let gaps = gaps(matrix, omega, n0);
    let n1 = (matrix.nrows() - n0) as f64;
    (0..panel.periods.len())
        .map(|t| {
            let treated = (n0..matrix.nrows()).map(|i| matrix[[i, t]]).sum::<f64>() / n1;
            PathPoint {
                period: panel.periods[t].clone(),
                treated,
                synthetic: treated - gaps[t],
            }
        })
        .collect()
}

/// Donors with a weight above `floor`, by label, largest first.
fn named_weights(panel: &Panel, donors: &[usize], weights: &[f64], floor: f64) -> Vec<NamedWeight> {
    let mut named: Vec<NamedWeight> = donors
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > floor)
        .map(|(&d, &w)| NamedWeight {
            name: panel.unit_labels[d].clone(),
            weight: w,
        })
        .collect();
    named.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    named
}

/// Rows `donors` then `treated` of the units × periods matrix.
fn panel_rows(y: ArrayView2<f64>, donors: &[usize], treated: usize) -> Array2<f64> {
    let mut rows = donors.to_vec();
    rows.push(treated);
    y.select(Axis(0), &rows)
}

#[allow(clippy::too_many_arguments)]
fn run_classic(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    settings: &ClassicScPlan,
    panel: &Panel,
    y: ArrayView2<f64>,
    outcome: &str,
    treated: &[usize],
    donors: &[usize],
    output: &mut SynthOutput,
) -> Result<(), InputError> {
    let name = &evaluation.name;
    let alpha = 1.0 - plan.ci_level;
    let several = treated.len() > 1;
    let mut unit_effects = Vec::new();
    for &unit in treated {
        let start = panel.group[unit].expect("treated");
        let label = panel.unit_labels[unit].clone();
        let job = ClassicJob {
            treated: unit,
            start,
            donors,
        };
        let main = fit_classic(settings, panel, y, &job, name)?;
        if !main.fit.converged {
            output.warnings.push(format!(
                "evaluation `{name}`, outcome `{outcome}`, unit `{label}`: the weight optimisation did not meet its tolerance; the weights are the best found"
            ));
        }
        let periods = panel.periods.len();
        let estimate = main.average_effect(start, periods);
        unit_effects.push(estimate);
        let target = |t: &str| {
            if several {
                format!("unit:{label}:{t}")
            } else {
                t.to_string()
            }
        };
        let new_row = |target: String| {
            let mut row = ResultRow::new(name, "", outcome, "sc", evaluation.estimand);
            row.target = target;
            row.ci_level = plan.ci_level;
            row.n_treated = Some(1);
            row.n_control = Some(donors.len());
            row
        };
        // Conformal intervals, on the outcome-only fit over all donors.
        let donor_matrix =
            Array2::from_shape_fn((periods, donors.len()), |(t, d)| y[[donors[d], t]]);
        let y1: Vec<f64> = (0..periods).map(|t| y[[unit, t]]).collect();
        let conformal = Conformal {
            y1: &y1,
            y0: donor_matrix.view(),
            t0: start,
        };
        let scale = main.pre_mspe(start).sqrt();
        if settings.conformal && 1.0 / (start as f64 + 1.0) > alpha {
            return Err(InputError::design(
                name,
                "",
                format!(
                    "{start} pre-treatment periods are too few for {:.0}% conformal intervals (the smallest attainable p-value is 1/{})",
                    100.0 * plan.ci_level,
                    start + 1
                ),
                &format!(
                    "use at least {} pre-treatment periods, lower `ci-level`, or set `conformal = false` in [evaluation.sc]",
                    (1.0 / alpha).ceil() as usize - 1
                ),
            ));
        }
        if settings.placebo && 1.0 / (donors.len() as f64 + 1.0) > alpha {
            output.warnings.push(format!(
                "evaluation `{name}`, outcome `{outcome}`: with {} donors the placebo p-value cannot fall below {:.3}",
                donors.len(),
                1.0 / (donors.len() as f64 + 1.0)
            ));
        }
        // Placebo in space.
        let placebo = if settings.placebo {
            Some(placebo_in_space(settings, panel, y, &job, &main, name)?)
        } else {
            None
        };
        let mut overall = new_row(target("overall"));
        overall.estimate = Some(estimate);
        let mut inference_parts = Vec::new();
        if settings.conformal {
            let interval = conformal.interval(|th| conformal.p_average(th), estimate, scale, alpha);
            overall.ci_lower = Some(interval.lower).filter(|v| !v.is_nan());
            overall.ci_upper = Some(interval.upper).filter(|v| !v.is_nan());
            overall.p_value = Some(interval.p_value);
            inference_parts.push("conformal (CWZ 2021, collapsed post period)".to_string());
        }
        if let Some(section) = &placebo {
            overall.p_value = Some(section.p_value);
            inference_parts.push(format!(
                "placebo-in-space p (rank {} of {})",
                section.rank, section.n_compared
            ));
        }
        overall.inference = inference_parts.join("; ");
        output.rows.push(overall);
        for t in start..periods {
            let mut row = new_row(target(&format!("period:{}", panel.periods[t])));
            row.estimate = Some(main.gaps[t]);
            if settings.conformal {
                let interval =
                    conformal.interval(|th| conformal.p_period(t, th), main.gaps[t], scale, alpha);
                row.ci_lower = Some(interval.lower).filter(|v| !v.is_nan());
                row.ci_upper = Some(interval.upper).filter(|v| !v.is_nan());
                row.p_value = Some(interval.p_value);
                row.inference = "conformal (CWZ 2021)".into();
            }
            output.rows.push(row);
        }
        for label_time in &settings.placebo_times {
            let Some(fake) = period_index(panel, label_time) else {
                return Err(InputError::design(
                    name,
                    "",
                    format!("placebo time `{label_time}` is not a period of the panel"),
                    "use one of the time column's periods",
                ));
            };
            if fake == 0 || fake >= start {
                return Err(InputError::design(
                    name,
                    "",
                    format!(
                        "placebo time `{label_time}` must lie after the first period and before the treatment start"
                    ),
                    "pick an earlier pre-treatment period",
                ));
            }
            let fake_settings = ClassicScPlan {
                fit_from: None,
                fit_to: None,
                ..settings.clone()
            };
            let shifted = fit_classic(
                &fake_settings,
                panel,
                y,
                &ClassicJob {
                    treated: unit,
                    start: fake,
                    donors,
                },
                name,
            )?;
            let mut row = new_row(target(&format!("placebo-time:{}", panel.periods[fake])));
            row.estimate = Some(shifted.average_effect(fake, start));
            row.inference = format!(
                "placebo in time: average gap {}–{} with treatment moved to {}",
                panel.periods[fake],
                panel.periods[start - 1],
                panel.periods[fake]
            );
            output.rows.push(row);
        }
        if settings.leave_one_out {
            let positive: Vec<usize> = (0..donors.len())
                .filter(|&d| main.fit.weights[d] > WEIGHT_FLOOR)
                .collect();
            if positive.len() > 1 {
                let refits: Vec<Result<(usize, f64), InputError>> = positive
                    .par_iter()
                    .map(|&d| {
                        let remaining: Vec<usize> =
                            donors.iter().copied().filter(|&u| u != donors[d]).collect();
                        let refit = fit_classic(
                            settings,
                            panel,
                            y,
                            &ClassicJob {
                                treated: unit,
                                start,
                                donors: &remaining,
                            },
                            name,
                        )?;
                        Ok((d, refit.average_effect(start, periods)))
                    })
                    .collect();
                for refit in refits {
                    let (d, value) = refit?;
                    let mut row = new_row(target(&format!(
                        "leave-one-out:{}",
                        panel.unit_labels[donors[d]]
                    )));
                    row.estimate = Some(value);
                    row.n_control = Some(donors.len() - 1);
                    row.inference = "leave-one-out (refit without this donor)".into();
                    output.rows.push(row);
                }
            }
        }
        let donor_weights = named_weights(panel, donors, &main.fit.weights, WEIGHT_FLOOR);
        let v = if main.fit.v.is_empty() {
            vec![f64::NAN; main.predictors.len()]
        } else {
            main.fit.v.clone()
        };
        output.sections.push(SynthSection {
            evaluation: name.clone(),
            outcome: outcome.into(),
            method: "sc".into(),
            treated: label.clone(),
            n_donors: donors.len(),
            donor_weights,
            time_weights: Vec::new(),
            predictors: main
                .predictors
                .iter()
                .zip(&v)
                .map(|((p, t, s, m), v)| PredictorBalance {
                    predictor: p.clone(),
                    v: *v,
                    treated: *t,
                    synthetic: *s,
                    donor_mean: *m,
                })
                .collect(),
            pre_rmspe: main.pre_mspe(start).sqrt(),
            path: path(
                panel,
                panel_rows(y, donors, unit).view(),
                &main.fit.weights,
                donors.len(),
            ),
            converged: main.fit.converged,
            zeta_omega: None,
            noise_level: None,
        });
        if let Some(mut section) = placebo {
            section.outcome = outcome.into();
            output.placebos.push(section);
        }
    }
    if several {
        let mut row = ResultRow::new(name, "", outcome, "sc", evaluation.estimand);
        row.target = "overall".into();
        row.ci_level = plan.ci_level;
        row.estimate = Some(unit_effects.iter().sum::<f64>() / unit_effects.len() as f64);
        row.n_treated = Some(treated.len());
        row.n_control = Some(donors.len());
        row.inference =
            "average of the treated units' synthetic-control effects (see unit rows for inference)"
                .into();
        output.rows.push(row);
    }
    Ok(())
}

/// Every donor as pseudo-treated against the other donors, same settings; the treated unit's
/// rank among the post/pre RMSPE ratios gives the permutation p-value.
fn placebo_in_space(
    settings: &ClassicScPlan,
    panel: &Panel,
    y: ArrayView2<f64>,
    job: &ClassicJob,
    main: &ClassicResult,
    name: &str,
) -> Result<PlaceboSection, InputError> {
    let start = job.start;
    let progress = crate::progress::Progress::new("placebos in space", job.donors.len());
    let fits: Vec<Result<(f64, f64), InputError>> = job
        .donors
        .par_iter()
        .map(|&pseudo| {
            let others: Vec<usize> = job
                .donors
                .iter()
                .copied()
                .filter(|&d| d != pseudo)
                .collect();
            let result = fit_classic(
                settings,
                panel,
                y,
                &ClassicJob {
                    treated: pseudo,
                    start,
                    donors: &others,
                },
                name,
            )?;
            progress.tick();
            Ok((result.pre_mspe(start), result.post_mspe(start)))
        })
        .collect();
    let treated_pre = main.pre_mspe(start);
    let treated_ratio = (main.post_mspe(start) / treated_pre).sqrt();
    let mut units = vec![PlaceboUnit {
        unit: panel.unit_labels[job.treated].clone(),
        pre_rmspe: treated_pre.sqrt(),
        post_rmspe: main.post_mspe(start).sqrt(),
        ratio: treated_ratio,
        included: true,
    }];
    for (fit, &d) in fits.into_iter().zip(job.donors) {
        let (pre, post) = fit?;
        let included = settings
            .placebo_mspe_cutoff
            .is_none_or(|k| pre <= k * treated_pre);
        units.push(PlaceboUnit {
            unit: panel.unit_labels[d].clone(),
            pre_rmspe: pre.sqrt(),
            post_rmspe: post.sqrt(),
            ratio: (post / pre).sqrt(),
            included,
        });
    }
    let compared: Vec<&PlaceboUnit> = units.iter().filter(|u| u.included).collect();
    let rank = compared.iter().filter(|u| u.ratio >= treated_ratio).count();
    Ok(PlaceboSection {
        evaluation: name.into(),
        outcome: String::new(),
        treated: units[0].unit.clone(),
        ratio: treated_ratio,
        rank,
        n_compared: compared.len(),
        p_value: rank as f64 / compared.len() as f64,
        mspe_cutoff: settings.placebo_mspe_cutoff,
        units,
    })
}

#[allow(clippy::too_many_arguments)]
fn run_sdid(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    (kind, variance, replications): (SdidKind, sdid::SdidVariance, usize),
    panel: &Panel,
    y: ArrayView2<f64>,
    outcome: &str,
    treated: &[usize],
    donors: &[usize],
    output: &mut SynthOutput,
) -> Result<(), InputError> {
    let name = &evaluation.name;
    // Cohorts: treated units sharing a start period.
    let mut cohorts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &u in treated {
        cohorts
            .entry(panel.group[u].expect("treated"))
            .or_default()
            .push(u);
    }
    let several = cohorts.len() > 1;
    let mut estimates = Vec::new();
    for (&start, members) in &cohorts {
        if start < 2 && kind != SdidKind::Did {
            return Err(InputError::design(
                name,
                "",
                format!(
                    "cohort starting {}: {start} pre-treatment period(s) are too few for synthetic weights",
                    panel.periods[start]
                ),
                "extend the panel backwards (at least two pre-treatment periods)",
            ));
        }
        let mut rows = donors.to_vec();
        rows.extend(members);
        let matrix = y.select(Axis(0), &rows);
        let n0 = donors.len();
        let (options, omega0, lambda0) = sdid::options(kind, matrix.view(), n0, start);
        let fit = sdid::fit(
            matrix.view(),
            n0,
            start,
            omega0.as_deref(),
            lambda0.as_deref(),
            &options,
        );
        let seed = derive_seed(plan.seed, &[name, outcome, &panel.periods[start], "sdid"]);
        let se = sdid::standard_error(
            matrix.view(),
            n0,
            start,
            &fit,
            &options,
            variance,
            replications,
            seed,
        );
        let inference_name = if sdid::degrees_of_freedom(variance, n0, members.len()).is_some() {
            format!(
                "placebo: each of the {n0} comparison units as pseudo-treated; t with {} df",
                n0 - 1
            )
        } else {
            format!(
                "{} ({} {})",
                variance.name(),
                se.replications,
                if variance == sdid::SdidVariance::Jackknife {
                    "units left out"
                } else {
                    "replications"
                }
            )
        };
        let prefix = if several {
            format!("cohort:{}:", panel.periods[start])
        } else {
            String::new()
        };
        let row = |target: String, estimate: f64, std_error: f64| {
            let effect = Effect {
                estimate,
                std_error,
                inference: inference_name.clone(),
                degrees_of_freedom: sdid::degrees_of_freedom(variance, n0, members.len()),
                n_treated: members.len(),
                n_control: n0,
            };
            let interval = inference::wald(&effect, plan.ci_level);
            let mut row = ResultRow::new(name, "", outcome, kind.name(), evaluation.estimand);
            row.fill(&effect, &interval, plan.ci_level);
            row.target = target;
            row
        };
        if let Err(why) = &se.overall {
            return Err(InputError::design(
                name,
                "",
                format!("no {} standard error: {why}", variance.name()),
                match variance {
                    sdid::SdidVariance::Placebo => {
                        "add comparison units (there must be more than treated units)"
                    }
                    _ => "use `variance = \"placebo\"` in [evaluation.sdid]",
                },
            ));
        }
        let overall_se = se.overall.clone().unwrap_or(f64::NAN);
        output.rows.push(row(
            if several {
                format!("cohort:{}", panel.periods[start])
            } else {
                "overall".into()
            },
            fit.estimate,
            overall_se,
        ));
        for (k, value) in fit.curve.iter().enumerate() {
            output.rows.push(row(
                format!("{prefix}period:{}", panel.periods[start + k]),
                *value,
                se.curve[k],
            ));
        }
        if !fit.converged && kind != SdidKind::Did {
            output.warnings.push(format!(
                "evaluation `{name}`, outcome `{outcome}`: the weight solver stopped at its iteration limit (10,000 steps, as R synthdid); the weights are close to, not at, the optimum"
            ));
        }
        let t1 = panel.periods.len() - start;
        estimates.push((fit.estimate, overall_se, (members.len() * t1) as f64));
        let donor_weights = named_weights(panel, donors, &fit.omega, 0.0);
        let pre_gaps = &gaps(matrix.view(), &fit.omega, n0)[..start];
        let mean_gap = pre_gaps.iter().sum::<f64>() / start as f64;
        // SDID's intercept absorbs a constant pre-period gap: measure the fit around it.
        let centre = if kind == SdidKind::Sc { 0.0 } else { mean_gap };
        output.sections.push(SynthSection {
            evaluation: name.clone(),
            outcome: outcome.into(),
            method: kind.name().into(),
            treated: if members.len() == 1 {
                panel.unit_labels[members[0]].clone()
            } else {
                format!("cohort:{} ({} units)", panel.periods[start], members.len())
            },
            n_donors: n0,
            donor_weights,
            time_weights: fit
                .lambda
                .iter()
                .enumerate()
                .filter(|(_, l)| **l > 0.0 && kind == SdidKind::Sdid)
                .map(|(t, &l)| NamedWeight {
                    name: panel.periods[t].clone(),
                    weight: l,
                })
                .collect(),
            predictors: Vec::new(),
            pre_rmspe: (pre_gaps.iter().map(|g| (g - centre).powi(2)).sum::<f64>() / start as f64)
                .sqrt(),
            path: path(panel, matrix.view(), &fit.omega, n0),
            converged: fit.converged,
            zeta_omega: (kind == SdidKind::Sdid).then_some(options.zeta_omega),
            noise_level: Some(options.noise_level),
        });
    }
    if several {
        // Cohort-weighted average (weights: treated unit-periods), as Stata `sdid`; its SE treats
        // the cohorts' estimates as independent (they share the donors, so this is approximate).
        let total: f64 = estimates.iter().map(|e| e.2).sum();
        let estimate = estimates.iter().map(|e| e.0 * e.2 / total).sum();
        let std_error = estimates
            .iter()
            .map(|e| (e.1 * e.2 / total).powi(2))
            .sum::<f64>()
            .sqrt();
        let effect = Effect {
            estimate,
            std_error,
            inference: format!("{} by cohort, combined as independent", variance.name()),
            degrees_of_freedom: None,
            n_treated: treated.len(),
            n_control: donors.len(),
        };
        let interval = inference::wald(&effect, plan.ci_level);
        let mut row = ResultRow::new(name, "", outcome, kind.name(), evaluation.estimand);
        row.fill(&effect, &interval, plan.ci_level);
        output.rows.push(row);
    }
    Ok(())
}
