//! Panels for difference-in-differences: units × periods arrays of outcomes and each unit's
//! first treated period, from long-format records (one row per unit and period).
//!
//! Owns the panel checks: time labels that parse and order (integers, `2025Q3`-style quarters,
//! ISO dates), no duplicate unit × period rows, a first-treated period constant within each unit
//! (or an absorbing 0/1 treatment), no cohort treated in the first period, at least two periods,
//! and balance (units with a missing period or outcome are dropped with a counted warning, or
//! refused with `missing = "error"`). Units are referred to by row numbers, never by identifier.

use super::design::{MissingPolicy, dense_ids, format_number, labels};
use super::load::{Dense, Table};
use crate::error::InputError;
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct PanelSpec {
    pub evaluation: String,
    pub unit: String,
    pub time: String,
    pub outcomes: Vec<String>,
    /// Numeric covariates, taken from each unit's first period (pre-treatment values).
    pub covariates: Vec<String>,
    /// First treated period column (0 or empty = never treated)...
    pub first_treated: Option<String>,
    /// ... or an absorbing 0/1 treatment column.
    pub treatment: Option<String>,
    pub cluster: Option<String>,
    pub missing: MissingPolicy,
    /// Synthetic control: treated units named in the config (by unit label) and the first
    /// treated period, for extracts without a treatment column.
    pub treated_units: Option<(Vec<String>, String)>,
    /// Synthetic control: variables read as units × periods series, gaps kept as NaN (predictors
    /// are often observed only in some years).
    pub series: Vec<String>,
    /// Keep each unit's label (synthetic control reports donor weights by region).
    pub unit_labels: bool,
}

#[derive(Debug, Clone)]
pub struct Panel {
    /// Period labels in time order.
    pub periods: Vec<String>,
    /// One units × periods matrix per outcome.
    pub outcomes: Vec<Array2<f64>>,
    /// Index of each unit's first treated period; `None` = never treated in the window.
    pub group: Vec<Option<usize>>,
    /// Cluster of each unit, when clustering above the unit.
    pub clusters: Option<Vec<u32>>,
    /// units × covariates, from each unit's first period; None without covariates.
    pub covariates: Option<Array2<f64>>,
    /// One units × periods matrix per `PanelSpec::series` variable (NaN where missing).
    pub series: Vec<Array2<f64>>,
    /// Unit labels when `PanelSpec::unit_labels` (empty otherwise).
    pub unit_labels: Vec<String>,
}

impl Panel {
    pub fn n_units(&self) -> usize {
        self.group.len()
    }
}

/// Orderable key of a time label: integers and decimals as themselves, `YYYYQn` as 4·YYYY + n − 1,
/// ISO dates `YYYY-MM-DD` as YYYY·10000 + MM·100 + DD.
pub fn time_key(label: &str) -> Option<f64> {
    let text = label.trim();
    if let Ok(v) = text.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let upper = text.to_ascii_uppercase().replace(['-', ' '], "");
    if let Some((year, quarter)) = upper.split_once('Q') {
        if let (Ok(y), Ok(q)) = (year.parse::<i64>(), quarter.parse::<i64>()) {
            if (1..=4).contains(&q) {
                return Some((4 * y + q - 1) as f64);
            }
        }
    }
    let parts: Vec<&str> = text.split('-').collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) {
                return Some((y * 10_000 + m * 100 + d) as f64);
            }
        }
    }
    None
}

/// The key on which event time (periods since treatment) is counted: numbers and quarters as
/// `time_key`; `None` for dates, whose keys are not evenly spaced (then count periods).
pub fn event_key(label: &str) -> Option<f64> {
    let text = label.trim();
    if text.matches('-').count() == 2 {
        return None;
    }
    time_key(text)
}

