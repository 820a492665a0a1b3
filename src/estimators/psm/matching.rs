//! Nearest-neighbour matching: who is matched to whom, and the unit weights that follow.
//!
//! Input: a distance (a one-dimensional score or the covariates for Mahalanobis), the treatment
//! indicator, optional exact-matching strata and the units eligible after common-support
//! discarding. Output: `MatchedSets` (for each focal unit, its matches) and `UnitWeights`.
//!
//! Deterministic tie rules (documented in the README):
//! - with replacement, every candidate whose squared standardised distance is within
//!   `TIE_TOLERANCE` of the k-th nearest is a match, all with equal weight (R Matching's rule);
//! - without replacement, among equally distant available candidates the one that comes first in
//!   the data wins; focal units with equal scores keep their data order (a stable sort).

use crate::linalg::{cholesky, covariance};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Squared standardised distances within this of the k-th nearest count as ties by default: 0, so
/// only exactly equal distances tie (identical covariates give identical scores). Any positive
/// absolute tolerance admits more ties as the sample grows.
pub const DEFAULT_TIE_TOLERANCE: f64 = 0.0;
/// R Matching's `distance.tolerance` default, applied the way `Match` applies it. Absolute on the
/// squared standardised distance, it admits more and more ties as the sample grows (thousands per
/// unit at a million rows), which is why it is not our default.
pub const MATCHING_TIE_TOLERANCE: f64 = 1e-5;
/// Matched pairs we hold in memory at most (~400 MB of indices); beyond it the run stops with a
/// hint instead of exhausting memory.
pub const MAX_MATCHED_PAIRS: usize = 50_000_000;

/// Ties made more matched pairs than `MAX_MATCHED_PAIRS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyPairs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceKind {
    /// The log-odds of the propensity score.
    Logit,
    /// The propensity score itself.
    Score,
    /// Mahalanobis distance on the covariates.
    Mahalanobis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOrder {
    Largest,
    Smallest,
    Data,
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    None,
    Both,
    Control,
    Treated,
}

/// The geometry in which neighbours are searched.
pub enum Metric {
    /// One dimension, already divided by its SD over all units (so a caliper of c SDs is c).
    Scalar(Vec<f64>),
    /// Rows already whitened (x L⁻ᵀ with L Lᵀ the covariance), so Euclidean distance between rows
    /// is the Mahalanobis distance.
    Whitened(Array2<f64>),
}

impl Metric {
    /// A one-dimensional distance standardised by its sample SD (divisor n − 1) over the eligible
    /// (not discarded) units of both arms: MatchIt's caliper scale, and R Matching's scaling when
    /// nothing is discarded.
    pub fn scalar(values: &[f64], eligible: &[bool]) -> Metric {
        let kept: Vec<f64> = values
            .iter()
            .zip(eligible)
            .filter(|(_, e)| **e)
            .map(|(v, _)| *v)
            .collect();
        let sd = sample_sd(&kept);
        let sd = if sd > 0.0 { sd } else { 1.0 };
        Metric::Scalar(values.iter().map(|v| v / sd).collect())
    }

    /// Mahalanobis geometry. `pooled_within = None`: covariance of all units with divisor n (R
    /// Matching's `Weight = 2`, our convention with replacement). `Some((treated, eligible))`: the
    /// pooled within-arm covariance of the eligible units with divisor n − 2 (MatchIt's, used
    /// without replacement). `None` when the covariance is singular (collinear covariates).
    pub fn mahalanobis(
        x: ArrayView2<f64>,
        pooled_within: Option<(&[bool], &[bool])>,
    ) -> Option<Metric> {
        let cov = match pooled_within {
            None => {
                let n = x.nrows() as f64;
                let (_, cov) = covariance(x);
                cov * ((n - 1.0) / n)
            }
            Some((treated, eligible)) => pooled_within_covariance(x, treated, eligible),
        };
        let l = cholesky(cov.view())?;
        let p = x.ncols();
        // Solve L y = x_i for each row: y is the whitened row.
        let mut whitened = Array2::<f64>::zeros(x.raw_dim());
        for (i, row) in x.rows().into_iter().enumerate() {
            for a in 0..p {
                let mut s = row[a];
                for b in 0..a {
                    s -= l[[a, b]] * whitened[[i, b]];
                }
                whitened[[i, a]] = s / l[[a, a]];
            }
        }
        Some(Metric::Whitened(whitened))
    }

