#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# ai2016_stata_check.R -- compare benches/peers/ai2016_lib.R with published
# Stata `teffects` output on two public data sets (not shipped in this repo).
#
# Data (download them yourself; they are third-party files, do not commit):
#   cattaneo2.csv : Stata's cattaneo2 example data exported to CSV (4642 rows;
#                   a copy is in github.com/sergiodaneris/
#                   Semana-Academica-de-Ciencias-Economicas, file cattaneo2.csv)
#   psm44.csv     : github.com/gorgeousfish/lwdid-py,
#                   tests/staggered/reference_data/stata_psm_test_data.csv
#                   (1000 rows: id, x1, x2, g4, y_44)
# Stata reference numbers (copied from the public logs named below):
#   cattaneo2, Stata log content/post/stata_matching/analysis.log in
#   github.com/cmg777/starter-academic-v501 (opened 29 Apr 2026):
#     teffects psmatch (bweight) (mbsmoke mmarried mage fage medu prenatal1)
#         ATE  -229.4492  AI robust s.e. 25.88746   (matches min 1, max 16)
#     ... , atet
#         ATET -224.5927  AI robust s.e. 30.55147
#     teffects nnmatch (bweight mmarried mage fage medu prenatal1) (mbsmoke)
#         ATE  -210.5435  AI robust s.e. 29.32969   (Mahalanobis, max 16)
#   psm44, lwdid-py tests/staggered/reference_data/stata_psm_se_results.json:
#     teffects psmatch (y_44) (g4 x1 x2) if f04, atet
#         ATET 3.554019   s.e. 0.5866075   (n = 1000)
#
# Rerun:  Rscript benches/peers/ai2016_stata_check.R /path/cattaneo2.csv /path/psm44.csv
# Output: printed; a copy of the run is kept in benches/peers/ai2016_stata_check.txt
# ---------------------------------------------------------------------------

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript benches/peers/ai2016_stata_check.R cattaneo2.csv psm44.csv")
this_dir <- local({
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "benches/peers"
})
source(file.path(this_dir, "ai2016_lib.R"))

show <- function(label, est, se, stata_est, stata_se) {
  cat(sprintf("%-44s est %14.7f  se %12.7f | Stata est %11.7g se %10.7g | rel.diff se %+.2e\n",
              label, est, se, stata_est, stata_se, se / stata_se - 1))
}

cat2 <- read.csv(args[1])
Y <- cat2$bweight; W <- cat2$mbsmoke
Z <- as.matrix(cat2[, c("mmarried", "mage", "fage", "medu", "prenatal1")])
X <- cbind("(Intercept)" = 1, Z)

# --- teffects nnmatch: calibrates the AI(2006) part (no score estimation) ---
# Mahalanobis metric with the sample covariance (n-1) of the covariates,
# ties within 1e-8 (floating noise), sigma2_i = sample variance of Y over i
# and its nn(2) nearest same-arm units (i excluded from the search).
local({
  R <- chol(solve(cov(Z))); Zs <- Z %*% t(R); N <- nrow(Z)
  knn <- function(i, pool, m, tol = 1e-8) {
    d <- sqrt(colSums((t(Zs[pool, , drop = FALSE]) - Zs[i, ])^2))
    pool[d <= sort(d, partial = m)[m] + tol]
  }
  i1 <- which(W == 1); i0 <- which(W == 0)
  J <- lapply(seq_len(N), function(i) knn(i, if (W[i] == 1) i0 else i1, 1))
  H <- lapply(seq_len(N), function(i) knn(i, setdiff(if (W[i] == 1) i1 else i0, i), 2))
  Yo <- vapply(J, function(s) mean(Y[s]), 0)
  Y1 <- ifelse(W == 1, Y, Yo); Y0 <- ifelse(W == 0, Y, Yo)
  tau <- mean(Y1 - Y0)
  cnt <- ai_counts(J, N)
  s2 <- vapply(seq_len(N), function(i) var(Y[c(i, H[[i]])]), 0)
  V <- (sum((Y1 - Y0 - tau)^2) + sum((cnt$K^2 + 2 * cnt$K - cnt$KK) * s2)) / N^2
  show("cattaneo2 nnmatch ATE (AI 2006 only)", tau, sqrt(V), -210.5435, 29.32969)
})

# --- teffects psmatch ---
pr <- ai2016_prepare(Y, W, X, M = 1, nn = 2, tol = 0)
a <- ai2016_ate(pr)
show("cattaneo2 psmatch ATE, unadjusted (AI 2006)", a$est, a$se_ai, -229.4492, 25.88746)
show("cattaneo2 psmatch ATE, AI 2016 adjusted", a$est, a$se_adj, -229.4492, 25.88746)
cat(sprintf("   c'Vc = %.7f ; Stata-implied V_AI - se^2 = %.5f (+- %.5f from rounding)\n",
            a$cVc, a$V_ai - 25.88746^2, 2 * 25.88746 * 5e-6))
for (v in c("score", "plugin", "plugin_mux")) {
  t <- ai2016_atet(pr, v)
  show(sprintf("cattaneo2 psmatch ATET adj [%s]", v), t$est, t$se_adj, -224.5927, 30.55147)
}
t <- ai2016_atet(pr)
show("cattaneo2 psmatch ATET, unadjusted", t$est, t$se_ai, -224.5927, 30.55147)
cat(sprintf("   Stata-implied adjustment V_AI - se^2 = %.4f ; ours [score] = %.4f\n",
            t$V_ai - 30.55147^2, t$cVc - t$dVd))

lw <- read.csv(args[2])
Xl <- cbind("(Intercept)" = 1, x1 = lw$x1, x2 = lw$x2)
prl <- ai2016_prepare(lw$y_44, lw$g4, Xl, M = 1, nn = 2, tol = 0)
for (v in c("score", "plugin", "plugin_mux")) {
  t <- ai2016_atet(prl, v)
  show(sprintf("psm44 psmatch ATET adj [%s]", v), t$est, t$se_adj, 3.554019, 0.5866075)
}
t <- ai2016_atet(prl)
show("psm44 psmatch ATET, unadjusted", t$est, t$se_ai, 3.554019, 0.5866075)
cat(sprintf("   Stata-implied adjustment V_AI - se^2 = %.7f ; ours [score] = %.7f\n",
            t$V_ai - 0.5866075^2, t$cVc - t$dVd))
