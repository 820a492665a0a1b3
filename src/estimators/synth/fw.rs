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
//! each. With AᵀA formed once (and shared by all placebo refits), a step is one fused,
//! vectorised pass over a Gram row (`GramProblem`) instead of O(n·k). Measured at 5,000 units ×
//! 40 periods with 200 placebos, the solves are bound by reading those rows from memory (36 KB
//! each, ~2 million of them), hence placebo problems embedded in the full set of columns; at 50
//! units (3 million steps over 30–45 weights) by the step's own latency, hence one pass per step
//! with its sums reduced in registers. Beyond `FULL_GRAM_MAX` weights the steps run over the
//! rows of A, with Gram columns computed on first use.

use crate::simd::with_avx2;
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

/// A precomputed AᵀA to reuse across solves. With `available`, the solve is one of a family of
/// sub-problems embedded in the columns of A: columns marked false (a placebo's pseudo-treated
/// units) keep weight zero and are never chosen. Solving in the full coordinates lets every step
/// read a whole contiguous Gram row instead of gathering a subset of it.
#[derive(Clone, Copy)]
pub struct SharedGram<'a> {
    pub full: &'a Array2<f64>,
    pub available: Option<&'a [bool]>,
}

/// AᵀA of A = `m`'s first k columns (centred over rows when `intercept`), in standard layout;
/// `None` when k exceeds the size kept in memory.
pub fn gram_matrix(m: ArrayView2<f64>, k: usize, intercept: bool) -> Option<Array2<f64>> {
    (k <= FULL_GRAM_MAX).then(|| gram_of(centred(m, k, intercept).view()))
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

/// AᵀA in standard layout, so that every row (= column) is contiguous, each row padded with
/// zeros to whole lanes (k × k rounded up to a multiple of `LANES`): the Gram-form pass then has
/// no scalar tail.
fn gram_of(a: ArrayView2<f64>) -> Array2<f64> {
    let k = a.ncols();
    let padded = k.next_multiple_of(LANES);
    let mut gram = Array2::from_shape_vec((k, padded), huge_page_zeros(k * padded))
        .expect("k·padded entries make a k × padded matrix");
    ndarray::linalg::general_mat_mul(
        1.0,
        &a.t(),
        &a,
        0.0,
        &mut gram.slice_mut(ndarray::s![.., ..k]),
    );
    gram
}

/// `len` zeros, in memory backed by huge pages where the system allows it: the solver reads a
/// row of a large Gram matrix per step, and the processor's prefetcher stops at every 4 KB page
/// (5,000 units × 200 placebos: 6.6 s → 5.5 s here, with transparent huge pages on `madvise`).
fn huge_page_zeros(len: usize) -> Vec<f64> {
    let mut v: Vec<f64> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = len * std::mem::size_of::<f64>();
        if bytes >= 4 * HUGE {
            let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
            let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
            // SAFETY: advice on a range inside the vector's own, still untouched, allocation;
            // advice the system does not take changes nothing.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    v.resize(len, 0.0);
    v
}

/// Columns of AᵀA for a row-major A (n × k).
enum Gram<'a> {
    Shared(&'a Array2<f64>),
    Lazy(Vec<Option<Vec<f64>>>),
}

impl Gram<'_> {
    /// Column i of AᵀA (all k entries).
    fn column(&mut self, at: &Array2<f64>, i: usize) -> &[f64] {
        match self {
            Gram::Shared(full) => &full
                .row(i)
                .to_slice()
                .expect("a standard-layout matrix has contiguous rows")[..at.nrows()],
            Gram::Lazy(cache) => cache[i].get_or_insert_with(|| {
                // A_jᵀA_i for every j: `at` holds the columns of A contiguously.
                let column_i = at.row(i);
                at.rows()
                    .into_iter()
                    .map(|column_j| column_j.iter().zip(column_i).map(|(p, q)| p * q).sum())
                    .collect()
            }),
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
    shared: Option<SharedGram>,
) -> FwResult {
    solve(
        m,
        zeta,
        intercept,
        start,
        min_decrease,
        max_iter,
        shared,
        Form::GramWhenFull,
    )
}

/// Whether problems with a full AᵀA are iterated in Gram form (tests compare both forms).
#[derive(Clone, Copy, PartialEq)]
enum Form {
    GramWhenFull,
    #[cfg_attr(not(test), allow(dead_code))]
    Rows,
}

#[allow(clippy::too_many_arguments)]
fn solve(
    m: ArrayView2<f64>,
    zeta: f64,
    intercept: bool,
    start: Option<&[f64]>,
    min_decrease: f64,
    max_iter: usize,
    shared: Option<SharedGram>,
    form: Form,
) -> FwResult {
    let (n, cols) = m.dim();
    let k = cols - 1;
    let centred_m = centred(m, cols, intercept);
    // Aᵀ in standard layout: every column of A (a step's direction) is contiguous.
    // Rows padded with zeros to whole lanes: the passes over rows then have no scalar tail, and
    // zero rows add exactly nothing to any sum (n stays the number of real rows).
    let padded = n.next_multiple_of(LANES);
    let mut at = Array2::<f64>::zeros((k, padded));
    at.slice_mut(ndarray::s![.., ..n])
        .assign(&centred_m.slice(ndarray::s![.., ..k]).t());
    let mut b: Vec<f64> = centred_m.column(k).to_vec();
    b.resize(padded, 0.0);
    let eta = n as f64 * zeta * zeta;
    let available = shared.and_then(|s| s.available);
    let is_available = |j: usize| available.is_none_or(|mask| mask[j]);
    let mut x: Vec<f64> = match start {
        Some(s) => s.to_vec(),
        None => {
            let count = (0..k).filter(|&j| is_available(j)).count() as f64;
            (0..k)
                .map(|j| if is_available(j) { 1.0 / count } else { 0.0 })
                .collect()
        }
    };
    let mut ax = vec![0.0; padded];
    for (column, &w) in at.rows().into_iter().zip(&x) {
        for (v, c) in ax.iter_mut().zip(column) {
            *v += c * w;
        }
    }
    // Aᵀb, and AᵀA x through A x (O(n·k), where forming AᵀA x from AᵀA would be O(k²));
    // `EXCLUDED` in place of Aᵀb for unavailable columns.
    let mut atb = vec![0.0; k];
    let mut gx = vec![0.0; k];
    for (j, column) in at.rows().into_iter().enumerate() {
        if !is_available(j) {
            atb[j] = EXCLUDED;
            continue;
        }
        let (mut tb, mut tax) = (0.0, 0.0);
        for ((c, bv), axv) in column.iter().zip(&b).zip(&ax) {
            tb += c * bv;
            tax += c * axv;
        }
        atb[j] = tb;
        gx[j] = tax;
    }
    let owned;
    let mut gram = match shared {
        Some(s) => Gram::Shared(s.full),
        // Formed from the A already centred here, not from `m` again.
        None if k <= FULL_GRAM_MAX => {
            owned = gram_of(at.slice(ndarray::s![.., ..n]).t());
            Gram::Shared(&owned)
        }
        None => Gram::Lazy(vec![None; k]),
    };
    if let (Gram::Shared(full), Form::GramWhenFull) = (&gram, form) {
        let problem = GramProblem {
            at: &at,
            rows: n,
            b: &b,
            gram: full,
            eta,
            zeta,
            threshold: min_decrease * min_decrease,
            max_iter,
        };
        return problem.iterate(GramStart { x, gx, atb: &atb });
    }
    // The gradient (halved) AᵀA x − Aᵀb + η x, kept up to date step by step.
    let mut gradient: Vec<f64> = (0..k).map(|j| gx[j] - atb[j] + eta * x[j]).collect();
    // ‖A x − b‖² / n, updated with A x.
    let mut fit = ax
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        / n as f64;
    let (mut best, mut x_norm) = next_vertex(&gradient, &x);
    let threshold = min_decrease * min_decrease;
    let mut previous = f64::INFINITY;
    let mut t = 0usize;
    let mut converged = false;
    while t < max_iter {
        t += 1;
        let at_vertex = x[best] == 1.0 && x_norm == 1.0;
        if !at_vertex {
            // d = e_i − x; A d = A_i − A x.
            let direction = at
                .row(best)
                .to_slice()
                .expect("a standard-layout matrix has contiguous rows");
            // −(Ax − b)·A d and ‖A d‖², then the penalty's part −η x·d.
            let (mut numerator, ad_norm) = line_terms(direction, &ax, &b);
            let d_norm = x_norm - 2.0 * x[best] + 1.0;
            numerator -= eta * (x[best] - x_norm);
            let step = (numerator / (ad_norm + eta * d_norm)).clamp(0.0, 1.0);
            if step > 0.0 {
                (best, x_norm) = step_and_select(
                    &mut x,
                    &mut gradient,
                    gram.column(&at, best),
                    &atb,
                    Step {
                        vertex: best,
                        size: step,
                        eta,
                    },
                );
                fit = move_fit(&mut ax, direction, &b, step) / n as f64;
            }
        }
        let value = zeta * zeta * x_norm + fit;
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

/// A problem iterated with AᵀA (k × k) in place of A (n × k): a step is one fused pass over k
/// entries (x, AᵀA x and the next vertex, with the sums the next line search needs) instead of
/// passes over the n rows as well. Measured at 50 units × 40 periods with 200 placebos (3 million
/// steps over 30–45 weights and 30–45 rows): one pass per step instead of three.
/// The fit ‖Ax − b‖² then comes out as a difference of large terms (xᵀAᵀAx − 2xᵀAᵀb + bᵀb),
/// so a stopping decision that falls within their rounding error is re-checked from A itself.
struct GramProblem<'a> {
    /// Aᵀ: every column of A, zero-padded beyond its `rows` real entries.
    at: &'a Array2<f64>,
    rows: usize,
    b: &'a [f64],
    /// AᵀA, rows padded with zeros to whole lanes.
    gram: &'a Array2<f64>,
    eta: f64,
    zeta: f64,
    /// The stopping rule's least decrease, and the step limit.
    threshold: f64,
    max_iter: usize,
}

/// Where a Gram-form solve starts: x, AᵀA x and Aᵀb (`EXCLUDED` where unavailable), over the k
/// weights.
struct GramStart<'a> {
    x: Vec<f64>,
    gx: Vec<f64>,
    atb: &'a [f64],
}

/// Aᵀb of columns that may not be chosen (placebos' pseudo-treated units, lane padding): their
/// gradient AᵀA x − Aᵀb + η x is then far above any real one, and, x being exactly zero there,
/// they add exactly zero to xᵀAᵀb (−∞ would make 0·∞ a NaN). Both forms use it.
const EXCLUDED: f64 = -f64::MAX;

impl GramProblem<'_> {
    fn iterate(&self, start: GramStart) -> FwResult {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { self.iterate_avx2(start) };
        }
        self.iterate_with(start, |pass: GramPass| pass.run_portable())
    }

    /// `iterate`, compiled for AVX2 as a whole: the step's summary then stays in registers
    /// (returned from a separately compiled pass, it went through memory and stalled every step).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn iterate_avx2(&self, start: GramStart) -> FwResult {
        // SAFETY (of the pass): this function runs only where AVX2 is present.
        self.iterate_with(start, |pass: GramPass| unsafe { pass.run_avx2() })
    }

    #[inline(always)]
    fn iterate_with(&self, start: GramStart, run: impl Fn(GramPass) -> Summary) -> FwResult {
        let GramStart { x, gx, atb } = start;
        let (threshold, max_iter) = (self.threshold, self.max_iter);
        let (k, n) = (x.len(), self.rows);
        let padded = self.gram.ncols();
        let (g, eta) = (self.gram, self.eta);
        let mut atb = atb.to_vec();
        let (mut x, mut gx) = (x, gx);
        atb.resize(padded, EXCLUDED);
        x.resize(padded, 0.0);
        gx.resize(padded, 0.0);
        // The previous x: each move writes the new x here, then the two swap.
        let mut spare = vec![0.0; padded];
        let bb: f64 = self.b.iter().map(|v| v * v).sum();
        // (value, the size of its rounding error)
        let value = |s: &Summary| -> (f64, f64) {
            let fit = (s.xgx - 2.0 * s.xatb + bb) / n as f64;
            // Measured on simulated panels: the difference of two consecutive values is within
            // 6.2e-16 of its value from A; 1e-14 leaves a wide margin.
            let error = 1e-14 * (s.xgx.abs() + 2.0 * s.xatb.abs() + bb) / n as f64;
            (self.zeta * self.zeta * s.x_norm + fit, error)
        };
        let mut s = summarise(&x, &gx, &atb, eta);
        let mut previous = (f64::INFINITY, 0.0);
        let mut t = 0;
        let mut converged = false;
        while t < max_iter {
            t += 1;
            let best = s.best;
            let x_best = x[best];
            let mut moved = false;
            if !(x_best == 1.0 && s.x_norm == 1.0) {
                // The line search of the row form, with A-products written through AᵀA.
                let numerator =
                    -(gx[best] - atb[best] - s.xgx + s.xatb) - eta * (x_best - s.x_norm);
                let ad_norm = g[[best, best]] - 2.0 * gx[best] + s.xgx;
                let d_norm = s.x_norm - 2.0 * x_best + 1.0;
                let step = (numerator / (ad_norm + eta * d_norm)).clamp(0.0, 1.0);
                // (A NaN step, from a zero denominator, is no move.)
                if step > 0.0 {
                    let row = g
                        .row(best)
                        .to_slice()
                        .expect("a standard-layout matrix has contiguous rows");
                    let step = Step {
                        vertex: best,
                        size: step,
                        eta,
                    };
                    s = gram_step(&mut x, &mut spare, &mut gx, row, &atb, step, &run);
                    std::mem::swap(&mut x, &mut spare);
                    moved = true;
                }
            }
            let current = value(&s);
            if t >= 2 {
                let mut decrease = previous.0 - current.0;
                if (decrease - threshold).abs() <= 2.0 * (previous.1 + current.1) {
                    let before = if moved { &spare } else { &x };
                    decrease = self.exact_value(before) - self.exact_value(&x);
                }
                if decrease <= threshold {
                    converged = true;
                    break;
                }
            }
            previous = current;
        }
        x.truncate(k);
        FwResult {
            weights: x,
            iterations: t,
            converged,
        }
    }

    /// ζ²‖x‖² + ‖A x − b‖²/n from A itself.
    fn exact_value(&self, x: &[f64]) -> f64 {
        let mut ax = vec![0.0; self.b.len()];
        for (column, &w) in self.at.rows().into_iter().zip(x) {
            for (v, c) in ax.iter_mut().zip(column) {
                *v += c * w;
            }
        }
        let fit: f64 = ax.iter().zip(self.b).map(|(p, q)| (p - q) * (p - q)).sum();
        self.zeta * self.zeta * x.iter().map(|v| v * v).sum::<f64>() + fit / self.rows as f64
    }
}