    fn squared(&self, i: usize, j: usize) -> f64 {
        match self {
            Metric::Scalar(z) => (z[i] - z[j]) * (z[i] - z[j]),
            Metric::Whitened(w) => w
                .row(i)
                .iter()
                .zip(w.row(j).iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum(),
        }
    }
}

fn pooled_within_covariance(
    x: ArrayView2<f64>,
    treated: &[bool],
    eligible: &[bool],
) -> Array2<f64> {
    let p = x.ncols();
    let mut total = Array2::<f64>::zeros((p, p));
    let mut n = 0usize;
    for arm in [false, true] {
        let rows: Vec<usize> = (0..x.nrows())
            .filter(|&i| eligible[i] && treated[i] == arm)
            .collect();
        if rows.len() < 2 {
            continue;
        }
        let sub = x.select(ndarray::Axis(0), &rows);
        let (_, cov) = covariance(sub.view());
        total += &(cov * (rows.len() as f64 - 1.0));
        n += rows.len();
    }
    total / (n.max(3) as f64 - 2.0)
}

pub fn sample_sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// For each focal unit (treated for ATT, controls for ATC), the units it was matched to.
/// An empty list means the unit found no match (caliper, exact strata) and leaves the estimand.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedSets {
    pub focal: Vec<usize>,
    pub matches: Vec<Vec<usize>>,
}

impl MatchedSets {
    pub fn n_matched_focal(&self) -> usize {
        self.matches.iter().filter(|m| !m.is_empty()).count()
    }

    /// K(j) = Σ over focal i of 1/|J(i)| and K'(j) = Σ 1/|J(i)|² for every unit j (length n).
    pub fn usage_counts(&self, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut k = vec![0.0; n];
        let mut k2 = vec![0.0; n];
        for matches in &self.matches {
            let w = 1.0 / matches.len() as f64;
            for &j in matches {
                k[j] += w;
                k2[j] += w * w;
            }
        }
        (k, k2)
    }
}

/// Weights every unit carries in the matched sample, and its matched set (subclass) when matching
/// without replacement. This is the type a matched DiD consumes.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitWeights {
    pub weights: Vec<f64>,
    /// Matched-set id per unit (None for unmatched units, and for all units with replacement,
    /// where one control can belong to several sets).
    pub subclass: Option<Vec<Option<u32>>>,
}

/// Where each focal unit may look for matches: candidates of the opposite arm, by stratum.
pub struct Pools {
    by_stratum: BTreeMap<u32, Vec<usize>>,
    stratum: Vec<u32>,
}

impl Pools {
    /// Candidates are the eligible units with `treated[j] == candidate_arm`.
    pub fn new(
        treated: &[bool],
        eligible: &[bool],
        strata: Option<&[u32]>,
        candidate_arm: bool,
    ) -> Pools {
        let stratum: Vec<u32> = match strata {
            Some(s) => s.to_vec(),
            None => vec![0; treated.len()],
        };
        let mut by_stratum: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for j in 0..treated.len() {
            if eligible[j] && treated[j] == candidate_arm {
                by_stratum.entry(stratum[j]).or_default().push(j);
            }
        }
        Pools {
            by_stratum,
            stratum,
        }
    }

    fn of(&self, i: usize) -> &[usize] {
        self.by_stratum
            .get(&self.stratum[i])
            .map_or(&[], Vec::as_slice)
    }
}

