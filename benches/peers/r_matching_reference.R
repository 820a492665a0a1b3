#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# r_matching_reference.R -- reference values from R's `Matching` package
#
# Produces (paths relative to the repository root):
#   tests/fixtures/r_matching_reference.json
#       * glm logit propensity model on lalonde_psid.csv
#         (coefficients, SEs, z, logLik, deviance, IRLS iterations)
#       * Matching::Match() results for cases a..j on lalonde_psid.csv
#         (est, AI se, se.standard, est.noadj, nobs, wnobs, matched row and
#          unit counts, the exact Match() call)
#       * case k: difference in means of re78 on nsw_dw.csv with the
#         unequal-variance (Welch/Neyman) two-sample SE
#       * the same glm fitted to tight convergence (epsilon = 1e-15) and the
#         pscore cases rerun with that pscore (sensitivity check)
#       * R / package versions
#     Every double is written with 17 significant digits ("%.17g"), so it
#     round-trips exactly (jsonlite's own digits=NA only prints 15).
#   tests/fixtures/r_glm_pscore_psid.csv
#       one column `pscore`: fitted probabilities of the glm above, in the
#       row order of lalonde_psid.csv, 17 significant digits.
#
# Generated with:
#   R version 4.2.2 Patched (2022-11-10 r83330)   (Debian r-base-core 4.2.2.20221110-2)
#   Matching 4.10-8                                (Debian r-cran-matching 4.10-8-1)
#   jsonlite 1.8.4, estimatr 1.0.0 (cross-check of case k only)
#
# Rerun from the repository root:
#   Rscript benches/peers/r_matching_reference.R
# Requirements: r-base-core r-cran-matching r-cran-jsonlite r-cran-estimatr
# (Debian packages). Deterministic: ties=TRUE, so no random tie breaking.
#
# Variables in the recorded calls:
#   Y  = re78, Tr = treat            (lalonde_psid.csv, input row order)
#   ps = fitted(glm(treat ~ age + education + black + hispanic + married +
#                   nodegree + re74 + re75, family = binomial))
#   X8 = as.matrix(cbind(age, education, black, hispanic, married,
#                        nodegree, re74, re75))
# ---------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(Matching)
  library(jsonlite)
})

psid_path <- "tests/fixtures/lalonde_psid.csv"
nsw_path <- "tests/fixtures/nsw_dw.csv"
json_out <- "tests/fixtures/r_matching_reference.json"
pscore_out <- "tests/fixtures/r_glm_pscore_psid.csv"

if (!file.exists(psid_path)) {
  stop("run this script from the repository root (", psid_path, " not found)")
}

# Numbers as verbatim JSON with 17 significant digits (exact round trip).
num17 <- function(x) {
  x <- as.numeric(x)
  fmt <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  structure(if (length(x) == 1) fmt else paste0("[", paste(fmt, collapse = ", "), "]"),
            class = "json")
}
named_num17 <- function(x) {
  out <- lapply(as.numeric(x), num17)
  names(out) <- names(x)
  out
}

# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
covs <- c("age", "education", "black", "hispanic", "married", "nodegree", "re74", "re75")
d <- read.csv(psid_path)
Y <- d$re78
Tr <- d$treat
X8 <- as.matrix(d[, covs])

# --------------------------------------------------------------------------
# Propensity score: logit via glm (IRLS, default glm.control: epsilon=1e-8, maxit=25)
# --------------------------------------------------------------------------
glm_formula <- treat ~ age + education + black + hispanic + married + nodegree + re74 + re75
glm_warnings <- character(0)
fit <- withCallingHandlers(
  glm(treat ~ age + education + black + hispanic + married + nodegree + re74 + re75,
      family = binomial, data = d),
  warning = function(w) {
    glm_warnings <<- c(glm_warnings, conditionMessage(w))
    invokeRestart("muffleWarning")
  }
)
sfit <- summary(fit)
ps <- as.numeric(fitted(fit))
ll <- logLik(fit)

glm_info <- list(
  formula = paste(deparse(glm_formula, width.cutoff = 500), collapse = ""),
  family = "binomial(link = \"logit\")",
  call = paste(deparse(fit$call, width.cutoff = 500), collapse = ""),
  n = nrow(d),
  coef_names = names(coef(fit)),
  coefficients = named_num17(coef(fit)),
  std_errors = named_num17(sfit$coefficients[, "Std. Error"]),
  z_values = named_num17(sfit$coefficients[, "z value"]),
  logLik = num17(as.numeric(ll)),
  logLik_df = attr(ll, "df"),
  deviance = num17(fit$deviance),
  null_deviance = num17(fit$null.deviance),
  aic = num17(fit$aic),
  iterations = fit$iter,
  converged = fit$converged,
  control = list(epsilon = num17(fit$control$epsilon), maxit = fit$control$maxit),
  warnings = glm_warnings,
  pscore_file = pscore_out,
  pscore_summary = list(min = num17(min(ps)), max = num17(max(ps)),
                        mean_treated = num17(mean(ps[Tr == 1])),
                        mean_control = num17(mean(ps[Tr == 0])))
)

