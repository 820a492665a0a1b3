//! Synthetic difference-in-differences (Arkhangelsky et al. 2021) and its two special cases,
//! synthetic control and DiD, as one weighted double difference (`super::double_difference`)
//! with three ways of choosing the weights. Conventions (regularisation, solver passes,
//! placebo/jackknife/bootstrap) follow R `synthdid` 0.0.9, so that its published Prop 99
//! numbers reproduce; `benches/peers/sc_r_notes.md` describes them.
//!
//! Rows of `y` are units (controls first, then the treated), columns periods (the first `t0`
//! before treatment).

use super::fw::{SharedGram, gram_matrix, normalise, simplex_fw, sparsify};
use super::{double_difference, effect_curve};
use ndarray::{Array2, ArrayView2, Axis, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdidKind {
    /// Unit and time weights, ridge-regularised unit weights with an intercept.
    Sdid,
    /// Outcome-only synthetic control: unit weights with a negligible penalty and no intercept,
    /// no time weights (R `sc_estimate`).
    Sc,
    /// Uniform weights: the 2×2 difference in differences.
    Did,
}

impl SdidKind {
    pub fn name(self) -> &'static str {
        match self {
            SdidKind::Sdid => "sdid",
            SdidKind::Sc => "sc",
            SdidKind::Did => "did",
        }
    }
}

/// The options a fit runs with; kept, unchanged, for its placebo and resampling refits.
#[derive(Debug, Clone)]
pub struct SdidOptions {
    pub zeta_omega: f64,
    pub zeta_lambda: f64,
    pub omega_intercept: bool,
    pub update_omega: bool,
    pub update_lambda: bool,
    pub min_decrease: f64,
    pub max_iter: usize,
    pub max_iter_first_pass: usize,
    pub noise_level: f64,
}

#[derive(Debug, Clone)]
pub struct SdidFit {
    pub estimate: f64,
    pub omega: Vec<f64>,
    pub lambda: Vec<f64>,
    /// Effect per post-treatment period (their mean is `estimate`).
    pub curve: Vec<f64>,
    /// False when a weight solve stopped at its iteration limit (as the reference's often does).
    pub converged: bool,
}

