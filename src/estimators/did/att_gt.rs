//! Group-time average treatment effects ATT(g,t) with influence functions (unconditional).

use super::moments::{CellMeans, cell_means};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// A unit's role in one ATT(g,t) cell (an index into per-role sums).
pub(super) const NEITHER: usize = 0;
pub(super) const TREATED: usize = 1;
pub(super) const CONTROL: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlGroup {
    Never,
    NotYet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasePeriod {
    Varying,
    Universal,
}

#[derive(Debug, Clone, Copy)]
pub struct AttGtParams {
    pub control: ControlGroup,
    pub base: BasePeriod,
    pub anticipation: usize,
    /// Estimator under conditional parallel trends when covariates are given.
    pub est_method: super::conditional::EstMethod,
}

/// One ATT(g,t) with its influence function over units.
#[derive(Debug, Clone)]
pub struct Cell {
    /// First treated period index of the group.
    pub group: usize,
    /// Period index.
    pub period: usize,
    /// Base period index used for this cell.
    pub base: usize,
    pub att: f64,
    pub n_treated: usize,
    pub n_control: usize,
}

/// All cells and their influence functions, one column per cell (scaled so that
/// Var(ATT) = Σᵢ ψᵢ² / n², the convention of R did). Stored column by column: every consumer
/// (SEs, aggregations, the pre-test) reads whole columns.
#[derive(Debug, Clone)]
pub struct AttGt {
    pub cells: Vec<Cell>,
    pub influence: Vec<Vec<f64>>,
    /// Share of units in each group, P(G = g), indexed by period index (0 for never treated).
    pub group_share: Vec<f64>,
    pub n_units: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AttGtError {
    #[error("no never-treated units, which `control = \"never\"` needs")]
    NoNeverTreated,
    #[error("no treated cohort has a period to estimate")]
    NoCells,
    #[error("cohort {group}, period {period}: {reason}")]
    Conditional {
        group: usize,
        period: usize,
        reason: String,
    },
}

/// (group, period, base) of every cell to estimate, in output order.
pub(super) fn cell_plan(
    groups: &[usize],
    n_periods: usize,
    params: &AttGtParams,
) -> Vec<(usize, usize, usize)> {
    let a = params.anticipation;
    let mut plan = Vec::new();
    for &g in groups {
        // The last period before (anticipated) treatment.
        let Some(reference) = g.checked_sub(1 + a) else {
            continue;
        };
        // A varying base needs the previous period; a universal base also compares the first
        // period with the reference period.
        let first = if params.base == BasePeriod::Universal {
            0
        } else {
            1
        };
        for t in first..n_periods {
            let base = match params.base {
                BasePeriod::Universal => reference,
                BasePeriod::Varying if t + a >= g => reference,
                BasePeriod::Varying => t - 1,
            };
            if t != base {
                plan.push((g, t, base));
            }
        }
    }
    plan
}

/// Whether a unit of group `unit_group` (None = never treated) is a comparison unit of the cell
/// (g, t, base).
fn is_control_group(
    params: &AttGtParams,
    (g, t, base): (usize, usize, usize),
    unit_group: Option<usize>,
) -> bool {
    match (params.control, unit_group) {
        (_, None) => true,
        (ControlGroup::Never, Some(_)) => false,
        (ControlGroup::NotYet, Some(h)) => h != g && h > t.max(base) + params.anticipation,
    }
}

/// Each group code's role in the cell (g, t, base): none, treated, comparison. Codes are period
/// indices and `n_periods` for the never treated.
pub(super) fn role_table(
    params: &AttGtParams,
    cell: (usize, usize, usize),
    n_periods: usize,
) -> Vec<usize> {
    (0..=n_periods)
        .map(|code| {
            let unit_group = (code < n_periods).then_some(code);
            if unit_group == Some(cell.0) {
                TREATED
            } else if is_control_group(params, cell, unit_group) {
                CONTROL
            } else {
                NEITHER
            }
        })
        .collect()
}

/// The distinct groups (first treated period indices) of the treated units, ascending.
pub fn distinct_groups(group: &[Option<usize>]) -> Vec<usize> {
    let mut g: Vec<usize> = group.iter().flatten().copied().collect();
    g.sort_unstable();
    g.dedup();
    g
}

/// Share of units in each group, P(G = g), indexed by period index.
pub(super) fn group_shares(group: &[Option<usize>], n_periods: usize) -> Vec<f64> {
    let n = group.len();
    let mut share = vec![0.0; n_periods];
    for g in group.iter().flatten() {
        share[*g] += 1.0 / n as f64;
    }
    share
}

/// Estimates every ATT(g,t) for groups `group` (first treated period index per unit, None =
/// never treated) on the units × periods outcome matrix `y`.
pub fn estimate(
    y: ArrayView2<f64>,
    group: &[Option<usize>],
    covariates: Option<ArrayView2<f64>>,
    params: &AttGtParams,
) -> Result<AttGt, AttGtError> {
    let n = y.nrows();
    let n_periods = y.ncols();
    if params.control == ControlGroup::Never && group.iter().all(Option::is_some) {
        return Err(AttGtError::NoNeverTreated);
    }
    let groups = distinct_groups(group);
    let group_share = group_shares(group, n_periods);
    let plan = cell_plan(&groups, n_periods, params);
    // Without covariates every cell is two passes over two periods' outcomes: periods × units
    // (contiguous periods) and one small code per unit (its group; `n_periods` = never treated).
    let unconditional = covariates.is_none_or(|x| x.ncols() == 0);
    let by_period = if unconditional {
        let rows: Vec<f64> = (0..n_periods)
            .into_par_iter()
            .flat_map_iter(|t| y.column(t).to_vec())
            .collect();
        ndarray::Array2::from_shape_vec((n_periods, n), rows).expect("periods × units")
    } else {
        ndarray::Array2::zeros((0, 0))
    };
    let codes: Vec<usize> = group.iter().map(|g| g.unwrap_or(n_periods)).collect();
    let means = unconditional.then(|| super::moments::group_means(y, &codes, n_periods + 1));
    let estimated: Vec<Result<Option<(Cell, Vec<f64>)>, AttGtError>> = plan
        .par_iter()
        .map(|&(g, t, base)| {
            let is_control = |unit: usize| is_control_group(params, (g, t, base), group[unit]);
            if let Some(x) = covariates.filter(|x| x.ncols() > 0) {
                // Conditional parallel trends: estimate on the cell's subsample, then scale the
                // influence function to the whole sample (n / n_subsample), as R did.
                let members: Vec<usize> = (0..n)
                    .filter(|&u| group[u] == Some(g) || is_control(u))
                    .collect();
                let n_t = members.iter().filter(|&&u| group[u] == Some(g)).count();
                let n_c = members.len() - n_t;
                if n_c == 0 {
                    return Ok(None);
                }
                let delta: Vec<f64> = members.iter().map(|&u| y[[u, t]] - y[[u, base]]).collect();
                let treated: Vec<bool> = members.iter().map(|&u| group[u] == Some(g)).collect();
                let x_sub = x.select(ndarray::Axis(0), &members);
                let (att, local) =
                    super::conditional::cell(&delta, &treated, x_sub.view(), params.est_method)
                        .map_err(|e| AttGtError::Conditional {
                            group: g,
                            period: t,
                            reason: e.to_string(),
                        })?;
                let scale = n as f64 / members.len() as f64;
                let mut column = vec![0.0; n];
                for (&u, v) in members.iter().zip(&local) {
                    column[u] = scale * v;
                }
                let cell = Cell {
                    group: g,
                    period: t,
                    base,
                    att,
                    n_treated: n_t,
                    n_control: n_c,
                };
                return Ok(Some((cell, column)));
            }
            // Each unit's role in this cell, looked up by its group code: none, treated, control.
            let role = role_table(params, (g, t, base), n_periods);
            let (now, before) = (by_period.row(t), by_period.row(base));
            let (now, before) = (
                now.as_slice().expect("standard layout"),
                before.as_slice().expect("standard layout"),
            );
            let means = means.as_ref().expect("computed without covariates");
            let Some(cell_means) = cell_means(&role, means, (t, base)) else {
                return Ok(None);
            };
            let CellMeans { centre, n_t, n_c } = cell_means;
            let (scale_t, scale_c) = (n as f64 / n_t as f64, n as f64 / n_c as f64);
            let coefficient = [0.0, scale_t, -scale_c];
            let column: Vec<f64> = codes
                .iter()
                .zip(now)
                .zip(before)
                .map(|((&code, &y_t), &y_b)| {
                    let r = role[code];
                    coefficient[r] * ((y_t - y_b) - centre[r])
                })
                .collect();
            Ok(Some((cell_means.cell((g, t, base)), column)))
        })
        .collect();
    let mut cells = Vec::new();
    let mut influence = Vec::new();
    for result in estimated {
        if let Some((cell, column)) = result? {
            cells.push(cell);
            influence.push(column);
        }
    }
    if cells.is_empty() {
        return Err(AttGtError::NoCells);
    }
    Ok(AttGt {
        cells,
        influence,
        group_share,
        n_units: n,
    })
}

/// Standard error from an influence function: sqrt(Σ ψ²)/n, or with clusters
/// sqrt(G/(G−1) Σ_c (Σ_{i∈c} ψᵢ)²)/n.
pub fn std_error(psi: &[f64], clusters: Option<&[u32]>) -> f64 {
    let n = psi.len() as f64;
    match clusters {
        None => psi.iter().map(|v| v * v).sum::<f64>().sqrt() / n,
        Some(ids) => {
            let mut sums: std::collections::BTreeMap<u32, f64> = Default::default();
            for (v, c) in psi.iter().zip(ids) {
                *sums.entry(*c).or_default() += v;
            }
            let g = sums.len() as f64;
            let total: f64 = sums.values().map(|s| s * s).sum();
            (g / (g - 1.0) * total).sqrt() / n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const TOL_CLOSED_FORM: f64 = 1e-12;

    #[test]
    fn two_by_two_cell_is_the_difference_of_changes() {
        // Units 0,1 treated from period 1; units 2,3 never treated.
        let y = array![[1.0, 4.0], [2.0, 7.0], [1.0, 2.0], [3.0, 5.0]];
        let group = [Some(1), Some(1), None, None];
        let params = AttGtParams {
            control: ControlGroup::Never,
            base: BasePeriod::Varying,
            anticipation: 0,
            est_method: crate::estimators::did::conditional::EstMethod::DoublyRobust,
        };
        let fit = estimate(y.view(), &group, None, &params).expect("estimable");
        assert_eq!(fit.cells.len(), 1);
        // treated change mean (3 + 5)/2 = 4, control (1 + 2)/2 = 1.5
        assert!((fit.cells[0].att - 2.5).abs() < TOL_CLOSED_FORM);
        let se = std_error(&fit.influence[0], None);
        // Var = [Σ_t (Δ−4)²/n_t² + Σ_c (Δ−1.5)²/n_c²] = (2/4) + (0.5/4) = 0.625
        assert!((se - 0.625_f64.sqrt()).abs() < TOL_CLOSED_FORM);
    }
}