# Same model fitted to tight convergence. R's default summary() SEs use the IRLS
# working weights of the last iteration's *input* eta, so at epsilon=1e-8 they
# differ from the information matrix at the final coefficients by up to ~5e-5
# (relative); an implementation that iterates to full convergence should match
# this block instead.
fit_tight <- suppressWarnings(
  glm(treat ~ age + education + black + hispanic + married + nodegree + re74 + re75,
      family = binomial, data = d, control = glm.control(epsilon = 1e-15, maxit = 100))
)
ps_tight <- as.numeric(fitted(fit_tight))
glm_tight_info <- list(
  control = list(epsilon = num17(1e-15), maxit = 100),
  note = "same model, glm.control(epsilon = 1e-15, maxit = 100); reference for fully converged IRLS",
  coefficients = named_num17(coef(fit_tight)),
  std_errors = named_num17(summary(fit_tight)$coefficients[, "Std. Error"]),
  logLik = num17(as.numeric(logLik(fit_tight))),
  deviance = num17(fit_tight$deviance),
  iterations = fit_tight$iter,
  converged = fit_tight$converged,
  max_abs_pscore_diff_vs_default = num17(max(abs(ps_tight - ps)))
)

# --------------------------------------------------------------------------
# Match() cases
# --------------------------------------------------------------------------
cases <- list(
  a = list(desc = "X = pscore, M=1, ATT, no bias adjustment, Var.calc=0",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, M = 1, estimand = "ATT",
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  b = list(desc = "X = pscore, M=4, ATT",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, M = 4, estimand = "ATT",
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  c = list(desc = "X = 8 covariates, Weight=2 (Mahalanobis), M=1, ATT",
           call = quote(Match(Y = Y, Tr = Tr, X = X8, M = 1, estimand = "ATT", Weight = 2,
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  d = list(desc = "X = 8 covariates, Weight=2 (Mahalanobis), M=4, ATT",
           call = quote(Match(Y = Y, Tr = Tr, X = X8, M = 4, estimand = "ATT", Weight = 2,
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  e = list(desc = "case a with BiasAdjust=TRUE, Z = 8 covariates",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, Z = X8, M = 1, estimand = "ATT",
                              BiasAdjust = TRUE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  f = list(desc = "case c with BiasAdjust=TRUE (Z = X = 8 covariates)",
           call = quote(Match(Y = Y, Tr = Tr, X = X8, Z = X8, M = 1, estimand = "ATT", Weight = 2,
                              BiasAdjust = TRUE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  g = list(desc = "case a with Var.calc=2 (heteroskedasticity-robust AI variance)",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, M = 1, estimand = "ATT",
                              BiasAdjust = FALSE, Var.calc = 2, ties = TRUE, replace = TRUE))),
  h = list(desc = "case a with estimand=ATE",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, M = 1, estimand = "ATE",
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  i = list(desc = "case a with estimand=ATC",
           call = quote(Match(Y = Y, Tr = Tr, X = ps, M = 1, estimand = "ATC",
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE))),
  j = list(desc = "X = 8 covariates, Weight=1 (default, inverse-variance diagonal), M=1, ATT",
           call = quote(Match(Y = Y, Tr = Tr, X = X8, M = 1, estimand = "ATT", Weight = 1,
                              BiasAdjust = FALSE, Var.calc = 0, ties = TRUE, replace = TRUE)))
)

run_case <- function(cs) {
  warns <- character(0)
  m <- withCallingHandlers(
    eval(cs$call),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  if (!inherits(m, "Match") || !is.list(m)) stop("Match() failed for: ", cs$desc)
  args <- as.list(cs$call)[-1]
  # M_i = number of matches (including ties) of each matched unit; column 1 of
  # m$MatchLoopC is the index of the unit being matched (treated for ATT,
  # control for ATC, either for ATE)
  mi <- as.numeric(table(m$MatchLoopC[, 1]))
  list(
    description = cs$desc,
    call = paste(deparse(cs$call, width.cutoff = 500), collapse = ""),
    estimand = m$estimand,
    M = args$M,
    est = num17(m$est),
    se = num17(m$se),
    se_standard = num17(m$se.standard),
    est_noadj = num17(m$est.noadj),
    se_cond = num17(m$se.cond),
    nobs = m$nobs,
    wnobs = num17(m$wnobs),
    orig_treated_nobs = m$orig.treated.nobs,
    n_matched_rows = length(m$index.treated),
    n_unique_treated = length(unique(m$index.treated)),
    n_unique_control = length(unique(m$index.control)),
    sum_weights = num17(sum(m$weights)),
    max_matches_per_unit = num17(max(mi)),
    n_matched_units = length(mi),
    n_units_with_ties = sum(mi > args$M),
    ndrops = num17(m$ndrops),
    warnings = warns
  )
}

match_results <- lapply(cases, run_case)

# Sensitivity: the pscore cases rerun with the tightly converged pscore.
sens_cases <- c("a", "b", "e", "g", "h", "i")
pscore_sensitivity <- lapply(sens_cases, function(nm) {
  cl <- cases[[nm]]$call
  cl$X <- quote(ps_tight)
  m <- suppressWarnings(eval(cl))
  list(call = paste(deparse(cl, width.cutoff = 500), collapse = ""),
       est = num17(m$est), se = num17(m$se), n_matched_rows = length(m$index.treated))
})
names(pscore_sensitivity) <- sens_cases

# --------------------------------------------------------------------------
# Case k: experimental benchmark on nsw_dw.csv (difference in means)
# --------------------------------------------------------------------------
nsw <- read.csv(nsw_path)
y1 <- nsw$re78[nsw$treat == 1]
y0 <- nsw$re78[nsw$treat == 0]
dim_est <- mean(y1) - mean(y0)
dim_se <- sqrt(var(y1) / length(y1) + var(y0) / length(y0))  # var() uses n-1
welch_df <- (var(y1) / length(y1) + var(y0) / length(y0))^2 /
  ((var(y1) / length(y1))^2 / (length(y1) - 1) + (var(y0) / length(y0))^2 / (length(y0) - 1))
case_k <- list(
  description = "nsw_dw.csv: mean(re78 | treat=1) - mean(re78 | treat=0), unequal-variance SE sqrt(s1^2/n1 + s0^2/n0) with n-1 sample variances",
  formula = "est = mean(y1) - mean(y0); se = sqrt(var(y1)/n1 + var(y0)/n0)",
  n_treated = length(y1),
  n_control = length(y0),
  mean_treated = num17(mean(y1)),
  mean_control = num17(mean(y0)),
  est = num17(dim_est),
  se = num17(dim_se),
  welch_df = num17(welch_df)
)
if (requireNamespace("estimatr", quietly = TRUE)) {
  dm <- estimatr::difference_in_means(re78 ~ treat, data = nsw)
  case_k$estimatr_check <- list(
    call = "estimatr::difference_in_means(re78 ~ treat, data = nsw)",
    est = num17(dm$coefficients[["treat"]]),
    se = num17(dm$std.error[["treat"]]),
    df = num17(dm$df[["treat"]])
  )
}

# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
out <- list(
  generated_by = "benches/peers/r_matching_reference.R",
  rerun = "Rscript benches/peers/r_matching_reference.R (from the repository root)",
  versions = list(
    R = R.version.string,
    Matching = as.character(packageVersion("Matching")),
    jsonlite = as.character(packageVersion("jsonlite")),
    estimatr = if (requireNamespace("estimatr", quietly = TRUE))
      as.character(packageVersion("estimatr")) else NA
  ),
  data = list(
    matching = psid_path,
    benchmark = nsw_path,
    outcome = "re78",
    treatment = "treat",
    covariates = covs,
    n = nrow(d),
    n_treated = sum(Tr == 1),
    n_control = sum(Tr == 0)
  ),
  match_defaults = list(
    distance.tolerance = num17(formals(Match)$distance.tolerance),
    tolerance = "sqrt(.Machine$double.eps)",
    tolerance_value = num17(sqrt(.Machine$double.eps)),
    sample = FALSE,
    ties = TRUE,
    replace = TRUE,
    note = "se is the Abadie-Imbens SE (Match()$se); se_standard is Match()$se.standard (naive SE treating matched pairs as independent, conditional on weights)"
  ),
  glm = glm_info,
  glm_tight = glm_tight_info,
  cases = c(match_results, list(k = case_k)),
  pscore_tight_sensitivity = pscore_sensitivity
)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE),
           json_out)
# 17 significant digits so the file round-trips exactly (write.csv would print 15)
writeLines(c("pscore", sprintf("%.17g", ps)), pscore_out)

cat("wrote", json_out, "and", pscore_out, "\n")
for (nm in names(out$cases)) {
  cs <- out$cases[[nm]]
  cat(sprintf("case %s: est = %s  se = %s\n", nm, unclass(cs$est), unclass(cs$se)))
}
