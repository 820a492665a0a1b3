#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# sc_r_synth_prop99.R -- reference values from R's `Synth` (Abadie, Diamond &
# Hainmueller) on California Proposition 99, ADH (2010) specification.
#
# Produces (path relative to the repository root):
#   benches/peers/fixtures/sc_r_synth_prop99.json
#     * the exact dataprep() specification used
#     * synth() with its defaults (optimxmethod = c("Nelder-Mead","BFGS"),
#       quadopt = "ipop", Margin.ipop = 5e-4, Sigf.ipop = 5, Bound.ipop = 10,
#       genoud = FALSE): solution.w per state (all 38 donors), solution.v per
#       predictor, loss.v, loss.w, the optimx method/value that won
#     * the balance table (treated / synthetic / donor sample mean, unrounded;
#       synth.tab() shows the same rounded to 3 digits)
#     * gaps (Y1 - Y0 %*% w) per year 1970-2000, average gap 1989-2000,
#       pre (1970-1988) and post (1989-2000) RMSPE
#     * time taken
#     * placebo-in-space (unless SC_R_SYNTH_PLACEBOS=0): every one of the 38
#       donors as pseudo-treated, donor pool = the other 37 donors (California
#       excluded, as in ADH 2010), same settings; per state the post/pre RMSPE
#       ratio, pre-RMSPE, weights; California's rank and the permutation p-value.
#       A state whose synth() fails with the defaults (Missouri: ipop raises
#       "computationally singular" in every optimx run) is refitted with the
#       first working fallback of Sigf.ipop = 7, Margin.ipop = 5e-3,
#       Bound.ipop = 6; the error and the setting used are recorded.
#   Numbers are written with the shortest of %.15g/%.16g/%.17g that reads
#   back to the same double.
#   NOTE: Synth's V search (Nelder-Mead + BFGS from two starts, ipop inner QP)
#   is a numerical optimisation whose result depends on optimizer details;
#   treat W/V as "what R Synth 1.1-8 returns", not as a unique optimum.
#
# Input: /work/shared/reference-data/prop99_smoking.csv (state_id, state,
#   year, cigsale, lnincome, beer, age15to24, retprice); override with
#   SC_R_SMOKING_CSV.
#
# Generated with:
#   R 4.2.2 Patched (Debian r-base-core), jsonlite 1.8.4, kernlab 0.9-32,
#   optimx 2022-4.30, rgenoud 5.9-0.3, numDeriv 2016.8-1.1 (Debian);
#   Synth 1.1-8 built from GitHub cran/Synth commit 8e17175 into /root/R-lib
#   (benches/peers/sc_r_install.sh).
#
# Rerun from the repository root:
#   Rscript benches/peers/sc_r_synth_prop99.R
# ---------------------------------------------------------------------------
lib <- Sys.getenv("SC_R_LIB", "/root/R-lib")
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages({
  library(Synth)
  library(jsonlite)
})

csv_path <- Sys.getenv("SC_R_SMOKING_CSV", "/work/shared/reference-data/prop99_smoking.csv")
out_path <- "benches/peers/fixtures/sc_r_synth_prop99.json"
run_placebos <- Sys.getenv("SC_R_SYNTH_PLACEBOS", "1") != "0"
if (!dir.exists(dirname(out_path))) dir.create(dirname(out_path), recursive = TRUE)

# ---- JSON writer (shared with the other R peer scripts) ------------------------
local({
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  here <- if (length(file_arg)) dirname(sub("^--file=", "", file_arg[1])) else "benches/peers"
  source(file.path(here, "sc_r_json.R"), local = globalenv())
})

# ---- data ----------------------------------------------------------------------
smoking <- read.csv(csv_path, stringsAsFactors = FALSE)
smoking$state_id <- as.numeric(smoking$state_id)   # dataprep wants numeric unit ids
smoking$year <- as.numeric(smoking$year)
ids <- sort(unique(smoking$state_id))
names_by_id <- setNames(smoking$state[match(ids, smoking$state_id)], ids)
stopifnot(names_by_id[["3"]] == "California", length(ids) == 39)
CA <- 3

spec_args <- function(treated, controls) list(
  foo = smoking,
  predictors = c("lnincome", "retprice", "age15to24"),
  predictors.op = "mean",
  time.predictors.prior = 1980:1988,
  special.predictors = list(
    list("beer", 1984:1988, "mean"),
    list("cigsale", 1975, "mean"),
    list("cigsale", 1980, "mean"),
    list("cigsale", 1988, "mean")),
  dependent = "cigsale",
  unit.variable = "state_id",
  unit.names.variable = "state",
  time.variable = "year",
  treatment.identifier = treated,
  controls.identifier = controls,
  time.optimize.ssr = 1970:1988,
  time.plot = 1970:2000)

quiet <- function(expr) { out <- NULL; capture.output(out <- expr); out }

