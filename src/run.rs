//! The `estimate` pipeline: plan → data → estimators → inference → report.
//!
//! Jobs are (evaluation × intervention); each job matches once and then estimates every outcome.
//! Jobs run in parallel with rayon and are collected in plan order, so the report is identical for
//! any number of threads.

use crate::data::panel::{PanelSpec, prepare_panel};
use crate::data::{self, DesignSpec, Table};
use crate::diagnostics;
use crate::error::InputError;
use crate::estimators::{did, psm};
use crate::inference;
use crate::plan::{EvaluationPlan, MethodPlan, RunPlan};
use crate::report::Status as ResultStatus;
use crate::report::{BalanceSection, PreTrendTest, Provenance, Report, ResultRow, Status};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

mod synth;
pub use synth::synth_panel_spec;

/// Seed of one job, derived from the run seed and the job's identity (not from its position or
/// the thread that runs it).
pub fn derive_seed(seed: u64, parts: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    u64::from_le_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// `-v`: stage timings on stderr.
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn trace(stage: &str, since: std::time::Instant) {
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("[{:>8.3} s] {stage}", since.elapsed().as_secs_f64());
    }
}

pub fn estimate(plan: &RunPlan, threads: usize) -> Result<Report, InputError> {
    let started = std::time::Instant::now();
    let table = Table::load(&plan.data_path, plan.delimiter)?;
    data::privacy::check(&table, &plan.identifiers)?;
    trace("loaded and hashed the data", started);
    let mut report = Report::new(Provenance::new(plan, &table, threads));
    if plan.min_cell < crate::plan::DEFAULT_MIN_CELL {
        report.warnings.push(format!(
            "disclosure control lowered: min-cell = {} (default {}); results may describe very small groups",
            plan.min_cell,
            crate::plan::DEFAULT_MIN_CELL
        ));
    }
    for evaluation in &plan.evaluations {
        if let MethodPlan::Synth(synth_plan) = &evaluation.method {
            let output = synth::run_synth(plan, evaluation, synth_plan, &table)?;
            report.warnings.extend(output.warnings);
            report.results.extend(output.rows);
            report.synthetic_controls.extend(output.sections);
            report.placebo_tests.extend(output.placebos);
            trace("estimated", started);
            continue;
        }
        if let MethodPlan::Did(params) = &evaluation.method {
            let output = run_did(plan, evaluation, params, &table)?;
            report.warnings.extend(output.warnings);
            report.results.extend(output.rows);
            report.pre_trend_tests.extend(output.pre_trend_tests);
            trace("estimated", started);
            continue;
        }
        let row_weights = match &evaluation.method {
            MethodPlan::TwoByTwo {
                weights_from: Some(source),
                ..
            } => {
                let (weights, notes) = matched_row_weights(plan, source, &table)?;
                report.warnings.extend(notes);
                Some(weights)
            }
            _ => None,
        };
        let spec = design_spec(plan, evaluation);
        let prepared = data::design::prepare(&table, &spec)?;
        trace("built the design matrices", started);
        report.warnings.extend(prepared.warnings);
        let outputs: Vec<Result<JobOutput, InputError>> = prepared
            .comparisons
            .par_iter()
            .map(|c| match &evaluation.method {
                MethodPlan::Psm(params) => run_psm_job(plan, evaluation, params, c),
                MethodPlan::DifferenceInMeans { pooled } => {
                    run_experiment_job(plan, evaluation, *pooled, c)
                }
                MethodPlan::TwoByTwo { cr2, .. } => {
                    run_two_by_two_job(plan, evaluation, *cr2, row_weights.as_deref(), c)
                }
                MethodPlan::Did(_) | MethodPlan::Synth(_) => {
                    unreachable!("panels are handled above")
                }
            })
            .collect();
        trace("estimated", started);
        for output in outputs {
            let output = output?;
            report.warnings.extend(output.warnings);
            report.results.extend(output.rows);
            report.balance.extend(output.balance);
        }
    }
    Ok(report)
}

