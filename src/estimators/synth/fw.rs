//! Frank–Wolfe for simplex-constrained, ridge-penalised least squares — the solver of the
//! synthetic-DiD weights, with the reference implementation's conventions (R `synthdid`):
//!
//! minimise ‖A x − b‖² + η‖x‖² over the unit simplex, η = n·ζ² (n = rows), with an exact line
//! search, the first index of the smallest gradient entry as the vertex, and the stopping rule
//! "stop after ≥ 2 steps once the objective falls by no more than `min_decrease²`".
//! With `intercept`, every column of [A | b] is first centred (profiling out an unpenalised
//! intercept).
//!
//! Why incremental: a step moves x towards one vertex, so A x and AᵀA x change by one column
//! each. Caching the columns of AᵀA that the solver actually visits (few: the solutions are
//! sparse) makes a step O(n + k) instead of O(n·k) — 10,000 steps over 5,000 donors are then
//! milliseconds, which is what makes 200 placebo refits cheap.

use ndarray::{Array2, ArrayView2};

#[derive(Debug, Clone)]
pub struct FwResult {
    pub weights: Vec<f64>,
    pub iterations: usize,
    /// False when `max_iter` stopped the solver before the decrease rule did.
    pub converged: bool,
}

/// Up to this many weights the whole Gram matrix AᵀA is formed at once (one matrix product,
/// at most 288 MB); beyond, its columns are computed when the solver first visits them.
const FULL_GRAM_MAX: usize = 6_000;

/// A precomputed AᵀA to reuse across solves: the whole matrix, or the sub-block of a larger one
/// (`index[j]` = row of `full` for weight j). Placebo refits use sub-blocks of the comparison
/// units' Gram matrix instead of forming their own.
#[derive(Clone, Copy)]
pub struct GramView<'a> {
    pub full: &'a Array2<f64>,
    pub index: Option<&'a [usize]>,
}

/// AᵀA of A = `m`'s first k columns (centred over rows when `intercept`), in standard layout;
/// `None` when k exceeds the size kept in memory.
pub fn gram_matrix(m: ArrayView2<f64>, k: usize, intercept: bool) -> Option<Array2<f64>> {
    (k <= FULL_GRAM_MAX).then(|| gram_of(&centred(m, k, intercept)))
}

/// The first `columns` columns of `m`, each centred over the rows when `intercept`.
fn centred(m: ArrayView2<f64>, columns: usize, intercept: bool) -> Array2<f64> {
    let mut a = m.slice(ndarray::s![.., ..columns]).to_owned();
    if intercept {
        let n = a.nrows() as f64;
        for mut column in a.columns_mut() {
            let mean = column.sum() / n;
            column.mapv_inplace(|v| v - mean);
        }
    }
    a
}

/// AᵀA in standard layout, so that every row (= column) is contiguous.
fn gram_of(a: &Array2<f64>) -> Array2<f64> {
    a.t().dot(a).as_standard_layout().into_owned()
}

/// Columns of AᵀA for a row-major A (n × k).
enum Gram<'a> {
    View(GramView<'a>),
    Lazy(Vec<Option<Vec<f64>>>),
}

impl Gram<'_> {
    /// Column i of AᵀA and, for a sub-block, the map from weights to its entries.
    fn column(&mut self, a: &Array2<f64>, i: usize) -> (&[f64], Option<&[usize]>) {
        match self {
            Gram::View(view) => {
                let row = view.index.map_or(i, |index| index[i]);
                (
                    view.full
                        .row(row)
                        .to_slice()
                        .expect("a standard-layout matrix has contiguous rows"),
                    view.index,
                )
            }
            Gram::Lazy(cache) => (
                cache[i].get_or_insert_with(|| {
                    // Σ_r a[r, i]·a[r, :] — contiguous rows, so this vectorises.
                    let mut column = vec![0.0; a.ncols()];
                    for row in a.rows() {
                        let c = row[i];
                        if c != 0.0 {
                            for (g, v) in column.iter_mut().zip(row.iter()) {
                                *g += c * v;
                            }
                        }
                    }
                    column
                }),
                None,
            ),
        }
    }
}