/// k-nearest-neighbour matching with replacement, ties kept (R Matching's rule). `caliper` is in
/// standardised distance units. Focal units are processed in parallel; results are in focal order.
pub fn match_with_replacement(
    metric: &Metric,
    focal: &[usize],
    pools: &Pools,
    k: usize,
    caliper: Option<f64>,
    tie_tolerance: Option<f64>,
) -> Result<MatchedSets, TooManyPairs> {
    let sorted_pools: Option<BTreeMap<u32, Vec<(f64, usize)>>> = match metric {
        Metric::Scalar(z) => Some(
            pools
                .by_stratum
                .iter()
                .map(|(s, units)| {
                    let mut v: Vec<(f64, usize)> = units.iter().map(|&j| (z[j], j)).collect();
                    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    (*s, v)
                })
                .collect(),
        ),
        Metric::Whitened(_) => None,
    };
    let pairs = std::sync::atomic::AtomicUsize::new(0);
    let matches = focal
        .par_iter()
        .map(|&i| {
            if pairs.load(std::sync::atomic::Ordering::Relaxed) > MAX_MATCHED_PAIRS {
                return Vec::new();
            }
            let found = match (&sorted_pools, metric, tie_tolerance) {
                (Some(sorted), Metric::Scalar(z), Some(tolerance)) => {
                    let pool = sorted.get(&pools.stratum[i]).map_or(&[][..], Vec::as_slice);
                    nearest_scalar_with_ties(pool, z[i], k, caliper, tolerance)
                }
                (Some(sorted), Metric::Scalar(z), None) => {
                    let pool = sorted.get(&pools.stratum[i]).map_or(&[][..], Vec::as_slice);
                    nearest_scalar_exactly_k(pool, z[i], i, k, caliper)
                }
                _ => nearest_brute(metric, i, pools.of(i), k, caliper, tie_tolerance),
            };
            pairs.fetch_add(found.len(), std::sync::atomic::Ordering::Relaxed);
            found
        })
        .collect();
    if pairs.into_inner() > MAX_MATCHED_PAIRS {
        return Err(TooManyPairs);
    }
    Ok(MatchedSets {
        focal: focal.to_vec(),
        matches,
    })
}

/// The k nearest of a sorted one-dimensional pool to `z`, plus everything tied with the k-th.
fn nearest_scalar_with_ties(
    pool: &[(f64, usize)],
    z: f64,
    k: usize,
    caliper: Option<f64>,
    tolerance: f64,
) -> Vec<usize> {
    let within = |v: f64| caliper.is_none_or(|c| (v - z).abs() <= c);
    let start = pool.partition_point(|(v, _)| *v < z);
    // Walk outwards to find the k-th nearest squared distance.
    let (mut left, mut right) = (start, start);
    let mut kth = f64::NEG_INFINITY;
    let mut taken = 0;
    while taken < k {
        let dl = (left > 0).then(|| (pool[left - 1].0 - z).powi(2));
        let dr = (right < pool.len()).then(|| (pool[right].0 - z).powi(2));
        let d = match (dl, dr) {
            (Some(a), Some(b)) if a <= b => {
                left -= 1;
                a
            }
            (Some(a), None) => {
                left -= 1;
                a
            }
            (_, Some(b)) => {
                right += 1;
                b
            }
            (None, None) => break,
        };
        kth = d;
        taken += 1;
    }
    if taken == 0 {
        return Vec::new();
    }
    let threshold = kth + tolerance;
    let mut matched = Vec::new();
    let mut l = start;
    while l > 0 && (pool[l - 1].0 - z).powi(2) <= threshold {
        l -= 1;
        if within(pool[l].0) {
            matched.push(pool[l].1);
        }
    }
    let mut r = start;
    while r < pool.len() && (pool[r].0 - z).powi(2) <= threshold {
        if within(pool[r].0) {
            matched.push(pool[r].1);
        }
        r += 1;
    }
    if caliper.is_some() && matched.len() < taken.min(k) {
        // Some of the k nearest lie outside the caliper: keep only what is inside it, and if
        // nothing is, the unit is unmatched.
        return nearest_within_caliper(pool, z, k, caliper.unwrap_or(f64::INFINITY), tolerance);
    }
    matched.sort_unstable();
    matched
}

/// Exactly the k nearest (MatchIt's `replace = TRUE`): walking outwards from the focal unit's place
/// in the (distance, data order) ordering, the candidate below wins an exact tie.
fn nearest_scalar_exactly_k(
    pool: &[(f64, usize)],
    z: f64,
    focal: usize,
    k: usize,
    caliper: Option<f64>,
) -> Vec<usize> {
    let start = pool.partition_point(|&(v, j)| v < z || (v == z && j < focal));
    let (mut left, mut right) = (start, start);
    let mut matched = Vec::with_capacity(k);
    while matched.len() < k {
        let dl = (left > 0).then(|| z - pool[left - 1].0);
        let dr = (right < pool.len()).then(|| pool[right].0 - z);
        let (distance, unit) = match (dl, dr) {
            (Some(a), Some(b)) if b < a => {
                right += 1;
                (b, pool[right - 1].1)
            }
            (Some(a), _) => {
                left -= 1;
                (a, pool[left].1)
            }
            (None, Some(b)) => {
                right += 1;
                (b, pool[right - 1].1)
            }
            (None, None) => break,
        };
        if caliper.is_some_and(|c| distance > c) {
            break;
        }
        matched.push(unit);
    }
    matched.sort_unstable();
    matched
}

