# Reference values for cominev's two-way fixed-effects event study on mpdta.
# Produces tests/fixtures/twfe_reference.json. Rerun from the repository root:
#   Rscript benches/peers/r_twfe_reference.R
# Needs Debian's r-cran-estimatr and r-cran-jsonlite (R 4.2.2, estimatr 1.0.0 here).
# Model: lemp_it = a_i + l_t + sum_{e != -1} b_e 1{t - g_i = e} + u_it over all 500 counties
# (never-treated counties have every event dummy 0), CR1 ("stata") SEs clustered by county;
# and the static model with one dummy D_it = 1{g_i > 0, t >= g_i}.
suppressPackageStartupMessages({ library(estimatr); library(jsonlite) })
d <- read.csv("tests/fixtures/mpdta.csv")
d$e <- ifelse(d$first_treat > 0, d$year - d$first_treat, NA)
events <- sort(unique(d$e[!is.na(d$e)]))
events <- events[events != -1]
names <- character(0)
for (e in events) {
  nm <- if (e < 0) paste0("lead", -e) else paste0("lag", e)
  d[[nm]] <- as.integer(!is.na(d$e) & d$e == e)
  names <- c(names, nm)
}
d$D <- as.integer(d$first_treat > 0 & d$year >= d$first_treat)
f_es <- as.formula(paste("lemp ~", paste(names, collapse = " + ")))
es <- lm_robust(f_es, data = d, fixed_effects = ~ countyreal + year, clusters = countyreal, se_type = "stata")
st <- lm_robust(lemp ~ D, data = d, fixed_effects = ~ countyreal + year, clusters = countyreal, se_type = "stata")
pre <- names[startsWith(names, "lead")]
b <- coef(es)[pre]; V <- vcov(es)[pre, pre]
wald <- as.numeric(t(b) %*% solve(V) %*% b)
out <- list(
  generated_by = "benches/peers/r_twfe_reference.R",
  versions = list(R = R.version.string, estimatr = as.character(packageVersion("estimatr"))),
  event_study = lapply(seq_along(events), function(k) list(
    event = events[k], estimate = unname(coef(es)[names[k]]), std_error = unname(es$std.error[names[k]]),
    df = unname(es$df[names[k]]), p_value = unname(es$p.value[names[k]]))),
  static = list(estimate = unname(coef(st)["D"]), std_error = unname(st$std.error["D"]), df = unname(st$df["D"]),
                p_value = unname(st$p.value["D"])),
  pre_trend_wald = list(statistic = wald, df = length(pre), p_value_chisq = pchisq(wald, length(pre), lower.tail = FALSE))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/fixtures/twfe_reference.json")
cat(toJSON(out, auto_unbox = TRUE, digits = 10, pretty = TRUE), "\n")