/// What a Gram-form step needs of the current x: the vertex to move to next and three sums.
struct Summary {
    best: usize,
    /// xᵀAᵀA x
    xgx: f64,
    /// xᵀAᵀb
    xatb: f64,
    /// ‖x‖²
    x_norm: f64,
}

/// The summary of x from scratch (the first step, and after a move too close to a vertex for
/// the fused pass).
fn summarise(x: &[f64], gx: &[f64], atb: &[f64], eta: f64) -> Summary {
    let (mut xgx, mut xatb, mut x_norm) = ([0.0f64; LANES], [0.0f64; LANES], [0.0f64; LANES]);
    let mut mins = [f64::INFINITY; LANES];
    let mut index_of_min = [0usize; LANES];
    for (j, ((&xj, &gj), &tb)) in x.iter().zip(gx).zip(atb).enumerate() {
        let lane = j % LANES;
        xgx[lane] += xj * gj;
        xatb[lane] += xj * tb;
        x_norm[lane] += xj * xj;
        let gradient = gj - tb + eta * xj;
        if gradient < mins[lane] {
            mins[lane] = gradient;
            index_of_min[lane] = j;
        }
    }
    Summary {
        best: first_of_lane_minima(&mins, &index_of_min),
        xgx: sum_lanes(&xgx),
        xatb: sum_lanes(&xatb),
        x_norm: sum_lanes(&x_norm),
    }
}

