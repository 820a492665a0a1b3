# ---------------------------------------------------------------------------
# ai2016_lib.R -- plain-R (base R only) implementation of propensity-score
# nearest-neighbour matching with the Abadie-Imbens (2006) robust variance and
# the Abadie-Imbens (2016) adjustment for a logit propensity score estimated by
# maximum likelihood ("Matching on the estimated propensity score",
# Econometrica 84(2):781-807), for the ATE and the ATET.
#
# Sourced by benches/peers/ai2016_reference.R, ai2016_coverage.R and
# ai2016_stata_check.R.  No package is needed (Matching is used only as a
# cross-check in ai2016_reference.R).
#
# Conventions (see /tmp/notes/ai2016.md for the derivation and sources):
#   * matching is on the estimated probability p_i = F(X_i'theta) (as Stata's
#     teffects psmatch and AI 2016), distance |p_i - p_j|, with replacement,
#     all units tied with the M-th nearest kept (distance within `tol`);
#   * the same-arm neighbour sets used for the conditional variances and for
#     the conditional covariances have L = `nn` members (Stata vce(robust,
#     nn(#)), default 2), also with ties kept;
#   * Var(tau_hat) = V_AI - c' Vtheta c                      (ATE)
#     Var(tau_hat) = V_AI - c_t' Vtheta c_t + d' Vtheta d    (ATET)
#     with Vtheta = (sum_i p_i (1 - p_i) X_i X_i')^{-1}, the inverse logit
#     information (= N^{-1} I_theta^{-1} of the paper).
# ---------------------------------------------------------------------------

# Logit by Newton-Raphson to full convergence.  Returns theta, fitted p and
# Vtheta = (X' diag(p(1-p)) X)^{-1} evaluated at the final p.
ai_logit <- function(W, X, tol = 1e-13, maxit = 100) {
  fit <- suppressWarnings(glm.fit(X, W, family = binomial(),
                                  control = glm.control(epsilon = 1e-14, maxit = 100)))
  theta <- fit$coefficients
  for (it in seq_len(maxit)) {        # polish with exact Newton steps
    eta <- drop(X %*% theta)
    p <- 1 / (1 + exp(-eta))
    g <- crossprod(X, W - p)
    H <- crossprod(X * (p * (1 - p)), X)
    step <- solve(H, g)
    theta <- theta + drop(step)
    if (max(abs(step)) < tol * (1 + max(abs(theta)))) break
  }
  eta <- drop(X %*% theta)
  p <- 1 / (1 + exp(-eta))
  H <- crossprod(X * (p * (1 - p)), X)
  list(theta = setNames(theta, colnames(X)), p = p, eta = eta,
       Vtheta = solve(H), info = H, loglik = sum(W * log(p) + (1 - W) * log(1 - p)))
}

# For each query score q[k], the indices (into `pool_idx`) of the m nearest
# pool scores, plus every pool unit whose distance is within `tol` of the m-th
# smallest distance (ties).  `self_idx[k]` (or NA) is excluded from the pool
# for query k.  Returns a list of integer vectors of global unit indices.
ai_knn <- function(q, pool_p, pool_idx, m, self_idx = NULL, tol = 0) {
  o <- order(pool_p)
  sp <- pool_p[o]
  si <- pool_idx[o]
  n <- length(sp)
  if (is.null(self_idx)) self_idx <- rep(NA_integer_, length(q))
  need <- m + !all(is.na(self_idx))
  if (n < need) stop("not enough units in the pool for m = ", m)
  pos <- findInterval(q, sp)          # sp[pos] <= q < sp[pos + 1]
  out <- vector("list", length(q))
  for (k in seq_along(q)) {
    lo <- pos[k]; hi <- pos[k] + 1L
    chosen <- integer(0); dists <- numeric(0)
    s <- self_idx[k]
    # merge outward until we have m units and the next candidates on both
    # sides are strictly (beyond tol) farther than the m-th distance
    repeat {
      dl <- if (lo >= 1L) q[k] - sp[lo] else Inf
      dh <- if (hi <= n) sp[hi] - q[k] else Inf
      if (is.infinite(dl) && is.infinite(dh)) break
      if (length(chosen) >= m) {
        dm <- dists[m]
        if (min(dl, dh) > dm + tol) break
      }
      if (dl <= dh) { j <- lo; d <- dl; lo <- lo - 1L } else { j <- hi; d <- dh; hi <- hi + 1L }
      if (!is.na(s) && si[j] == s) next
      chosen <- c(chosen, si[j]); dists <- c(dists, d)
    }
    # distances were visited in nondecreasing order
    dm <- dists[m]
    out[[k]] <- chosen[dists <= dm + tol]
  }
  out
}