/// k nearest with ties among the pool members inside the caliper (rarely needed path).
fn nearest_within_caliper(
    pool: &[(f64, usize)],
    z: f64,
    k: usize,
    caliper: f64,
    tolerance: f64,
) -> Vec<usize> {
    let inside: Vec<(f64, usize)> = pool
        .iter()
        .copied()
        .filter(|(v, _)| (v - z).abs() <= caliper)
        .collect();
    if inside.is_empty() {
        return Vec::new();
    }
    nearest_scalar_with_ties(&inside, z, k, None, tolerance)
}

/// k nearest by scanning the pool (Mahalanobis): with `tie_tolerance`, plus everything tied with
/// the k-th; without, exactly k, equal distances going to the first in data order.
fn nearest_brute(
    metric: &Metric,
    i: usize,
    pool: &[usize],
    k: usize,
    caliper: Option<f64>,
    tie_tolerance: Option<f64>,
) -> Vec<usize> {
    let limit = caliper.map_or(f64::INFINITY, |c| c * c);
    let mut distances: Vec<(f64, usize)> = pool
        .iter()
        .map(|&j| (metric.squared(i, j), j))
        .filter(|(d, _)| *d <= limit)
        .collect();
    if distances.is_empty() {
        return Vec::new();
    }
    let kth_index = k.min(distances.len()) - 1;
    let by_distance_then_data =
        |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    distances.select_nth_unstable_by(kth_index, by_distance_then_data);
    let mut matched: Vec<usize> = match tie_tolerance {
        Some(tolerance) => {
            let threshold = distances[kth_index].0 + tolerance;
            distances
                .iter()
                .filter(|(d, _)| *d <= threshold)
                .map(|(_, j)| *j)
                .collect()
        }
        None => distances[..=kth_index].iter().map(|(_, j)| *j).collect(),
    };
    matched.sort_unstable();
    matched
}

/// The order in which greedy matching visits focal units.
pub fn visiting_order(focal: &[usize], score: &[f64], order: MatchOrder, seed: u64) -> Vec<usize> {
    let mut ordered = focal.to_vec();
    match order {
        MatchOrder::Data => {}
        // Stable sorts: equal scores keep data order.
        MatchOrder::Largest => ordered.sort_by(|&a, &b| score[b].total_cmp(&score[a])),
        MatchOrder::Smallest => ordered.sort_by(|&a, &b| score[a].total_cmp(&score[b])),
        MatchOrder::Random => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            ordered.shuffle(&mut rng);
        }
    }
    ordered
}

/// Greedy nearest-neighbour matching without replacement, `k` controls per focal unit, in rounds
/// (every focal unit gets its first match before anyone gets a second, as MatchIt does). Focal
/// units are visited in `order`; results are returned in the order of `focal`.
pub fn match_without_replacement(
    metric: &Metric,
    focal: &[usize],
    order: &[usize],
    pools: &Pools,
    k: usize,
    caliper: Option<f64>,
) -> MatchedSets {
    let n = pools.stratum.len();
    let mut available = vec![false; n];
    for units in pools.by_stratum.values() {
        for &j in units {
            available[j] = true;
        }
    }
    let mut scalar_index: Option<BTreeMap<u32, AvailableSorted>> = match metric {
        Metric::Scalar(z) => Some(
            pools
                .by_stratum
                .iter()
                .map(|(s, units)| (*s, AvailableSorted::new(units, z)))
                .collect(),
        ),
        Metric::Whitened(_) => None,
    };
    let mut found: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for round in 0..k {
        for &i in order {
            let so_far = found.entry(i).or_default();
            if so_far.len() < round {
                continue; // found nobody in an earlier round
            }
            let choice = match (&mut scalar_index, metric) {
                (Some(index), Metric::Scalar(z)) => index
                    .get_mut(&pools.stratum[i])
                    .and_then(|sorted| sorted.take_nearest(z[i], i, caliper)),
                _ => nearest_available_brute(metric, i, pools.of(i), &available, caliper),
            };
            if let Some(j) = choice {
                available[j] = false;
                so_far.push(j);
            }
        }
    }
    let matches = focal
        .iter()
        .map(|i| found.remove(i).unwrap_or_default())
        .collect();
    MatchedSets {
        focal: focal.to_vec(),
        matches,
    }
}

