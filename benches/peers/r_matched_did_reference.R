# Reference for cominev's matched DiD (PSM-DiD): MatchIt 4.7.2 nearest-neighbour matching on the
# baseline (2003) rows of tests/fixtures/mpdta_2x2.csv, then the weighted 2x2 regression with CR1
# standard errors clustered by county (estimatr 1.0.0). Produces tests/fixtures/matched_did_reference.json.
# Rerun from the repository root (MatchIt built from source into /root/R-lib, see install_matchit.sh):
#   Rscript benches/peers/r_matched_did_reference.R
.libPaths(c("/root/R-lib", .libPaths()))
suppressPackageStartupMessages({ library(MatchIt); library(estimatr); library(jsonlite) })
d <- read.csv("tests/fixtures/mpdta_2x2.csv")
base <- d[d$year == 2003, ]
m <- matchit(D ~ lpop, data = base, method = "nearest", distance = "glm", replace = FALSE)
w <- data.frame(countyreal = base$countyreal, w = m$weights)
p <- merge(d, w, by = "countyreal")
p <- p[p$w > 0, ]
fit <- lm_robust(lemp ~ D * post, data = p, weights = w, clusters = countyreal, se_type = "stata")
out <- list(
  generated_by = "benches/peers/r_matched_did_reference.R",
  versions = list(R = R.version.string, MatchIt = as.character(packageVersion("MatchIt")),
                  estimatr = as.character(packageVersion("estimatr"))),
  call = "matchit(D ~ lpop, base 2003 rows, method = 'nearest', distance = 'glm', replace = FALSE); lm_robust(lemp ~ D * post, weights = w, clusters = countyreal, se_type = 'stata') on units with w > 0",
  n_matched_units = sum(m$weights > 0),
  estimate = unname(coef(fit)["D:post"]), std_error = unname(fit$std.error["D:post"]),
  df = unname(fit$df["D:post"]), p_value = unname(fit$p.value["D:post"]),
  conf_low = unname(fit$conf.low["D:post"]), conf_high = unname(fit$conf.high["D:post"])
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/fixtures/matched_did_reference.json")
cat(toJSON(out, auto_unbox = TRUE, digits = 12, pretty = TRUE), "\n")
