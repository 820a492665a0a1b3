#!/usr/bin/env Rscript
# ---------------------------------------------------------------------------
# r_matchit_reference.R -- reference values from R's `MatchIt` package
#
# Produces (path relative to the repository root):
#   tests/fixtures/r_matchit_reference.json
#     * MatchIt::matchit() nearest-neighbour (and Mahalanobis) matching on
#       tests/fixtures/lalonde_psid.csv for cases a..k (see `cases` below):
#       the exact call, n matched treated / control, n discarded (by group),
#       the caliper actually used (raw distance units), the full
#       `weights` and `subclass` vectors (input row order; NA subclass ->
#       null; subclass is null as a whole for matching with replacement),
#       the match matrix (1-based input row numbers), and the outcome
#       analysis lm(re78 ~ treat, data = match.data(m), weights = weights):
#       coefficient on treat, and SEs
#         - cr1  : sandwich::vcovCL(fit, cluster = ~subclass, type = "HC1")
#                  (only for matching without replacement)
#         - hc1  : sandwich::vcovHC(fit, type = "HC1")
#         - hc0  : sandwich::vcovHC(fit, type = "HC0")
#     * the distance vectors MatchIt used: `pscore` (glm logit, response
#       scale) and `linear_logit` (linear predictor), input row order
#     * R / package versions
#   Numbers are written by jsonlite::toJSON(digits = NA), i.e. 15
#   significant digits: compare with a relative tolerance of ~1e-13,
#   not bit-exactly.
#
# Generated with:
#   R version 4.2.2 Patched (2022-11-10 r83330)   (Debian r-base-core)
#   MatchIt 4.7.2   built from GitHub kosukeimai/MatchIt (commit bccb2fc)
#   chk 0.10.0      built from GitHub poissonconsulting/chk (tag v0.10.0)
#   rlang 1.1.4     built from GitHub r-lib/rlang (tag v1.1.4; Debian's
#                   1.0.6 is older than MatchIt's rlang >= 1.1.0)
#   Rcpp 1.0.10, RcppProgress 0.4.2, backports 1.4.1, sandwich 3.0-2,
#   jsonlite 1.8.4 (Debian packages)
#   All GitHub-built packages live in /root/R-lib
#   (see benches/peers/install_matchit.sh). Do NOT use Debian's
#   r-cran-matchit 4.5.1: its nearest-neighbour matching is known-wrong.
#
# Rerun from the repository root:
#   Rscript benches/peers/r_matchit_reference.R
# Deterministic: no case uses m.order = "random".
# ---------------------------------------------------------------------------

.libPaths(c("/root/R-lib", .libPaths()))

suppressPackageStartupMessages({
  library(MatchIt)
  library(sandwich)
  library(jsonlite)
})

if (packageVersion("MatchIt") < "4.7.0") {
  stop("MatchIt >= 4.7.0 required; found ", packageVersion("MatchIt"),
       " (Debian's 4.5.1 must not be used). Install into /root/R-lib first.")
}

psid_path <- "tests/fixtures/lalonde_psid.csv"
json_out <- "tests/fixtures/r_matchit_reference.json"

if (!file.exists(psid_path)) {
  stop("run this script from the repository root (", psid_path, " not found)")
}

d <- read.csv(psid_path)
stopifnot(nrow(d) == 2675L, sum(d$treat == 1) == 185L)
n <- nrow(d)
row_of <- function(names_chr) match(names_chr, rownames(d))   # "17" -> 17

covs <- c("age", "education", "black", "hispanic", "married", "nodegree",
          "re74", "re75")
f <- treat ~ age + education + black + hispanic + married + nodegree + re74 + re75

