#!/usr/bin/env python3
"""make_bench_data.py -- synthetic data for the cominev vs R MatchIt / Matching benchmark.

Writes, for N in 10_000, 100_000, 1_000_000 (or the sizes given on the command line):
  /tmp/cominev-bench/bench_{N}.csv         treat, x1..x8, y
  /tmp/cominev-bench/bench_{N}.toml        cominev config, psm on the score, replace = true
  /tmp/cominev-bench/bench_{N}_norep.toml  the same with replace = false

Data-generating process (numpy.random.default_rng(20261126), a fresh generator per N):
  x1..x5  continuous normal (different means / scales, x2 correlated with x1)
  x6..x8  binary (P = 0.30, 0.50, 0.20)
  treat   Bernoulli(logistic(a + x'b)); the intercept a is solved (bisection) so the mean
          propensity is 0.10 in the sample, giving ~10% treated
  y       1 + x'g + 1.0 * treat + N(0, 1)

Continuous values are written with 10 significant digits, so every tool reads the same numbers.

Usage: python3 benches/peers/make_bench_data.py [--out DIR] [N ...]
Requirements: Python 3 + numpy.
"""

import argparse
import os

import numpy as np

SEED = 20261126
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
COVARIATES = [f"x{i}" for i in range(1, 9)]

CONFIG = """\
# cominev benchmark config (written by benches/peers/make_bench_data.py)
[data]
path = "bench_{n}.csv"
treatment = "treat"

[[evaluation]]
name = "bench"
method = "psm"
outcomes = ["y"]
covariates = [{covs}]

[evaluation.psm]
distance = "score"
replace = {replace}
"""


def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def generate(n, rng):
    x1 = rng.normal(0.0, 1.0, n)
    x2 = 0.5 * x1 + rng.normal(0.0, 1.0, n)
    x3 = rng.normal(2.0, 1.5, n)
    x4 = rng.normal(-1.0, 0.5, n)
    x5 = rng.normal(0.0, 2.0, n)
    x6 = (rng.random(n) < 0.30).astype(np.int64)
    x7 = (rng.random(n) < 0.50).astype(np.int64)
    x8 = (rng.random(n) < 0.20).astype(np.int64)
    X = np.column_stack([x1, x2, x3, x4, x5, x6, x7, x8]).astype(float)

    b = np.array([0.6, -0.4, 0.3, 0.5, 0.2, 0.7, -0.5, 0.4])
    lin = X @ b
    # intercept so that the mean propensity is 0.10
    lo, hi = -20.0, 20.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if logistic(mid + lin).mean() < 0.10:
            lo = mid
        else:
            hi = mid
    p = logistic(0.5 * (lo + hi) + lin)
    treat = (rng.random(n) < p).astype(np.int64)

    g = np.array([1.5, -0.8, 0.6, 1.2, 0.3, 0.9, -0.7, 0.5])
    y = 1.0 + X @ g + 1.0 * treat + rng.normal(0.0, 1.0, n)
    return treat, (x1, x2, x3, x4, x5), (x6, x7, x8), y


def write_csv(path, treat, cont, binary, y):
    n = len(treat)
    tmp = path + ".tmp"
    chunk = 100_000
    with open(tmp, "w", newline="\n") as f:
        f.write("treat," + ",".join(COVARIATES) + ",y\n")
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            cols = [treat[s:e].astype(str)]
            cols += [np.char.mod("%.10g", c[s:e]) for c in cont]
            cols += [b[s:e].astype(str) for b in binary]
            cols.append(np.char.mod("%.10g", y[s:e]))
            rows = [",".join(r) for r in zip(*cols)]
            f.write("\n".join(rows))
            f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/cominev-bench")
    ap.add_argument("sizes", nargs="*", type=int, default=DEFAULT_SIZES)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    covs = ", ".join(f'"{c}"' for c in COVARIATES)
    for n in args.sizes:
        rng = np.random.default_rng(SEED)
        treat, cont, binary, y = generate(n, rng)
        csv = os.path.join(args.out, f"bench_{n}.csv")
        write_csv(csv, treat, cont, binary, y)
        for suffix, replace in (("", "true"), ("_norep", "false")):
            with open(os.path.join(args.out, f"bench_{n}{suffix}.toml"), "w") as f:
                f.write(CONFIG.format(n=n, covs=covs, replace=replace))
        print(f"{csv}: {n} rows, {int(treat.sum())} treated ({treat.mean():.4f})")


if __name__ == "__main__":
    main()