/// The panel roles of a DiD evaluation.
pub fn panel_spec(plan: &RunPlan, evaluation: &EvaluationPlan) -> PanelSpec {
    PanelSpec {
        evaluation: evaluation.name.clone(),
        unit: plan.unit.clone().unwrap_or_default(),
        time: plan.time.clone().unwrap_or_default(),
        outcomes: evaluation.outcomes.clone(),
        covariates: evaluation.covariates.clone(),
        first_treated: plan.first_treated.clone(),
        // A first-treated column wins over a 0/1 treatment column.
        treatment: if plan.first_treated.is_some() {
            None
        } else {
            plan.treatment.clone()
        },
        cluster: plan.cluster.clone(),
        missing: plan.missing,
        treated_units: None,
        series: Vec::new(),
        unit_labels: false,
    }
}

pub fn design_spec(plan: &RunPlan, evaluation: &EvaluationPlan) -> DesignSpec {
    DesignSpec {
        evaluation: evaluation.name.clone(),
        treatment: plan.treatment.clone().unwrap_or_default(),
        intervention: plan.intervention.clone(),
        outcomes: evaluation.outcomes.clone(),
        covariates: evaluation.covariates.clone(),
        // The 2×2 reads its two periods as the strata of the time column, and clusters by unit
        // unless a cluster column is given.
        exact: match evaluation.method {
            MethodPlan::TwoByTwo { .. } => plan.time.iter().cloned().collect(),
            _ => evaluation.exact(),
        },
        cluster: match evaluation.method {
            MethodPlan::TwoByTwo { .. } => plan.cluster.clone().or_else(|| plan.unit.clone()),
            _ => plan.cluster.clone(),
        },
        categorical: plan.categorical.clone(),
        reference_levels: plan.reference_levels.clone(),
        missing: plan.missing,
        rows: None,
    }
}

struct JobOutput {
    rows: Vec<ResultRow>,
    balance: Option<BalanceSection>,
    warnings: Vec<String>,
}

/// Builds the result row for one outcome, applying disclosure control.
fn result_row(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    intervention: &str,
    outcome: &str,
    method: &str,
    effect: &crate::estimators::Effect,
    warnings: &mut Vec<String>,
) -> ResultRow {
    let interval = inference::wald(effect, plan.ci_level);
    let mut row = ResultRow::new(
        &evaluation.name,
        intervention,
        outcome,
        method,
        evaluation.estimand,
    );
    row.fill(effect, &interval, plan.ci_level);
    if effect.n_treated < plan.min_cell || effect.n_control < plan.min_cell {
        row.suppress();
        warnings.push(format!(
            "evaluation `{}`, intervention `{}`, outcome `{outcome}`: result suppressed, fewer than {} units in a group (min-cell)",
            evaluation.name, intervention, plan.min_cell
        ));
    }
    row
}

/// Matched DiD: runs the PSM evaluation `source` on the earliest period's rows and gives every
/// row of the table the matching weight of its unit (0 for units left unmatched).
fn matched_row_weights(
    plan: &RunPlan,
    source: &str,
    table: &Table,
) -> Result<(Vec<f64>, Vec<String>), InputError> {
    let evaluation = plan
        .evaluations
        .iter()
        .find(|e| e.name == source)
        .expect("the plan checked the name");
    let MethodPlan::Psm(params) = &evaluation.method else {
        unreachable!("the plan checked the method")
    };
    let time = plan.time.as_deref().expect("the plan checked `time`");
    let unit = plan.unit.as_deref().expect("the plan checked `unit`");
    let times = data::design::labels(table, time)?;
    let keys: Vec<Option<f64>> = times
        .iter()
        .map(|t| t.as_deref().and_then(crate::data::panel::time_key))
        .collect();
    let first = keys.iter().flatten().copied().fold(f64::INFINITY, f64::min);
    let baseline: Vec<usize> = (0..keys.len())
        .filter(|&r| keys[r] == Some(first))
        .collect();
    let mut spec = design_spec(plan, evaluation);
    spec.rows = Some(baseline);
    let prepared = data::design::prepare(table, &spec)?;
    let design = &prepared.comparisons[0];
    let seed = derive_seed(plan.seed, &[&evaluation.name, "matched-did"]);
    let fit = psm::fit(design, params, evaluation.estimand, seed).map_err(|e| {
        InputError::design(
            &evaluation.name,
            " (baseline matching for a matched DiD)",
            e.to_string(),
            "see the matching options",
        )
    })?;
    let units = data::design::labels(table, unit)?;
    let mut by_unit: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    for (design_row, &table_row) in design.source_rows.iter().enumerate() {
        if let Some(label) = units[table_row].as_deref() {
            by_unit.insert(label, fit.weights.weights[design_row]);
        }
    }
    let weights = units
        .iter()
        .map(|u| {
            u.as_deref()
                .and_then(|u| by_unit.get(u).copied())
                .unwrap_or(0.0)
        })
        .collect();
    let mut notes = prepared.warnings;
    notes.extend(
        fit.warnings
            .iter()
            .map(|w| format!("evaluation `{}` (baseline matching): {w}", evaluation.name)),
    );
    Ok((weights, notes))
}