/// A Frank–Wolfe move: x ← (1 − size)·x + size·e_vertex.
#[derive(Clone, Copy)]
struct Step {
    vertex: usize,
    size: f64,
    eta: f64,
}

with_avx2! {
    /// Moves x and the gradient g = AᵀA x − Aᵀb + η x by `step` (with `gram_row` = AᵀA e_vertex)
    /// and returns the next vertex and ‖x‖², in one pass over contiguous slices.
    fn step_and_select = step_and_select_portable(
        x: &mut [f64],
        gradient: &mut [f64],
        gram_row: &[f64],
        atb: &[f64],
        step: Step
    ) -> (usize, f64)
}

with_avx2! {
    /// (−(Ax − b)·(A_i − Ax), ‖A_i − Ax‖²) for the line search.
    fn line_terms = line_terms_portable(direction: &[f64], ax: &[f64], b: &[f64]) -> (f64, f64)
}

with_avx2! {
    /// A x ← (1 − step)·A x + step·A_i, returning ‖A x − b‖².
    fn move_fit = move_fit_portable(ax: &mut [f64], direction: &[f64], b: &[f64], step: f64) -> f64
}

/// Moves x (read from `x`, written to `next`) and AᵀA x by `step` (with `gram_row` = AᵀA
/// e_vertex) and returns the summary of the new x, in one pass (`run`) over whole lanes.
#[inline(always)]
fn gram_step(
    x: &mut [f64],
    next: &mut [f64],
    gx: &mut [f64],
    gram_row: &[f64],
    atb: &[f64],
    step: Step,
    run: &impl Fn(GramPass) -> Summary,
) -> Summary {
    let keep = 1.0 - step.size;
    if keep < 1e-6 {
        // Nearly the whole way to the vertex: the fused form below would divide by `keep`.
        for (((nj, &xj), gj), &row) in next
            .iter_mut()
            .zip(x.iter())
            .zip(gx.iter_mut())
            .zip(gram_row)
        {
            *nj = keep * xj;
            *gj = keep * *gj + step.size * row;
        }
        next[step.vertex] += step.size;
        return summarise(next, gx, atb, step.eta);
    }
    // The vertex's own term (+size in x) enters before the scaling by `keep`, so that the pass
    // needs no branch; x itself is restored afterwards (it is the previous x).
    let at_vertex = x[step.vertex];
    x[step.vertex] += step.size / keep;
    let pass = GramPass {
        x,
        next,
        gx,
        gram_row,
        atb,
        keep,
        size: step.size,
        eta: step.eta,
    };
    let summary = run(pass);
    x[step.vertex] = at_vertex;
    summary
}

