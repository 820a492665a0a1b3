#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# ai2016_reference.R -- independent reference values for the Abadie-Imbens
# (2016) standard error of propensity-score matching estimators when the
# logit propensity score is estimated by maximum likelihood (Stata's
# `teffects psmatch` default), ATE and ATET, M = 1 and M = 4 matches.
#
# Produces (paths relative to the repository root):
#   tests/fixtures/ai2016_reference.json   every double as "%.17g"
#   tests/fixtures/ai2016_pscore_psid.csv  the fully converged logit p used
#
# Data: tests/fixtures/lalonde_psid.csv (185 NSW treated + 2490 PSID
# controls); outcome re78, treatment treat; logit of treat on an intercept,
# age, education, black, hispanic, married, nodegree, re74, re75.
#
# Implementation: benches/peers/ai2016_lib.R (base R).  Matching on the
# estimated probability p (not the log-odds), with replacement, all ties kept
# (ties = exactly equal distances); nn = 2 local sets for conditional
# variances and covariances, the unit itself counting as one of the nn when
# it is in the arm concerned (this is what reproduces a published Stata
# teffects psmatch ATE s.e. on cattaneo2 to all printed digits, see
# ai2016_stata_check.R / .txt).
#
# Formulas (Abadie & Imbens 2016, Econometrica 84(2):781-807, Theorems 1-2;
# the paper's own text was not available here: the ATE formula comes from
# third-party transcriptions and is confirmed by reproducing Stata; the ATET
# population formula is reconstructed and re-derived, its sample analogue is
# our own; Abadie & Imbens 2006 Theorem 7 for the unadjusted part).  With Vtheta = (sum_i f_i X_i X_i')^{-1}, f = p(1-p):
#   ATE : V = V_AI - c' Vtheta c,
#         c = (1/N) sum_i [ (1 - p_i) cov1_i + p_i cov0_i ]
#           (= (1/N) sum_i f_i [cov1_i / p_i + cov0_i / (1 - p_i)])
#   ATET: V = V_AI,t - c_t' Vtheta c_t + d' Vtheta d,  primary ("score") variant
#         S   = (1/N1) sum_{W_i=1} X_i (1 - p_i) (Y_i - Yhat_i(0) - tau_t)
#         c_t = S + (1/N1) sum_i p_i^2 cov0_i
#         d   = S - (1/N1) sum_i p_i (1 - p_i) cov0_i        (= dtau_t/dtheta)
#     (variants "plugin" and "plugin_mux" are recorded too; see ai2016_lib.R)
#   V_AI (ATE)  = (1/N^2) [ sum_i (Yhat_i(1) - Yhat_i(0) - tau)^2
#                           + sum_i (K_i^2 + 2 K_i - KK_i) sigma2_i ]
#   V_AI (ATET) = (1/N1^2)[ sum_{W=1} (Y_i - Yhat_i(0) - tau_t)^2
#                           + sum_{W=0} (K_i^2 - KK_i) sigma2_i ]
# Status: ATE reproduces Stata (cattaneo2); the ATET formula does NOT reproduce
# Stata's two published ATET s.e. (off by -0.05% and +0.6%); it is the
# variant whose s.e. matched the Monte Carlo spread best (ai2016_coverage.txt).
#
# Generated with R 4.2.2 (Debian r-base-core 4.2.2.20221110-2),
# Matching 4.10-8 (cross-check only), jsonlite 1.8.4.
# Rerun from the repository root:
#   Rscript benches/peers/ai2016_reference.R
# Deterministic (no random numbers).  Runtime a few seconds.
# ---------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(jsonlite)
  library(Matching)
})
source("benches/peers/ai2016_lib.R")

psid_path <- "tests/fixtures/lalonde_psid.csv"
json_out <- "tests/fixtures/ai2016_reference.json"
ps_out <- "tests/fixtures/ai2016_pscore_psid.csv"
if (!file.exists(psid_path)) stop("run from the repository root (", psid_path, " not found)")

num17 <- function(x) {
  x <- as.numeric(x)
  fmt <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  structure(if (length(x) == 1) fmt else paste0("[", paste(fmt, collapse = ", "), "]"),
            class = "json")
}
named17 <- function(x) { o <- lapply(as.numeric(x), num17); names(o) <- names(x); o }
mat17 <- function(m) lapply(seq_len(nrow(m)), function(i) num17(m[i, ]))

