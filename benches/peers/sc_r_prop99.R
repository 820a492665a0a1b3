#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# sc_r_prop99.R -- reference values from R's `synthdid` package on
# California Proposition 99 (Arkhangelsky et al. 2021, Table 1, column "CA").
#
# Produces (path relative to the repository root):
#   benches/peers/fixtures/sc_r_prop99.json
#   For each of synthdid_estimate (SDID), sc_estimate (SC), did_estimate (DiD)
#   on the outcome-only panel (39 states x 31 years, California treated
#   1989-2000; N0 = 38, T0 = 19, N1 = 1, T1 = 12):
#     * estimate
#     * omega (state -> unit weight, all 38 donors, zeros included) and the
#       omega intercept flag; lambda (year -> time weight, 1970-1988)
#     * regularisation actually used: noise.level, eta/zeta omega and lambda,
#       min.decrease, max.iter, max.iter.pre.sparsify (attr(est, 'opts'))
#     * Frank-Wolfe diagnostics: iterations of the second (post-sparsify)
#       pass, final objective values, and the first-pass (100-iteration)
#       weights before sparsify, recomputed with synthdid's internal solver
#     * per-period effects synthdid_effect_curve() (1989-2000)
#     * standard errors: jackknife (vcov(method = 'jackknife')), placebo
#       (set.seed(12345); vcov(method = 'placebo', replications = 200)),
#       bootstrap (vcov(method = 'bootstrap', replications = 200)) -- the
#       latter two with their outcome (number or NA or error text)
#     * the 200 placebo draws replayed: the permutation of control rows each
#       draw used (1-based row numbers in `setup.units` order; the LAST entry is
#       the pseudo-treated unit) and each placebo estimate, so that an
#       implementation with another RNG can replay the exact draws
#   Also: the same three estimates on synthdid's own bundled copy of the data
#   (`data(california_prop99)`, values printed to 10 significant digits,
#   e.g. 89.80000305 instead of 89.8), to show the size of that difference.
#   Numbers are written with the shortest of %.15g/%.16g/%.17g that reads
#   back to the same double, i.e. they round-trip exactly.
#
# Input: /work/shared/reference-data/california_prop99.csv
#   (state, year, packs_per_capita, treated); override with SC_R_PROP99_CSV.
#
# Generated with:
#   R 4.2.2 Patched (Debian r-base-core), jsonlite 1.8.4, mvtnorm 1.1-3
#   (Debian), synthdid 0.0.9 built from GitHub synth-inference/synthdid
#   commit 70c1ce3 into /root/R-lib (benches/peers/sc_r_install.sh).
#
# Rerun from the repository root:
#   Rscript benches/peers/sc_r_prop99.R
# ---------------------------------------------------------------------------
lib <- Sys.getenv("SC_R_LIB", "/root/R-lib")
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages({
  library(synthdid)
  library(jsonlite)
})

csv_path <- Sys.getenv("SC_R_PROP99_CSV", "/work/shared/reference-data/california_prop99.csv")
out_path <- "benches/peers/fixtures/sc_r_prop99.json"
if (!dir.exists(dirname(out_path))) dir.create(dirname(out_path), recursive = TRUE)

SEED <- 12345L
REPS <- 200L

# ---- JSON writer (shared with the other R peer scripts) ------------------------
local({
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  here <- if (length(file_arg)) dirname(sub("^--file=", "", file_arg[1])) else "benches/peers"
  source(file.path(here, "sc_r_json.R"), local = globalenv())
})

# ---- data and setup ----------------------------------------------------------
df <- read.csv(csv_path, stringsAsFactors = FALSE)
stopifnot(all(c("state", "year", "packs_per_capita", "treated") %in% names(df)))
setup <- panel.matrices(df, unit = "state", time = "year",
                        outcome = "packs_per_capita", treatment = "treated")
Y <- setup$Y; N0 <- setup$N0; T0 <- setup$T0
N1 <- nrow(Y) - N0; T1 <- ncol(Y) - T0
units <- rownames(Y); years <- colnames(Y)
cat(sprintf("panel: %d units x %d years; N0=%d T0=%d N1=%d T1=%d; treated: %s; first treated year %s\n",
            nrow(Y), ncol(Y), N0, T0, N1, T1, paste(units[(N0 + 1):nrow(Y)], collapse = ","), years[T0 + 1]))

