#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# bench_matchit.R -- time R MatchIt on a benchmark CSV (benches/peers/run_peers.sh)
#
# Usage: Rscript benches/peers/bench_matchit.R /tmp/cominev-bench/bench_N.csv
#
# Timed (elapsed wall seconds, proc.time): read.csv + matchit(treat ~ x1+...+x8,
# method = "nearest", distance = "glm") -- 1:1 greedy nearest neighbour on the
# glm logit propensity score, without replacement, m.order "largest" (defaults).
# No standard error is computed inside the timed region.
#
# Not timed, printed for the estimate comparison with cominev replace = false:
#   est    = weighted difference in mean y, matched treated - matched controls
#            (= coef of lm(y ~ treat, weights) on match.data)
#   se_cr1 = cluster-robust (CR1, clusters = matched pairs / subclass) SE of
#            that coefficient, computed by hand (same formula as
#            benches/peers/r_matchit_reference.R)
#
# Output: key=value lines (elapsed, est, se_cr1, n_treated_matched,
# n_control_matched, versions). Needs MatchIt >= 4.7 in /root/R-lib
# (see install_matchit.sh).
# ---------------------------------------------------------------------------
.libPaths(c("/root/R-lib", .libPaths()))
suppressPackageStartupMessages(library(MatchIt))

path <- commandArgs(trailingOnly = TRUE)[1]
if (is.na(path) || !file.exists(path)) stop("usage: bench_matchit.R DATA.csv")

t0 <- proc.time()[["elapsed"]]
d <- read.csv(path)
m <- matchit(treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8, data = d,
             method = "nearest", distance = "glm")
elapsed <- proc.time()[["elapsed"]] - t0

w <- unname(m$weights)
tr <- d$treat
y <- d$y
keep <- w > 0
est <- sum(w[keep & tr == 1] * y[keep & tr == 1]) / sum(w[keep & tr == 1]) -
  sum(w[keep & tr == 0] * y[keep & tr == 0]) / sum(w[keep & tr == 0])

# CR1 by subclass for lm(y ~ treat, weights = w) on the matched rows
X <- cbind(1, tr[keep]); ww <- w[keep]; yy <- y[keep]
bread <- solve(crossprod(X * sqrt(ww)))
beta <- bread %*% crossprod(X * ww, yy)
e <- as.vector(yy - X %*% beta)
g <- droplevels(m$subclass[keep])
nn <- nrow(X); k <- ncol(X); G <- nlevels(g)
S <- rowsum(X * (ww * e), g)
V <- bread %*% crossprod(S) %*% bread * (G / (G - 1)) * ((nn - 1) / (nn - k))
stopifnot(abs(beta[2] - est) < 1e-8 * max(1, abs(est)))

cat(sprintf("elapsed=%.3f\n", elapsed))
cat(sprintf("est=%.17g\n", est))
cat(sprintf("se_cr1=%.17g\n", sqrt(V[2, 2])))
cat(sprintf("n_treated_matched=%d\n", sum(keep & tr == 1)))
cat(sprintf("n_control_matched=%d\n", sum(keep & tr == 0)))
cat(sprintf("version=R %s, MatchIt %s\n", getRversion(), packageVersion("MatchIt")))
