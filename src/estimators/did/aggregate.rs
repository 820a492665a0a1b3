//! Aggregations of ATT(g,t) (R `did::aggte`): simple, group, dynamic (event time), calendar.
//!
//! Weights proportional to group shares P(G = g) are estimated, so each aggregate's influence
//! function adds the effect of estimating them (`weights_influence`, did's `wif`).

use super::att_gt::AttGt;
use ndarray::Array2;
use rayon::prelude::*;

/// One aggregate: its label, estimate and influence function over units.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// `overall`, `group:<g>`, `group:overall`, `event:<e>`, `event:overall`, `period:<t>`,
    /// `period:overall` (group and period as indices; the caller labels them).
    pub kind: AggregateKind,
    pub estimate: f64,
    pub influence: Vec<f64>,
    /// The influence function as a linear map of the cells' (see `LinearForm`).
    pub form: LinearForm,
    pub n_treated: usize,
}

/// `ψ_i = Σ_k cells[k]·ψ_k,i + by_group[slot of unit i's group]`: every aggregate's influence
/// function is a combination of the cells' plus a term that depends on a unit only through its
/// group (the estimated weights'). Slots are period indices, and the last is the never treated.
/// The multiplier bootstrap draws the cells and one indicator per group and combines them.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearForm {
    pub cells: Vec<f64>,
    pub by_group: Vec<f64>,
}

impl LinearForm {
    /// The coefficients on the cells, then on every group slot: the order of the columns of
    /// `moments::CrossProducts`.
    pub fn coefficients(&self) -> Vec<f64> {
        self.cells.iter().chain(&self.by_group).copied().collect()
    }

    fn zero(fit: &AttGt) -> Self {
        LinearForm {
            cells: vec![0.0; fit.cells.len()],
            by_group: vec![0.0; fit.group_share.len() + 1],
        }
    }

