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
    let period_index = PeriodIndex::new(&period_keys);
    let period_of = |key: f64| period_index.of(key);
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
    let n_periods = period_keys.len();
    // Rows already sorted by unit and period, every unit in every period (the usual layout of
    // a panel extract): unit × period is the row's position, no table to fill.
    let mut in_matrix_order = false;
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
            in_matrix_order = rows_in_matrix_order(values, &keys, &period_keys);
            if in_matrix_order {
                (0..n_rows)
                    .into_par_iter()
                    .map(|row| (row / n_periods) as u32)
                    .collect()
            } else {
                dense_numeric_ids(values)
            }
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
    let n_units = if in_matrix_order {
        n_rows / n_periods
    } else {
        unit_ids.iter().copied().max().map_or(0, |m| m as usize + 1)
    };
    // Row of each unit × period; duplicates are errors.
    let cell_of = |row: usize| {
        (
            unit_ids[row] as usize,
            period_of(keys[row]).expect("period"),
        )
    };
    let mut cell_row = if in_matrix_order {
        CellRows::in_matrix_order(n_periods)
    } else {
        CellRows::new(n_units, n_periods)
    };
    // In parallel; only if a cell is filled twice, again in row order, to name the first pair.
    if !in_matrix_order && cell_row.fill_in_parallel(n_rows, cell_of) {
        for row in 0..n_rows {
            let (unit, period) = cell_of(row);
            if let Some(first) = cell_row.set(unit, period, row) {
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
            // Numbers: each unit's value from its first row, checked against its other rows, in
            // parallel over units; where a unit disagrees, the pass in row order names the rows.
            let by_unit = numbers.as_ref().is_some_and(|v| {
                let value = |row: usize| Some(v[row]).filter(|x| *x != 0.0 && !x.is_nan());
                group_key
                    .par_iter_mut()
                    .zip(group_row.par_iter_mut())
                    .enumerate()
                    .with_min_len(1 << 12)
                    .all(|(unit, (key, first_row))| {
                        let rows = (0..n_periods).filter_map(|p| cell_row.get(unit, p));
                        let Some(first) = rows.clone().min() else {
                            return false;
                        };
                        let g = value(first);
                        (*key, *first_row) = (Some(g), first);
                        rows.into_iter().all(|r| value(r) == g)
                    })
            });
            if !by_unit {
                group_key.fill(None);
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
                                hint: "give every row of a unit the same first treated period"
                                    .into(),
                            });
                        }
                        Some(_) => {}
                    }
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
    let missing = |unit: usize, p: usize| match cell_row.get(unit, p) {
        None => true,
        Some(row) => outcome_values.iter().any(|v| v[row].is_nan()),
    };
    let keep: Vec<bool> = (0..n_units)
        .into_par_iter()
        .map(|unit| !(0..n_periods).any(|p| missing(unit, p)))
        .collect();
    let incomplete = keep.iter().filter(|k| !**k).count();
    // The first unit without an outcome, at its first such period.
    let first_gap = keep.iter().position(|k| !k).and_then(|unit| {
        (0..n_periods)
            .find(|&p| missing(unit, p))
            .map(|p| (unit, p))
    });
    if let Some((unit, p)) = first_gap {
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
    }
    if incomplete > 0 {
        warnings.push(format!(
            "evaluation `{}`: dropped {incomplete} of {n_units} units without an outcome in every period (balanced panel)",
            spec.evaluation
        ));
    }
    let kept: Vec<usize> = (0..n_units).filter(|&u| keep[u]).collect();
    // Each kept unit's group (a period index) and whether its first treated period falls after
    // the panel, in parallel; the first unit in order with a bad period is reported.
    let classify = |unit: usize| -> Result<(Option<usize>, bool), InputError> {
        match group_key[unit].flatten() {
            None => Ok((None, false)),
            Some(key) if key > period_keys[n_periods - 1] => Ok((None, true)),
            Some(key) => match period_of(key) {
                Some(0) => Err(bad_value(
                    spec.first_treated
                        .as_deref()
                        .or(spec.treatment.as_deref())
                        .unwrap_or(""),
                    group_row[unit],
                    "this unit is treated from the first period, so it has no pre-treatment period",
                    "drop units treated in the first period, or extend the panel backwards",
                )),
                Some(p) => Ok((Some(p), false)),
                None if key < period_keys[0] => Err(bad_value(
                    spec.first_treated.as_deref().unwrap_or(""),
                    group_row[unit],
                    "this unit was treated before the first period",
                    "drop always-treated units",
                )),
                None => Err(bad_value(
                    spec.first_treated.as_deref().unwrap_or(""),
                    group_row[unit],
                    "the first treated period is not one of the panel's periods",
                    "use a period that occurs in the time column",
                )),
            },
        }
    };
    // (Errors are built again for the first failing unit: a vector of a million `Result`s with
    // room for an error was most of this step's time.)
    let groups: Vec<Option<(Option<usize>, bool)>> =
        kept.par_iter().map(|&unit| classify(unit).ok()).collect();
    let mut group = Vec::with_capacity(kept.len());
    let mut late = 0usize;
    for (&unit, result) in kept.iter().zip(groups) {
        let (g, after_the_panel) = match result {
            Some(ok) => ok,
            None => classify(unit)?,
        };
        group.push(g);
        late += usize::from(after_the_panel);
    }
    if late > 0 {
        warnings.push(format!("evaluation `{}`: {late} units first treated after the last period count as never treated", spec.evaluation));
    }
    // Rows sorted by unit and period with every unit kept: the columns already are the matrices.
    let in_matrix_order = kept.len() == n_units && cell_row.is_matrix_order(n_rows);
    let outcomes = outcome_values
        .into_iter()
        .map(|values| {
            if in_matrix_order {
                return Array2::from_shape_vec((n_units, n_periods), values)
                    .expect("one value per unit and period");
            }
            let (cell_row, values) = (&cell_row, &values);
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

/// The index of a time key among the panel's periods. Whole-number keys in a short range (years,
/// quarters) are looked up in a table: a binary search for each of 8 million rows was most of
/// the time spent filling the unit × period table.
struct PeriodIndex<'a> {
    keys: &'a [f64],
    /// (smallest key, 1 + index of each whole number from it; 0 where none)
    direct: Option<(f64, Vec<u32>)>,
}

impl<'a> PeriodIndex<'a> {
    const DIRECT_SPAN: f64 = 65_536.0;

    fn new(keys: &'a [f64]) -> Self {
        // (−0 is a key of its own for the binary search, `total_cmp`: it stays with the search.)
        let whole = keys
            .iter()
            .all(|&k| k == (k as i64) as f64 && !Self::negative_zero(k));
        let direct = match (keys.first(), keys.last()) {
            (Some(&min), Some(&max)) if whole && max - min < Self::DIRECT_SPAN => {
                let mut table = vec![0u32; (max - min) as usize + 1];
                for (i, &k) in keys.iter().enumerate() {
                    table[(k - min) as usize] = i as u32 + 1;
                }
                Some((min, table))
            }
            _ => None,
        };
        PeriodIndex { keys, direct }
    }

    fn negative_zero(key: f64) -> bool {
        key == 0.0 && key.is_sign_negative()
    }

    fn of(&self, key: f64) -> Option<usize> {
        match &self.direct {
            Some((min, table)) if !Self::negative_zero(key) => {
                let offset = key - min;
                // (Comparisons are false for NaN; fractions are no period. Not `trunc`, a library
                // call without SSE4.1.)
                if offset >= 0.0 && offset < table.len() as f64 && offset == (offset as i64) as f64
                {
                    (table[offset as usize] as usize).checked_sub(1)
                } else {
                    None
                }
            }
            _ => self.keys.binary_search_by(|p| p.total_cmp(&key)).ok(),
        }
    }
}

/// Whether the rows are sorted by unit (numeric identifiers, strictly ascending) and, within
/// each unit, hold every period once in order: row = unit index × periods + period index.
fn rows_in_matrix_order(units: &[f64], keys: &[f64], periods: &[f64]) -> bool {
    let t = periods.len();
    if t == 0 || units.len() % t != 0 || keys.len() != units.len() {
        return false;
    }
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
    units
        .par_chunks(t)
        .zip(keys.par_chunks(t))
        .enumerate()
        .with_min_len(1 << 12)
        .all(|(unit, (u, k))| {
            u.iter().all(|&v| same(v, u[0]))
                && k.iter().zip(periods).all(|(&a, &b)| same(a, b))
                && (unit == 0 || units[(unit - 1) * t] < u[0])
        })
}

/// The row of every unit × period of a panel (a dense table: panels have few periods), or, for
/// rows in matrix order, no table at all.
struct CellRows {
    /// Empty in matrix order.
    rows: Vec<u32>,
    periods: usize,
    in_matrix_order: bool,
}

impl CellRows {
    const EMPTY: u32 = u32::MAX;

    fn in_matrix_order(periods: usize) -> Self {
        CellRows {
            rows: Vec::new(),
            periods,
            in_matrix_order: true,
        }
    }

    /// Whether row = unit × periods + period for all `n_rows` rows.
    fn is_matrix_order(&self, n_rows: usize) -> bool {
        self.in_matrix_order
            || (self.rows.len() == n_rows
                && self
                    .rows
                    .par_iter()
                    .enumerate()
                    .all(|(i, &row)| row as usize == i))
    }

    /// Records every row's cell, `cell_of(row)` = (unit, period), from all threads; true when a
    /// cell was filled twice (the table is then cleared, for `set` to find the first pair).
    /// Rows are stored without checking (a check and swap per row cost as much as the serial
    /// loop): there is a duplicate exactly when fewer cells than rows end up filled.
    fn fill_in_parallel(
        &mut self,
        n_rows: usize,
        cell_of: impl Fn(usize) -> (usize, usize) + Sync,
    ) -> bool {
        use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
        let periods = self.periods;
        // SAFETY: AtomicU32 has the size, alignment and bit validity of u32, and the exclusive
        // borrow of `rows` is held for as long as the atomic view lives.
        let cells: &[AtomicU32] = unsafe {
            std::slice::from_raw_parts(self.rows.as_mut_ptr() as *const AtomicU32, self.rows.len())
        };
        (0..n_rows)
            .into_par_iter()
            .with_min_len(1 << 14)
            .for_each(|row| {
                let (unit, period) = cell_of(row);
                let row =
                    u32::try_from(row).expect("panels of 2³² rows and more are refused first");
                cells[unit * periods + period].store(row, Relaxed);
            });
        let filled = self.rows.par_iter().filter(|&&r| r != Self::EMPTY).count();
        let duplicated = filled < n_rows;
        if duplicated {
            self.rows.fill(Self::EMPTY);
        }
        duplicated
    }

    fn new(units: usize, periods: usize) -> Self {
        CellRows {
            rows: vec![Self::EMPTY; units * periods],
            periods,
            in_matrix_order: false,
        }
    }

    fn get(&self, unit: usize, period: usize) -> Option<usize> {
        if self.in_matrix_order {
            return Some(unit * self.periods + period);
        }
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

    /// A panel in matrix order (sorted by unit and period) and the same rows shuffled give the
    /// same panel: the first without a unit × period table, the second with one; and the
    /// first-treated column's constancy is still checked in matrix order.
    #[test]
    fn rows_in_matrix_order_give_the_panel_of_shuffled_rows() {
        use rand::seq::SliceRandom;
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (units, periods) = (300, 5);
        let mut lines: Vec<String> = Vec::new();
        for u in 0..units {
            let first = [0, 3, 4][u % 3];
            for t in 1..=periods {
                let y: f64 = rng.random_range(-5.0..5.0);
                lines.push(format!(
                    "{},{},{},{y}",
                    10 + 3 * u,
                    2000 + t,
                    2000 * (first > 0) as usize + first
                ));
            }
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        let write = |name: &str, lines: &[String]| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("id,year,first,y\n{}\n", lines.join("\n")))
                .expect("write");
            Table::load(&path, b',').expect("load")
        };
        let spec = PanelSpec {
            evaluation: "e".into(),
            unit: "id".into(),
            time: "year".into(),
            outcomes: vec!["y".into()],
            covariates: Vec::new(),
            first_treated: Some("first".into()),
            treatment: None,
            cluster: None,
            missing: MissingPolicy::Error,
            treated_units: None,
            series: Vec::new(),
            unit_labels: false,
        };
        let ordered = prepare_panel(&write("ordered.csv", &lines), &spec)
            .expect("panel")
            .0;
        let mut shuffled_lines = lines.clone();
        shuffled_lines.shuffle(&mut rng);
        let shuffled = prepare_panel(&write("shuffled.csv", &shuffled_lines), &spec)
            .expect("panel")
            .0;
        assert_eq!(ordered.periods, shuffled.periods);
        assert_eq!(ordered.group, shuffled.group);
        assert_eq!(ordered.outcomes, shuffled.outcomes);
        assert!(ordered.group.iter().any(Option::is_some) && ordered.group.contains(&None));
        // A unit whose first-treated period changes between its rows is still refused.
        let mut inconsistent = lines.clone();
        let mut fields: Vec<&str> = lines[7].split(',').collect();
        assert_eq!(fields[2], "2003");
        fields[2] = "2004";
        inconsistent[7] = fields.join(",");
        let error = prepare_panel(&write("bad.csv", &inconsistent), &spec).unwrap_err();
        assert!(
            error.to_string().contains("constant within each unit"),
            "{error}"
        );
    }

    /// The period table gives what a binary search gives, for keys that are periods and keys
    /// that are not (fractions, out of range, NaN), in both of its forms.
    #[test]
    fn period_index_equals_the_binary_search() {
        let cases: [&[f64]; 3] = [
            &[2004.0, 2005.0, 2006.0, 2007.0],
            &[-8.0, -3.0, 0.0, 4.0, 8101.0],
            &[0.5, 1.5, 2.0],
        ];
        let probes = [
            -9.0,
            -8.0,
            -3.0,
            -2.5,
            0.0,
            -0.0,
            0.5,
            1.5,
            2.0,
            4.0,
            2004.0,
            2005.5,
            2007.0,
            2008.0,
            8101.0,
            1e12,
            f64::NAN,
            f64::INFINITY,
        ];
        for keys in cases {
            let index = PeriodIndex::new(keys);
            for key in probes {
                let expected = keys.binary_search_by(|p| p.total_cmp(&key)).ok();
                assert_eq!(index.of(key), expected, "{keys:?}, {key}");
            }
        }
        assert!(PeriodIndex::new(&[2004.0, 2005.0]).direct.is_some());
        assert!(PeriodIndex::new(&[0.5, 1.5]).direct.is_none());
    }

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
