#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# ai2016_coverage.R -- small Monte Carlo: coverage of 95% normal CIs for
# propensity-score matching (logit score estimated by ML, matching on p,
# with replacement) using
#   * the unadjusted Abadie-Imbens (2006) robust SE (nn = 2 local sets), and
#   * the Abadie-Imbens (2016) SE adjusted for the estimated score
#     (ATE: one formula; ATET: three sample analogues, see ai2016_lib.R).
#
# DGP (3 covariates, known effects):
#   X1, X2, X3 iid N(0,1);  W ~ Bernoulli(plogis(-0.3 + 0.5 X1 + 0.5 X2 + 0.5 X3))
#   Y(0) = 3 X1 - 3 X2 + U0,   Y(1) = 5 + 5 X1 + X2 + X3 + U1,   U0, U1 iid N(0,1)
#   tau(X) = 5 + 2 X1 + 4 X2 + X3;  ATE = 5;  ATT = 5 + (2,4,1)'E[X | W = 1]
#   (E[X|W=1] computed exactly by one-dimensional numerical integration over
#    the index eta = a'X ~ N(a0, |a|^2): E[X p] = a E[(eta - a0) plogis(eta)] / |a|^2).
#   The covariates enter Y(0), Y(1) along directions that are not the
#   selection index, so cov(X, mu(w,X) | p) != 0 and the adjustment is large.
# Logit includes the intercept and X1..X3 (correct specification).
#
# Rerun from the repository root:
#   Rscript benches/peers/ai2016_coverage.R [reps] [n] [seed]     (defaults 300 2000 20240607)
# Output: printed and written to benches/peers/ai2016_coverage.txt
# (about 0.25 s per replication and value of M on one core; M = 1 and 4).
# ---------------------------------------------------------------------------

args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args) >= 1) as.integer(args[1]) else 300L
n <- if (length(args) >= 2) as.integer(args[2]) else 2000L
seed <- if (length(args) >= 3) as.integer(args[3]) else 20240607L
this_dir <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "benches/peers"
})
source(file.path(this_dir, "ai2016_lib.R"))
out_txt <- file.path(this_dir, "ai2016_coverage.txt")

a0 <- -0.3; a <- c(0.5, 0.5, 0.5)
b0 <- c(0, 3, -3, 0); b1 <- c(5, 5, 1, 1)
s2 <- sum(a^2)
Ep <- integrate(function(e) plogis(e) * dnorm(e, a0, sqrt(s2)), -Inf, Inf, rel.tol = 1e-12)$value
Eep <- integrate(function(e) (e - a0) * plogis(e) * dnorm(e, a0, sqrt(s2)), -Inf, Inf, rel.tol = 1e-12)$value
EX1 <- a * Eep / s2 / Ep                       # E[X | W = 1]
ATE <- b1[1] - b0[1]
ATT <- ATE + sum((b1[-1] - b0[-1]) * EX1)

sim_once <- function(M) {
  Z <- matrix(rnorm(n * 3), n)
  X <- cbind("(Intercept)" = 1, x1 = Z[, 1], x2 = Z[, 2], x3 = Z[, 3])
  W <- rbinom(n, 1, plogis(a0 + drop(Z %*% a)))
  Y <- ifelse(W == 1, b1[1] + drop(Z %*% b1[-1]), b0[1] + drop(Z %*% b0[-1])) + rnorm(n)
  pr <- ai2016_prepare(Y, W, X, M = M, nn = 2, tol = 0)
  e <- ai2016_ate(pr)
  t <- lapply(c("score", "plugin", "plugin_mux"), function(v) ai2016_atet(pr, v))
  c(ate = e$est, ate_se_ai = e$se_ai, ate_se_adj = e$se_adj,
    att = t[[1]]$est, att_se_ai = t[[1]]$se_ai, att_se_score = t[[1]]$se_adj,
    att_se_plugin = t[[2]]$se_adj, att_se_mux = t[[3]]$se_adj)
}

lines <- c(
  sprintf("ai2016_coverage.R  reps = %d  n = %d  seed = %d  (%s, %s)", reps, n, seed,
          R.version.string, format(Sys.time(), "%Y-%m-%d")),
  sprintf("DGP: logit index %.1f + %s'X;  E[p] = %.6f;  true ATE = %.6f;  true ATT = %.6f",
          a0, paste0("(", paste(a, collapse = ","), ")"), Ep, ATE, ATT))
z <- qnorm(0.975)
for (M in c(1L, 4L)) {
  set.seed(seed + M)
  t0 <- proc.time()[["elapsed"]]
  R <- t(vapply(seq_len(reps), function(r) sim_once(M), numeric(8)))
  el <- proc.time()[["elapsed"]] - t0
  cover <- function(est, se, truth) mean(abs(est - truth) <= z * se, na.rm = TRUE)
  row <- function(name, est, se, truth)
    sprintf("  %-26s coverage %5.3f   mean se %.5f   sd(est) %.5f   mean se / sd %.3f   NA %d",
            name, cover(est, se, truth), mean(se, na.rm = TRUE), sd(est),
            mean(se, na.rm = TRUE) / sd(est), sum(is.na(se)))
  lines <- c(lines, "",
    sprintf("M = %d  (%.1f s)   [coverage MC standard error about %.3f at 0.95]", M, el,
            sqrt(0.95 * 0.05 / reps)),
    sprintf("  ATE : mean est %.5f  (bias %+.5f)", mean(R[, "ate"]), mean(R[, "ate"]) - ATE),
    row("unadjusted AI(2006)", R[, "ate"], R[, "ate_se_ai"], ATE),
    row("AI(2016) adjusted", R[, "ate"], R[, "ate_se_adj"], ATE),
    sprintf("  ATET: mean est %.5f  (bias %+.5f)", mean(R[, "att"]), mean(R[, "att"]) - ATT),
    row("unadjusted AI(2006)", R[, "att"], R[, "att_se_ai"], ATT),
    row("AI(2016) adj [score]", R[, "att"], R[, "att_se_score"], ATT),
    row("AI(2016) adj [plugin]", R[, "att"], R[, "att_se_plugin"], ATT),
    row("AI(2016) adj [plugin_mux]", R[, "att"], R[, "att_se_mux"], ATT))
}
cat(lines, sep = "\n")
writeLines(lines, out_txt)
cat("\nwrote", out_txt, "\n")