covs <- c("age", "education", "black", "hispanic", "married", "nodegree", "re74", "re75")
d <- read.csv(psid_path)
Y <- d$re78; W <- d$treat
X <- cbind("(Intercept)" = 1, as.matrix(d[, covs]))
N <- nrow(X)

ps <- ai_logit(W, X)
p <- ps$p
glm_default <- suppressWarnings(glm.fit(X, W, family = binomial()))
p_glm <- glm_default$fitted.values

case_out <- function(M, estimand) {
  pr <- ai2016_prepare(Y, W, X, M = M, nn = 2, tol = 0, ps = ps)
  pr_ex <- ai2016_prepare(Y, W, X, M = M, nn = 2, tol = 0, ps = ps, sig_set = "exclude")
  pr_glm <- ai2016_prepare(Y, W, X, M = M, nn = 2, tol = 0, ps = ai_logit_fixed(p_glm))
  est_name <- if (estimand == "ATE") "ATE" else "ATT"
  mt <- Match(Y = Y, Tr = W, X = p, estimand = est_name, M = M, Var.calc = 2,
              ties = TRUE, distance.tolerance = 0)
  ties_units <- if (estimand == "ATE") sum(lengths(pr$J) > M) else sum(lengths(pr$J[pr$i1]) > M)
  common <- list(
    estimand = estimand, M = M, nn = 2L, tie_tolerance = num17(0),
    units_with_tied_matches = ties_units,
    local_set_sizes = list(own_min = min(pr$own_sizes), own_max = max(pr$own_sizes),
                           other_min = min(pr$oth_sizes), other_max = max(pr$oth_sizes)),
    sigma2_mean = num17(mean(pr$sig2)))
  if (estimand == "ATE") {
    r <- ai2016_ate(pr); rx <- ai2016_ate(pr_ex); rg <- ai2016_ate(pr_glm)
    c(common, list(
      estimate = num17(r$est),
      se_unadjusted = num17(r$se_ai), se_adjusted = num17(r$se_adj),
      var_unadjusted = num17(r$V_ai), var_adjusted = num17(r$V_adj),
      var_tauX_term = num17(r$V_tauX), var_E_term = num17(r$V_E),
      c = named17(r$c), cVc = num17(r$cVc),
      matches_min = r$matches_min, matches_max = r$matches_max,
      crosscheck = list(
        note = "se_unadjusted_matching_convention: sigma2 over Y_i and its 2 nearest same-arm units (R Matching Var.calc = 2, Stata nnmatch nn(2)); Match() run on the same p with Var.calc = 2, ties = TRUE, distance.tolerance = 0",
        se_unadjusted_matching_convention = num17(rx$se_ai),
        se_adjusted_matching_convention = num17(rx$se_adj),
        Match_est = num17(mt$est), Match_se = num17(mt$se),
        glm_default_pscore = list(estimate = num17(rg$est), se_unadjusted = num17(rg$se_ai),
                                  se_adjusted = num17(rg$se_adj)))))
  } else {
    r <- ai2016_atet(pr, "score"); rp <- ai2016_atet(pr, "plugin"); rm <- ai2016_atet(pr, "plugin_mux")
    rx <- ai2016_atet(pr_ex, "score"); rg <- ai2016_atet(pr_glm, "score")
    c(common, list(
      estimate = num17(r$est),
      se_unadjusted = num17(r$se_ai), se_adjusted = num17(r$se_adj),
      var_unadjusted = num17(r$V_ai), var_adjusted = num17(r$V_adj),
      var_tauX_term = num17(r$V_tauX), var_E_term = num17(r$V_E),
      variant = "score",
      c_t = named17(r$c_t), dtau_dtheta = named17(r$dtau_dtheta),
      cVc = num17(r$cVc), dVd = num17(r$dVd),
      pieces = list(
        S = named17(r$pieces$S), B0 = named17(r$pieces$B0), B0f = named17(r$pieces$B0f),
        A1 = named17(r$pieces$A1), B1 = named17(r$pieces$B1),
        note = "S = (1/N1) sum_{W=1} X (1-p)(Y - Yhat0 - tau_t); B0 = (1/N1) sum_i p^2 cov0; B0f = (1/N1) sum_i p(1-p) cov0; A1 = (1/N1) sum_i X f (Yhat1 - Yhat0 - tau_t); B1 = (1/N1) sum_i f cov1"),
      other_variants = list(
        plugin = list(se_adjusted = num17(rp$se_adj), c_t = named17(rp$c_t),
                      dtau_dtheta = named17(rp$dtau_dtheta), cVc = num17(rp$cVc), dVd = num17(rp$dVd)),
        plugin_mux = list(se_adjusted = num17(rm$se_adj), c_t = named17(rm$c_t),
                          dtau_dtheta = named17(rm$dtau_dtheta), cVc = num17(rm$cVc), dVd = num17(rm$dVd))),
      matches_min = r$matches_min, matches_max = r$matches_max,
      crosscheck = list(
        note = "as for ATE",
        se_unadjusted_matching_convention = num17(rx$se_ai),
        se_adjusted_matching_convention = num17(rx$se_adj),
        Match_est = num17(mt$est), Match_se = num17(mt$se),
        glm_default_pscore = list(estimate = num17(rg$est), se_unadjusted = num17(rg$se_ai),
                                  se_adjusted = num17(rg$se_adj)))))
  }
}