noise.level <- sd(apply(Y[1:N0, 1:T0], 1, diff))
eta.omega.sdid <- ((nrow(Y) - N0) * (ncol(Y) - T0))^(1 / 4)

# ---- estimators ----------------------------------------------------------------
timed <- function(expr) { t0 <- proc.time()[["elapsed"]]; v <- expr; list(v = v, s = proc.time()[["elapsed"]] - t0) }
fits <- list(
  synthdid = timed(synthdid_estimate(Y, N0, T0)),
  sc       = timed(sc_estimate(Y, N0, T0)),
  did      = timed(did_estimate(Y, N0, T0))
)
eta_used <- list(synthdid = c(omega = eta.omega.sdid, lambda = 1e-6),
                 sc       = c(omega = 1e-6, lambda = 1e-6),
                 did      = c(omega = eta.omega.sdid, lambda = 1e-6))

# Replays placebo_se's draws exactly (same RNG stream: one sample(1:N0) per
# replication, nothing else consumes random numbers) and keeps each draw.
placebo_replay <- function(est, seed, reps) {
  s <- attr(est, "setup"); opts <- attr(est, "opts"); w <- attr(est, "weights")
  set.seed(seed)
  perms <- matrix(NA_integer_, reps, s$N0)
  vals <- numeric(reps)
  for (r in seq_len(reps)) {
    ind <- sample(1:s$N0)
    perms[r, ] <- ind
    n0 <- length(ind) - N1
    wb <- w
    o <- w$omega[ind[1:n0]]
    wb$omega <- if (sum(o) != 0) o / sum(o) else rep(1 / length(o), length(o))
    vals[r] <- do.call(synthdid_estimate, c(list(Y = s$Y[ind, ], N0 = n0, T0 = s$T0,
                                                 X = s$X[ind, , ], weights = wb), opts))
  }
  list(perms = perms, vals = vals, se = sqrt((reps - 1) / reps) * sd(vals))
}

try_se <- function(method, est, seed = NULL, reps = REPS) {
  t0 <- proc.time()[["elapsed"]]
  if (!is.null(seed)) set.seed(seed)
  res <- tryCatch({
    v <- if (method == "jackknife") vcov(est, method = "jackknife")
         else vcov(est, method = method, replications = reps)
    list(se = sqrt(v[1, 1]), error = NULL)
  }, error = function(e) list(se = NA_real_, error = conditionMessage(e)))
  res$seconds <- proc.time()[["elapsed"]] - t0
  res
}

# First-pass (pre-sparsify) Frank-Wolfe solution, recomputed with the
# package's own internal functions and the same arguments synthdid_estimate uses.
first_pass <- function(est) {
  s <- attr(est, "setup"); o <- attr(est, "opts"); w <- attr(est, "weights")
  Yc <- synthdid:::collapsed.form(s$Y, s$N0, s$T0)
  out <- list()
  # synthdid's two passes (100 steps, sparsify, then max.iter steps), checked against its weights.
  two_pass <- function(Y, zeta, intercept, final) {
    p1 <- synthdid:::sc.weight.fw(Y, zeta = zeta, intercept = intercept,
                                  lambda = NULL, min.decrease = o$min.decrease, max.iter = 100)
    sp <- synthdid:::sparsify_function(p1$lambda)
    p2 <- synthdid:::sc.weight.fw(Y, zeta = zeta, intercept = intercept,
                                  lambda = sp, min.decrease = o$min.decrease, max.iter = o$max.iter)
    stopifnot(identical(p2$lambda, final))
    list(p1 = p1, sp = sp, p2 = p2)
  }
  passes_summary <- function(r, labels) {
    list(first_pass_iterations = sum(!is.na(r$p1$vals)),
         first_pass_objective = arr(r$p1$vals[!is.na(r$p1$vals)]),
         first_pass_weights = setNames(r$p1$lambda, labels),
         sparsified_start = setNames(r$sp, labels),
         second_pass_iterations = sum(!is.na(r$p2$vals)),
         second_pass_final_objective = r$p2$vals[max(which(!is.na(r$p2$vals)))])
  }
  if (o$update.lambda) {
    r <- two_pass(Yc[1:s$N0, ], o$zeta.lambda, o$lambda.intercept, w$lambda)
    out$lambda <- passes_summary(r, years[1:s$T0])
  }
  if (o$update.omega) {
    r <- two_pass(t(Yc[, 1:s$T0]), o$zeta.omega, o$omega.intercept, w$omega)
    # Same second pass run to (near) convergence: shows how far the
    # max.iter = 1e4 answer is from the optimum of the same problem.
    p3 <- synthdid:::sc.weight.fw(t(Yc[, 1:s$T0]), zeta = o$zeta.omega, intercept = o$omega.intercept,
                                  lambda = r$sp, min.decrease = o$min.decrease, max.iter = 1e6)
    n1 <- nrow(s$Y) - s$N0; t1 <- ncol(s$Y) - s$T0
    est3 <- c(t(c(-p3$lambda, rep(1 / n1, n1))) %*% s$Y %*% c(-w$lambda, rep(1 / t1, t1)))
    out$omega_max_iter_1e6 <- list(
      note = "NOT what synthdid returns: second omega pass rerun with max.iter = 1e6 (same start, same min.decrease)",
      iterations = sum(!is.na(p3$vals)),
      final_objective = p3$vals[max(which(!is.na(p3$vals)))],
      estimate = est3,
      omega = setNames(p3$lambda, units[1:s$N0]))
    out$omega <- passes_summary(r, units[1:s$N0])
  }
  out
}