/// Solves the problem for `m` = [A | b] (the last column is the target).
pub fn simplex_fw(
    m: ArrayView2<f64>,
    zeta: f64,
    intercept: bool,
    start: Option<&[f64]>,
    min_decrease: f64,
    max_iter: usize,
    gram: Option<GramView>,
) -> FwResult {
    let (n, cols) = m.dim();
    let k = cols - 1;
    let centred_m = centred(m, cols, intercept);
    let a: Array2<f64> = centred_m.slice(ndarray::s![.., ..k]).to_owned();
    let b: Vec<f64> = centred_m.column(k).to_vec();
    let eta = n as f64 * zeta * zeta;
    let mut x: Vec<f64> = match start {
        Some(s) => s.to_vec(),
        None => vec![1.0 / k as f64; k],
    };
    // A x, Aᵀb and AᵀA x, kept up to date step by step.
    let mut ax: Vec<f64> = a
        .rows()
        .into_iter()
        .map(|row| row.iter().zip(&x).map(|(p, q)| p * q).sum())
        .collect();
    let mut atb = vec![0.0; k];
    let mut atax = vec![0.0; k];
    for (r, row) in a.rows().into_iter().enumerate() {
        for ((t, u), v) in atb.iter_mut().zip(atax.iter_mut()).zip(row.iter()) {
            *t += v * b[r];
            *u += v * ax[r];
        }
    }
    let owned;
    let mut gram = match gram {
        Some(view) => Gram::View(view),
        // Formed from the A already centred here, not from `m` again.
        None if k <= FULL_GRAM_MAX => {
            owned = gram_of(&a);
            Gram::View(GramView {
                full: &owned,
                index: None,
            })
        }
        None => Gram::Lazy(vec![None; k]),
    };
    let fit_value = |ax: &[f64]| -> f64 {
        ax.iter()
            .zip(&b)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            / n as f64
    };
    let mut x_norm: f64 = x.iter().map(|v| v * v).sum();
    // The first vertex; later ones come out of the update pass.
    let argmin = |atax: &[f64], x: &[f64]| -> usize {
        let mut best = 0usize;
        let mut best_value = f64::INFINITY;
        for j in 0..k {
            let g = atax[j] - atb[j] + eta * x[j];
            if g < best_value {
                best_value = g;
                best = j;
            }
        }
        best
    };
    let mut best = argmin(&atax, &x);
    let threshold = min_decrease * min_decrease;
    let mut previous = f64::INFINITY;
    let mut t = 0usize;
    let mut converged = false;
    while t < max_iter {
        t += 1;
        let at_vertex = x[best] == 1.0 && x_norm == 1.0;
        if !at_vertex {
            // d = e_i − x; A d = A_i − A x.
            let mut numerator = 0.0; // −(Ax − b)·A d − η x·d
            let mut ad_norm = 0.0;
            for r in 0..n {
                let ad = a[[r, best]] - ax[r];
                numerator -= (ax[r] - b[r]) * ad;
                ad_norm += ad * ad;
            }
            let d_norm = x_norm - 2.0 * x[best] + 1.0;
            numerator -= eta * (x[best] - x_norm);
            let step = (numerator / (ad_norm + eta * d_norm)).clamp(0.0, 1.0);
            if step > 0.0 {
                let keep = 1.0 - step;
                let (g, map) = gram.column(&a, best);
                // Move x and AᵀA x (a branch-free pass the compiler vectorises), then one pass
                // for ‖x‖² and the next vertex with four interleaved accumulators (breaking the
                // serial dependency; ties still go to the first index, as the reference).
                match map {
                    None => {
                        for ((xj, uj), gj) in x.iter_mut().zip(atax.iter_mut()).zip(g) {
                            *xj *= keep;
                            *uj = keep * *uj + step * gj;
                        }
                    }
                    Some(index) => {
                        for ((xj, uj), &row) in x.iter_mut().zip(atax.iter_mut()).zip(index) {
                            *xj *= keep;
                            *uj = keep * *uj + step * g[row];
                        }
                    }
                }
                x[best] += step;
                let mut norms = [0.0f64; 4];
                let mut mins = [f64::INFINITY; 4];
                let mut at = [0usize; 4];
                let chunks = x
                    .chunks_exact(4)
                    .zip(atax.chunks_exact(4))
                    .zip(atb.chunks_exact(4));
                for (c, ((xs, us), bs)) in chunks.enumerate() {
                    for lane in 0..4 {
                        let v = xs[lane];
                        norms[lane] += v * v;
                        let gradient = us[lane] - bs[lane] + eta * v;
                        if gradient < mins[lane] {
                            mins[lane] = gradient;
                            at[lane] = 4 * c + lane;
                        }
                    }
                }
                for j in (k - k % 4)..k {
                    let lane = j & 3;
                    norms[lane] += x[j] * x[j];
                    let gradient = atax[j] - atb[j] + eta * x[j];
                    if gradient < mins[lane] {
                        mins[lane] = gradient;
                        at[lane] = j;
                    }
                }
                let mut next = at[0];
                let mut next_value = mins[0];
                for lane in 1..4 {
                    if mins[lane] < next_value || (mins[lane] == next_value && at[lane] < next) {
                        next_value = mins[lane];
                        next = at[lane];
                    }
                }
                let norm = (norms[0] + norms[1]) + (norms[2] + norms[3]);
                for r in 0..n {
                    ax[r] = keep * ax[r] + step * a[[r, best]];
                }
                x_norm = norm;
                best = next;
            }
        }
        let value = zeta * zeta * x_norm + fit_value(&ax);
        if t >= 2 && previous - value <= threshold {
            converged = true;
            break;
        }
        previous = value;
    }
    FwResult {
        weights: x,
        iterations: t,
        converged,
    }
}