fn nearest_available_brute(
    metric: &Metric,
    i: usize,
    pool: &[usize],
    available: &[bool],
    caliper: Option<f64>,
) -> Option<usize> {
    let limit = caliper.map_or(f64::INFINITY, |c| c * c);
    let mut best: Option<(f64, usize)> = None;
    for &j in pool {
        if !available[j] {
            continue;
        }
        let d = metric.squared(i, j);
        // Strictly smaller wins, so the first in data order keeps equal distances.
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, j));
        }
    }
    best.map(|(_, j)| j)
}

/// A sorted one-dimensional pool from which matched units are removed, with skip pointers
/// (union–find with path compression) so each search costs near-constant time: greedy matching of
/// 100k treated to 900k controls stays O(n log n).
struct AvailableSorted {
    values: Vec<f64>,
    units: Vec<usize>,
    /// next_right[p]: smallest available position ≥ p (len = available none).
    next_right: Vec<usize>,
    /// next_left[p]: largest available position ≤ p − 1, stored shifted by one (0 = none).
    next_left: Vec<usize>,
}

impl AvailableSorted {
    fn new(units: &[usize], z: &[f64]) -> AvailableSorted {
        let mut pairs: Vec<(f64, usize)> = units.iter().map(|&j| (z[j], j)).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let len = pairs.len();
        AvailableSorted {
            values: pairs.iter().map(|p| p.0).collect(),
            units: pairs.iter().map(|p| p.1).collect(),
            next_right: (0..=len).collect(),
            next_left: (0..=len).collect(),
        }
    }

    fn find_right(&mut self, p: usize) -> usize {
        let mut root = p;
        while self.next_right[root] != root {
            root = self.next_right[root];
        }
        let mut q = p;
        while self.next_right[q] != root {
            let next = self.next_right[q];
            self.next_right[q] = root;
            q = next;
        }
        root
    }

    /// Shifted position (position + 1) of the largest available position < p + 1; 0 = none.
    fn find_left(&mut self, shifted: usize) -> usize {
        let mut root = shifted;
        while self.next_left[root] != root {
            root = self.next_left[root];
        }
        let mut q = shifted;
        while self.next_left[q] != root {
            let next = self.next_left[q];
            self.next_left[q] = root;
            q = next;
        }
        root
    }

    fn remove(&mut self, position: usize) {
        self.next_right[position] = position + 1;
        self.next_left[position + 1] = position;
    }

    /// Removes and returns the available unit nearest to focal unit `focal` at `z` (within the
    /// caliper). MatchIt's rule: all units sorted by (distance, data order), the nearest available
    /// candidate below and above the focal unit's place in that order, the left one winning an
    /// exact tie. Among candidates with equal values this takes the last in data order below the
    /// focal unit and the first above it.
    fn take_nearest(&mut self, z: f64, focal: usize, caliper: Option<f64>) -> Option<usize> {
        let mut start = self.values.partition_point(|v| *v < z);
        while start < self.values.len() && self.values[start] == z && self.units[start] < focal {
            start += 1;
        }
        let right = self.find_right(start);
        let left_shifted = self.find_left(start);
        let left =
            (left_shifted > 0).then(|| (z - self.values[left_shifted - 1], left_shifted - 1));
        let right = (right < self.values.len()).then(|| (self.values[right] - z, right));
        let (distance, position) = match (left, right) {
            (Some(l), Some(r)) => {
                if r.0 < l.0 {
                    r
                } else {
                    l
                }
            }
            (Some(l), None) => l,
            (None, Some(r)) => r,
            (None, None) => return None,
        };
        if caliper.is_some_and(|c| distance > c) {
            return None;
        }
        let unit = self.units[position];
        self.remove(position);
        Some(unit)
    }
}

