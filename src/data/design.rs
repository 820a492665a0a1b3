//! From a loaded `Table` to the plain arrays estimators consume.
//!
//! Owns: covariate terms (`age^2`, `education*re74`, `re74==0`), one-hot encoding of categorical
//! covariates against a reference level, the missing-value policy, the split of beneficiaries by
//! intervention, and the checks that make a design estimable (0/1 treatment, both groups present,
//! no constant covariate, more observations than covariates).

use super::load::{Column, Table};
use crate::error::InputError;
use ndarray::Array2;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingPolicy {
    Drop,
    Error,
}

/// Which columns play which role in one evaluation.
#[derive(Debug, Clone)]
pub struct DesignSpec {
    pub evaluation: String,
    pub treatment: String,
    pub intervention: Option<String>,
    pub outcomes: Vec<String>,
    pub covariates: Vec<String>,
    pub exact: Vec<String>,
    pub cluster: Option<String>,
    pub categorical: Vec<String>,
    pub reference_levels: BTreeMap<String, String>,
    pub missing: MissingPolicy,
    /// Use only these table rows (e.g. the baseline period of a panel); None = all rows.
    pub rows: Option<Vec<usize>>,
}

/// One comparison: the beneficiaries of one intervention and the whole comparison group.
#[derive(Debug, Clone)]
pub struct CrossSection {
    pub intervention: String,
    /// Names of the columns of `x` after expanding terms and categories.
    pub covariate_names: Vec<String>,
    /// n × p covariate matrix (no intercept).
    pub x: Array2<f64>,
    pub treated: Vec<bool>,
    /// One vector per outcome, in the order of `DesignSpec::outcomes`.
    pub outcomes: Vec<Vec<f64>>,
    /// Exact-matching stratum of each unit, when `exact` columns are given.
    pub strata: Option<Vec<u32>>,
    pub clusters: Option<Vec<u32>>,
    /// The table row each design row comes from.
    pub source_rows: Vec<usize>,
}

impl CrossSection {
    pub fn n_treated(&self) -> usize {
        self.treated.iter().filter(|&&t| t).count()
    }
    pub fn n_control(&self) -> usize {
        self.treated.len() - self.n_treated()
    }
}

#[derive(Debug)]
pub struct Prepared {
    pub comparisons: Vec<CrossSection>,
    pub warnings: Vec<String>,
}

/// A covariate term as written in the config.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Column(String),
    Power(String, i32),
    Product(String, String),
    Indicator(String, String),
}

fn parse_term(text: &str) -> Term {
    let clean = |s: &str| s.trim().to_string();
    if let Some((a, b)) = text.split_once("==") {
        return Term::Indicator(clean(a), clean(b));
    }
    if let Some((a, b)) = text.split_once('^') {
        if let Ok(power) = b.trim().parse::<i32>() {
            return Term::Power(clean(a), power);
        }
    }
    if let Some((a, b)) = text.split_once('*') {
        return Term::Product(clean(a), clean(b));
    }
    Term::Column(clean(text))
}

impl Term {
    fn columns(&self) -> Vec<&str> {
        match self {
            Term::Column(a) | Term::Power(a, _) | Term::Indicator(a, _) => vec![a],
            Term::Product(a, b) => vec![a, b],
        }
    }
}

/// Expanded covariate: its display name and values (None = missing).
struct Expanded {
    name: String,
    values: Vec<Option<f64>>,
}