/// The fused pass of a Gram-form step over slices of one length, a multiple of `LANES`:
/// next = keep·x, gx ← keep·gx + size·gram_row, and the summary of `next`.
struct GramPass<'a> {
    x: &'a [f64],
    next: &'a mut [f64],
    gx: &'a mut [f64],
    gram_row: &'a [f64],
    atb: &'a [f64],
    keep: f64,
    size: f64,
    eta: f64,
}

impl GramPass<'_> {
    /// The reference: the AVX2 pass performs the same operations in the same order.
    fn run_portable(self) -> Summary {
        let (keep, size, eta) = (self.keep, self.size, self.eta);
        let (mut xgx, mut xatb, mut norms) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        let mut mins = [f64::INFINITY; LANES];
        let mut index_of_min = [0usize; LANES];
        let chunks = self
            .x
            .chunks_exact(LANES)
            .zip(self.next.chunks_exact_mut(LANES))
            .zip(self.gx.chunks_exact_mut(LANES))
            .zip(self.gram_row.chunks_exact(LANES))
            .zip(self.atb.chunks_exact(LANES));
        for (c, ((((xs, ns), gs), rows), tbs)) in chunks.enumerate() {
            for lane in 0..LANES {
                let xv = keep * xs[lane];
                let gv = keep * gs[lane] + size * rows[lane];
                ns[lane] = xv;
                gs[lane] = gv;
                xgx[lane] += xv * gv;
                xatb[lane] += xv * tbs[lane];
                norms[lane] += xv * xv;
                let gradient = (gv - tbs[lane]) + eta * xv;
                if gradient < mins[lane] {
                    mins[lane] = gradient;
                    index_of_min[lane] = c * LANES + lane;
                }
            }
        }
        Summary {
            best: first_of_lane_minima(&mins, &index_of_min),
            xgx: sum_lanes(&xgx),
            xatb: sum_lanes(&xatb),
            x_norm: sum_lanes(&norms),
        }
    }

    /// Two 4-wide halves per chunk of 8 lanes, and the lanes reduced in registers; no fused
    /// multiply-add and the sums associated as `sum_lanes`, so that every result is rounded as
    /// in `run_portable`. (Left to the compiler, the portable loop compiled for AVX2 shuffled
    /// lanes between registers, and reading the lanes back from memory stalled the step.)
    /// # Safety
    /// Only where the processor has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn run_avx2(self) -> Summary {
        use std::arch::x86_64::*;
        let len = self.x.len();
        assert!(
            len.is_multiple_of(LANES)
                && [
                    self.next.len(),
                    self.gx.len(),
                    self.gram_row.len(),
                    self.atb.len()
                ]
                .iter()
                .all(|&l| l == len),
            "a Gram pass runs over whole lanes of equal slices"
        );
        let keep = _mm256_set1_pd(self.keep);
        let size = _mm256_set1_pd(self.size);
        let eta = _mm256_set1_pd(self.eta);
        let zero = _mm256_setzero_pd();
        let infinity = _mm256_set1_pd(f64::INFINITY);
        let (mut xgx, mut xatb, mut norms) = ([zero; 2], [zero; 2], [zero; 2]);
        let (mut mins, mut index_of_min) = ([infinity; 2], [zero; 2]);
        // The indices of the chunk's entries, as floats (exact up to 2⁵³).
        let mut index = [
            _mm256_setr_pd(0.0, 1.0, 2.0, 3.0),
            _mm256_setr_pd(4.0, 5.0, 6.0, 7.0),
        ];
        let lanes = _mm256_set1_pd(LANES as f64);
        let x = self.x.as_ptr();
        let next = self.next.as_mut_ptr();
        let gx = self.gx.as_mut_ptr();
        let row = self.gram_row.as_ptr();
        let atb = self.atb.as_ptr();
        for start in (0..self.x.len()).step_by(LANES) {
            prefetch(self.gram_row, start + PREFETCH);
            for half in 0..2 {
                let at = start + 4 * half;
                // SAFETY: at + 4 ≤ len for every slice (whole lanes, equal lengths).
                unsafe {
                    let xv = _mm256_mul_pd(keep, _mm256_loadu_pd(x.add(at)));
                    let gv = _mm256_add_pd(
                        _mm256_mul_pd(keep, _mm256_loadu_pd(gx.add(at))),
                        _mm256_mul_pd(size, _mm256_loadu_pd(row.add(at))),
                    );
                    _mm256_storeu_pd(next.add(at), xv);
                    _mm256_storeu_pd(gx.add(at), gv);
                    let tb = _mm256_loadu_pd(atb.add(at));
                    xgx[half] = _mm256_add_pd(xgx[half], _mm256_mul_pd(xv, gv));
                    xatb[half] = _mm256_add_pd(xatb[half], _mm256_mul_pd(xv, tb));
                    norms[half] = _mm256_add_pd(norms[half], _mm256_mul_pd(xv, xv));
                    let gradient = _mm256_add_pd(_mm256_sub_pd(gv, tb), _mm256_mul_pd(eta, xv));
                    let smaller = _mm256_cmp_pd::<_CMP_LT_OQ>(gradient, mins[half]);
                    mins[half] = _mm256_blendv_pd(mins[half], gradient, smaller);
                    index_of_min[half] = _mm256_blendv_pd(index_of_min[half], index[half], smaller);
                    index[half] = _mm256_add_pd(index[half], lanes);
                }
            }
        }
        // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), as `sum_lanes`.
        let sum = |v: [__m256d; 2]| -> f64 {
            let pairs = _mm256_hadd_pd(v[0], v[1]); // l0+l1, l4+l5, l2+l3, l6+l7
            let quads = _mm_add_pd(
                _mm256_castpd256_pd128(pairs),
                _mm256_extractf128_pd::<1>(pairs),
            );
            _mm_cvtsd_f64(_mm_add_sd(quads, _mm_unpackhi_pd(quads, quads)))
        };
        // The least (minimum, index) pair, as `first_of_lane_minima`.
        let least = |p: (__m256d, __m256d), q: (__m256d, __m256d)| {
            let take_q = _mm256_or_pd(
                _mm256_cmp_pd::<_CMP_LT_OQ>(q.0, p.0),
                _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_EQ_OQ>(q.0, p.0),
                    _mm256_cmp_pd::<_CMP_LT_OQ>(q.1, p.1),
                ),
            );
            (
                _mm256_blendv_pd(p.0, q.0, take_q),
                _mm256_blendv_pd(p.1, q.1, take_q),
            )
        };
        let four = least((mins[0], index_of_min[0]), (mins[1], index_of_min[1]));
        let swap_halves = |v: __m256d| _mm256_permute2f128_pd::<1>(v, v);
        let two = least(four, (swap_halves(four.0), swap_halves(four.1)));
        let swap_pairs = |v: __m256d| _mm256_permute_pd::<0b0101>(v);
        let one = least(two, (swap_pairs(two.0), swap_pairs(two.1)));
        Summary {
            best: _mm256_cvtsd_f64(one.1) as usize,
            xgx: sum(xgx),
            xatb: sum(xatb),
            x_norm: sum(norms),
        }
    }
}