fit_one <- function(treated, controls, synth_opts = list()) {
  t0 <- proc.time()[["elapsed"]]
  dp <- quiet(do.call(dataprep, spec_args(treated, controls)))
  t1 <- proc.time()[["elapsed"]]
  so <- quiet(do.call(synth, c(list(data.prep.obj = dp), synth_opts)))
  t2 <- proc.time()[["elapsed"]]
  w <- as.numeric(so$solution.w)
  gaps <- as.numeric(dp$Y1plot - dp$Y0plot %*% so$solution.w)
  yrs <- as.numeric(rownames(dp$Y1plot))
  pre <- yrs <= 1988; post <- yrs >= 1989
  list(dp = dp, so = so, w = w, gaps = gaps, years = yrs,
       pre_rmspe = sqrt(mean(gaps[pre]^2)), post_rmspe = sqrt(mean(gaps[post]^2)),
       seconds_dataprep = t1 - t0, seconds_synth = t2 - t1)
}

# ---- California ---------------------------------------------------------------
controls <- setdiff(ids, CA)
ca <- fit_one(CA, controls)
dp <- ca$dp; so <- ca$so
donor_names <- names_by_id[as.character(as.numeric(colnames(dp$X0)))]
stopifnot(!any(is.na(donor_names)))
w <- setNames(ca$w, donor_names)
v <- setNames(as.numeric(so$solution.v), rownames(dp$X0))
balance <- data.frame(predictor = rownames(dp$X1),
                      treated = as.numeric(dp$X1),
                      synthetic = as.numeric(dp$X0 %*% so$solution.w),
                      donor_mean = as.numeric(apply(dp$X0, 1, mean)))
best <- so$rgV.optim
cat(sprintf("California: loss.v %.6f loss.w %.6g; dataprep %.2fs synth %.2fs\n",
            so$loss.v, so$loss.w, ca$seconds_dataprep, ca$seconds_synth))
print(round(sort(w[w > 1e-3], decreasing = TRUE), 4))
print(round(v, 4))
print(balance, digits = 6)
post <- ca$years >= 1989
cat(sprintf("avg gap 1989-2000 %.6f; gap 2000 %.6f; pre RMSPE %.6f post RMSPE %.6f\n",
            mean(ca$gaps[post]), ca$gaps[ca$years == 2000], ca$pre_rmspe, ca$post_rmspe))

optimx_table <- NULL
if (!is.null(best$out.list)) {
  ol <- best$out.list
  optimx_table <- lapply(seq_len(nrow(ol)), function(i)
    list(method = rownames(ol)[i], value = ol$value[i],
         fevals = ol$fevals[i], convcode = ol$convcode[i]))
}