pub fn prepare(table: &Table, spec: &DesignSpec) -> Result<Prepared, InputError> {
    let terms: Vec<(String, Term)> = spec
        .covariates
        .iter()
        .map(|t| (t.clone(), parse_term(t)))
        .collect();
    check_columns_exist(table, spec, &terms)?;
    let n = table.n_rows();
    let treatment = read_treatment(table, &spec.treatment)?;
    let outcomes: Vec<Vec<Option<f64>>> = spec
        .outcomes
        .iter()
        .map(|o| table.numeric(o))
        .collect::<Result<_, _>>()?;
    let mut covariates = Vec::new();
    for (text, term) in &terms {
        covariates.extend(expand_term(table, spec, text, term)?);
    }
    let intervention = match &spec.intervention {
        Some(column) => Some(labels(table, column)?),
        None => None,
    };
    let strata_keys = combined_labels(table, &spec.exact)?;
    let cluster_labels = match &spec.cluster {
        Some(column) => Some(labels(table, column)?),
        None => None,
    };

    // Missing values: a row is used only when every used column has a value.
    let mut keep = vec![true; n];
    // Rows outside the requested subset are not part of the design (and not "dropped").
    let in_subset: Vec<bool> = match &spec.rows {
        None => vec![true; n],
        Some(rows) => {
            let mut mask = vec![false; n];
            for &r in rows {
                mask[r] = true;
            }
            mask
        }
    };
    let mut dropped_by: BTreeMap<String, usize> = BTreeMap::new();
    let mut mark = |name: &str, missing: &dyn Fn(usize) -> bool| -> Result<(), InputError> {
        for (row, kept) in keep.iter_mut().enumerate() {
            if in_subset[row] && missing(row) {
                if spec.missing == MissingPolicy::Error {
                    return Err(InputError::BadValue {
                        path: table.path.clone(),
                        column: name.to_string(),
                        row: row + 1,
                        problem: "value is missing".into(),
                        hint: "fill it in, or set `missing = \"drop\"` in [data] to drop incomplete rows with a counted warning".into(),
                    });
                }
                if *kept {
                    *dropped_by.entry(name.to_string()).or_default() += 1;
                }
                *kept = false;
            }
        }
        Ok(())
    };
    mark(&spec.treatment, &|r| treatment[r].is_none())?;
    for (name, values) in spec.outcomes.iter().zip(&outcomes) {
        mark(name, &|r| values[r].is_none())?;
    }
    for covariate in &covariates {
        mark(&covariate.name, &|r| covariate.values[r].is_none())?;
    }
    if let (Some(name), Some(values)) = (&spec.intervention, &intervention) {
        // Comparison units need no intervention label.
        mark(name, &|r| treatment[r] == Some(true) && values[r].is_none())?;
    }
    if let Some(keys) = &strata_keys {
        mark(&spec.exact.join("+"), &|r| keys[r].is_none())?;
    }
    if let (Some(name), Some(values)) = (&spec.cluster, &cluster_labels) {
        mark(name, &|r| values[r].is_none())?;
    }
    let mut warnings = Vec::new();
    let n_dropped = (0..n).filter(|&r| in_subset[r] && !keep[r]).count();
    for (kept, inside) in keep.iter_mut().zip(&in_subset) {
        *kept &= *inside;
    }
    let n_considered = in_subset.iter().filter(|v| **v).count();
    if n_dropped > 0 {
        let detail: Vec<String> = dropped_by
            .iter()
            .map(|(c, k)| format!("{k} missing in `{c}`"))
            .collect();
        warnings.push(format!(
            "evaluation `{}`: dropped {n_dropped} of {n_considered} rows with missing values ({})",
            spec.evaluation,
            detail.join(", ")
        ));
    }

    let groups: Vec<Option<String>> = match &intervention {
        None => vec![None],
        Some(values) => {
            let set: BTreeSet<&String> = (0..n)
                .filter(|&r| keep[r] && treatment[r] == Some(true))
                .filter_map(|r| values[r].as_ref())
                .collect();
            set.into_iter().map(|v| Some(v.clone())).collect()
        }
    };
    if groups.is_empty() {
        return Err(InputError::design(
            &spec.evaluation,
            "",
            "there are no beneficiaries (treatment = 1) left after dropping incomplete rows",
            "check the treatment column and the missing values",
        ));
    }
    let strata_ids = strata_keys.as_ref().map(|keys| dense_ids(keys));
    let cluster_ids = cluster_labels.as_ref().map(|labels| dense_ids(labels));

    let mut comparisons = Vec::new();
    for group in groups {
        let rows: Vec<usize> = (0..n)
            .filter(|&r| keep[r])
            .filter(|&r| match (&group, &intervention, treatment[r]) {
                (Some(g), Some(values), Some(true)) => values[r].as_ref() == Some(g),
                _ => true,
            })
            .collect();
        let label = group.clone().unwrap_or_else(|| "all".to_string());
        let scope = format!(", intervention `{label}`");
        let treated: Vec<bool> = rows.iter().map(|&r| treatment[r] == Some(true)).collect();
        let n_treated = treated.iter().filter(|&&t| t).count();
        if n_treated == 0 || n_treated == rows.len() {
            let missing_group = if n_treated == 0 {
                "beneficiaries (treatment = 1)"
            } else {
                "comparison units (treatment = 0)"
            };
            return Err(InputError::design(
                &spec.evaluation,
                &scope,
                format!("there are no {missing_group}"),
                "each comparison needs both groups; check the treatment and intervention columns",
            ));
        }
        let p = covariates.len();
        if p + 1 >= rows.len() {
            return Err(InputError::design(
                &spec.evaluation,
                &scope,
                format!("{p} covariate columns but only {} observations", rows.len()),
                "use fewer covariates (or coarser categories) than observations",
            ));
        }
        let mut x = Array2::<f64>::zeros((rows.len(), p));
        for (j, covariate) in covariates.iter().enumerate() {
            for (i, &r) in rows.iter().enumerate() {
                x[[i, j]] = covariate.values[r].expect("incomplete rows were dropped above");
            }
            let first = x[[0, j]];
            if x.column(j).iter().all(|&v| v == first) {
                return Err(InputError::design(
                    &spec.evaluation,
                    &scope,
                    format!("covariate `{}` is constant", covariate.name),
                    "remove it from `covariates`: it cannot explain who took part",
                ));
            }
        }
        let outcome_values = outcomes
            .iter()
            .map(|values| rows.iter().map(|&r| values[r].expect("complete")).collect())
            .collect();
        comparisons.push(CrossSection {
            intervention: label,
            covariate_names: covariates.iter().map(|c| c.name.clone()).collect(),
            x,
            treated,
            outcomes: outcome_values,
            strata: strata_ids
                .as_ref()
                .map(|ids| rows.iter().map(|&r| ids[r]).collect()),
            clusters: cluster_ids
                .as_ref()
                .map(|ids| rows.iter().map(|&r| ids[r]).collect()),
            source_rows: rows,
        });
    }
    Ok(Prepared {
        comparisons,
        warnings,
    })
}

