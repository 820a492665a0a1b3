#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# bench_matching.R -- time R Matching::Match on a benchmark CSV (benches/peers/run_peers.sh)
#
# Usage: Rscript benches/peers/bench_matching.R /tmp/cominev-bench/bench_N.csv
#
# Timed (elapsed wall seconds, proc.time): read.csv + glm logit propensity
# score + Match(Y, Tr, X = pscore, M = 1,
# estimand = "ATT") -- 1:1 nearest neighbour with replacement, ties kept
# (ties = TRUE, distance.tolerance = 1e-5: Match's defaults), Abadie-Imbens
# SE with Var.calc = 0 (homoskedastic; Match's default).
# The read.csv part of that is also printed on its own (read_elapsed).
#
# Output: key=value lines (read_elapsed, elapsed, est, se (AI), nobs, wnobs,
# n_pairs = rows of the matched data incl. ties, n_control_unique, versions).
# ---------------------------------------------------------------------------
suppressPackageStartupMessages(library(Matching))

path <- commandArgs(trailingOnly = TRUE)[1]
if (is.na(path) || !file.exists(path)) stop("usage: bench_matching.R DATA.csv")

t0 <- proc.time()[["elapsed"]]
d <- read.csv(path)
t1 <- proc.time()[["elapsed"]]
ps <- fitted(glm(treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8,
                 family = binomial, data = d))
m <- Match(Y = d$y, Tr = d$treat, X = ps, M = 1, estimand = "ATT")
t2 <- proc.time()[["elapsed"]]

cat(sprintf("read_elapsed=%.3f\n", t1 - t0))
cat(sprintf("elapsed=%.3f\n", t2 - t0))
cat(sprintf("est=%.17g\n", m$est))
cat(sprintf("se=%.17g\n", m$se))
cat(sprintf("nobs=%d\n", m$nobs))
cat(sprintf("wnobs=%.17g\n", m$wnobs))
cat(sprintf("n_pairs=%d\n", length(m$index.control)))
cat(sprintf("n_control_unique=%d\n", length(unique(m$index.control))))
cat(sprintf("version=R %s, Matching %s\n", getRversion(), packageVersion("Matching")))