pub fn prepare_panel(table: &Table, spec: &PanelSpec) -> Result<(Panel, Vec<String>), InputError> {
    let path = &table.path;
    for column in [
        Some(&spec.unit),
        Some(&spec.time),
        spec.first_treated.as_ref(),
        spec.treatment.as_ref(),
        spec.cluster.as_ref(),
    ]
    .into_iter()
    .flatten()
    .chain(spec.outcomes.iter())
    .chain(spec.covariates.iter())
    .chain(spec.series.iter())
    {
        if !table.has_column(column) {
            return Err(table.missing_column(column));
        }
    }
    // The columns every panel reads, read at once (each holds millions of values).
    let columns = Prefetched::new(
        table,
        [
            Some(&spec.time),
            Some(&spec.unit),
            spec.first_treated.as_ref(),
            spec.treatment.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(&spec.outcomes),
    );
    let n_rows = table.n_rows();
    if u32::try_from(n_rows).is_err() {
        return Err(InputError::BadColumn {
            path: path.clone(),
            column: spec.unit.clone(),
            problem: format!("the panel has {n_rows} rows, more than 4,294,967,295"),
            hint: "split the extract (for example by region) and evaluate the parts".into(),
        });
    }
    let bad_value = |column: &str, row: usize, problem: &str, hint: &str| InputError::BadValue {
        path: path.clone(),
        column: column.to_string(),
        row: row + 1,
        problem: problem.to_string(),
        hint: hint.to_string(),
    };
    // Time keys: numbers are used as they are (the fast path for millions of rows); text labels
    // are parsed.
    let (keys, text_times): (Vec<f64>, Option<Vec<Option<String>>>) =
        match columns.take(&spec.time)? {
            Dense::Numbers(values) => {
                if let Some(row) = values.iter().position(|v| v.is_nan()) {
                    return Err(bad_value(
                        &spec.time,
                        row,
                        "time is missing",
                        "every row needs its period",
                    ));
                }
                (values, None)
            }
            Dense::Text(labels) => {
                let mut keys = Vec::with_capacity(n_rows);
                for (row, label) in labels.iter().enumerate() {
                    let key = match label {
                        None => {
                            return Err(bad_value(
                                &spec.time,
                                row,
                                "time is missing",
                                "every row needs its period",
                            ));
                        }
                        Some(label) => time_key(label).ok_or_else(|| {
                            bad_value(
                                &spec.time,
                                row,
                                "time label cannot be parsed or ordered",
                                "use integers (2025), quarters (2025Q3) or ISO dates (2025-07-01)",
                            )
                        })?,
                    };
                    keys.push(key);
                }
                (keys, Some(labels))
            }
        };
    let period_keys = distinct_sorted(&keys);
    if period_keys.len() < 2 {
        return Err(InputError::BadColumn {
            path: path.clone(),
            column: spec.time.clone(),
            problem: format!("has {} distinct period(s)", period_keys.len()),
            hint: "difference-in-differences needs at least two periods".into(),
        });
    }
    let period_of = |key: f64| period_keys.binary_search_by(|p| p.total_cmp(&key)).ok();
    let period_labels: Vec<String> = match &text_times {
        None => period_keys.iter().map(|k| format_number(*k)).collect(),
        Some(labels) => {
            let mut out = vec![String::new(); period_keys.len()];
            for (row, key) in keys.iter().enumerate() {
                let p = period_of(*key).expect("every key is a period");
                if out[p].is_empty() {
                    out[p] = labels[row].clone().unwrap_or_default();
                }
            }
            out
        }
    };
    let unit_column = columns.take(&spec.unit)?;
    let unit_ids: Vec<u32> = match unit_column {
        Dense::Numbers(ref values) => {
            if let Some(row) = values.iter().position(|v| v.is_nan()) {
                return Err(bad_value(
                    &spec.unit,
                    row,
                    "unit identifier is missing",
                    "every row needs its unit",
                ));
            }
            dense_numeric_ids(values)
        }
        Dense::Text(ref units) => {
            if let Some(row) = units.iter().position(Option::is_none) {
                return Err(bad_value(
                    &spec.unit,
                    row,
                    "unit identifier is missing",
                    "every row needs its unit",
                ));
            }
            dense_ids(units)
        }
    };
    let n_units = unit_ids.iter().copied().max().map_or(0, |m| m as usize + 1);
    // Row of each unit × period; duplicates are errors.
    let n_periods = period_keys.len();
    let mut cell_row = CellRows::new(n_units, n_periods);
    for row in 0..n_rows {
        let period = period_of(keys[row]).expect("period");
        if let Some(first) = cell_row.set(unit_ids[row] as usize, period, row) {
            return Err(InputError::BadColumn {
                path: path.clone(),
                column: format!("{} × {}", spec.unit, spec.time),
                problem: format!(
                    "rows {} and {} are the same unit in the same period",
                    first + 1,
                    row + 1
                ),
                hint: "keep one row per unit and period (aggregate or deduplicate the extract)"
                    .into(),
            });
        }
    }
    // A unit's label, from its first row (only when asked: panels can have millions of units).
    let unit_label = |unit: usize| -> String {
        let row = (0..n_periods)
            .find_map(|p| cell_row.get(unit, p))
            .expect("every unit has a row");
        match &unit_column {
            Dense::Numbers(v) => format_number(v[row]),
            Dense::Text(v) => v[row].clone().unwrap_or_default(),
        }
    };
    // First treated period per unit.
    let mut group_key: Vec<Option<Option<f64>>> = vec![None; n_units];
    let mut group_row: Vec<usize> = vec![0; n_units];
    match (&spec.first_treated, &spec.treatment) {
        (Some(column), _) => {
            let (numbers, texts) = match columns.take(column)? {
                Dense::Numbers(v) => (Some(v), None),
                Dense::Text(v) => (None, Some(v)),
            };
            for row in 0..n_rows {
                let text_value = texts
                    .as_ref()
                    .and_then(|t| t[row].as_deref())
                    .map(str::trim);
                let value = match (&numbers, text_value) {
                    (Some(v), _) => Some(v[row]).filter(|x| *x != 0.0 && !x.is_nan()),
                    (None, None | Some("") | Some("0")) => None,
                    (None, Some(text)) => Some(time_key(text).ok_or_else(|| {
                        bad_value(
                            column,
                            row,
                            "first-treated period cannot be parsed",
                            "use the same format as the time column, and 0 for never treated",
                        )
                    })?),
                };
                let unit = unit_ids[row] as usize;
                match group_key[unit] {
                    None => {
                        group_key[unit] = Some(value);
                        group_row[unit] = row;
                    }
                    Some(previous) if previous != value => {
                        return Err(InputError::BadColumn {
                            path: path.clone(),
                            column: column.clone(),
                            problem: format!(
                                "must be constant within each unit; rows {} and {} (same unit) differ",
                                group_row[unit] + 1,
                                row + 1
                            ),
                            hint: "give every row of a unit the same first treated period".into(),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        (None, Some(column)) => {
            let values = columns.numeric(column)?;
            for unit in 0..n_units {
                let mut treated_since: Option<f64> = None;
                for p in 0..n_periods {
                    let Some(row) = cell_row.get(unit, p) else {
                        continue;
                    };
                    match values[row] {
                        v if v.is_nan() => {}
                        v if v == 1.0 => {
                            treated_since.get_or_insert(period_keys[p]);
                        }
                        v if v == 0.0 => {
                            if treated_since.is_some() {
                                return Err(bad_value(
                                    column,
                                    row,
                                    "treatment switches off after being on",
                                    "the estimator needs an absorbing treatment (once treated, always treated); recode the column or use a first-treated column",
                                ));
                            }
                        }
                        _ => {
                            return Err(bad_value(
                                column,
                                row,
                                "treatment must be 0 or 1",
                                "code treated periods as 1 and the others as 0",
                            ));
                        }
                    }
                    group_row[unit] = row;
                }
                group_key[unit] = Some(treated_since);
            }
        }
        (None, None) if spec.treated_units.is_some() => {
            let (names, start) = spec.treated_units.as_ref().expect("checked");
            let start_key = time_key(start).ok_or_else(|| {
                InputError::usage(
                    format!(
                        "evaluation `{}`: treatment start `{start}` cannot be parsed",
                        spec.evaluation
                    ),
                    "use the format of the time column: 1989, 2025Q3 or 2025-07-01",
                )
            })?;
            let labels: Vec<String> = (0..n_units).map(unit_label).collect();
            for name in names {
                let Some(unit) = labels.iter().position(|l| l == name) else {
                    return Err(InputError::BadColumn {
                        path: path.clone(),
                        column: spec.unit.clone(),
                        problem: format!("treated unit `{name}` is not in the data"),
                        hint: "check the spelling in `treated-units` against the unit column"
                            .into(),
                    });
                };
                group_key[unit] = Some(Some(start_key));
            }
            for key in group_key.iter_mut() {
                key.get_or_insert(None);
            }
        }
        (None, None) => {
            return Err(InputError::usage(
                format!(
                    "evaluation `{}`: no treatment timing given",
                    spec.evaluation
                ),
                "set `first-treated` (first treated period, 0 = never) or `treatment` (absorbing 0/1) in [data]",
            ));
        }
    }
    let mut warnings = Vec::new();
    // Outcomes and balance.
    let outcome_values: Vec<Vec<f64>> = spec
        .outcomes
        .iter()
        .map(|o| columns.numeric(o))
        .collect::<Result<_, _>>()?;
    let mut keep = vec![true; n_units];
    let mut incomplete = 0usize;
    for unit in 0..n_units {
        for p in 0..n_periods {
            let missing = match cell_row.get(unit, p) {
                None => true,
                Some(row) => outcome_values.iter().any(|v| v[row].is_nan()),
            };
            if missing {
                if spec.missing == MissingPolicy::Error {
                    let row = cell_row.get(unit, p).unwrap_or(group_row[unit]);
                    return Err(bad_value(
                        &spec.outcomes.join(", "),
                        row,
                        &if spec.unit_labels {
                            // Aggregates (regions) are named; individuals never are.
                            format!(
                                "unit `{}` has no outcome for period {}",
                                unit_label(unit),
                                period_labels[p]
                            )
                        } else {
                            format!(
                                "the unit of this row has no outcome for period {}",
                                period_labels[p]
                            )
                        },
                        if spec.unit_labels {
                            "complete the panel (a synthetic control needs every unit's outcome in every period), or remove that unit's rows from the extract"
                        } else {
                            "complete the panel, or set `missing = \"drop\"` to drop incomplete units with a counted warning"
                        },
                    ));
                }
                keep[unit] = false;
            }
        }
        if !keep[unit] {
            incomplete += 1;
        }
    }
    if incomplete > 0 {
        warnings.push(format!(
            "evaluation `{}`: dropped {incomplete} of {n_units} units without an outcome in every period (balanced panel)",
            spec.evaluation
        ));
    }
    let kept: Vec<usize> = (0..n_units).filter(|&u| keep[u]).collect();
    let mut group = Vec::with_capacity(kept.len());
    let mut late = 0usize;
    for &unit in &kept {
        let g = match group_key[unit].flatten() {
            None => None,
            Some(key) if key > period_keys[n_periods - 1] => {
                late += 1;
                None
            }
            Some(key) => match period_of(key) {
                Some(0) => {
                    return Err(bad_value(
                        spec.first_treated
                            .as_deref()
                            .or(spec.treatment.as_deref())
                            .unwrap_or(""),
                        group_row[unit],
                        "this unit is treated from the first period, so it has no pre-treatment period",
                        "drop units treated in the first period, or extend the panel backwards",
                    ));
                }
                Some(p) => Some(p),
                None if key < period_keys[0] => {
                    return Err(bad_value(
                        spec.first_treated.as_deref().unwrap_or(""),
                        group_row[unit],
                        "this unit was treated before the first period",
                        "drop always-treated units",
                    ));
                }
                None => {
                    return Err(bad_value(
                        spec.first_treated.as_deref().unwrap_or(""),
                        group_row[unit],
                        "the first treated period is not one of the panel's periods",
                        "use a period that occurs in the time column",
                    ));
                }
            },
        };
        group.push(g);
    }
    if late > 0 {
        warnings.push(format!("evaluation `{}`: {late} units first treated after the last period count as never treated", spec.evaluation));
    }
    let outcomes = outcome_values
        .iter()
        .map(|values| {
            let cell_row = &cell_row;
            let cells: Vec<f64> = kept
                .par_iter()
                .flat_map_iter(|&unit| {
                    (0..n_periods).map(move |p| values[cell_row.get(unit, p).expect("balanced")])
                })
                .collect();
            Array2::from_shape_vec((kept.len(), n_periods), cells)
                .expect("one value per kept unit and period")
        })
        .collect();
    let clusters = match &spec.cluster {
        None => None,
        Some(column) => {
            let values = labels(table, column)?;
            let mut per_unit: Vec<Option<String>> = Vec::with_capacity(kept.len());
            for &unit in &kept {
                let rows: Vec<usize> = (0..n_periods)
                    .filter_map(|p| cell_row.get(unit, p))
                    .collect();
                let first = values[rows[0]].clone();
                if let Some(&row) = rows.iter().find(|&&r| values[r] != first) {
                    return Err(bad_value(
                        column,
                        row,
                        "cluster differs from the unit's other rows",
                        "a unit must stay in one cluster",
                    ));
                }
                per_unit.push(first);
            }
            let distinct: BTreeSet<&String> = per_unit.iter().flatten().collect();
            if distinct.len() < 2 {
                return Err(InputError::BadColumn {
                    path: path.clone(),
                    column: column.clone(),
                    problem: format!("has {} cluster(s)", distinct.len()),
                    hint: "cluster-robust standard errors need at least two clusters (and should have many more); remove `cluster` to cluster by unit".into(),
                });
            }
            Some(dense_ids(&per_unit))
        }
    };
    let covariates = if spec.covariates.is_empty() {
        None
    } else {
        let columns: Vec<Vec<Option<f64>>> = spec
            .covariates
            .iter()
            .map(|c| table.numeric(c))
            .collect::<Result<_, _>>()?;
        let mut x = Array2::<f64>::zeros((kept.len(), columns.len()));
        for (i, &unit) in kept.iter().enumerate() {
            let row = (0..n_periods)
                .find_map(|p| cell_row.get(unit, p))
                .expect("a balanced unit has rows");
            for (j, column) in columns.iter().enumerate() {
                x[[i, j]] = column[row].ok_or_else(|| {
                    bad_value(
                        &spec.covariates[j],
                        row,
                        "covariate is missing in the unit's first period",
                        "fill it in, or drop the covariate",
                    )
                })?;
            }
        }
        Some(x)
    };
    let series = spec
        .series
        .iter()
        .map(|column| {
            let values = table.numeric(column)?;
            Ok(Array2::from_shape_fn((kept.len(), n_periods), |(i, p)| {
                cell_row
                    .get(kept[i], p)
                    .and_then(|row| values[row])
                    .unwrap_or(f64::NAN)
            }))
        })
        .collect::<Result<Vec<_>, InputError>>()?;
    let unit_labels = if spec.unit_labels {
        kept.iter().map(|&u| unit_label(u)).collect()
    } else {
        Vec::new()
    };
    Ok((
        Panel {
            periods: period_labels,
            outcomes,
            group,
            clusters,
            covariates,
            series,
            unit_labels,
        },
        warnings,
    ))
}

/// Columns read from a table in parallel, each taken once by the code that checks it.
struct Prefetched<'a> {
    table: &'a Table,
    read: std::cell::RefCell<std::collections::BTreeMap<String, Result<Dense, InputError>>>,
}

impl<'a> Prefetched<'a> {
    fn new<'n>(table: &'a Table, names: impl Iterator<Item = &'n String>) -> Self {
        let mut names: Vec<&String> = names.collect();
        names.sort_unstable();
        names.dedup();
        let read = names
            .into_par_iter()
            .map(|name| (name.clone(), table.dense(name)))
            .collect();
        Prefetched {
            table,
            read: std::cell::RefCell::new(read),
        }
    }

    fn take(&self, name: &str) -> Result<Dense, InputError> {
        let read = self.read.borrow_mut().remove(name);
        read.unwrap_or_else(|| self.table.dense(name))
    }

    /// Numbers, NaN where missing.
    fn numeric(&self, name: &str) -> Result<Vec<f64>, InputError> {
        self.table.dense_numbers_of(name, self.take(name)?)
    }
}

/// The row of every unit × period of a panel (a dense table: panels have few periods).
struct CellRows {
    rows: Vec<u32>,
    periods: usize,
}

impl CellRows {
    const EMPTY: u32 = u32::MAX;

    fn new(units: usize, periods: usize) -> Self {
        CellRows {
            rows: vec![Self::EMPTY; units * periods],
            periods,
        }
    }

    fn get(&self, unit: usize, period: usize) -> Option<usize> {
        let row = self.rows[unit * self.periods + period];
        (row != Self::EMPTY).then_some(row as usize)
    }

    /// Records `row`; returns the earlier row if the cell already had one.
    fn set(&mut self, unit: usize, period: usize, row: usize) -> Option<usize> {
        let earlier = self.get(unit, period);
        if earlier.is_none() {
            self.rows[unit * self.periods + period] =
                u32::try_from(row).expect("panels of 2³² rows and more are refused first");
        }
        earlier
    }
}

/// The distinct values, ascending. Time columns hold few distinct values among millions of rows,
/// so they are collected in small sorted sets (per block of rows, in parallel) instead of sorting
/// every row; many distinct values fall back to sorting.
fn distinct_sorted(values: &[f64]) -> Vec<f64> {
    const SMALL: usize = 4096;
    let small_set = |block: &[f64]| -> Option<Vec<f64>> {
        let mut distinct: Vec<f64> = Vec::new();
        let mut last = f64::NAN;
        for &v in block {
            if v.total_cmp(&last).is_eq() {
                continue;
            }
            last = v;
            if let Err(at) = distinct.binary_search_by(|d| d.total_cmp(&v)) {
                if distinct.len() == SMALL {
                    return None;
                }
                distinct.insert(at, v);
            }
        }
        Some(distinct)
    };
    let blocks: Option<Vec<Vec<f64>>> = values.par_chunks(1 << 16).map(small_set).collect();
    let mut all = match blocks {
        Some(blocks) => blocks.concat(),
        None => values.to_vec(),
    };
    all.sort_unstable_by(f64::total_cmp);
    all.dedup_by(|a, b| a.total_cmp(b).is_eq());
    all
}

/// Dense ids 0.. in ascending order of the values (numeric unit identifiers). Whole numbers in a
/// range not much wider than the data are ranked by direct indexing (linear time: millions of
/// units); other values by sorting.
fn dense_numeric_ids(values: &[f64]) -> Vec<u32> {
    let value = |v: &f64| *v;
    let (min, max, whole) = values
        .par_chunks(1 << 16)
        .map(|chunk| {
            let (mut min, mut max, mut whole) = (f64::INFINITY, f64::NEG_INFINITY, true);
            for v in chunk.iter().map(value) {
                min = min.min(v);
                max = max.max(v);
                // (Not `fract`, a library call without SSE4.1; out-of-range values saturate,
                // NaN fails.)
                whole &= v == (v as i64) as f64;
            }
            (min, max, whole)
        })
        .reduce(
            || (f64::INFINITY, f64::NEG_INFINITY, true),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 && b.2),
        );
    let span = max - min;
    if whole && span.is_finite() && span < (4 * values.len()).max(1024) as f64 {
        let mut rank = vec![0u32; span as usize + 1];
        for v in values.iter().map(value) {
            rank[(v - min) as usize] = 1;
        }
        let mut next = 0u32;
        for r in rank.iter_mut() {
            let present = *r;
            *r = next;
            next += present;
        }
        return values
            .par_iter()
            .map(|v| rank[(value(v) - min) as usize])
            .collect();
    }
    let mut distinct: Vec<f64> = values.iter().map(value).collect();
    distinct.sort_unstable_by(f64::total_cmp);
    distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
    values
        .iter()
        .map(|v| {
            distinct
                .binary_search_by(|d| d.total_cmp(&value(v)))
                .expect("present") as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linear-time paths give what sorting gives, and the fallbacks take over where they
    /// must (fractions, wide ranges, many distinct periods).
    #[test]
    fn fast_ids_and_periods_equal_the_sorted_ones() {
        let by_sorting = |values: &[f64]| -> Vec<u32> {
            let mut d = values.to_vec();
            d.sort_unstable_by(f64::total_cmp);
            d.dedup();
            values
                .iter()
                .map(|v| d.binary_search_by(|x| x.total_cmp(v)).unwrap() as u32)
                .collect()
        };
        let cases: Vec<Vec<f64>> = vec![
            vec![7.0, 3.0, 3.0, -2.0, 10.0, 7.0],
            vec![1.5, 0.25, 1.5, -3.0],
            vec![1e12, 5.0, 1e12, -1e12],
            (0..20_000).map(|i| ((i * 7919) % 10_007) as f64).collect(),
        ];
        for values in &cases {
            assert_eq!(dense_numeric_ids(values), by_sorting(values));
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted.dedup();
            assert_eq!(distinct_sorted(values), sorted);
        }
    }

    #[test]
    fn time_labels_parse_and_order() {
        assert_eq!(time_key("2004"), Some(2004.0));
        assert!(time_key("2025Q4").unwrap() < time_key("2026Q1").unwrap());
        assert!(time_key("2025-q3").unwrap() < time_key("2025Q4").unwrap());
        assert!(time_key("2025-07-01").unwrap() < time_key("2025-10-01").unwrap());
        assert_eq!(time_key("spring"), None);
        assert_eq!(time_key("2025Q5"), None);
    }
}
