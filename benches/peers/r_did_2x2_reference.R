#!/usr/bin/env Rscript
# 2x2 difference-in-differences reference values from R estimatr (cluster-robust SEs).
#
# Versions used to produce tests/fixtures/did_2x2_reference.json:
#   R 4.2.2 Patched (2022-11-10 r83330), estimatr 1.0.0, sandwich 3.0.2, jsonlite (Debian r-cran-*)
#
# Rerun from the repo root:
#   Rscript benches/peers/r_did_2x2_reference.R
# Inputs : tests/fixtures/mpdta.csv
# Outputs: tests/fixtures/mpdta_2x2.csv          (the exact subset used; original text of every field kept)
#          tests/fixtures/did_2x2_reference.json (all doubles printed with sprintf("%.17g"))
#
# Design: years 2003 and 2004; units with first_treat in {0, 2004};
#   D = 1{first_treat == 2004}, post = 1{year == 2004};
#   estimatr::lm_robust(lemp ~ D * post [+ lpop], clusters = countyreal, se_type = "stata" | "CR2").
# "stata" = CR1: V = (X'X)^-1 [sum_g X_g' e_g e_g' X_g] (X'X)^-1 * G/(G-1) * (N-1)/(N-K); df = G-1.
# "CR2"   = Bell-McCaffrey: A_g = (I - H_gg)^(-1/2); V = (X'X)^-1 [sum_g X_g' A_g e_g e_g' A_g X_g] (X'X)^-1;
#           df per coefficient = Bell-McCaffrey / Imbens-Kolesar Satterthwaite df (see the hand check below).
# p-values and CIs use the t distribution with those df.
# The script also recomputes every SE and df by hand (base R) and with sandwich::vcovCL, and
# records the max abs differences under "cross_checks".