results <- list()
replay_perms <- NULL
for (name in names(fits)) {
  est <- fits[[name]]$v
  w <- attr(est, "weights"); o <- attr(est, "opts")
  cat(sprintf("%-9s estimate %.10f  (%.2fs)\n", name, c(est), fits[[name]]$s))
  jk <- try_se("jackknife", est)
  pl <- try_se("placebo", est, seed = SEED)
  bs <- try_se("bootstrap", est, seed = SEED)
  t0 <- proc.time()[["elapsed"]]
  rp <- placebo_replay(est, SEED, REPS)
  rp_s <- proc.time()[["elapsed"]] - t0
  stopifnot(isTRUE(all.equal(rp$se, pl$se, tolerance = 0)))
  if (is.null(replay_perms)) replay_perms <- rp$perms else stopifnot(identical(replay_perms, rp$perms))
  cat(sprintf("          SE jackknife %s | placebo %.10f (%.1fs) | bootstrap %s\n",
              format(jk$se), pl$se, pl$seconds, if (is.null(bs$error)) format(bs$se) else bs$error))
  curve <- synthdid_effect_curve(est)
  stopifnot(abs(mean(curve) - c(est)) < 1e-10)
  # objective traces can be 10000 long: keep the first 10 and the last 3 values
  vals_nonna <- function(v) {
    if (is.null(v)) return(NULL)
    v <- v[!is.na(v)]; n <- length(v)
    if (n <= 13) return(list(iterations = n, first = arr(v)))
    list(iterations = n, first_10 = arr(v[1:10]), last_3 = arr(v[(n - 2):n]))
  }
  results[[name]] <- list(
    call = switch(name, synthdid = "synthdid_estimate(Y, N0, T0)",
                  sc = "sc_estimate(Y, N0, T0)", did = "did_estimate(Y, N0, T0)"),
    estimate = c(est),
    omega = setNames(w$omega, units[1:N0]),
    lambda = setNames(w$lambda, years[1:T0]),
    omega_nonzero = sum(w$omega != 0),
    lambda_nonzero = sum(w$lambda != 0),
    regularisation = list(
      noise_level = noise.level,
      eta_omega = eta_used[[name]][["omega"]],
      eta_lambda = eta_used[[name]][["lambda"]],
      zeta_omega = o$zeta.omega,
      zeta_lambda = o$zeta.lambda,
      omega_intercept = o$omega.intercept,
      lambda_intercept = o$lambda.intercept,
      update_omega = o$update.omega,
      update_lambda = o$update.lambda,
      min_decrease = o$min.decrease,
      max_iter = o$max.iter,
      max_iter_pre_sparsify = 100,
      sparsify = "v[v <= max(v)/4] = 0; v/sum(v)  (applied to both lambda and omega when updated)"),
    solver = c(list(
      omega_second_pass_iterations = if (is.null(w$omega.vals)) NULL else sum(!is.na(w$omega.vals)),
      lambda_second_pass_iterations = if (is.null(w$lambda.vals)) NULL else sum(!is.na(w$lambda.vals)),
      omega_second_pass_objective = vals_nonna(w$omega.vals),
      lambda_second_pass_objective = vals_nonna(w$lambda.vals)), first_pass(est)),
    effect_curve = setNames(c(curve), years[(T0 + 1):ncol(Y)]),
    se = list(
      jackknife = jk$se,
      jackknife_note = if (is.na(jk$se)) "vcov(est, method='jackknife') returns NA: jackknife_se() returns NA when N0 == nrow(Y) - 1 (a single treated unit)" else NULL,
      placebo = pl$se,
      placebo_seed = SEED,
      placebo_replications = REPS,
      placebo_seconds = pl$seconds,
      placebo_replay_seconds = rp_s,
      bootstrap = bs$se,
      bootstrap_error = bs$error,
      bootstrap_note = if (is.null(bs$error) && is.na(bs$se)) "vcov(est, method='bootstrap') returns NA without error: bootstrap_sample() returns NA when N0 == nrow(Y) - 1" else NULL),
    placebo_estimates = arr(rp$vals),
    seconds_estimate = fits[[name]]$s
  )
}