/// Asks for `row[at]` to be brought into cache (a no-op past the end and off x86-64).
#[inline(always)]
fn prefetch(row: &[f64], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < row.len() {
        // SAFETY: in bounds, checked above; a prefetch has no effect on memory.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                row.as_ptr().add(at) as *const i8,
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, at);
}

/// Lanes of the fused pass: independent accumulators, so the pass vectorises; the lane count
/// fixes the order of the ‖x‖² sum, hence the bits of the result, whatever the instruction set.
const LANES: usize = 8;
/// How far ahead (in entries, 2 KB) the Gram row is prefetched: the rows come from memory, one
/// per step, and the processor's own prefetcher left the solver waiting (5,000 units × 200
/// placebos: 9.2 s without, 6.6 s with; 1 KB to 8 KB ahead measured alike).
const PREFETCH: usize = 256;

#[inline(always)]
fn step_and_select_portable(
    x: &mut [f64],
    gradient: &mut [f64],
    gram_row: &[f64],
    atb: &[f64],
    step: Step,
) -> (usize, f64) {
    let keep = 1.0 - step.size;
    if keep < 1e-6 {
        // Nearly the whole way to the vertex: the fused form below would divide by `keep`.
        for (((xj, gj), &row), &tb) in x.iter_mut().zip(gradient.iter_mut()).zip(gram_row).zip(atb)
        {
            *xj *= keep;
            *gj = keep * *gj + step.size * (row - tb);
        }
        x[step.vertex] += step.size;
        gradient[step.vertex] += step.eta * step.size;
        return next_vertex(gradient, x);
    }
    // The vertex's own terms (+size in x, +η·size in g) enter before the scaling by `keep`, so
    // that the pass below needs no branch.
    x[step.vertex] += step.size / keep;
    gradient[step.vertex] += step.eta * step.size / keep;
    let mut norms = [0.0f64; LANES];
    let mut mins = [f64::INFINITY; LANES];
    // The chunk where each lane's minimum was first seen (a branch-free select).
    let mut chunk_of_min = [0u64; LANES];
    let chunks = x
        .chunks_exact_mut(LANES)
        .zip(gradient.chunks_exact_mut(LANES))
        .zip(gram_row.chunks_exact(LANES))
        .zip(atb.chunks_exact(LANES));
    for (c, (((xs, gs), rows), tbs)) in chunks.enumerate() {
        prefetch(gram_row, c * LANES + PREFETCH);
        for lane in 0..LANES {
            let xv = keep * xs[lane];
            let gv = keep * gs[lane] + step.size * (rows[lane] - tbs[lane]);
            xs[lane] = xv;
            gs[lane] = gv;
            norms[lane] += xv * xv;
            let smaller = gv < mins[lane];
            mins[lane] = if smaller { gv } else { mins[lane] };
            chunk_of_min[lane] = if smaller {
                c as u64
            } else {
                chunk_of_min[lane]
            };
        }
    }
    let k = x.len();
    let body = k - k % LANES;
    let mut index_of_min: [usize; LANES] =
        std::array::from_fn(|lane| chunk_of_min[lane] as usize * LANES + lane);
    for j in body..k {
        let lane = j % LANES;
        x[j] *= keep;
        gradient[j] = keep * gradient[j] + step.size * (gram_row[j] - atb[j]);
        norms[lane] += x[j] * x[j];
        if gradient[j] < mins[lane] {
            mins[lane] = gradient[j];
            index_of_min[lane] = j;
        }
    }
    let next = first_of_lane_minima(&mins, &index_of_min);
    // Only a NaN gradient (non-finite data) leaves no lane with a minimum.
    (if next < k { next } else { 0 }, sum_lanes(&norms))
}