suppressPackageStartupMessages({
  library(estimatr)
  library(sandwich)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
repo <- if (length(script)) normalizePath(file.path(dirname(script), "..", "..")) else getwd()
fx <- function(...) file.path(repo, "tests", "fixtures", ...)

# ---- data: keep the original text of every field, then convert --------------------------------
raw <- read.csv(fx("mpdta.csv"), colClasses = "character")
sub_raw <- raw[raw$year %in% c("2003", "2004") & raw$first_treat %in% c("0", "2004"), ]
sub_raw$D <- as.character(as.integer(sub_raw$first_treat == "2004"))
sub_raw$post <- as.character(as.integer(sub_raw$year == "2004"))
write.csv(sub_raw, fx("mpdta_2x2.csv"), row.names = FALSE, quote = FALSE)

dat <- data.frame(
  countyreal = as.integer(sub_raw$countyreal),
  year = as.integer(sub_raw$year),
  lpop = as.numeric(sub_raw$lpop),
  lemp = as.numeric(sub_raw$lemp),
  first_treat = as.integer(sub_raw$first_treat),
  D = as.integer(sub_raw$D),
  post = as.integer(sub_raw$post)
)

num <- function(x) structure(sprintf("%.17g", x), class = "json")
numvec <- function(x) lapply(unname(x), num)

# ---- hand computations (base R) -----------------------------------------------------------------
# estimatr sorts by cluster internally; order does not matter for these formulas.
hand <- function(formula, data, cl) {
  X <- model.matrix(formula, data)
  y <- model.response(model.frame(formula, data))
  N <- nrow(X); K <- ncol(X)
  M <- solve(crossprod(X))
  b <- drop(M %*% crossprod(X, y))
  e <- drop(y - X %*% b)
  groups <- split(seq_len(N), cl)
  G <- length(groups)
  meat1 <- matrix(0, K, K); meat2 <- matrix(0, K, K)
  P <- vector("list", G)  # p_g = A_g X_g M  (n_g x K)
  for (i in seq_along(groups)) {
    idx <- groups[[i]]
    Xg <- X[idx, , drop = FALSE]
    ug <- crossprod(Xg, e[idx])
    meat1 <- meat1 + ug %*% t(ug)
    Hgg <- Xg %*% M %*% t(Xg)
    ev <- eigen(diag(length(idx)) - Hgg, symmetric = TRUE)
    d <- ifelse(ev$values > 1e-12, 1 / sqrt(ev$values), 0)
    Ag <- ev$vectors %*% diag(d, length(d)) %*% t(ev$vectors)
    vg <- crossprod(Xg, Ag %*% e[idx])
    meat2 <- meat2 + vg %*% t(vg)
    P[[i]] <- Ag %*% Xg %*% M
  }
  V_cr1 <- M %*% meat1 %*% M * (G / (G - 1)) * ((N - 1) / (N - K))
  V_cr2 <- M %*% meat2 %*% M
  # Bell-McCaffrey / Imbens-Kolesar df for coefficient j (working model Omega = I):
  #   Psi[g,h] = p_gj' (1{g=h} I - X_g M X_h') p_hj ;  df_j = tr(Psi)^2 / sum(Psi^2)
  df_cr2 <- sapply(seq_len(K), function(j) {
    Psi <- matrix(0, G, G)
    for (g in seq_len(G)) for (h in seq_len(G)) {
      pg <- P[[g]][, j]; ph <- P[[h]][, j]
      Xg <- X[groups[[g]], , drop = FALSE]; Xh <- X[groups[[h]], , drop = FALSE]
      Psi[g, h] <- (if (g == h) sum(pg * ph) else 0) - drop(t(pg) %*% Xg %*% M %*% t(Xh) %*% ph)
    }
    sum(diag(Psi))^2 / sum(Psi^2)
  })
  list(coef = b, se_cr1 = sqrt(diag(V_cr1)), se_cr2 = sqrt(diag(V_cr2)), df_cr2 = setNames(df_cr2, colnames(X)),
       df_cr1 = G - 1, G = G, N = N, K = K)
}

specs <- list(
  list(name = "no_covariates", formula = lemp ~ D * post),
  list(name = "with_lpop", formula = lemp ~ D * post + lpop)
)

models <- list()
checks <- list()
for (s in specs) {
  h <- hand(s$formula, dat, dat$countyreal)
  olsfit <- lm(s$formula, data = dat)
  for (se_type in c("stata", "CR2")) {
    fit <- lm_robust(s$formula, data = dat, clusters = countyreal, se_type = se_type)
    tab <- summary(fit)$coefficients
    term <- "D:post"
    key <- paste(s$name, se_type, sep = "/")
    models[[key]] <- list(
      formula = paste(deparse(s$formula), collapse = ""),
      call = sprintf("estimatr::lm_robust(%s, data, clusters = countyreal, se_type = \"%s\")",
                     paste(deparse(s$formula), collapse = ""), se_type),
      se_type = se_type,
      nobs = fit$nobs, n_clusters = fit$nclusters, rank = fit$rank,
      term = term,
      estimate = num(fit$coefficients[[term]]),
      std_error = num(fit$std.error[[term]]),
      df = num(fit$df[[term]]),
      statistic = num(fit$statistic[[term]]),
      p_value = num(fit$p.value[[term]]),
      conf_low = num(fit$conf.low[[term]]),
      conf_high = num(fit$conf.high[[term]]),
      alpha = 0.05,
      all_terms = lapply(setNames(rownames(tab), rownames(tab)), function(tt) list(
        estimate = num(fit$coefficients[[tt]]), std_error = num(fit$std.error[[tt]]), df = num(fit$df[[tt]]),
        p_value = num(fit$p.value[[tt]]), conf_low = num(fit$conf.low[[tt]]), conf_high = num(fit$conf.high[[tt]])))
    )
    if (se_type == "stata") {
      sw <- sqrt(diag(vcovCL(olsfit, cluster = ~countyreal, type = "HC1")))
      checks[[key]] <- list(
        max_abs_diff_coef_vs_hand = num(max(abs(fit$coefficients - h$coef))),
        max_abs_diff_se_vs_hand_CR1 = num(max(abs(fit$std.error - h$se_cr1))),
        max_abs_diff_se_vs_sandwich_vcovCL_HC1 = num(max(abs(fit$std.error - sw))),
        df_equals_G_minus_1 = all(fit$df == h$G - 1),
        max_abs_diff_p_vs_t_dist = num(max(abs(fit$p.value - 2 * pt(-abs(fit$statistic), h$G - 1))))
      )
    } else {
      sw <- sqrt(diag(vcovCL(olsfit, cluster = ~countyreal, type = "HC2")))
      checks[[key]] <- list(
        max_abs_diff_se_vs_hand_CR2 = num(max(abs(fit$std.error - h$se_cr2))),
        max_abs_diff_se_vs_sandwich_vcovCL_HC2_default_cadjust = num(max(abs(fit$std.error - sw))),
        max_abs_diff_df_vs_hand_BM_IK = num(max(abs(fit$df - h$df_cr2))),
        max_abs_diff_p_vs_t_dist = num(max(abs(fit$p.value - 2 * pt(-abs(fit$statistic), fit$df)))),
        max_abs_diff_ci_vs_t_dist = num(max(abs(fit$conf.high - (fit$coefficients + qt(0.975, fit$df) * fit$std.error))))
      )
    }
  }
}

out <- list(
  description = paste("2x2 DiD on mpdta: years 2003-2004, first_treat in {0, 2004};",
                      "D = 1{first_treat == 2004}, post = 1{year == 2004}; coefficient on D:post."),
  generator = "benches/peers/r_did_2x2_reference.R",
  versions = list(R = R.version.string, estimatr = as.character(packageVersion("estimatr")),
                  sandwich = as.character(packageVersion("sandwich")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(file = "tests/fixtures/mpdta_2x2.csv", nobs = nrow(dat), n_units = length(unique(dat$countyreal)),
              n_treated_units = length(unique(dat$countyreal[dat$D == 1])),
              n_control_units = length(unique(dat$countyreal[dat$D == 0]))),
  models = models,
  cross_checks = checks
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, digits = NA),
           fx("did_2x2_reference.json"))

for (k in names(models)) {
  m <- models[[k]]
  cat(sprintf("%-22s est %s se %s df %s p %s CI [%s, %s]\n", k, m$estimate, m$std_error, m$df, m$p_value,
              m$conf_low, m$conf_high))
}
str(checks)