fn run_two_by_two_job(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    cr2: bool,
    row_weights: Option<&[f64]>,
    design: &data::CrossSection,
) -> Result<JobOutput, InputError> {
    let scope = format!(", intervention `{}`", design.intervention);
    let periods = design
        .strata
        .as_ref()
        .expect("the time column is the 2x2's stratum");
    let distinct: std::collections::BTreeSet<u32> = periods.iter().copied().collect();
    if distinct.len() != 2 {
        return Err(InputError::design(
            &evaluation.name,
            &scope,
            format!(
                "a 2x2 DiD needs exactly two periods, the data have {}",
                distinct.len()
            ),
            "keep one pre- and one post-treatment period, or use `estimator = \"att-gt\"`",
        ));
    }
    // Periods are numbered in sorted label order: the larger id is the later period.
    let last = *distinct.iter().next_back().expect("two periods");
    let post: Vec<bool> = periods.iter().map(|&p| p == last).collect();
    let clusters: Vec<u32> = match &design.clusters {
        Some(c) => c.clone(),
        None => (0..design.treated.len() as u32).collect(),
    };
    let weights: Option<Vec<f64>> =
        row_weights.map(|w| design.source_rows.iter().map(|&r| w[r]).collect());
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    for (outcome, y) in evaluation.outcomes.iter().zip(&design.outcomes) {
        let effect = did::two_by_two::estimate(
            y,
            &design.treated,
            &post,
            design.x.view(),
            &clusters,
            cr2,
            weights.as_deref(),
        )
        .map_err(|e| {
            InputError::design(
                &evaluation.name,
                &scope,
                e.to_string(),
                "drop collinear covariates; cluster on a column with several values",
            )
        })?;
        rows.push(result_row(
            plan,
            evaluation,
            &design.intervention,
            outcome,
            "did-2x2",
            &effect,
            &mut warnings,
        ));
    }
    Ok(JobOutput {
        rows,
        balance: None,
        warnings,
    })
}

fn run_experiment_job(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    pooled: bool,
    design: &data::CrossSection,
) -> Result<JobOutput, InputError> {
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    for (outcome, y) in evaluation.outcomes.iter().zip(&design.outcomes) {
        let effect = crate::estimators::experiment::difference_in_means(y, &design.treated, pooled)
            .ok_or_else(|| {
                InputError::design(
                    &evaluation.name,
                    &format!(", intervention `{}`", design.intervention),
                    "each group needs at least two units",
                    "check the treatment column",
                )
            })?;
        rows.push(result_row(
            plan,
            evaluation,
            &design.intervention,
            outcome,
            "difference-in-means",
            &effect,
            &mut warnings,
        ));
    }
    Ok(JobOutput {
        rows,
        balance: None,
        warnings,
    })
}

