//! Deterministic parallel reductions.
//!
//! Floating-point addition is not associative, so a rayon `sum()` can change the last bits with the
//! number of threads. Every reduction in cominev instead cuts the index range into fixed-size
//! chunks (independent of the thread count), computes the chunks in parallel, and adds the partial
//! results in chunk order on one thread. Output is therefore byte-identical for any `--threads`.

use rayon::prelude::*;
use std::ops::Range;

/// Rows per chunk: large enough to amortise scheduling, small enough to balance two cores.
pub const CHUNK: usize = 16_384;

/// Maps each fixed chunk of `0..n` with `f` in parallel and folds the results in chunk order.
pub fn chunked_reduce<T, F, R>(n: usize, f: F, init: T, mut reduce: R) -> T
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
    R: FnMut(T, T) -> T,
{
    let chunks: Vec<Range<usize>> = (0..n)
        .step_by(CHUNK)
        .map(|start| start..(start + CHUNK).min(n))
        .collect();
    let partials: Vec<T> = chunks.into_par_iter().map(&f).collect();
    partials.into_iter().fold(init, &mut reduce)
}