/// Sample SD of the pooled first differences over time of the controls' pre-period outcomes.
pub fn noise_level(y: ArrayView2<f64>, n0: usize, t0: usize) -> f64 {
    let mut diffs = Vec::with_capacity(n0 * t0.saturating_sub(1));
    for i in 0..n0 {
        for t in 1..t0 {
            diffs.push(y[[i, t]] - y[[i, t - 1]]);
        }
    }
    let n = diffs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = diffs.iter().sum::<f64>() / n;
    (diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Default options and starting weights of each estimator (R synthdid's defaults).
pub fn options(
    kind: SdidKind,
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
) -> (SdidOptions, Option<Vec<f64>>, Option<Vec<f64>>) {
    let (n, t) = y.dim();
    let (n1, t1) = ((n - n0) as f64, (t - t0) as f64);
    let noise = noise_level(y, n0, t0);
    let base = SdidOptions {
        zeta_omega: (n1 * t1).powf(0.25) * noise,
        zeta_lambda: 1e-6 * noise,
        omega_intercept: true,
        update_omega: true,
        update_lambda: true,
        min_decrease: 1e-5 * noise,
        max_iter: 10_000,
        max_iter_first_pass: 100,
        noise_level: noise,
    };
    match kind {
        SdidKind::Sdid => (base, None, None),
        SdidKind::Sc => (
            SdidOptions {
                zeta_omega: 1e-6 * noise,
                omega_intercept: false,
                update_lambda: false,
                ..base
            },
            None,
            Some(vec![0.0; t0]),
        ),
        SdidKind::Did => (
            SdidOptions {
                update_omega: false,
                update_lambda: false,
                ..base
            },
            Some(vec![1.0 / n0 as f64; n0]),
            Some(vec![1.0 / t0 as f64; t0]),
        ),
    }
}

/// (N0+1) × (T0+1): controls' pre-period outcomes, their post-period means (last column) and
/// the treated units' mean path (last row).
fn collapsed_form(y: ArrayView2<f64>, n0: usize, t0: usize) -> Array2<f64> {
    let (n, t) = y.dim();
    let mut c = Array2::zeros((n0 + 1, t0 + 1));
    c.slice_mut(s![..n0, ..t0]).assign(&y.slice(s![..n0, ..t0]));
    for i in 0..n0 {
        c[[i, t0]] = y.slice(s![i, t0..]).mean().unwrap_or(0.0);
    }
    let treated = y.slice(s![n0.., ..]);
    for p in 0..t0 {
        c[[n0, p]] = treated.column(p).mean().unwrap_or(0.0);
    }
    c[[n0, t0]] = treated.slice(s![.., t0..]).sum() / ((n - n0) * (t - t0)) as f64;
    c
}

/// Two passes (a short one, sparsify, a long one), as the reference.
fn two_pass(
    m: ArrayView2<f64>,
    zeta: f64,
    intercept: bool,
    start: Option<&[f64]>,
    o: &SdidOptions,
    shared: Option<SharedGram>,
) -> (Vec<f64>, bool) {
    // Both passes share one Gram matrix.
    let owned = match shared {
        None => gram_matrix(m, m.ncols() - 1, intercept),
        Some(_) => None,
    };
    let shared = shared.or(owned.as_ref().map(|full| SharedGram {
        full,
        available: None,
    }));
    let first = simplex_fw(
        m,
        zeta,
        intercept,
        start,
        o.min_decrease,
        o.max_iter_first_pass,
        shared,
    );
    let second = simplex_fw(
        m,
        zeta,
        intercept,
        Some(&sparsify(&first.weights)),
        o.min_decrease,
        o.max_iter,
        shared,
    );
    (second.weights, second.converged)
}

/// A placebo refit's unit-weight problem, solved among all the original comparison units with
/// the pseudo-treated masked out, so that the solver reads whole rows of their shared Gram matrix
/// (at 5,000 units, gathering a subset of each row was the bottleneck).
struct Embedding<'a> {
    gram: &'a Array2<f64>,
    /// Pre-period paths of all the original comparison units (T0 × N0).
    paths: ArrayView2<'a, f64>,
    /// The refit's comparison units among them, in the refit's order (ascending).
    members: &'a [usize],
}

impl Embedding<'_> {
    /// The refit's unit weights, from its (T0 × (n0 + 1)) problem `m` and start.
    fn solve(
        &self,
        m: ArrayView2<f64>,
        start: Option<&[f64]>,
        o: &SdidOptions,
    ) -> (Vec<f64>, bool) {
        let (t0, all) = self.paths.dim();
        let mut full = Array2::zeros((t0, all + 1));
        full.slice_mut(s![.., ..all]).assign(&self.paths);
        full.column_mut(all).assign(&m.column(m.ncols() - 1));
        let mut available = vec![false; all];
        for &i in self.members {
            available[i] = true;
        }
        let full_start = start.map(|w| {
            let mut x = vec![0.0; all];
            for (&i, &v) in self.members.iter().zip(w) {
                x[i] = v;
            }
            x
        });
        let (weights, converged) = two_pass(
            full.view(),
            o.zeta_omega,
            o.omega_intercept,
            full_start.as_deref(),
            o,
            Some(SharedGram {
                full: self.gram,
                available: Some(&available),
            }),
        );
        (
            self.members.iter().map(|&i| weights[i]).collect(),
            converged,
        )
    }
}

/// One fit with given options and starting weights.
pub fn fit(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    omega_start: Option<&[f64]>,
    lambda_start: Option<&[f64]>,
    o: &SdidOptions,
) -> SdidFit {
    fit_with(y, n0, t0, omega_start, lambda_start, o, None)
}

/// The comparison units' Gram matrix for the unit-weight problem (their centred pre-period
/// paths), computed once and shared by every placebo refit.
pub fn control_gram(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    o: &SdidOptions,
) -> Option<Array2<f64>> {
    if !o.update_omega {
        return None;
    }
    let paths = y.slice(s![..n0, ..t0]).reversed_axes();
    gram_matrix(paths, n0, o.omega_intercept)
}

/// `fit`, with the unit weights solved within `embedding` when given (placebo refits).
fn fit_with(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    omega_start: Option<&[f64]>,
    lambda_start: Option<&[f64]>,
    o: &SdidOptions,
    embedding: Option<&Embedding>,
) -> SdidFit {
    let collapsed = collapsed_form(y, n0, t0);
    let mut converged = true;
    let lambda = if o.update_lambda {
        let (l, c) = two_pass(
            collapsed.slice(s![..n0, ..]),
            o.zeta_lambda,
            true,
            lambda_start,
            o,
            None,
        );
        converged &= c;
        l
    } else {
        lambda_start.map_or_else(|| vec![1.0 / t0 as f64; t0], <[f64]>::to_vec)
    };
    let omega = if o.update_omega {
        let m = collapsed.slice(s![.., ..t0]).reversed_axes();
        let (w, c) = match embedding {
            Some(e) => e.solve(m, omega_start, o),
            None => two_pass(m, o.zeta_omega, o.omega_intercept, omega_start, o, None),
        };
        converged &= c;
        w
    } else {
        omega_start.map_or_else(|| vec![1.0 / n0 as f64; n0], <[f64]>::to_vec)
    };
    SdidFit {
        estimate: double_difference(y, &omega, &lambda, n0, t0),
        curve: effect_curve(y, &omega, &lambda, n0, t0),
        omega,
        lambda,
        converged,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdidVariance {
    Placebo,
    Jackknife,
    Bootstrap,
}

impl SdidVariance {
    pub fn name(self) -> &'static str {
        match self {
            SdidVariance::Placebo => "placebo",
            SdidVariance::Jackknife => "jackknife",
            SdidVariance::Bootstrap => "bootstrap",
        }
    }
}

/// Standard error of the estimate and of each period's effect; `None` where the method is
/// undefined for this design (with the reason).
pub struct SdidSe {
    pub overall: Result<f64, String>,
    pub curve: Vec<f64>,
    pub replications: usize,
}

#[allow(clippy::too_many_arguments)]
pub fn standard_error(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    fitted: &SdidFit,
    o: &SdidOptions,
    method: SdidVariance,
    replications: usize,
    seed: u64,
) -> SdidSe {
    let n = y.nrows();
    let n1 = n - n0;
    let t1 = y.ncols() - t0;
    let undefined = |why: &str| SdidSe {
        overall: Err(why.to_string()),
        curve: vec![f64::NAN; t1],
        replications: 0,
    };
    let gram = if method == SdidVariance::Placebo && n0 > n1 {
        control_gram(y, n0, t0, o)
    } else {
        None
    };
    let progress = crate::progress::Progress::new(
        format!("{} refits", method.name()),
        match method {
            SdidVariance::Placebo if n1 == 1 => n0,
            SdidVariance::Jackknife => n,
            _ => replications,
        },
    );
    // Refits, and how their sum of squared deviations (and count) becomes a variance.
    let (fits, variance): (Vec<SdidFit>, fn(f64, f64) -> f64) = match method {
        SdidVariance::Placebo => {
            if n0 <= n1 {
                return undefined("placebo SEs need more comparison units than treated units");
            }
            if n1 == 1 {
                // Every comparison unit once as the pseudo-treated: the whole placebo
                // distribution, so no random draws (and no finite-population shrinkage: the SD
                // uses N0 − 1).
                let fits = (0..n0)
                    .into_par_iter()
                    .map(|pseudo| {
                        let mut order: Vec<usize> = (0..n0).filter(|&i| i != pseudo).collect();
                        order.push(pseudo);
                        let fit = placebo_fit_with(y, n0, t0, fitted, o, &order, gram.as_ref());
                        progress.tick();
                        fit
                    })
                    .collect();
                (fits, |squares, count| squares / (count - 1.0))
            } else {
                let fits = (0..replications)
                    .into_par_iter()
                    .map(|b| {
                        let mut rng = ChaCha8Rng::seed_from_u64(replicate_seed(seed, b));
                        let mut order: Vec<usize> = (0..n0).collect();
                        order.shuffle(&mut rng);
                        let fit = placebo_fit_with(y, n0, t0, fitted, o, &order, gram.as_ref());
                        progress.tick();
                        fit
                    })
                    .collect();
                (fits, |squares, count| squares / count)
            }
        }
        SdidVariance::Bootstrap => {
            if n1 == 1 {
                return undefined("the bootstrap needs several treated units; use the placebo");
            }
            let fits = (0..replications)
                .into_par_iter()
                .map(|b| {
                    let mut rng = ChaCha8Rng::seed_from_u64(replicate_seed(seed, b));
                    // Redraw until both groups are present.
                    let rows = loop {
                        let mut rows: Vec<usize> = (0..n)
                            .map(|_| rand::RngExt::random_range(&mut rng, 0..n))
                            .collect();
                        rows.sort_unstable();
                        let controls = rows.iter().filter(|&&r| r < n0).count();
                        if controls > 0 && controls < n {
                            break rows;
                        }
                    };
                    progress.tick();
                    refit_on_rows(y, &rows, n0, t0, fitted, o)
                })
                .collect();
            (fits, |squares, count| squares / count)
        }
        SdidVariance::Jackknife => {
            if n1 == 1 {
                return undefined(
                    "the jackknife is undefined with one treated unit; use the placebo",
                );
            }
            if fitted.omega.iter().filter(|w| **w != 0.0).count() == 1 {
                return undefined(
                    "the jackknife is undefined when one comparison unit has all the weight",
                );
            }
            let fixed = SdidOptions {
                update_omega: false,
                update_lambda: false,
                ..o.clone()
            };
            let fits = (0..n)
                .into_par_iter()
                .map(|left_out| {
                    let rows: Vec<usize> = (0..n).filter(|&r| r != left_out).collect();
                    progress.tick();
                    refit_on_rows(y, &rows, n0, t0, fitted, &fixed)
                })
                .collect();
            (fits, |squares, count| (count - 1.0) / count * squares)
        }
    };
    let spread = |values: Vec<f64>| {
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let squares = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
        variance(squares, count).sqrt()
    };
    SdidSe {
        overall: Ok(spread(fits.iter().map(|f| f.estimate).collect())),
        curve: (0..t1)
            .map(|k| spread(fits.iter().map(|f| f.curve[k]).collect()))
            .collect(),
        replications: fits.len(),
    }
}

/// A refit on a selection of rows (sorted: comparison units first), starting from the fitted
/// weights restricted to the selected comparison units.
fn refit_on_rows(
    y: ArrayView2<f64>,
    rows: &[usize],
    n0: usize,
    t0: usize,
    fitted: &SdidFit,
    o: &SdidOptions,
) -> SdidFit {
    let controls = rows.iter().filter(|&&r| r < n0).count();
    let start: Vec<f64> = rows[..controls].iter().map(|&i| fitted.omega[i]).collect();
    fit(
        y.select(Axis(0), rows).view(),
        controls,
        t0,
        Some(&normalise(&start)),
        Some(&fitted.lambda),
        o,
    )
}

/// One placebo draw: `order` is a permutation of the comparison units; its last N1 play the
/// treated, the others the comparison group (starting from the fitted ω restricted to them).
pub fn placebo_fit(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    fitted: &SdidFit,
    o: &SdidOptions,
    order: &[usize],
) -> SdidFit {
    placebo_fit_with(y, n0, t0, fitted, o, order, None)
}

fn placebo_fit_with(
    y: ArrayView2<f64>,
    n0: usize,
    t0: usize,
    fitted: &SdidFit,
    o: &SdidOptions,
    order: &[usize],
    gram: Option<&Array2<f64>>,
) -> SdidFit {
    let n1 = y.nrows() - n0;
    let controls = n0 - n1;
    // The pseudo-controls in their original order: the same problem with its weights listed
    // differently, whichever way it is solved (ties between vertices go to the first index).
    let mut order = order.to_vec();
    order[..controls].sort_unstable();
    let order = &order[..];
    let yp = y.select(Axis(0), order);
    let start: Vec<f64> = order[..controls].iter().map(|&i| fitted.omega[i]).collect();
    let embedding = gram.map(|gram| Embedding {
        gram,
        paths: y.slice(s![..n0, ..t0]).reversed_axes(),
        members: &order[..controls],
    });
    fit_with(
        yp.view(),
        controls,
        t0,
        Some(&normalise(&start)),
        Some(&fitted.lambda),
        o,
        embedding.as_ref(),
    )
}

/// Reference distribution of the Wald interval. With one treated unit the placebo distribution
/// has only N0 values (one per pseudo-treated control), so its SE has N0 − 1 degrees of freedom:
/// Student's t with N0 − 1 df. R synthdid draws random permutations (which repeat those N0
/// values), divides by their number and uses the normal; that scheme with 50 draws and N0 = 19
/// covered 92.0% in 300 simulated panels (92.5% with t, 600 panels).
pub fn degrees_of_freedom(variance: SdidVariance, n0: usize, n1: usize) -> Option<f64> {
    (variance == SdidVariance::Placebo && n1 == 1).then_some(n0 as f64 - 1.0)
}

/// Replicate b's seed: a function of the job's seed and b only, so draws do not depend on the
/// thread that runs them.
pub fn replicate_seed(seed: u64, b: usize) -> u64 {
    let mut z = seed ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// A placebo refit solved inside the shared Gram matrix (pseudo-treated masked out) equals the
    /// same refit solved on its own comparison units.
    #[test]
    fn embedded_placebo_refit_equals_the_direct_refit() {
        let (n, t, n0, t0) = (60, 20, 54, 15);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let loadings: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y = Array2::from_shape_fn((n, t), |(i, p)| {
            loadings[i] * (p as f64).sin() * 3.0 + i as f64 * 0.1 + (i * 31 + p * 17) as f64 % 7.0
        });
        let (o, omega0, lambda0) = options(SdidKind::Sdid, y.view(), n0, t0);
        let fitted = fit(y.view(), n0, t0, omega0.as_deref(), lambda0.as_deref(), &o);
        let gram = control_gram(y.view(), n0, t0, &o).expect("small enough for a full Gram");
        for b in 0..5 {
            let mut order: Vec<usize> = (0..n0).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(replicate_seed(3, b)));
            let direct = placebo_fit_with(y.view(), n0, t0, &fitted, &o, &order, None);
            let embedded = placebo_fit_with(y.view(), n0, t0, &fitted, &o, &order, Some(&gram));
            assert!(
                (direct.estimate - embedded.estimate).abs() < 1e-10,
                "{} vs {}",
                direct.estimate,
                embedded.estimate
            );
            assert_eq!(direct.omega.len(), embedded.omega.len());
            for (p, q) in direct.omega.iter().zip(&embedded.omega) {
                assert!((p - q).abs() < 1e-10);
            }
        }
    }
}