fn check_columns_exist(
    table: &Table,
    spec: &DesignSpec,
    terms: &[(String, Term)],
) -> Result<(), InputError> {
    let mut needed: Vec<&str> = vec![&spec.treatment];
    needed.extend(spec.intervention.as_deref());
    needed.extend(spec.outcomes.iter().map(String::as_str));
    needed.extend(terms.iter().flat_map(|(_, t)| t.columns()));
    needed.extend(spec.exact.iter().map(String::as_str));
    needed.extend(spec.cluster.as_deref());
    match needed.into_iter().find(|c| !table.has_column(c)) {
        Some(column) => Err(table.missing_column(column)),
        None => Ok(()),
    }
}

fn read_treatment(table: &Table, column: &str) -> Result<Vec<Option<bool>>, InputError> {
    let values = table.numeric(column).map_err(|e| match e {
        InputError::BadValue {
            path, column, row, ..
        } => InputError::BadValue {
            path,
            column,
            row,
            problem: "treatment must be 0 or 1".into(),
            hint: "code beneficiaries as 1 and the comparison group as 0".into(),
        },
        other => other,
    })?;
    values
        .iter()
        .enumerate()
        .map(|(row, v)| match v {
            None => Ok(None),
            Some(x) if *x == 1.0 => Ok(Some(true)),
            Some(x) if *x == 0.0 => Ok(Some(false)),
            Some(_) => Err(InputError::BadValue {
                path: table.path.clone(),
                column: column.to_string(),
                row: row + 1,
                problem: "treatment must be 0 or 1".into(),
                hint: "code beneficiaries as 1 and the comparison group as 0".into(),
            }),
        })
        .collect()
}

/// Text labels of a column (numbers formatted), for interventions, strata and clusters.
pub(crate) fn labels(table: &Table, column: &str) -> Result<Vec<Option<String>>, InputError> {
    Ok(match table.column(column)? {
        Column::Text(values) => values,
        Column::Numeric(values) => values.iter().map(|v| v.map(format_number)).collect(),
    })
}

pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn combined_labels(
    table: &Table,
    columns: &[String],
) -> Result<Option<Vec<Option<String>>>, InputError> {
    if columns.is_empty() {
        return Ok(None);
    }
    let parts: Vec<Vec<Option<String>>> = columns
        .iter()
        .map(|c| labels(table, c))
        .collect::<Result<_, _>>()?;
    let n = table.n_rows();
    Ok(Some(
        (0..n)
            .map(|r| {
                parts
                    .iter()
                    .map(|p| p[r].clone())
                    .collect::<Option<Vec<String>>>()
                    .map(|v| v.join("\u{1f}"))
            })
            .collect(),
    ))
}

/// Dense ids 0.. in sorted label order (missing labels get u32::MAX; those rows are dropped).
pub(crate) fn dense_ids(labels: &[Option<String>]) -> Vec<u32> {
    let distinct: BTreeSet<&String> = labels.iter().flatten().collect();
    let index: BTreeMap<&String, u32> = distinct
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, i as u32))
        .collect();
    labels
        .iter()
        .map(|l| l.as_ref().map_or(u32::MAX, |l| index[l]))
        .collect()
}