# Each case: id, description, and the matchit() call as an expression.
cases <- list(
  list(id = "a", desc = "1:1 NN on glm logit pscore, no replacement, m.order largest (default)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE))),
  list(id = "b", desc = "a + caliper = 0.2 SD of the pscore (std.caliper = TRUE)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, caliper = 0.2))),
  list(id = "c", desc = "a matching on the linear predictor (logit of pscore)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            link = "linear.logit", ratio = 1, replace = FALSE))),
  list(id = "d", desc = "a with m.order = smallest",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, m.order = "smallest"))),
  list(id = "e", desc = "a with m.order = data",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, m.order = "data"))),
  list(id = "f", desc = "3:1 NN on pscore with replacement",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 3, replace = TRUE))),
  list(id = "g", desc = "2:1 NN on pscore without replacement",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 2, replace = FALSE))),
  list(id = "h", desc = "a with discard = both (common support on pscore)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, discard = "both"))),
  list(id = "i", desc = "a with estimand = ATC (default m.order becomes smallest)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, estimand = "ATC"))),
  list(id = "j", desc = "1:1 NN Mahalanobis on the 8 covariates, no replacement (m.order data)",
       call = quote(matchit(f, data = d, method = "nearest", distance = "mahalanobis",
                            ratio = 1, replace = FALSE))),
  list(id = "k", desc = "a with exact = ~black",
       call = quote(matchit(f, data = d, method = "nearest", distance = "glm",
                            ratio = 1, replace = FALSE, exact = ~black)))
)

call_text <- function(cl) {
  s <- paste(deparse(cl, width.cutoff = 500L), collapse = " ")
  s <- sub("matchit(f,", paste0("matchit(", deparse(f, width.cutoff = 500L), ","),
           s, fixed = TRUE)
  gsub("data = d", "data = read.csv(\"tests/fixtures/lalonde_psid.csv\")", s, fixed = TRUE)
}

na_to_null <- function(x) {
  # list with NULL for NA so jsonlite writes null (auto_unbox keeps scalars)
  lapply(x, function(v) if (is.na(v)) NULL else v)
}

run_case <- function(cs) {
  m <- suppressWarnings(eval(cs$call))
  w <- unname(m$weights)
  tr <- d$treat
  sc <- if (is.null(m$subclass)) NULL else as.integer(as.character(m$subclass))

  md <- match.data(m)
  fit <- lm(re78 ~ treat, data = md, weights = weights)
  est <- unname(coef(fit)["treat"])
  se_hc0 <- sqrt(vcovHC(fit, type = "HC0")["treat", "treat"])
  se_hc1 <- sqrt(vcovHC(fit, type = "HC1")["treat", "treat"])
  se_cr1 <- NULL
  if (!is.null(sc)) {
    se_cr1 <- sqrt(vcovCL(fit, cluster = ~subclass, type = "HC1")["treat", "treat"])
  }

  # Hand-computed cross-check of the sandwich formulas (recorded in
  # "se_formulas" below); stop if they disagree.
  X <- cbind(1, md$treat); ww <- md$weights; e <- residuals(fit)
  nn <- nrow(X); k <- ncol(X)
  bread <- solve(crossprod(X * sqrt(ww)))
  s_i <- X * (ww * e)
  hc0_man <- bread %*% crossprod(s_i) %*% bread
  stopifnot(isTRUE(all.equal(sqrt(hc0_man[2, 2]), se_hc0, tolerance = 1e-10)),
            isTRUE(all.equal(sqrt(hc0_man[2, 2] * nn / (nn - k)), se_hc1, tolerance = 1e-10)))
  if (!is.null(sc)) {
    g <- md$subclass
    G <- nlevels(droplevels(g))
    S <- rowsum(s_i, g)
    cr_man <- bread %*% crossprod(S) %*% bread * (G / (G - 1)) * ((nn - 1) / (nn - k))
    stopifnot(isTRUE(all.equal(sqrt(cr_man[2, 2]), se_cr1, tolerance = 1e-10)))
  }

  mm <- m$match.matrix
  mm_rows <- lapply(seq_len(nrow(mm)), function(i) na_to_null(row_of(mm[i, ])))

  focal <- if (toupper(m$estimand) == "ATC") 0L else 1L

  list(
    id = cs$id,
    description = cs$desc,
    call = call_text(cs$call),
    estimand = m$estimand,
    distance_vector = if (is.null(m$distance)) NULL
                      else if (identical(m$info$link, "linear.logit")) "linear_logit"
                      else "pscore",
    caliper = if (is.null(m$caliper)) NULL else unname(m$caliper),
    n = list(
      matched_treated = sum(w > 0 & tr == 1),
      matched_control = sum(w > 0 & tr == 0),
      discarded = sum(m$discarded),
      discarded_treated = sum(m$discarded & tr == 1),
      discarded_control = sum(m$discarded & tr == 0),
      unmatched_treated = sum(w == 0 & tr == 1),
      unmatched_control = sum(w == 0 & tr == 0),
      rows_in_match_data = nrow(md),
      n_subclasses = if (is.null(sc)) NULL else length(unique(na.omit(sc)))
    ),
    outcome = list(
      formula = "lm(re78 ~ treat, data = match.data(m), weights = weights)",
      estimate = est,
      se_cr1 = se_cr1,
      se_hc1 = se_hc1,
      se_hc0 = se_hc0
    ),
    weights = w,
    subclass = if (is.null(sc)) NULL else na_to_null(sc),
    match_matrix = list(
      note = paste0("rows: focal units (", if (focal == 1L) "treated" else "control",
                    ") in input order; entries: 1-based input row numbers of their matches in the order MatchIt stored them; null = no match"),
      focal_rows = row_of(rownames(mm)),
      matches = mm_rows
    )
  )
}

results <- lapply(cases, function(cs) {
  message("case ", cs$id, " ...")
  run_case(cs)
})
names(results) <- vapply(cases, `[[`, "", "id")

# Distance vectors used by MatchIt (identical to m$distance of a and c).
m_a <- suppressWarnings(eval(cases[[1]]$call))
m_c <- suppressWarnings(eval(cases[[3]]$call))

out <- list(
  generated_by = "benches/peers/r_matchit_reference.R",
  rerun = "Rscript benches/peers/r_matchit_reference.R (from the repository root; needs MatchIt 4.7.x in /root/R-lib, see benches/peers/install_matchit.sh)",
  versions = list(
    R = R.version.string,
    MatchIt = as.character(packageVersion("MatchIt")),
    chk = as.character(packageVersion("chk")),
    rlang = as.character(packageVersion("rlang")),
    Rcpp = as.character(packageVersion("Rcpp")),
    sandwich = as.character(packageVersion("sandwich")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  data = list(
    file = psid_path,
    outcome = "re78",
    treatment = "treat",
    covariates = covs,
    formula = deparse(f, width.cutoff = 500L),
    n = n,
    n_treated = sum(d$treat == 1),
    n_control = sum(d$treat == 0)
  ),
  se_formulas = list(
    note = "fit = lm(re78 ~ treat, weights = w) on match.data(m) (rows with weight > 0); X = [1, treat]; e = unweighted residuals; n = rows; k = 2; bread = (X'WX)^-1; s_i = w_i e_i x_i",
    hc0 = "bread * sum_i s_i s_i' * bread",
    hc1 = "hc0 * n / (n - k)",
    cr1 = "bread * sum_g S_g S_g' * bread * G/(G-1) * (n-1)/(n-k), S_g = sum of s_i over subclass g, G = number of subclasses (sandwich::vcovCL type HC1, cadjust = TRUE)"
  ),
  distance = list(
    pscore = unname(m_a$distance),
    linear_logit = unname(m_c$distance)
  ),
  cases = results
)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           json_out)
message("wrote ", json_out)
