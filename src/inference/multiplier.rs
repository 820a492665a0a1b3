//! Multiplier bootstrap on influence functions (R did's `mboot`): Mammen two-point weights per
//! unit (or per cluster), bootstrap SEs from the interquartile range, and the critical value of a
//! uniform (simultaneous) confidence band over a family of estimates.
//!
//! Determinism: draw b uses its own generator seeded from (seed, b), draws run in parallel and are
//! collected in index order, so results do not depend on the thread count.

use crate::simd::with_avx2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// draws × estimates matrix of bootstrap deviations θ*_b − θ̂, row-major.
    deviations: Vec<f64>,
    draws: usize,
    estimates: usize,
    /// IQR-based bootstrap standard error of each estimate.
    pub std_errors: Vec<f64>,
}

/// splitmix64: a well-mixed 64-bit seed for draw `b` of a job with seed `seed`.
fn draw_seed(seed: u64, b: usize) -> u64 {
    let mut z = seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Type-1 sample quantile (the inverse empirical CDF), as R's `quantile(type = 1)`.
fn quantile_type1(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[index]
}

/// Runs `draws` multiplier-bootstrap replications over the influence functions `columns`
/// (each of length n, scaled so that Var(θ̂) ≈ Σψ²/n²).
///
/// Speed: influence functions are first summed within clusters (units when there are none) into a
/// row-major G × K matrix; a Mammen weight takes one of two values, so a draw is
/// low·Σ_g ψ_g + (high − low)·Σ_{g drawn high} ψ_g: additions over the ~28% of rows drawn high.
pub fn run(columns: &[Vec<f64>], clusters: Option<&[u32]>, draws: usize, seed: u64) -> Bootstrap {
    let n = columns.first().map_or(0, Vec::len);
    let k = columns.len();
    let (group_of, n_groups): (Vec<usize>, usize) = match clusters {
        Some(ids) => {
            let mut map = std::collections::BTreeMap::new();
            let group: Vec<usize> = ids
                .iter()
                .map(|c| {
                    let next = map.len();
                    *map.entry(*c).or_insert(next)
                })
                .collect();
            (group, map.len())
        }
        None => ((0..n).collect(), n),
    };
    let mut rows = vec![0.0; n_groups * k];
    if clusters.is_some() {
        for (j, psi) in columns.iter().enumerate() {
            for (value, &g) in psi.iter().zip(&group_of) {
                rows[g * k + j] += value;
            }
        }
    } else {
        // One row per unit: the columns transposed, a block of units at a time (writing one
        // column at a time across the whole matrix touched every cache line k times).
        const UNITS_PER_BLOCK: usize = 2048;
        rows.par_chunks_mut(UNITS_PER_BLOCK * k)
            .enumerate()
            .for_each(|(block, out)| {
                let first = block * UNITS_PER_BLOCK;
                for (j, psi) in columns.iter().enumerate() {
                    for (r, value) in psi[first..].iter().take(out.len() / k).enumerate() {
                        out[r * k + j] = *value;
                    }
                }
            });
    }
    let mut column_sums = vec![0.0; k];
    for g in 0..n_groups {
        for j in 0..k {
            column_sums[j] += rows[g * k + j];
        }
    }
    let sqrt5 = 5f64.sqrt();
    let (low, high) = ((1.0 - sqrt5) / 2.0, (1.0 + sqrt5) / 2.0);
    // P(v = low) = (√5 + 1)/(2√5), compared on 32-bit integers.
    let p_low = (sqrt5 + 1.0) / (2.0 * sqrt5);
    let threshold = (p_low * f64::from(u32::MAX)) as u32;
    // 1. Each draw's Mammen weights as a bit set (1 = high), from its own generator.
    let words = n_groups.div_ceil(64);
    let high_bits: Vec<Vec<u64>> = (0..draws)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(draw_seed(seed, b));
            // A word of 64 rows at a time, without a branch per row (drawn high or not is a coin
            // the processor cannot predict); the same numbers from the generator, in order.
            (0..words)
                .map(|w| {
                    let rows_in_word = (n_groups - w * 64).min(64);
                    (0..rows_in_word).fold(0u64, |word, i| {
                        word | (u64::from(rng.random::<u32>() > threshold) << i)
                    })
                })
                .collect::<Vec<u64>>()
        })
        .collect();
    // 2. Sum the rows drawn high, block of draws by block of draws.
    const DRAWS_PER_BLOCK: usize = 64;
    let blocks: Vec<std::ops::Range<usize>> = (0..draws)
        .step_by(DRAWS_PER_BLOCK)
        .map(|b| b..(b + DRAWS_PER_BLOCK).min(draws))
        .collect();
    let progress = crate::progress::Progress::new("bootstrap blocks of 32 draws", blocks.len());
    let per_draw: Vec<Vec<f64>> = blocks
        .into_par_iter()
        .flat_map_iter(|block| {
            progress.tick();
            let sums = high_sums(&high_bits[block], &rows, k);
            sums.into_iter().map(|high_sum| {
                (0..k)
                    .map(|j| (low * column_sums[j] + (high - low) * high_sum[j]) / n as f64)
                    .collect::<Vec<f64>>()
            })
        })
        .collect();
    let deviations: Vec<f64> = per_draw.into_iter().flatten().collect();
    Bootstrap::from_deviations(deviations, draws, k)
}