# p supplied from outside (here: glm's default-convergence fit), for the
# sensitivity check; theta/V are re-derived at those p.
ai_logit_fixed <- function(pv) {
  info <- crossprod(X * (pv * (1 - pv)), X)
  list(theta = glm_default$coefficients, p = pv, info = info, Vtheta = solve(info))
}

cases <- list()
for (M in c(1L, 4L)) for (est in c("ATE", "ATET")) {
  cases[[sprintf("%s_M%d", est, M)]] <- case_out(M, est)
}

out <- list(
  generated_by = "benches/peers/ai2016_reference.R",
  rerun = "Rscript benches/peers/ai2016_reference.R (from the repository root)",
  versions = list(R = R.version.string, Matching = as.character(packageVersion("Matching")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(file = psid_path, outcome = "re78", treatment = "treat", covariates = covs,
              n = N, n_treated = sum(W), n_control = sum(1 - W)),
  conventions = list(
    matching_variable = "estimated probability p = plogis(X theta), distance |p_i - p_j|",
    replacement = TRUE, ties = "all units at exactly the M-th smallest distance kept; weights 1/#J(i)",
    local_sets = "S_w(i) = the nn = 2 units of arm w nearest in p to unit i, unit i itself counting as one when W_i = w (ties at the last distance kept)",
    sigma2 = "sample variance (divisor |S|-1) of Y over S_{W_i}(i)",
    cov = "sample covariance (divisor |S|-1) of (X, Y) over S_w(i), w = 0, 1; intercept column gives 0",
    Vtheta = "(sum_i p_i (1-p_i) X_i X_i')^{-1} at the converged MLE",
    ATE = "V = V_AI - c'Vtheta c, c = (1/N) sum_i [(1-p_i) cov1_i + p_i cov0_i]",
    ATET = "V = V_AI,t - c_t'Vtheta c_t + d'Vtheta d; score variant: c_t = S + (1/N1) sum_i p_i^2 cov0_i, d = S - (1/N1) sum_i p_i(1-p_i) cov0_i, S = (1/N1) sum_{W=1} X_i (1-p_i)(Y_i - Yhat_i(0) - tau_t)"),
  logit = list(
    coef_names = colnames(X), theta = named17(ps$theta), loglik = num17(ps$loglik),
    max_abs_score = num17(ps$score_max),
    info_sum = mat17(ps$info), info_mean = mat17(ps$info / N), Vtheta = mat17(ps$Vtheta),
    pscore_file = ps_out,
    max_abs_diff_vs_glm_default_pscore = num17(max(abs(p - p_glm)))),
  cases = cases)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE), json_out)
writeLines(c("pscore", sprintf("%.17g", p)), ps_out)
cat("wrote", json_out, "and", ps_out, "\n")
for (nm in names(cases)) {
  cs <- cases[[nm]]
  cat(sprintf("%-9s est %s  se_unadj %s  se_adj %s  | Matching-convention se_unadj %s  Match() est %s se %s\n",
              nm, cs$estimate, cs$se_unadjusted, cs$se_adjusted,
              cs$crosscheck$se_unadjusted_matching_convention, cs$crosscheck$Match_est, cs$crosscheck$Match_se))
}