fn run_psm_job(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    params: &psm::PsmParams,
    design: &data::CrossSection,
) -> Result<JobOutput, InputError> {
    let scope = format!(", intervention `{}`", design.intervention);
    let as_input_error = |e: psm::PsmError| {
        let hint = match &e {
            psm::PsmError::Logit(_) => {
                "drop or coarsen the covariate named, or check that beneficiaries and comparison units overlap"
            }
            psm::PsmError::SingularCovariance => {
                "remove covariates that are linear combinations of others"
            }
            psm::PsmError::TooManyTies => {
                "set `ties = false` (exactly `ratio` matches), or a smaller `tie-tolerance`"
            }
            psm::PsmError::NothingMatched(_) => {
                "widen the caliper, relax `exact`, or set `discard = \"none\"`"
            }
            psm::PsmError::Effect(psm::effect::EffectError::TooManyTies) => {
                "set `ties = false` (exactly `ratio` matches), or a smaller `tie-tolerance`"
            }
            psm::PsmError::Effect(psm::effect::EffectError::SingularBiasRegression) => {
                "use fewer covariates, or turn bias adjustment off"
            }
            psm::PsmError::Effect(_) => "check the matching options (caliper, exact, ratio)",
        };
        let message = match &e {
            psm::PsmError::Logit(l) => name_covariate(l, &design.covariate_names),
            other => other.to_string(),
        };
        InputError::design(&evaluation.name, &scope, message, hint)
    };
    let seed = derive_seed(plan.seed, &[&evaluation.name, &design.intervention]);
    let job_started = std::time::Instant::now();
    let fit = psm::fit(design, params, evaluation.estimand, seed).map_err(as_input_error)?;
    trace("  propensity model and matching", job_started);
    let mut warnings: Vec<String> = fit
        .warnings
        .iter()
        .map(|w| format!("evaluation `{}`{scope}: {w}", evaluation.name))
        .collect();
    let mut rows = Vec::new();
    for (outcome, y) in evaluation.outcomes.iter().zip(&design.outcomes) {
        let effect = psm::estimate(design, &fit, y, params).map_err(as_input_error)?;
        let mut row = result_row(
            plan,
            evaluation,
            &design.intervention,
            outcome,
            "psm",
            &effect,
            &mut warnings,
        );
        if row.status == Status::Ok {
            row.n_discarded = Some(fit.n_discarded);
            row.n_unmatched = Some(fit.n_unmatched);
        }
        rows.push(row);
    }
    let balance_rows = diagnostics::balance(
        &design.covariate_names,
        design.x.view(),
        &design.treated,
        &fit.weights.weights,
        evaluation.estimand,
    );
    let suppressed = rows.iter().all(|r| r.status == Status::Suppressed);
    let balance = BalanceSection::new(
        &evaluation.name,
        &design.intervention,
        design,
        &fit,
        balance_rows,
        suppressed,
    );
    Ok(JobOutput {
        rows,
        balance: Some(balance),
        warnings,
    })
}

struct DidOutput {
    rows: Vec<ResultRow>,
    warnings: Vec<String>,
    pre_trend_tests: Vec<PreTrendTest>,
}