with_avx2! {
    /// For each draw of a block (its bit set of rows drawn high), the sum of those rows of the
    /// row-major G × k matrix `rows`.
    fn high_sums = high_sums_portable(high_bits: &[Vec<u64>], rows: &[f64], k: usize) -> Vec<Vec<f64>>
}

/// Rows are visited in chunks so that a chunk stays in cache while every draw of the block visits
/// it; within a draw rows are added in ascending order, so the result does not depend on the
/// blocking or the thread count.
#[inline(always)]
fn high_sums_portable(high_bits: &[Vec<u64>], rows: &[f64], k: usize) -> Vec<Vec<f64>> {
    const WORDS_PER_CHUNK: usize = 8; // 512 rows
    let words = high_bits.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0.0; k]; high_bits.len()];
    for chunk in (0..words).step_by(WORDS_PER_CHUNK) {
        for (acc, bits_of_draw) in sums.iter_mut().zip(high_bits) {
            let end = (chunk + WORDS_PER_CHUNK).min(words);
            for (word, &draw_bits) in (chunk..end).zip(&bits_of_draw[chunk..end]) {
                let mut bits = draw_bits;
                while bits != 0 {
                    let g = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    for (a, value) in acc.iter_mut().zip(&rows[g * k..g * k + k]) {
                        *a += value;
                    }
                }
            }
        }
    }
    sums
}

impl Bootstrap {
    fn from_deviations(deviations: Vec<f64>, draws: usize, estimates: usize) -> Bootstrap {
        let normal = Normal::standard();
        let iqr_scale = normal.inverse_cdf(0.75) - normal.inverse_cdf(0.25);
        let std_errors = (0..estimates)
            .map(|j| {
                let mut column: Vec<f64> =
                    (0..draws).map(|b| deviations[b * estimates + j]).collect();
                column.sort_by(f64::total_cmp);
                (quantile_type1(&column, 0.75) - quantile_type1(&column, 0.25)) / iqr_scale
            })
            .collect();
        Bootstrap {
            deviations,
            draws,
            estimates,
            std_errors,
        }
    }

    /// The same draws for linear combinations of the estimates: estimate j of the result is
    /// `Σ_c coefficients[j][c] · estimate c`. (Estimates whose influence functions are linear
    /// combinations of a few others are bootstrapped through those few.)
    pub fn combinations(&self, coefficients: &[Vec<f64>]) -> Bootstrap {
        let k = self.estimates;
        let deviations: Vec<f64> = (0..self.draws)
            .flat_map(|b| {
                let row = &self.deviations[b * k..(b + 1) * k];
                coefficients
                    .iter()
                    .map(move |c| c.iter().zip(row).map(|(w, d)| w * d).sum::<f64>())
            })
            .collect();
        Bootstrap::from_deviations(deviations, self.draws, coefficients.len())
    }

    /// Critical value of a uniform band over the estimates `family`: the `level` quantile of
    /// max_j |θ*_bj − θ̂_j| / se_j.
    pub fn uniform_critical_value(&self, family: &[usize], level: f64) -> f64 {
        let mut maxima: Vec<f64> = (0..self.draws)
            .map(|b| {
                family
                    .iter()
                    .filter(|&&j| self.std_errors[j] > 0.0)
                    .map(|&j| (self.deviations[b * self.estimates + j] / self.std_errors[j]).abs())
                    .fold(0.0, f64::max)
            })
            .collect();
        maxima.sort_by(f64::total_cmp);
        quantile_type1(&maxima, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_se_approaches_the_analytic_se() {
        // ψ with Σψ²/n² = 1/n for n = 4000 → SE 0.0158.
        let n = 4000;
        let psi: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let fit = run(&[psi], None, 999, 7);
        let analytic = (1.0 / n as f64).sqrt();
        assert!(
            (fit.std_errors[0] / analytic - 1.0).abs() < 0.1,
            "{} vs {analytic}",
            fit.std_errors[0]
        );
        let c = fit.uniform_critical_value(&[0], 0.95);
        assert!((c - 1.96).abs() < 0.2, "{c}");
    }

    #[test]
    fn draws_do_not_depend_on_the_thread_count() {
        let psi: Vec<f64> = (0..100).map(|i| (i as f64).sin()).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| run(&[psi.clone()], None, 50, 3));
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .expect("pool")
            .install(|| run(&[psi], None, 50, 3));
        assert_eq!(one.std_errors, four.std_errors);
    }
}