/// The smallest of the lanes' minima, at its first index (ties go to the first index, as the
/// reference's `which.min`).
fn first_of_lane_minima(mins: &[f64; LANES], at: &[usize; LANES]) -> usize {
    // The least (minimum, index) pair, by a tree of branch-free selects: the order of the
    // comparisons does not change which pair is least, and the data-dependent branches of a
    // linear scan were mispredicted often enough to cost a fifth of a small problem's step.
    let least = |p: (f64, usize), q: (f64, usize)| -> (f64, usize) {
        let take_q = (q.0 < p.0) | ((q.0 == p.0) & (q.1 < p.1));
        if take_q { q } else { p }
    };
    let pairs: [(f64, usize); LANES] = std::array::from_fn(|lane| (mins[lane], at[lane]));
    let fours = [
        least(pairs[0], pairs[1]),
        least(pairs[2], pairs[3]),
        least(pairs[4], pairs[5]),
        least(pairs[6], pairs[7]),
    ];
    least(least(fours[0], fours[1]), least(fours[2], fours[3])).1
}

// In lanes: a serial sum over thousands of rows was latency-bound in the time-weight problem.
#[inline(always)]
fn line_terms_portable(direction: &[f64], ax: &[f64], b: &[f64]) -> (f64, f64) {
    let mut products = [0.0f64; LANES];
    let mut squares = [0.0f64; LANES];
    let mut add = |lane: usize, a_i: f64, axv: f64, bv: f64| {
        let ad = a_i - axv;
        products[lane] -= (axv - bv) * ad;
        squares[lane] += ad * ad;
    };
    let chunks = direction
        .chunks_exact(LANES)
        .zip(ax.chunks_exact(LANES))
        .zip(b.chunks_exact(LANES));
    for ((ds, axs), bs) in chunks {
        for lane in 0..LANES {
            add(lane, ds[lane], axs[lane], bs[lane]);
        }
    }
    for i in (ax.len() - ax.len() % LANES)..ax.len() {
        add(i % LANES, direction[i], ax[i], b[i]);
    }
    (sum_lanes(&products), sum_lanes(&squares))
}