/// Callaway–Sant'Anna group-time effects and their aggregations, for every outcome.
fn run_did(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    did_plan: &crate::plan::DidPlan,
    table: &Table,
) -> Result<DidOutput, InputError> {
    let params = &did_plan.att_gt;
    use did::aggregate::AggregateKind;
    let spec = panel_spec(plan, evaluation);
    let (panel, mut warnings) = prepare_panel(table, &spec)?;
    // Event time in the data's own units (years, quarters), as R did; dates count periods.
    let keyed: Option<Vec<f64>> = panel
        .periods
        .iter()
        .map(|l| crate::data::panel::event_key(l))
        .collect();
    let period_values: Vec<f64> =
        keyed.unwrap_or_else(|| (0..panel.periods.len()).map(|p| p as f64).collect());
    let clusters = panel.clusters.as_deref();
    let n_never = panel.group.iter().filter(|g| g.is_none()).count();
    let mut rows = Vec::new();
    let mut pre_trend_tests = Vec::new();
    if did_plan.estimator == crate::plan::DidEstimator::Twfe {
        for (outcome, y) in evaluation.outcomes.iter().zip(&panel.outcomes) {
            let (mut new_rows, test) = run_twfe(
                plan,
                evaluation,
                &panel,
                &period_values,
                outcome,
                y,
                &mut warnings,
            )?;
            rows.append(&mut new_rows);
            pre_trend_tests.extend(test);
        }
        return Ok(DidOutput {
            rows,
            warnings,
            pre_trend_tests,
        });
    }
    for (outcome, y) in evaluation.outcomes.iter().zip(&panel.outcomes) {
        let bootstrap = did_plan.bootstrap_draws > 0;
        let covariates = panel
            .covariates
            .as_ref()
            .map(|x| x.view())
            .filter(|x| x.ncols() > 0);
        // Analytic SEs without covariates or clusters need only the cross-products of the
        // influence functions, which per-group moments give without forming the functions.
        let by_moments = !bootstrap && covariates.is_none() && clusters.is_none();
        let fitted = if by_moments {
            did::moments::estimate(y.view(), &panel.group, params)
                .map(|(fit, cross)| (fit, Some(cross)))
        } else {
            did::att_gt::estimate(y.view(), &panel.group, covariates, params).map(|fit| (fit, None))
        };
        let (mut fit, cross) = fitted.map_err(|e| {
            let hint = match e {
                did::att_gt::AttGtError::NoNeverTreated => "use `control = \"not-yet\"` in [evaluation.did], or add never-treated units",
                did::att_gt::AttGtError::NoCells => "check the first-treated periods against the panel's periods",
                did::att_gt::AttGtError::Conditional { .. } => "use fewer or coarser covariates, or check overlap between the cohort and its comparison units",
            };
            InputError::design(&evaluation.name, "", e.to_string(), hint)
        })?;
        // Cohorts without a single cell are dropped, never silently.
        for g in did::att_gt::distinct_groups(&panel.group) {
            if fit.cells.iter().any(|c| c.group == g) {
                continue;
            }
            let why = if g < 1 + params.anticipation {
                format!(
                    "has no period before its treatment with anticipation = {}",
                    params.anticipation
                )
            } else {
                "has no comparison units in any period".to_string()
            };
            warnings.push(format!(
                "evaluation `{}`, outcome `{outcome}`: cohort {} {why}: no ATT(g,t) for it, and its units take no part",
                evaluation.name, panel.periods[g]
            ));
        }
        // Every row of this outcome: target, estimate, influence function, counts, band family.
        struct Entry {
            target: String,
            estimate: f64,
            psi: Vec<f64>,
            /// For aggregates: the influence function as a linear map of the cells'.
            form: Option<did::aggregate::LinearForm>,
            n_treated: usize,
            n_control: usize,
            family: Option<u8>,
        }
        const CELLS: u8 = 0;
        const EVENTS: u8 = 1;
        // The bootstrap and the cross-products need only the aggregates' linear forms; analytic
        // SEs otherwise their influence functions over the units.
        let dense = !bootstrap && cross.is_none();
        let aggregates = did::aggregate::all(&fit, &panel.group, &period_values, dense);
        let pre_trend = match &cross {
            Some(cross) => did::aggregate::pre_trend_test_with(&fit, |a, b| cross.matrix[[a, b]]),
            None => did::aggregate::pre_trend_test(&fit),
        };
        // The cells' influence functions move into their rows (8 MB each per million units).
        let mut cell_influence = std::mem::take(&mut fit.influence);
        let mut entries: Vec<Entry> = fit
            .cells
            .iter()
            .enumerate()
            .map(|(k, cell)| Entry {
                target: format!(
                    "gt:{}:{}",
                    panel.periods[cell.group], panel.periods[cell.period]
                ),
                estimate: cell.att,
                psi: cell_influence
                    .get_mut(k)
                    .map(std::mem::take)
                    .unwrap_or_default(),
                form: None,
                n_treated: cell.n_treated,
                n_control: cell.n_control,
                family: Some(CELLS),
            })
            .collect();
        for aggregate in aggregates {
            let (target, family) = match aggregate.kind {
                AggregateKind::Simple => ("overall".to_string(), None),
                AggregateKind::Group(g) => (format!("group:{}", panel.periods[g]), None),
                AggregateKind::GroupOverall => ("group:overall".to_string(), None),
                AggregateKind::Event(e) => (format!("event:{e}"), Some(EVENTS)),
                AggregateKind::EventOverall => ("event:overall".to_string(), None),
                AggregateKind::Calendar(t) => (format!("period:{}", panel.periods[t]), None),
                AggregateKind::CalendarOverall => ("period:overall".to_string(), None),
            };
            let n_control = match params.control {
                did::att_gt::ControlGroup::Never => n_never,
                did::att_gt::ControlGroup::NotYet => panel.n_units() - aggregate.n_treated,
            };
            entries.push(Entry {
                target,
                estimate: aggregate.estimate,
                psi: aggregate.influence,
                form: Some(aggregate.form),
                n_treated: aggregate.n_treated,
                n_control,
                family,
            });
        }
        let (std_errors, critical, inference): (Vec<f64>, [Option<f64>; 2], String) = if bootstrap {
            // Draw the cells and one indicator per group; the aggregates are linear
            // combinations of those (half as many columns to bootstrap as rows).
            let n_cells = fit.cells.len();
            let slots = fit.group_share.len() + 1;
            let slot_of = |g: &Option<usize>| g.unwrap_or(slots - 1);
            let mut occupied = vec![false; slots];
            for g in &panel.group {
                occupied[slot_of(g)] = true;
            }
            let occupied: Vec<usize> = (0..slots).filter(|&s| occupied[s]).collect();
            let mut columns: Vec<Vec<f64>> = entries[..n_cells]
                .iter_mut()
                .map(|e| std::mem::take(&mut e.psi))
                .collect();
            for &slot in &occupied {
                columns.push(
                    panel
                        .group
                        .iter()
                        .map(|g| f64::from(u8::from(slot_of(g) == slot)))
                        .collect(),
                );
            }
            let coefficients: Vec<Vec<f64>> = entries
                .iter()
                .enumerate()
                .map(|(j, e)| match &e.form {
                    None => (0..columns.len())
                        .map(|c| f64::from(u8::from(c == j)))
                        .collect(),
                    Some(form) => form
                        .cells
                        .iter()
                        .copied()
                        .chain(occupied.iter().map(|&s| form.by_group[s]))
                        .collect(),
                })
                .collect();
            let seed = derive_seed(plan.seed, &[&evaluation.name, outcome]);
            let boot = crate::inference::multiplier::run(
                &columns,
                clusters,
                did_plan.bootstrap_draws,
                seed,
            )
            .combinations(&coefficients);
            let band = |family: u8| {
                let members: Vec<usize> = (0..entries.len())
                    .filter(|&k| entries[k].family == Some(family))
                    .collect();
                (did_plan.uniform_bands && !members.is_empty())
                    .then(|| boot.uniform_critical_value(&members, plan.ci_level))
            };
            let critical = [band(CELLS), band(EVENTS)];
            let label = format!(
                "multiplier bootstrap (Mammen, {} draws{}){}",
                did_plan.bootstrap_draws,
                if clusters.is_some() {
                    ", clustered"
                } else {
                    ""
                },
                if did_plan.uniform_bands {
                    "; uniform bands for gt and event rows"
                } else {
                    ""
                }
            );
            (boot.std_errors, critical, label)
        } else {
            let se = match &cross {
                Some(cross) => entries
                    .iter()
                    .enumerate()
                    .map(|(k, e)| match &e.form {
                        None => cross.cell_std_error(k),
                        Some(form) => cross.std_error(&form.coefficients()),
                    })
                    .collect(),
                None => entries
                    .par_iter()
                    .map(|e| did::att_gt::std_error(&e.psi, clusters))
                    .collect(),
            };
            let label = if clusters.is_some() {
                "influence function, clustered"
            } else {
                "influence function (analytic)"
            };
            (se, [None, None], label.to_string())
        };
        for (entry, std_error) in entries.iter().zip(std_errors) {
            let effect = crate::estimators::Effect {
                estimate: entry.estimate,
                std_error,
                inference: inference.clone(),
                degrees_of_freedom: None,
                n_treated: entry.n_treated,
                n_control: entry.n_control,
            };
            let mut row = result_row(
                plan,
                evaluation,
                "all",
                outcome,
                "did",
                &effect,
                &mut warnings,
            );
            row.target = entry.target.clone();
            if let (Some(family), ResultStatus::Ok) = (entry.family, row.status) {
                if let Some(c) = critical[usize::from(family)] {
                    row.ci_lower = Some(entry.estimate - c * std_error);
                    row.ci_upper = Some(entry.estimate + c * std_error);
                }
            }
            rows.push(row);
        }
        if let Some((statistic, df, p_value)) = pre_trend {
            if p_value < 0.05 {
                warnings.push(format!(
                    "evaluation `{}`, outcome `{outcome}`: pre-treatment effects are jointly non-zero (Wald p = {p_value:.4}): parallel trends is doubtful",
                    evaluation.name
                ));
            }
            pre_trend_tests.push(PreTrendTest {
                evaluation: evaluation.name.clone(),
                outcome: outcome.clone(),
                statistic,
                degrees_of_freedom: df,
                p_value,
            });
        }
    }
    Ok(DidOutput {
        rows,
        warnings,
        pre_trend_tests,
    })
}