fn expand_term(
    table: &Table,
    spec: &DesignSpec,
    text: &str,
    term: &Term,
) -> Result<Vec<Expanded>, InputError> {
    let numeric = |c: &str| table.numeric(c);
    Ok(match term {
        Term::Column(c) => {
            let column = table.column(c)?;
            let declared = spec.categorical.iter().any(|k| k == c);
            match column {
                // A mostly numeric column with a stray text value is a data error, not a category.
                Column::Text(values) if !declared && mostly_numeric(&values) => {
                    vec![Expanded {
                        name: c.clone(),
                        values: table.numeric(c)?,
                    }]
                }
                Column::Text(values) => one_hot(table, spec, c, values)?,
                Column::Numeric(values) if declared => one_hot(
                    table,
                    spec,
                    c,
                    values.iter().map(|v| v.map(format_number)).collect(),
                )?,
                Column::Numeric(values) => vec![Expanded {
                    name: c.clone(),
                    values,
                }],
            }
        }
        Term::Power(c, k) => {
            let values = numeric(c)?.iter().map(|v| v.map(|x| x.powi(*k))).collect();
            vec![Expanded {
                name: text.to_string(),
                values,
            }]
        }
        Term::Product(a, b) => {
            let (a, b) = (numeric(a)?, numeric(b)?);
            let values = a.iter().zip(&b).map(|(x, y)| Some((*x)? * (*y)?)).collect();
            vec![Expanded {
                name: text.to_string(),
                values,
            }]
        }
        Term::Indicator(c, level) => {
            let values = match table.column(c)? {
                Column::Text(values) => values
                    .iter()
                    .map(|v| v.as_ref().map(|v| f64::from(u8::from(v == level))))
                    .collect(),
                Column::Numeric(values) => {
                    let target: f64 = level.parse().map_err(|_| InputError::Config {
                        path: table.path.clone(),
                        problem: format!("covariate term `{text}` compares the numeric column `{c}` with `{level}`, which is not a number"),
                        hint: "write the comparison with a number, e.g. `re74==0`".into(),
                    })?;
                    values
                        .iter()
                        .map(|v| v.map(|x| f64::from(u8::from(x == target))))
                        .collect()
                }
            };
            vec![Expanded {
                name: text.to_string(),
                values,
            }]
        }
    })
}

/// Most non-missing values parse as numbers.
fn mostly_numeric(values: &[Option<String>]) -> bool {
    let present: Vec<&String> = values.iter().flatten().collect();
    let numeric = present
        .iter()
        .filter(|v| v.trim().parse::<f64>().is_ok())
        .count();
    !present.is_empty() && numeric * 2 > present.len()
}

fn one_hot(
    table: &Table,
    spec: &DesignSpec,
    column: &str,
    values: Vec<Option<String>>,
) -> Result<Vec<Expanded>, InputError> {
    let levels: BTreeSet<&String> = values.iter().flatten().collect();
    let reference = match spec.reference_levels.get(column) {
        Some(level) if levels.contains(level) => level.clone(),
        Some(_) => {
            return Err(InputError::BadColumn {
                path: table.path.clone(),
                column: column.to_string(),
                problem: "the configured reference level does not occur in the column".into(),
                hint: "check `reference-levels` in [data] against the column's categories".into(),
            });
        }
        None => match levels.first() {
            Some(level) => (*level).clone(),
            None => return Ok(Vec::new()),
        },
    };
    if levels.len() > 200 {
        return Err(InputError::BadColumn {
            path: table.path.clone(),
            column: column.to_string(),
            problem: format!("has {} distinct categories", levels.len()),
            hint: "a covariate with this many categories is probably an identifier or a free-text field; remove it or recode it".into(),
        });
    }
    Ok(levels
        .iter()
        .filter(|level| ***level != reference)
        .map(|level| Expanded {
            name: format!("{column}={level}"),
            values: values
                .iter()
                .map(|v| v.as_ref().map(|v| f64::from(u8::from(v == *level))))
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_parsed() {
        assert_eq!(parse_term("age"), Term::Column("age".into()));
        assert_eq!(parse_term("age^2"), Term::Power("age".into(), 2));
        assert_eq!(
            parse_term("education * re74"),
            Term::Product("education".into(), "re74".into())
        );
        assert_eq!(
            parse_term("re74==0"),
            Term::Indicator("re74".into(), "0".into())
        );
    }
}