# ---- synthdid's own bundled data (10 significant digits) -------------------
data("california_prop99", package = "synthdid", envir = environment())
s2 <- panel.matrices(california_prop99)
stopifnot(identical(rownames(s2$Y), units), identical(colnames(s2$Y), years))
bundled <- list(
  note = "same estimators on data(california_prop99) from the synthdid package (values like 89.80000305 instead of 89.8)",
  max_abs_data_difference = max(abs(s2$Y - Y)),
  synthdid = c(synthdid_estimate(s2$Y, s2$N0, s2$T0)),
  sc = c(sc_estimate(s2$Y, s2$N0, s2$T0)),
  did = c(did_estimate(s2$Y, s2$N0, s2$T0))
)
cat(sprintf("bundled data: SDID %.10f SC %.10f DiD %.10f (max |dY| %.2e)\n",
            bundled$synthdid, bundled$sc, bundled$did, bundled$max_abs_data_difference))

out <- list(
  generator = "benches/peers/sc_r_prop99.R",
  data = list(path = csv_path,
              sha256 = sub(" .*", "", system2("sha256sum", shQuote(csv_path), stdout = TRUE)),
              rows = nrow(df)),
  versions = list(R = R.version.string,
                  synthdid = as.character(packageVersion("synthdid")),
                  synthdid_source = "github synth-inference/synthdid commit 70c1ce3eac58e28c30b67435ca377bb48baa9b8a",
                  mvtnorm = as.character(packageVersion("mvtnorm")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  setup = list(N0 = N0, T0 = T0, N1 = N1, T1 = T1,
               units = arr(units), years = arr(as.integer(years)),
               treated_units = arr(units[(N0 + 1):nrow(Y)]),
               first_treated_year = as.integer(years[T0 + 1]),
               unit_order = "panel.matrices(treated.last=TRUE): order(W[,T0+1], rownames(Y)); controls sorted by name (C.UTF-8 collation), then treated"),
  published = list(source = "Arkhangelsky et al. (2021, AER) Table 1, placebo SEs",
                   synthdid = -15.6, synthdid_se = 8.4, sc = -19.6, sc_se = 9.9, did = -27.3, did_se = 17.7),
  estimators = results,
  placebo_permutations = list(
    note = "identical for all three estimators (same seed; only sample(1:N0) consumes RNG). Row r = ind for draw r: 1-based row numbers into setup.units; Y[ind,] is the placebo panel, the first N0-N1 = 37 are controls, the last N1 = 1 is the pseudo-treated unit; the initial omega is the fitted omega restricted to ind[1:37] and renormalised; zeta.omega, zeta.lambda, min.decrease and the intercept / update flags are the original fit's; lambda initialised at the fitted lambda.",
    R_RNG = paste(RNGkind(), collapse = "/"),
    draws = lapply(seq_len(nrow(replay_perms)), function(r) arr(replay_perms[r, ]))),
  bundled_data_estimates = bundled
)
writeLines(to_json(out), out_path)
cat("wrote", out_path, "\n")