#[inline(always)]
fn move_fit_portable(ax: &mut [f64], direction: &[f64], b: &[f64], step: f64) -> f64 {
    let keep = 1.0 - step;
    let mut squares = [0.0f64; LANES];
    let mut add = |lane: usize, v: &mut f64, a_i: f64, bv: f64| {
        *v = keep * *v + step * a_i;
        squares[lane] += (*v - bv) * (*v - bv);
    };
    let n = ax.len();
    let body = n - n % LANES;
    let (head, tail) = ax.split_at_mut(body);
    for ((vs, ds), bs) in head
        .chunks_exact_mut(LANES)
        .zip(direction.chunks_exact(LANES))
        .zip(b.chunks_exact(LANES))
    {
        for lane in 0..LANES {
            add(lane, &mut vs[lane], ds[lane], bs[lane]);
        }
    }
    for (i, v) in tail.iter_mut().enumerate() {
        add((body + i) % LANES, v, direction[body + i], b[body + i]);
    }
    sum_lanes(&squares)
}

fn sum_lanes(lanes: &[f64; LANES]) -> f64 {
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// The next vertex and ‖x‖² (the first step's, and after a move that `step_and_select` does
/// not fuse).
fn next_vertex(gradient: &[f64], x: &[f64]) -> (usize, f64) {
    let mut norms = [0.0f64; LANES];
    let mut mins = [f64::INFINITY; LANES];
    let mut index_of_min = [0usize; LANES];
    for (j, (&xj, &gj)) in x.iter().zip(gradient).enumerate() {
        let lane = j % LANES;
        norms[lane] += xj * xj;
        if gj < mins[lane] {
            mins[lane] = gj;
            index_of_min[lane] = j;
        }
    }
    (
        first_of_lane_minima(&mins, &index_of_min),
        sum_lanes(&norms),
    )
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

    /// Problems iterated in Gram form end where the row form ends, step for step: tall ones
    /// (rows ≫ weights, as the time weights; 10,000, 839, 67 and 749 steps in these four cases:
    /// the stopping rule is exercised) and wide ones (as the unit weights).
    #[test]
    fn gram_form_equals_the_row_form() {
        for (n, k) in [(400, 12), (30, 45)] {
            gram_form_equals_the_row_form_at(n, k);
        }
    }

    fn gram_form_equals_the_row_form_at(n: usize, k: usize) {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let m = Array2::from_shape_fn((n, k + 1), |(i, j)| {
            (i as f64 * 0.37 + j as f64).sin() * 5.0
                + 20.0 * (i % 7) as f64
                + rng.random_range(-1.0..1.0)
        });
        for (zeta, intercept, min_decrease) in [
            (1e-6, true, 1e-5),
            (0.3, true, 1e-3),
            (1e-6, false, 1e-2),
            (1e-6, true, 1e-3),
        ] {
            let gram = solve(
                m.view(),
                zeta,
                intercept,
                None,
                min_decrease,
                10_000,
                None,
                Form::GramWhenFull,
            );
            let rows = solve(
                m.view(),
                zeta,
                intercept,
                None,
                min_decrease,
                10_000,
                None,
                Form::Rows,
            );
            assert_eq!(gram.iterations, rows.iterations, "{n} × {k}, zeta {zeta}");
            assert_eq!(gram.converged, rows.converged);
            for (p, q) in gram.weights.iter().zip(&rows.weights) {
                assert!((p - q).abs() < 1e-10, "{n} × {k}, zeta {zeta}: {p} vs {q}");
            }
        }
    }

    /// The passes give the same bits whether compiled for AVX2 (the dispatching functions, on a
    /// processor that has it) or for the baseline instruction set (the portable bodies).
    #[test]
    fn vectorised_passes_equal_the_portable_ones_bit_for_bit() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut draw =
            |len: usize| -> Vec<f64> { (0..len).map(|_| rng.random_range(-3.0..3.0)).collect() };
        for len in [1, 7, 8, 13, 1003] {
            let (x, gradient, row, atb) = (draw(len), draw(len), draw(len), draw(len));
            let step = Step {
                vertex: len / 2,
                size: 0.37,
                eta: 0.8,
            };
            let (mut x1, mut g1, mut x2, mut g2) = (x.clone(), gradient.clone(), x, gradient);
            let fast = step_and_select(&mut x1, &mut g1, &row, &atb, step);
            let portable = step_and_select_portable(&mut x2, &mut g2, &row, &atb, step);
            assert_eq!(fast.0, portable.0);
            assert_eq!(fast.1.to_bits(), portable.1.to_bits());
            assert!(x1.iter().zip(&x2).all(|(p, q)| p.to_bits() == q.to_bits()));
            assert!(g1.iter().zip(&g2).all(|(p, q)| p.to_bits() == q.to_bits()));
            let (ax, b) = (draw(len), draw(len));
            let (t1, t2) = (
                line_terms(&row, &ax, &b),
                line_terms_portable(&row, &ax, &b),
            );
            assert_eq!(
                (t1.0.to_bits(), t1.1.to_bits()),
                (t2.0.to_bits(), t2.1.to_bits())
            );
            let (mut ax1, mut ax2) = (ax.clone(), ax);
            let f1 = move_fit(&mut ax1, &row, &b, 0.37);
            let f2 = move_fit_portable(&mut ax2, &row, &b, 0.37);
            assert_eq!(f1.to_bits(), f2.to_bits());
            assert!(
                ax1.iter()
                    .zip(&ax2)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
            );
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for len in [8, 48, 1000] {
                let (x, mut row) = (draw(len), draw(len));
                let mut atb = draw(len);
                atb[len - 1] = EXCLUDED;
                let mut gx = draw(len);
                // A tie between two lanes' minima: the first index wins in both.
                (gx[3], gx[5], atb[3], atb[5]) = (-100.0, -100.0, 0.0, 0.0);
                row[5] = row[3];
                let (mut next1, mut next2) = (vec![0.0; len], vec![0.0; len]);
                let (mut gx1, mut gx2) = (gx.clone(), gx);
                let pass = |next, gx| GramPass {
                    x: &x,
                    next,
                    gx,
                    gram_row: &row,
                    atb: &atb,
                    keep: 0.63,
                    size: 0.37,
                    eta: 0.0,
                };
                // SAFETY: AVX2 is present, checked above.
                let fast = unsafe { pass(&mut next1, &mut gx1).run_avx2() };
                let portable = pass(&mut next2, &mut gx2).run_portable();
                assert_eq!((fast.best, portable.best), (3, 3));
                for (f, p) in [
                    (fast.xgx, portable.xgx),
                    (fast.xatb, portable.xatb),
                    (fast.x_norm, portable.x_norm),
                ] {
                    assert_eq!(f.to_bits(), p.to_bits());
                }
                assert!(
                    next1
                        .iter()
                        .zip(&next2)
                        .all(|(p, q)| p.to_bits() == q.to_bits())
                );
                assert!(
                    gx1.iter()
                        .zip(&gx2)
                        .all(|(p, q)| p.to_bits() == q.to_bits())
                );
            }
        }
    }

    #[test]
    fn sparsify_zeroes_small_weights_without_shifting_the_rest() {
        assert_eq!(sparsify(&[0.8, 0.15, 0.05]), vec![0.8 / 0.8, 0.0, 0.0]);
        let s = sparsify(&[0.5, 0.3, 0.1, 0.1]);
        assert!((s[0] - 0.625).abs() < 1e-15 && (s[1] - 0.375).abs() < 1e-15);
    }
}