/// Common-support discarding on the propensity score: units outside the range of the other arm.
pub fn eligible_after_discard(score: &[f64], treated: &[bool], discard: Discard) -> Vec<bool> {
    let range = |arm: bool| {
        score
            .iter()
            .zip(treated)
            .filter(|(_, t)| **t == arm)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (s, _)| {
                (lo.min(*s), hi.max(*s))
            })
    };
    let (t_lo, t_hi) = range(true);
    let (c_lo, c_hi) = range(false);
    score
        .iter()
        .zip(treated)
        .map(|(s, &t)| {
            let outside_controls = *s < c_lo || *s > c_hi;
            let outside_treated = *s < t_lo || *s > t_hi;
            match (discard, t) {
                (Discard::None, _) => true,
                (Discard::Both, true) | (Discard::Treated, true) => !outside_controls,
                (Discard::Both, false) | (Discard::Control, false) => !outside_treated,
                _ => true,
            }
        })
        .collect()
}

/// MatchIt's weights from matched sets: focal units 1, each matched unit Σ 1/|J(i)| over the sets
/// it belongs to, then the matched arm rescaled to sum to its number of distinct matched units.
pub fn unit_weights(sets: &MatchedSets, n: usize, with_subclass: bool) -> UnitWeights {
    let mut weights = vec![0.0; n];
    let mut subclass = vec![None; n];
    let mut next_subclass = 0u32;
    for (&i, matches) in sets.focal.iter().zip(&sets.matches) {
        if matches.is_empty() {
            continue;
        }
        weights[i] = 1.0;
        let w = 1.0 / matches.len() as f64;
        for &j in matches {
            weights[j] += w;
            subclass[j] = Some(next_subclass);
        }
        subclass[i] = Some(next_subclass);
        next_subclass += 1;
    }
    let focal: std::collections::BTreeSet<usize> = sets.focal.iter().copied().collect();
    let matched: Vec<usize> = (0..n)
        .filter(|j| !focal.contains(j) && weights[*j] > 0.0)
        .collect();
    let total: f64 = matched.iter().map(|&j| weights[j]).sum();
    if total > 0.0 {
        let scale = matched.len() as f64 / total;
        for &j in &matched {
            weights[j] *= scale;
        }
    }
    UnitWeights {
        weights,
        subclass: with_subclass.then_some(subclass),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_are_all_kept_with_replacement() {
        // Focal unit 0 at 0.5; controls at 0.4 and 0.6 are equally near: both are matches.
        let z = vec![0.5, 0.4, 0.6, 0.9];
        let treated = [true, false, false, false];
        let pools = Pools::new(&treated, &[true; 4], None, false);
        let sets = match_with_replacement(
            &Metric::Scalar(z),
            &[0],
            &pools,
            1,
            None,
            Some(DEFAULT_TIE_TOLERANCE),
        )
        .expect("few pairs");
        assert_eq!(sets.matches[0], vec![1, 2]);
    }

    #[test]
    fn greedy_matching_does_not_reuse_controls() {
        let z = vec![0.50, 0.52, 0.49, 0.51, 0.9];
        let treated = [true, true, false, false, false];
        let pools = Pools::new(&treated, &[true; 5], None, false);
        let order = visiting_order(&[0, 1], &z, MatchOrder::Largest, 0);
        assert_eq!(order, vec![1, 0]);
        let sets = match_without_replacement(&Metric::Scalar(z), &[0, 1], &order, &pools, 1, None);
        // Unit 1 (0.52) goes first and takes 0.51 (unit 3); unit 0 then takes 0.49 (unit 2).
        assert_eq!(sets.matches, vec![vec![2], vec![3]]);
    }

    #[test]
    fn caliper_leaves_far_units_unmatched() {
        let z = vec![0.0, 5.0, 0.1];
        let treated = [true, true, false];
        let pools = Pools::new(&treated, &[true; 3], None, false);
        let order = visiting_order(&[0, 1], &z, MatchOrder::Data, 0);
        let sets =
            match_without_replacement(&Metric::Scalar(z), &[0, 1], &order, &pools, 1, Some(0.5));
        assert_eq!(sets.matches, vec![vec![2], vec![]]);
    }

    #[test]
    fn exact_strata_are_respected() {
        let z = vec![0.5, 0.5001, 0.9];
        let treated = [true, false, false];
        let strata = [1, 2, 1];
        let pools = Pools::new(&treated, &[true; 3], Some(&strata), false);
        let sets = match_with_replacement(
            &Metric::Scalar(z),
            &[0],
            &pools,
            1,
            None,
            Some(DEFAULT_TIE_TOLERANCE),
        )
        .expect("few pairs");
        assert_eq!(sets.matches[0], vec![2]);
    }
}
