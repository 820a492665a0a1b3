# Times R synthdid (synthetic DiD + placebo SE) on a panel CSV with columns
# unit,time,outcome,treated — the file benches/peers/run_sc_peers.sh gives every tool.
#   Rscript benches/peers/sc_r_bench.R PANEL.csv REPLICATIONS
# Prints one JSON line. Needs synthdid built by benches/peers/sc_r_install.sh (in /root/R-lib).
args <- commandArgs(trailingOnly = TRUE)
path <- args[1]
reps <- as.integer(args[2])
lib <- Sys.getenv("R_PEERS_LIB", "/root/R-lib")
suppressMessages(library(synthdid, lib.loc = lib))
panel <- read.csv(path)
started <- proc.time()[["elapsed"]]
setup <- panel.matrices(panel[, c("unit", "time", "outcome", "treated")],
                        unit = "unit", time = "time", outcome = "outcome", treatment = "treated")
estimate <- synthdid_estimate(setup$Y, setup$N0, setup$T0)
fitted <- proc.time()[["elapsed"]]
set.seed(1)
se <- sqrt(vcov(estimate, method = "placebo", replications = reps))
finished <- proc.time()[["elapsed"]]
cat(jsonlite::toJSON(list(
  peer = "R synthdid",
  version = as.character(packageVersion("synthdid", lib.loc = lib)),
  units = nrow(setup$Y), periods = ncol(setup$Y),
  seconds = finished - started, t_fit = fitted - started, t_se = finished - fitted,
  estimate = as.numeric(estimate), se = as.numeric(se)
), auto_unbox = TRUE, digits = NA), "\n")