# Weighted counts: K[j] = sum_i w_ij, KK[j] = sum_i w_ij^2 with w_ij = 1/#J(i)
ai_counts <- function(sets, N) {
  K <- numeric(N); KK <- numeric(N)
  for (s in sets) {
    w <- 1 / length(s)
    K[s] <- K[s] + w
    KK[s] <- KK[s] + w^2
  }
  list(K = K, KK = KK)
}

# Sample covariance vector between the columns of X and Y over the units in
# `set` (divisor length(set) - 1).
ai_setcov <- function(set, X, Y) {
  xs <- X[set, , drop = FALSE]
  ys <- Y[set]
  xc <- sweep(xs, 2, colMeans(xs))
  drop(crossprod(xc, ys - mean(ys))) / (length(set) - 1)
}

# Main routine.
#   Y, W (0/1), X (N x k design matrix, intercept included, as in the logit)
#   M  = matches per unit, nn = L = same-arm neighbours for the conditional
#   variances and covariances, tol = tie tolerance on distances,
#   estimand = "ATE" or "ATET", ps = optional list from ai_logit().
#   cov_set = "self" (default): for a unit of arm w the covariance set is the
#             unit itself plus its nn - 1 nearest same-arm neighbours; for a
#             unit of the other arm, its nn nearest units of arm w.
#             "noself": always the nn nearest units of arm w other than i.
#   var_formula = "exact" uses K^2 + 2K - KK (ATE) / K^2 - KK (ATET);
#             "M" uses the no-ties forms K^2 + (2M-1)/M K  /  K^2 - K/M.
ai2016 <- function(Y, W, X, M = 1, nn = 2, tol = sqrt(.Machine$double.eps),
                   estimand = c("ATE", "ATET"), ps = NULL,
                   cov_set = c("self", "noself"), var_formula = c("exact", "M"),
                   dtheta = c("paper", "mu_x")) {
  estimand <- match.arg(estimand)
  cov_set <- match.arg(cov_set)
  var_formula <- match.arg(var_formula)
  dtheta <- match.arg(dtheta)
  N <- length(Y)
  if (is.null(ps)) ps <- ai_logit(W, X)
  p <- ps$p
  f <- p * (1 - p)                       # logistic density at X'theta
  i1 <- which(W == 1); i0 <- which(W == 0)
  N1 <- length(i1); N0 <- length(i0)

  # --- matches in the opposite arm (imputation) ---------------------------
  J <- vector("list", N)
  J[i1] <- ai_knn(p[i1], p[i0], i0, M, tol = tol)       # treated -> controls
  J[i0] <- ai_knn(p[i0], p[i1], i1, M, tol = tol)       # controls -> treated
  Yhat_other <- vapply(J, function(s) mean(Y[s]), 0)
  Y1 <- ifelse(W == 1, Y, Yhat_other)
  Y0 <- ifelse(W == 0, Y, Yhat_other)

  # --- same-arm neighbours (L = nn), excluding the unit itself --------------
  H <- vector("list", N)
  H[i1] <- ai_knn(p[i1], p[i1], i1, nn, self_idx = i1, tol = tol)
  H[i0] <- ai_knn(p[i0], p[i0], i0, nn, self_idx = i0, tol = tol)
  sig2 <- vapply(seq_len(N), function(i) {
    h <- H[[i]]; L <- length(h)
    if (identical(getOption("ai_sig2"), "samplevar")) var(c(Y[i], Y[h])) else L / (L + 1) * (Y[i] - mean(Y[h]))^2
  }, 0)

  # --- conditional covariances cov(X, Y | p, W = w) for w = 0, 1 ------------
  # sets: same arm -> {i} U (nn - 1 nearest same arm)  [cov_set = "self"]
  #       other arm -> nn nearest of arm w
  if (cov_set == "self") {
    Hs <- vector("list", N)
    if (nn >= 2) {
      Hs[i1] <- ai_knn(p[i1], p[i1], i1, nn - 1, self_idx = i1, tol = tol)
      Hs[i0] <- ai_knn(p[i0], p[i0], i0, nn - 1, self_idx = i0, tol = tol)
    } else stop("cov_set = 'self' needs nn >= 2")
    S_same <- lapply(seq_len(N), function(i) c(i, Hs[[i]]))
  } else {
    S_same <- H
  }
  S_other <- vector("list", N)
  S_other[i1] <- ai_knn(p[i1], p[i0], i0, nn, tol = tol)   # arm 0 sets for treated
  S_other[i0] <- ai_knn(p[i0], p[i1], i1, nn, tol = tol)   # arm 1 sets for controls
  k <- ncol(X)
  cov1 <- matrix(0, N, k, dimnames = list(NULL, colnames(X)))
  cov0 <- cov1
  for (i in seq_len(N)) {
    if (W[i] == 1) {
      cov1[i, ] <- ai_setcov(S_same[[i]], X, Y)
      cov0[i, ] <- ai_setcov(S_other[[i]], X, Y)
    } else {
      cov0[i, ] <- ai_setcov(S_same[[i]], X, Y)
      cov1[i, ] <- ai_setcov(S_other[[i]], X, Y)
    }
  }

  Vth <- ps$Vtheta
  if (estimand == "ATE") {
    cnt <- ai_counts(J, N)
    Kt <- cnt$K; KK <- cnt$KK
    tau <- mean(Y1 - Y0)
    kfac <- if (var_formula == "exact") Kt^2 + 2 * Kt - KK else Kt^2 + (2 * M - 1) / M * Kt
    V_tauX <- sum((Y1 - Y0 - tau)^2) / N^2
    V_E <- sum(kfac * sig2) / N^2
    V_ai <- V_tauX + V_E
    cvec <- colMeans((1 - p) * cov1 + p * cov0)     # = mean f (cov1/p + cov0/(1-p))
    adj <- drop(t(cvec) %*% Vth %*% cvec)
    V_adj <- V_ai - adj
    list(estimand = "ATE", M = M, nn = nn, N = N, N1 = N1, N0 = N0,
         est = tau, V_ai = V_ai, se_ai = sqrt(V_ai), V_tauX = V_tauX, V_E = V_E,
         c = cvec, cVc = adj, V_adj = V_adj, se_adj = sqrt(V_adj),
         theta = ps$theta, Vtheta = Vth, info = ps$info,
         max_matches = max(lengths(J)), min_matches = min(lengths(J)))
  } else {
    cnt <- ai_counts(J[i1], N)                        # controls used by treated
    Kt <- cnt$K; KK <- cnt$KK
    tau <- mean(Y[i1] - Y0[i1])
    kfac <- if (var_formula == "exact") Kt^2 - KK else Kt^2 - Kt / M
    V_tauX <- sum((Y[i1] - Y0[i1] - tau)^2) / N1^2
    V_E <- sum((kfac * sig2)[i0]) / N1^2
    V_ai <- V_tauX + V_E
    # dtau_t/dtheta: (1/N1) sum_i X_i f_i (Yhat_i(1) - Yhat_i(0) - tau_t)
    dt <- colSums(X * (f * (Y1 - Y0 - tau))) / N1
    if (dtheta == "mu_x") dt <- dt + colSums(f * (cov1 - cov0)) / N1
    # c_t = dtau/dtheta(paper form) + (1/N1) sum_i f_i (cov1_i + p_i/(1-p_i) cov0_i)
    dA <- colSums(X * (f * (Y1 - Y0 - tau))) / N1
    ct <- dA + colSums(f * cov1 + p^2 * cov0) / N1
    cVc <- drop(t(ct) %*% Vth %*% ct)
    dVd <- drop(t(dt) %*% Vth %*% dt)
    V_adj <- V_ai - cVc + dVd
    list(estimand = "ATET", M = M, nn = nn, N = N, N1 = N1, N0 = N0,
         est = tau, V_ai = V_ai, se_ai = sqrt(V_ai), V_tauX = V_tauX, V_E = V_E,
         c = ct, dtau_dtheta = dt, cVc = cVc, dVd = dVd,
         V_adj = V_adj, se_adj = sqrt(V_adj),
         theta = ps$theta, Vtheta = Vth, info = ps$info,
         max_matches = max(lengths(J[i1])), min_matches = min(lengths(J[i1])))
  }
}