result <- list(
  generator = "benches/peers/sc_r_synth_prop99.R",
  data = list(path = csv_path,
              sha256 = sub(" .*", "", system2("sha256sum", shQuote(csv_path), stdout = TRUE)),
              rows = nrow(smoking)),
  versions = list(R = R.version.string,
                  Synth = as.character(packageVersion("Synth")),
                  Synth_source = "github cran/Synth commit 8e171751211b4ff3c8686933b412d05021799162 (CRAN 1.1-8)",
                  kernlab = as.character(packageVersion("kernlab")),
                  optimx = as.character(packageVersion("optimx")),
                  rgenoud = as.character(packageVersion("rgenoud")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  specification = list(
    treated = "California (state_id 3)",
    donors = arr(unname(donor_names)),
    predictors = arr(c("lnincome", "retprice", "age15to24")),
    predictors_op = "mean, na.rm = TRUE",
    time_predictors_prior = arr(1980:1988),
    special_predictors = arr(c("beer mean 1984:1988", "cigsale 1975", "cigsale 1980", "cigsale 1988")),
    dependent = "cigsale",
    time_optimize_ssr = arr(1970:1988),
    time_plot = arr(1970:2000),
    synth_call = "synth(data.prep.obj = dataprep(...)) with defaults: optimxmethod = c('Nelder-Mead','BFGS'), genoud = FALSE, quadopt = 'ipop', Margin.ipop = 5e-4, Sigf.ipop = 5, Bound.ipop = 10",
    predictor_scaling = "X rows divided by their sd over the 39 columns cbind(X0, X1) (var(), n-1)",
    loss_v = "mean over 1970:1988 of (Z1 - Z0 w)^2 (= MSPE, unscaled outcome)",
    loss_w = "(X1s - X0s w)' V (X1s - X0s w) on the scaled predictors"),
  solution_w = as.list(w),
  solution_v = as.list(v),
  loss_v = as.numeric(so$loss.v),
  loss_w = as.numeric(so$loss.w),
  v_search = list(best_value = best$value, candidates = optimx_table,
                  note = "synth() runs optimx from equal V and from regression-based V; keeps the lower; solution.v = |par|/sum|par|"),
  balance = lapply(split(balance, seq_len(nrow(balance))), function(r)
    list(predictor = r$predictor, treated = r$treated, synthetic = r$synthetic, donor_mean = r$donor_mean)),
  gaps = as.list(setNames(ca$gaps, ca$years)),
  average_gap_1989_2000 = mean(ca$gaps[post]),
  gap_2000 = ca$gaps[ca$years == 2000],
  pre_rmspe_1970_1988 = ca$pre_rmspe,
  post_rmspe_1989_2000 = ca$post_rmspe,
  seconds = list(dataprep = ca$seconds_dataprep, synth = ca$seconds_synth),
  published = list(source = "Abadie, Diamond & Hainmueller (2010) Table 2 / Table 1",
                   w = list(Utah = 0.334, Nevada = 0.234, Montana = 0.199, Colorado = 0.164, Connecticut = 0.069),
                   permutation_p = 1 / 39)
)
names(result$balance) <- NULL

# ---- placebo-in-space ---------------------------------------------------------
if (run_placebos) {
  t0 <- proc.time()[["elapsed"]]
  pl <- list()
  # With the defaults, ipop can stop with "system is computationally singular"
  # inside every Nelder-Mead / BFGS run (optimx then returns NA for both starts
  # and synth() fails with "infinite or missing values in 'x'"); this happens
  # for Missouri. Such a state is retried with the first of these fallbacks
  # that runs, and the error and the fallback used are recorded.
  fallbacks <- list(list(Sigf.ipop = 7), list(Margin.ipop = 5e-3), list(Bound.ipop = 6))
  for (id in controls) {
    nm <- names_by_id[[as.character(id)]]
    t_state <- proc.time()[["elapsed"]]
    err <- NULL; used <- list()
    f <- tryCatch(fit_one(id, setdiff(controls, id)), error = function(e) { err <<- conditionMessage(e); NULL })
    if (is.null(f)) {
      for (fb in fallbacks) {
        f <- tryCatch(fit_one(id, setdiff(controls, id), fb), error = function(e) NULL)
        if (!is.null(f)) { used <- fb; break }
      }
      if (is.null(f)) { pl[[nm]] <- list(state_id = id, error = err, fallback = "all fallbacks failed"); next }
    }
    dn <- names_by_id[as.character(as.numeric(colnames(f$dp$X0)))]
    pl[[nm]] <- list(state_id = id,
                     default_settings_error = err,
                     synth_settings = if (length(used)) paste(names(used), unlist(used), sep = " = ", collapse = ", ") else "defaults",
                     pre_rmspe = f$pre_rmspe, post_rmspe = f$post_rmspe,
                     ratio = f$post_rmspe / f$pre_rmspe,
                     loss_v = as.numeric(f$so$loss.v),
                     average_gap_1989_2000 = mean(f$gaps[f$years >= 1989]),
                     seconds = proc.time()[["elapsed"]] - t_state,
                     w = as.list(setNames(f$w, dn)),
                     v = as.list(setNames(as.numeric(f$so$solution.v), rownames(f$dp$X0))))
    cat(sprintf("placebo %-15s ratio %8.4f pre %7.3f (%.1fs)%s\n", nm, pl[[nm]]$ratio, f$pre_rmspe,
                pl[[nm]]$seconds, if (is.null(err)) "" else paste0("  [defaults failed: ", err, "; used ", pl[[nm]]$synth_settings, "]")))
  }
  total <- proc.time()[["elapsed"]] - t0
  ok <- vapply(pl, function(x) !is.null(x$ratio), TRUE)
  ratios <- c(California = ca$post_rmspe / ca$pre_rmspe, vapply(pl[ok], `[[`, 0, "ratio"))
  rank_ca <- sum(ratios >= ratios[["California"]])
  cat(sprintf("placebos: %.1fs total; California ratio %.4f rank %d of %d (p = %.4f)\n",
              total, ratios[["California"]], rank_ca, length(ratios), rank_ca / length(ratios)))
  result$placebo_in_space <- list(
    donor_pool = "for pseudo-treated donor j: the other 37 donors (California excluded); same specification and synth() defaults",
    ratio_definition = "post RMSPE (1989-2000) / pre RMSPE (1970-1988) of gaps Y1 - Y0 w (Y1plot / Y0plot of dataprep)",
    seconds_total = total,
    california_ratio = ratios[["California"]],
    california_rank = rank_ca,
    n_units = length(ratios),
    p_value = rank_ca / length(ratios),
    states_needing_fallback = arr(names(pl)[vapply(pl, function(x) !is.null(x$default_settings_error), TRUE)]),
    fallbacks_tried_in_order = arr(vapply(fallbacks, function(fb) paste(names(fb), unlist(fb), sep = " = "), "")),
    ratios_sorted = as.list(sort(ratios, decreasing = TRUE)),
    states = pl)
}

writeLines(to_json(result), out_path)
cat("wrote", out_path, "\n")
