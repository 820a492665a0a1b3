//! Hot paths of propensity-score matching, at 10k and 100k rows with 10% treated and 8
//! covariates: the logit fit, nearest-neighbour matching with and without replacement, and the
//! Abadie–Imbens variance. Benches report; they do not assert. The peer comparison (R MatchIt,
//! R Matching) is `benches/peers/run_peers.sh`.

use cominev::estimators::psm::effect::{Geometry, abadie_imbens};
use cominev::estimators::psm::logit;
use cominev::estimators::psm::matching::{self, MatchOrder, Metric, Pools};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

struct Data {
    x: Array2<f64>,
    treated: Vec<bool>,
    y: Vec<f64>,
}

fn data(n: usize) -> Data {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_126);
    let mut normal = || {
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let x = Array2::from_shape_fn((n, 8), |(_, j)| {
        let v = normal();
        if j >= 5 {
            f64::from(u8::from(v > 0.0))
        } else {
            v
        }
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let treated: Vec<bool> = (0..n)
        .map(|i| {
            let index = -2.4 + 0.4 * x[[i, 0]] - 0.3 * x[[i, 1]] + 0.5 * x[[i, 5]];
            rng.random::<f64>() < logit::logistic(index)
        })
        .collect();
    let y = (0..n)
        .map(|i| x[[i, 0]] + 0.5 * x[[i, 2]] + f64::from(u8::from(treated[i])))
        .collect();
    Data { x, treated, y }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("psm");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        let d = data(n);
        let yt: Vec<f64> = d.treated.iter().map(|&t| f64::from(u8::from(t))).collect();
        group.bench_with_input(BenchmarkId::new("logit_fit", n), &n, |b, _| {
            b.iter(|| black_box(logit::fit(d.x.view(), &yt).expect("converges")))
        });
        let fit = logit::fit(d.x.view(), &yt).expect("converges");
        let eligible = vec![true; n];
        let metric = Metric::scalar(&fit.linear_predictor, &eligible);
        let focal: Vec<usize> = (0..n).filter(|&i| d.treated[i]).collect();
        let pools = Pools::new(&d.treated, &eligible, None, false);
        group.bench_with_input(BenchmarkId::new("nn_with_replacement", n), &n, |b, _| {
            b.iter(|| {
                black_box(matching::match_with_replacement(
                    &metric,
                    &focal,
                    &pools,
                    1,
                    None,
                    Some(matching::DEFAULT_TIE_TOLERANCE),
                ))
            })
        });
        let order = matching::visiting_order(&focal, &fit.fitted, MatchOrder::Largest, 0);
        group.bench_with_input(BenchmarkId::new("nn_without_replacement", n), &n, |b, _| {
            b.iter(|| {
                black_box(matching::match_without_replacement(
                    &metric, &focal, &order, &pools, 1, None,
                ))
            })
        });
        let sets = matching::match_with_replacement(
            &metric,
            &focal,
            &pools,
            1,
            None,
            Some(matching::DEFAULT_TIE_TOLERANCE),
        )
        .expect("few pairs");
        let geometry = Geometry {
            metric: &metric,
            treated: &d.treated,
            eligible: &eligible,
            strata: None,
        };
        group.bench_with_input(BenchmarkId::new("abadie_imbens_se", n), &n, |b, _| {
            b.iter(|| {
                black_box(
                    abadie_imbens(
                        &d.y,
                        &[&sets],
                        &geometry,
                        None,
                        2,
                        Some(matching::DEFAULT_TIE_TOLERANCE),
                    )
                    .expect("estimates"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(psm, benches);
criterion_main!(psm);