    /// Σ_j coefficient_j · form_j.
    fn combine<'a>(fit: &AttGt, parts: impl Iterator<Item = (f64, &'a LinearForm)>) -> Self {
        let mut out = LinearForm::zero(fit);
        for (c, form) in parts {
            for (o, v) in out.cells.iter_mut().zip(&form.cells) {
                *o += c * v;
            }
            for (o, v) in out.by_group.iter_mut().zip(&form.by_group) {
                *o += c * v;
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggregateKind {
    Simple,
    Group(usize),
    GroupOverall,
    Event(i64),
    EventOverall,
    Calendar(usize),
    CalendarOverall,
}

/// Influence of estimating the weights w_k = p_k / Σ_keepers p_k, times the cell estimates:
/// Σ_k att_k · [(1{G=g_k} − p_k)/S − p_k Σ_j (1{G=g_j} − p_j) / S²], S = Σ_keepers p_k; one
/// value per group slot (it depends on a unit only through its group).
fn weights_influence(fit: &AttGt, keepers: &[usize]) -> Vec<f64> {
    let terms: Vec<(f64, usize, f64)> = keepers
        .iter()
        .map(|&k| {
            let group = fit.cells[k].group;
            (fit.cells[k].att, group, fit.group_share[group])
        })
        .collect();
    share_weights_influence(&terms, fit.group_share.len())
}

/// The weights' influence for share-weighted estimates `terms` = (estimate, group, share p_k):
/// Σ_k estimate_k · [(1{G=g_k} − p_k)/S − p_k Σ_j (1{G=g_j} − p_j) / S²], S = Σ p_k, one value
/// per group slot (period indices, then the never treated, in `periods + 1` slots).
fn share_weights_influence(terms: &[(f64, usize, f64)], periods: usize) -> Vec<f64> {
    let total: f64 = terms.iter().map(|t| t.2).sum();
    let for_group = |g: Option<usize>| -> f64 {
        let indicator = |group: usize| f64::from(u8::from(g == Some(group)));
        let deviation_sum: f64 = terms
            .iter()
            .map(|&(_, group, p)| indicator(group) - p)
            .sum();
        terms
            .iter()
            .map(|&(estimate, group, p)| {
                estimate * ((indicator(group) - p) / total - p * deviation_sum / (total * total))
            })
            .sum()
    };
    (0..=periods)
        .map(|slot| for_group((slot < periods).then_some(slot)))
        .collect()
}

/// A per-group term spread over the units.
fn per_unit(by_group: &[f64], groups_of_units: &[Option<usize>]) -> Vec<f64> {
    let never = by_group.len() - 1;
    groups_of_units
        .par_iter()
        .map(|g| by_group[g.unwrap_or(never)])
        .collect()
}

/// Share-weighted average of the `keepers` cells, with the weights' influence.
fn weighted(
    fit: &AttGt,
    groups_of_units: &[Option<usize>],
    keepers: &[usize],
    kind: AggregateKind,
    dense: bool,
) -> Aggregate {
    let p: Vec<f64> = keepers
        .iter()
        .map(|&k| fit.group_share[fit.cells[k].group])
        .collect();
    let total: f64 = p.iter().sum();
    let estimate = keepers
        .iter()
        .zip(&p)
        .map(|(&k, pk)| pk / total * fit.cells[k].att)
        .sum();
    let wif = weights_influence(fit, keepers);
    let mut influence = if dense {
        per_unit(&wif, groups_of_units)
    } else {
        Vec::new()
    };
    let mut form = LinearForm::zero(fit);
    form.by_group = wif;
    for (&k, pk) in keepers.iter().zip(&p) {
        let w = pk / total;
        form.cells[k] = w;
        if dense {
            for (value, psi) in influence.iter_mut().zip(&fit.influence[k]) {
                *value += w * psi;
            }
        }
    }
    Aggregate {
        kind,
        estimate,
        influence,
        form,
        n_treated: treated_in(fit, keepers),
    }
}

fn treated_in(fit: &AttGt, keepers: &[usize]) -> usize {
    let mut groups: Vec<usize> = keepers.iter().map(|&k| fit.cells[k].group).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
        .iter()
        .map(|&g| (fit.group_share[g] * fit.n_units as f64).round() as usize)
        .sum()
}

fn mean_of(fit: &AttGt, parts: &[&Aggregate], kind: AggregateKind, n_treated: usize) -> Aggregate {
    let m = parts.len() as f64;
    let n = parts.first().map_or(0, |a| a.influence.len());
    Aggregate {
        kind,
        estimate: parts.iter().map(|a| a.estimate).sum::<f64>() / m,
        influence: (0..n)
            .into_par_iter()
            .map(|i| parts.iter().map(|a| a.influence[i]).sum::<f64>() / m)
            .collect(),
        form: LinearForm::combine(fit, parts.iter().map(|a| (1.0 / m, &a.form))),
        n_treated,
    }
}

/// `period_values[t]` gives event times in the data's own units (e.g. years); cells count as
/// post-treatment when period ≥ group (as did's `group <= t`). With `dense`, every aggregate's
/// influence function is also formed over the units (for analytic SEs); without, `influence` is
/// empty and only the linear forms are kept (for the multiplier bootstrap).
pub fn all(
    fit: &AttGt,
    groups_of_units: &[Option<usize>],
    period_values: &[f64],
    dense: bool,
) -> Vec<Aggregate> {
    let units = if dense { fit.n_units } else { 0 };
    let cells = &fit.cells;
    let post: Vec<usize> = (0..cells.len())
        .filter(|&k| cells[k].period >= cells[k].group)
        .collect();
    let mut out = vec![weighted(
        fit,
        groups_of_units,
        &post,
        AggregateKind::Simple,
        dense,
    )];
    let total_treated = treated_in(fit, &post);

    // Group: simple average over each group's post periods, then share-weighted across groups.
    let mut groups: Vec<usize> = cells.iter().map(|c| c.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut by_group = Vec::new();
    for &g in &groups {
        let keep: Vec<usize> = post
            .iter()
            .copied()
            .filter(|&k| cells[k].group == g)
            .collect();
        if keep.is_empty() {
            continue;
        }
        let m = keep.len() as f64;
        by_group.push(Aggregate {
            kind: AggregateKind::Group(g),
            estimate: keep.iter().map(|&k| cells[k].att).sum::<f64>() / m,
            influence: (0..units)
                .into_par_iter()
                .map(|i| keep.iter().map(|&k| fit.influence[k][i]).sum::<f64>() / m)
                .collect(),
            form: {
                let mut form = LinearForm::zero(fit);
                for &k in &keep {
                    form.cells[k] = 1.0 / m;
                }
                form
            },
            n_treated: treated_in(fit, &keep),
        });
    }
    if !by_group.is_empty() {
        // Treat each group's average as a "cell" with the group's share.
        let shares: Vec<f64> = by_group
            .iter()
            .map(|a| match a.kind {
                AggregateKind::Group(g) => fit.group_share[g],
                _ => unreachable!("only group aggregates here"),
            })
            .collect();
        let total: f64 = shares.iter().sum();
        let estimate = by_group
            .iter()
            .zip(&shares)
            .map(|(a, s)| s / total * a.estimate)
            .sum();
        let terms: Vec<(f64, usize, f64)> = by_group
            .iter()
            .zip(&shares)
            .map(|(a, &s)| match a.kind {
                AggregateKind::Group(g) => (a.estimate, g, s),
                _ => unreachable!("only group aggregates here"),
            })
            .collect();
        // The weights' influence, which depends on a unit only through its group.
        let wif = share_weights_influence(&terms, fit.group_share.len());
        let never = wif.len() - 1;
        let influence = (0..units)
            .into_par_iter()
            .map(|i| {
                let direct: f64 = by_group
                    .iter()
                    .zip(&shares)
                    .map(|(a, s)| s / total * a.influence[i])
                    .sum();
                direct + wif[groups_of_units[i].unwrap_or(never)]
            })
            .collect();
        let mut form = LinearForm::combine(
            fit,
            by_group
                .iter()
                .zip(&shares)
                .map(|(a, s)| (s / total, &a.form)),
        );
        for (value, w) in form.by_group.iter_mut().zip(&wif) {
            *value += w;
        }
        out.push(Aggregate {
            kind: AggregateKind::GroupOverall,
            estimate,
            influence,
            form,
            n_treated: total_treated,
        });
        out.extend(by_group);
    }

    // Dynamic: by event time e = period − group (in the data's units).
    let event =
        |k: usize| (period_values[cells[k].period] - period_values[cells[k].group]).round() as i64;
    let mut events: Vec<i64> = (0..cells.len()).map(event).collect();
    events.sort_unstable();
    events.dedup();
    let by_event: Vec<Aggregate> = events
        .par_iter()
        .map(|&e| {
            let keep: Vec<usize> = (0..cells.len()).filter(|&k| event(k) == e).collect();
            weighted(fit, groups_of_units, &keep, AggregateKind::Event(e), dense)
        })
        .collect();
    let post_events: Vec<&Aggregate> = by_event
        .iter()
        .filter(|a| matches!(a.kind, AggregateKind::Event(e) if e >= 0))
        .collect();
    if !post_events.is_empty() {
        out.push(mean_of(
            fit,
            &post_events,
            AggregateKind::EventOverall,
            total_treated,
        ));
    }
    out.extend(by_event.iter().cloned());

    // Calendar: by period, over groups already treated.
    let mut periods: Vec<usize> = post.iter().map(|&k| cells[k].period).collect();
    periods.sort_unstable();
    periods.dedup();
    let by_period: Vec<Aggregate> = periods
        .par_iter()
        .map(|&t| {
            let keep: Vec<usize> = post
                .iter()
                .copied()
                .filter(|&k| cells[k].period == t)
                .collect();
            weighted(
                fit,
                groups_of_units,
                &keep,
                AggregateKind::Calendar(t),
                dense,
            )
        })
        .collect();
    if !by_period.is_empty() {
        let refs: Vec<&Aggregate> = by_period.iter().collect();
        out.push(mean_of(
            fit,
            &refs,
            AggregateKind::CalendarOverall,
            total_treated,
        ));
        out.extend(by_period);
    }
    out
}

/// Wald test that every pre-treatment ATT(g,t) is zero (did's pre-test of parallel trends):
/// W = θ' V⁻¹ θ with V = Σ ψψ'/n², chi-squared with as many degrees of freedom as cells.
/// Returns (statistic, degrees of freedom, p-value), or None without pre-treatment cells or with a
/// singular covariance.
pub fn pre_trend_test(fit: &AttGt) -> Option<(f64, usize, f64)> {
    pre_trend_test_with(fit, |a, b| {
        fit.influence[a]
            .iter()
            .zip(&fit.influence[b])
            .map(|(x, y)| x * y)
            .sum()
    })
}

/// `pre_trend_test` with the cross-products Σ_i ψ_a,i ψ_b,i of the cells' influence functions
/// given by `cross(a, b)` (computed from the functions, or from per-group moments).
pub fn pre_trend_test_with(
    fit: &AttGt,
    cross: impl Fn(usize, usize) -> f64 + Sync,
) -> Option<(f64, usize, f64)> {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let pre: Vec<usize> = (0..fit.cells.len())
        .filter(|&k| fit.cells[k].period < fit.cells[k].group)
        .collect();
    if pre.is_empty() {
        return None;
    }
    let n = fit.n_units as f64;
    let m = pre.len();
    // The lower triangle, one entry per task (from the functions, each a pass over all units),
    // mirrored.
    let pairs: Vec<(usize, usize)> = (0..m).flat_map(|a| (0..=a).map(move |b| (a, b))).collect();
    let dots: Vec<f64> = pairs
        .par_iter()
        .map(|&(a, b)| cross(pre[a], pre[b]))
        .collect();
    let mut v = Array2::<f64>::zeros((m, m));
    for (&(a, b), dot) in pairs.iter().zip(dots) {
        v[[a, b]] = dot / (n * n);
        v[[b, a]] = dot / (n * n);
    }
    let inverse = crate::linalg::inverse_spd(v.view())?;
    let theta = ndarray::Array1::from_iter(pre.iter().map(|&k| fit.cells[k].att));
    let statistic = theta.dot(&inverse.dot(&theta));
    let chi = ChiSquared::new(m as f64).ok()?;
    Some((statistic, m, 1.0 - chi.cdf(statistic)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::did::att_gt::{AttGtParams, BasePeriod, ControlGroup, estimate};
    use crate::estimators::did::conditional::EstMethod;

    /// Every aggregate's influence function is its linear form applied to the cells' (what the
    /// multiplier bootstrap relies on), for both control groups and base periods.
    #[test]
    fn influence_functions_equal_their_linear_forms() {
        let (n, periods) = (240, 6);
        let group: Vec<Option<usize>> = (0..n)
            .map(|i| match i % 4 {
                0 => None,
                1 => Some(2),
                2 => Some(3),
                _ => Some(5),
            })
            .collect();
        let y = ndarray::Array2::from_shape_fn((n, periods), |(i, t)| {
            let effect = group[i].map_or(0.0, |g| if t >= g { 1.0 + (t - g) as f64 } else { 0.0 });
            (i as f64 * 0.37).sin() * 4.0
                + t as f64 * 0.5
                + ((i * 7 + t * 13) % 11) as f64 * 0.1
                + effect
        });
        let period_values: Vec<f64> = (0..periods).map(|t| t as f64).collect();
        for (control, base) in [
            (ControlGroup::Never, BasePeriod::Varying),
            (ControlGroup::NotYet, BasePeriod::Universal),
        ] {
            let params = AttGtParams {
                control,
                base,
                anticipation: 0,
                est_method: EstMethod::DoublyRobust,
            };
            let fit = estimate(y.view(), &group, None, &params).expect("estimable");
            let aggregates = all(&fit, &group, &period_values, true);
            assert!(aggregates.len() > 10);
            for a in &aggregates {
                for (i, &value) in a.influence.iter().enumerate() {
                    let slot = group[i].unwrap_or(periods);
                    let from_form: f64 = a
                        .form
                        .cells
                        .iter()
                        .zip(&fit.influence)
                        .map(|(w, psi)| w * psi[i])
                        .sum::<f64>()
                        + a.form.by_group[slot];
                    assert!(
                        (value - from_form).abs() < 1e-10 * (1.0 + value.abs()),
                        "{:?}, unit {i}: {value} vs {from_form}",
                        a.kind
                    );
                }
            }
        }
    }
}