/// The reference implementation's sparsification between the two passes: weights at or below a
/// quarter of the largest are set to zero, the rest renormalised.
pub fn sparsify(weights: &[f64]) -> Vec<f64> {
    let max = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let kept: Vec<f64> = weights
        .iter()
        .map(|&w| if w <= max / 4.0 { 0.0 } else { w })
        .collect();
    normalise(&kept)
}

/// Divides by the sum; uniform weights when the sum is zero (as the reference's `sum_normalize`).
pub fn normalise(weights: &[f64]) -> Vec<f64> {
    let sum: f64 = weights.iter().sum();
    if sum != 0.0 {
        weights.iter().map(|w| w / sum).collect()
    } else {
        vec![1.0 / weights.len() as f64; weights.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn reaches_the_exact_simplex_least_squares_optimum() {
        // Without a penalty, Frank–Wolfe converges (slowly) to the active-set solution.
        let a = array![
            [1.0, 0.0, 5.0, 2.0],
            [0.0, 1.0, 5.0, 2.0],
            [1.0, 1.0, -4.0, 0.5]
        ];
        let b = [0.9, 2.0, 3.0];
        let mut m = Array2::zeros((3, 5));
        m.slice_mut(ndarray::s![.., ..4]).assign(&a);
        m.column_mut(4).assign(&ndarray::Array1::from(b.to_vec()));
        let loss = |w: &[f64]| -> f64 {
            (0..3)
                .map(|r| (b[r] - (0..4).map(|d| a[[r, d]] * w[d]).sum::<f64>()).powi(2))
                .sum()
        };
        let fit = simplex_fw(m.view(), 0.0, false, None, 1e-9, 1_000_000, None);
        let exact = crate::estimators::synth::simplex::active_set(a.view(), &b).unwrap();
        assert!((fit.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            loss(&fit.weights) - loss(&exact) < 1e-5,
            "{} vs {}",
            loss(&fit.weights),
            loss(&exact)
        );
        assert!(loss(&exact) <= loss(&fit.weights) + 1e-12);
    }

    #[test]
    fn sparsify_zeroes_small_weights_without_shifting_the_rest() {
        assert_eq!(sparsify(&[0.8, 0.15, 0.05]), vec![0.8 / 0.8, 0.0, 0.0]);
        let s = sparsify(&[0.5, 0.3, 0.1, 0.1]);
        assert!((s[0] - 0.625).abs() < 1e-15 && (s[1] - 0.375).abs() < 1e-15);
    }
}