/// TWFE event study (leads and lags around treatment, reference −1) and static effect.
fn run_twfe(
    plan: &RunPlan,
    evaluation: &EvaluationPlan,
    panel: &crate::data::panel::Panel,
    period_values: &[f64],
    outcome: &str,
    y: &ndarray::Array2<f64>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<ResultRow>, Option<PreTrendTest>), InputError> {
    let event_of = |g: Option<usize>, t: usize| {
        g.map(|g| (period_values[t] - period_values[g]).round() as i64)
    };
    let mut events: Vec<i64> = panel
        .group
        .iter()
        .flat_map(|&g| (0..panel.periods.len()).filter_map(move |t| event_of(g, t)))
        .filter(|&e| e != -1)
        .collect();
    events.sort_unstable();
    events.dedup();
    let singular = || {
        InputError::design(
            &evaluation.name,
            "",
            "the two-way fixed-effects regression is singular",
            "check that treated cohorts and never-treated units share periods",
        )
    };
    let clusters = panel.clusters.as_deref();
    let index_of = |e: i64| events.binary_search(&e).ok();
    let dynamic = did::twfe::fit(
        y.view(),
        &panel.group,
        events.len(),
        |g, t| event_of(g, t).and_then(index_of),
        clusters,
    )
    .ok_or_else(singular)?;
    let statics = did::twfe::fit(
        y.view(),
        &panel.group,
        1,
        |g, t| g.filter(|&g| t >= g).map(|_| 0),
        clusters,
    )
    .ok_or_else(singular)?;
    let n_treated = panel.group.iter().filter(|g| g.is_some()).count();
    let n_control = panel.n_units() - n_treated;
    let df = Some(dynamic.n_clusters as f64 - 1.0);
    let label = format!(
        "cluster-robust CR1 (Stata), t(G-1), {} clusters",
        dynamic.n_clusters
    );
    let mut rows = Vec::new();
    let mut push = |target: String, estimate: f64, variance: f64, rows: &mut Vec<ResultRow>| {
        let effect = crate::estimators::Effect {
            estimate,
            std_error: variance.sqrt(),
            inference: label.clone(),
            degrees_of_freedom: df,
            n_treated,
            n_control,
        };
        let mut row = result_row(
            plan, evaluation, "all", outcome, "did-twfe", &effect, warnings,
        );
        row.target = target;
        rows.push(row);
    };
    push(
        "overall".into(),
        statics.coefficients[0],
        statics.covariance[[0, 0]],
        &mut rows,
    );
    for (k, e) in events.iter().enumerate() {
        push(
            format!("event:{e}"),
            dynamic.coefficients[k],
            dynamic.covariance[[k, k]],
            &mut rows,
        );
    }
    let leads: Vec<usize> = (0..events.len()).filter(|&k| events[k] < -1).collect();
    let test = if leads.is_empty() {
        None
    } else {
        let v = ndarray::Array2::from_shape_fn((leads.len(), leads.len()), |(a, b)| {
            dynamic.covariance[[leads[a], leads[b]]]
        });
        let b = ndarray::Array1::from_iter(leads.iter().map(|&k| dynamic.coefficients[k]));
        crate::linalg::inverse_spd(v.view()).map(|inverse| {
            use statrs::distribution::{ChiSquared, ContinuousCDF};
            let statistic = b.dot(&inverse.dot(&b));
            let chi = ChiSquared::new(leads.len() as f64).expect("positive degrees of freedom");
            PreTrendTest {
                evaluation: evaluation.name.clone(),
                outcome: outcome.to_string(),
                statistic,
                degrees_of_freedom: leads.len(),
                p_value: 1.0 - chi.cdf(statistic),
            }
        })
    };
    Ok((rows, test))
}

/// Logit errors carry a covariate index; the message names the covariate.
fn name_covariate(error: &psm::logit::LogitError, names: &[String]) -> String {
    use psm::logit::LogitError;
    let name = |i: &usize| names.get(*i).cloned().unwrap_or_default();
    match error {
        LogitError::CompleteSeparation { column } => format!(
            "the treatment is perfectly predicted by the covariates (complete separation), most strongly by `{}`",
            name(column)
        ),
        LogitError::NotConverged { iterations, column } => format!(
            "the propensity model did not converge in {iterations} iterations (quasi-complete separation likely, most strongly by `{}`)",
            name(column)
        ),
        LogitError::Singular => error.to_string(),
    }
}
