# ---------------------------------------------------------------------------
# ai2016_lib.R -- base-R implementation (no packages) of nearest-neighbour
# matching on an estimated logit propensity score with
#   * the Abadie-Imbens (2006) heteroskedasticity-robust variance, and
#   * the Abadie-Imbens (2016) adjustment for first-step maximum-likelihood
#     estimation of the propensity score ("Matching on the estimated
#     propensity score", Econometrica 84(2):781-807), ATE and ATET.
#
# Sourced by benches/peers/ai2016_reference.R, ai2016_coverage.R and
# ai2016_stata_check.R.  Formulas, sources and their status (read / derived /
# matched against Stata) are in the header of ai2016_reference.R and in the
# notes handed over with it.
#
# Notation: N units, W in {0,1}, Y outcome, X = N x k logit design matrix
# (intercept first), theta = logit MLE, p_i = F(X_i'theta), f_i = p_i(1-p_i),
# Vtheta = (sum_i f_i X_i X_i')^{-1} (inverse observed = expected logit
# information; equals N^{-1} I_theta^{-1} of the paper).
#
# Conventions (all validated against Stata's teffects psmatch ATE output on
# cattaneo2, see ai2016_stata_check.R):
#   * matching on p itself, |p_i - p_j|, with replacement, M matches, and all
#     units tied with the M-th distance kept (tie = distance within `tol`,
#     default 0, i.e. exactly equal distances);
#   * K_j = sum_i 1{j in J(i)} / #J(i),  KK_j = sum_i 1{j in J(i)} / #J(i)^2;
#   * "local sets" for the conditional variances and covariances: for unit i
#     and arm w, S_w(i) = the `nn` units of arm w nearest to p_i, where unit i
#     itself counts as one of them when W_i = w (so for W_i = w it is i plus
#     its nn-1 nearest same-arm neighbours); ties with the last distance kept;
#   * sigma2_i = sample variance (divisor |S|-1) of Y over S_{W_i}(i);
#   * cov_w(i) = sample covariance (divisor |S|-1) of (X, Y) over S_w(i).
# ---------------------------------------------------------------------------

# Logit by IRLS (glm.fit) polished with exact Newton steps.
ai_logit <- function(W, X, maxit = 100) {
  fit <- suppressWarnings(glm.fit(X, W, family = binomial(),
                                  control = glm.control(epsilon = 1e-14, maxit = 100)))
  theta <- fit$coefficients
  for (it in seq_len(maxit)) {
    p <- 1 / (1 + exp(-drop(X %*% theta)))
    step <- solve(crossprod(X * (p * (1 - p)), X), crossprod(X, W - p))
    theta <- theta + drop(step)
    if (max(abs(step)) < 1e-13 * (1 + max(abs(theta)))) break
  }
  eta <- drop(X %*% theta)
  p <- 1 / (1 + exp(-eta))
  info <- crossprod(X * (p * (1 - p)), X)
  names(theta) <- colnames(X)
  list(theta = theta, p = p, eta = eta, info = info, Vtheta = solve(info),
       loglik = sum(W * log(p) + (1 - W) * log(1 - p)),
       score_max = max(abs(crossprod(X, W - p))))
}

# Slow but simple search for one query (used when ties are possible).
.ai_knn_one <- function(qk, sp, si, m, s, tol, pos) {
  n <- length(sp)
  lo <- pos; hi <- pos + 1L
  chosen <- integer(0); dists <- numeric(0)
  repeat {
    dl <- if (lo >= 1L) qk - sp[lo] else Inf
    dh <- if (hi <= n) sp[hi] - qk else Inf
    if (is.infinite(dl) && is.infinite(dh)) break
    if (length(chosen) >= m && min(dl, dh) > dists[m] + tol) break
    if (dl <= dh) { j <- lo; d <- dl; lo <- lo - 1L } else { j <- hi; d <- dh; hi <- hi + 1L }
    if (!is.na(s) && si[j] == s) next
    chosen <- c(chosen, si[j]); dists <- c(dists, d)
  }
  chosen[dists <= dists[m] + tol]
}

# For each query score q[k]: the m pool units nearest to q[k] (global indices
# from pool_idx), plus all units tied with the m-th distance (within tol).
# self_idx[k] (or NA) is excluded from the pool for query k.
# Returns a list of integer vectors.
ai_knn <- function(q, pool_p, pool_idx, m, self_idx = NULL, tol = 0) {
  o <- order(pool_p)
  sp <- pool_p[o]; si <- pool_idx[o]; n <- length(sp)
  nq <- length(q)
  if (is.null(self_idx)) self_idx <- rep(NA_integer_, nq)
  s <- as.integer(any(!is.na(self_idx)))
  if (n < m + s) stop("pool too small for m = ", m)
  pos <- findInterval(q, sp)
  # The m nearest (plus self) lie within m + s sorted positions on either
  # side of the insertion point; one extra position per side guarantees that
  # a unit tied with the m-th distance outside the window implies a tied
  # candidate inside it (then the exact search below is used).
  w <- m + s + 1L
  offs <- seq.int(-w + 1L, w)
  cand <- outer(pos, offs, `+`)                # n_q x 2w candidate positions
  cand[cand < 1L | cand > n] <- NA_integer_
  D <- abs(sp[cand] - q)
  dim(D) <- dim(cand)
  D[is.na(D)] <- Inf
  if (s) {
    isself <- si[cand] == self_idx
    isself[is.na(isself)] <- FALSE
    dim(isself) <- dim(cand)
    D[isself] <- Inf
  }
  ord <- t(apply(D, 1, order))
  rows <- seq_len(nq)
  dm <- D[cbind(rows, ord[, m])]
  dnext <- D[cbind(rows, ord[, m + 1L])]
  out <- vector("list", nq)
  tie <- dnext <= dm + tol
  for (k in which(!tie)) out[[k]] <- si[cand[k, ord[k, seq_len(m)]]]
  for (k in which(tie)) out[[k]] <- .ai_knn_one(q[k], sp, si, m, self_idx[k], tol, pos[k])
  out
}

ai_counts <- function(sets, N) {
  K <- numeric(N); KK <- numeric(N)
  for (s in sets) {
    w <- 1 / length(s)
    K[s] <- K[s] + w
    KK[s] <- KK[s] + w * w
  }
  list(K = K, KK = KK)
}

# Sample covariance (divisor |S|-1) of each column of X with Y over each set.
ai_setcov_all <- function(sets, X, Y) {
  L <- lengths(sets)
  out <- matrix(0, length(sets), ncol(X), dimnames = list(NULL, colnames(X)))
  for (len in unique(L)) {
    rows <- which(L == len)
    Sm <- matrix(unlist(sets[rows], use.names = FALSE), ncol = len, byrow = TRUE)
    xbar <- 0; ybar <- 0
    for (l in seq_len(len)) { xbar <- xbar + X[Sm[, l], , drop = FALSE]; ybar <- ybar + Y[Sm[, l]] }
    xbar <- xbar / len; ybar <- ybar / len
    acc <- 0
    for (l in seq_len(len)) acc <- acc + (X[Sm[, l], , drop = FALSE] - xbar) * (Y[Sm[, l]] - ybar)
    out[rows, ] <- acc / (len - 1)
  }
  out
}

ai_setvar_all <- function(sets, Y) vapply(sets, function(s) var(Y[s]), 0)

# Everything the ATE and ATET formulas need.
#   nn      = L, size of the local sets (Stata vce(robust, nn(#)), default 2)
#   sig_set = "self" (Stata psmatch: S_{W_i}(i) = i + nn-1 neighbours) or
#             "exclude" (R Matching Var.calc / Stata nnmatch: Y_i with its nn
#             nearest same-arm neighbours, i.e. i + nn neighbours).
ai2016_prepare <- function(Y, W, X, M = 1, nn = 2, tol = 0, ps = NULL,
                           sig_set = c("self", "exclude")) {
  sig_set <- match.arg(sig_set)
  if (nn < 2) stop("nn must be >= 2 (a covariance needs two units)")
  N <- length(Y)
  if (is.null(ps)) ps <- ai_logit(W, X)
  p <- ps$p
  i1 <- which(W == 1); i0 <- which(W == 0)
  # matches in the opposite arm
  J <- vector("list", N)
  J[i1] <- ai_knn(p[i1], p[i0], i0, M, tol = tol)
  J[i0] <- ai_knn(p[i0], p[i1], i1, M, tol = tol)
  Yo <- vapply(J, function(s) mean(Y[s]), 0)
  Y1 <- ifelse(W == 1, Y, Yo)
  Y0 <- ifelse(W == 0, Y, Yo)
  # local sets: own arm (i + nn-1 nearest same-arm units) and other arm (nn nearest)
  own <- vector("list", N); oth <- vector("list", N)
  n1 <- ai_knn(p[i1], p[i1], i1, nn - 1, self_idx = i1, tol = tol)
  n0 <- ai_knn(p[i0], p[i0], i0, nn - 1, self_idx = i0, tol = tol)
  own[i1] <- Map(c, as.list(i1), n1)
  own[i0] <- Map(c, as.list(i0), n0)
  oth[i1] <- ai_knn(p[i1], p[i0], i0, nn, tol = tol)
  oth[i0] <- ai_knn(p[i0], p[i1], i1, nn, tol = tol)
  if (sig_set == "self") {
    sig2 <- ai_setvar_all(own, Y)
  } else {
    H <- vector("list", N)
    H[i1] <- ai_knn(p[i1], p[i1], i1, nn, self_idx = i1, tol = tol)
    H[i0] <- ai_knn(p[i0], p[i0], i0, nn, self_idx = i0, tol = tol)
    sig2 <- ai_setvar_all(Map(c, as.list(seq_len(N)), H), Y)
  }
  cov_own <- ai_setcov_all(own, X, Y)
  cov_oth <- ai_setcov_all(oth, X, Y)
  cov1 <- cov_own; cov0 <- cov_own
  cov1[i0, ] <- cov_oth[i0, ]          # arm-1 covariance for controls: nn nearest treated
  cov0[i1, ] <- cov_oth[i1, ]          # arm-0 covariance for treated: nn nearest controls
  list(Y = Y, W = W, X = X, N = N, N1 = length(i1), N0 = length(i0), i1 = i1, i0 = i0,
       M = M, nn = nn, tol = tol, sig_set = sig_set, ps = ps, p = p, f = p * (1 - p),
       J = J, Y1 = Y1, Y0 = Y0, sig2 = sig2, cov1 = cov1, cov0 = cov0,
       own_sizes = lengths(own), oth_sizes = lengths(oth))
}

q_form <- function(a, V, b = a) drop(crossprod(a, V %*% b))

# ATE:  V_adj = V_AI - c' Vtheta c,  c = (1/N) sum_i f_i (cov1_i / p_i + cov0_i / (1 - p_i))
ai2016_ate <- function(pr) with(pr, {
  cnt <- ai_counts(J, N)
  tau <- mean(Y1 - Y0)
  V_tauX <- sum((Y1 - Y0 - tau)^2) / N^2
  V_E <- sum((cnt$K^2 + 2 * cnt$K - cnt$KK) * sig2) / N^2
  V_ai <- V_tauX + V_E
  cvec <- colSums(f * (cov1 / p + cov0 / (1 - p))) / N
  cVc <- q_form(cvec, ps$Vtheta)
  V_adj <- V_ai - cVc
  list(estimand = "ATE", est = tau, V_ai = V_ai, se_ai = sqrt(V_ai),
       V_tauX = V_tauX, V_E = V_E, c = cvec, cVc = cVc,
       V_adj = V_adj, se_adj = if (V_adj > 0) sqrt(V_adj) else NA_real_,
       matches_min = min(lengths(J)), matches_max = max(lengths(J)))
})

# ATET:  V_adj = V_AI,t - c_t' Vtheta c_t + d' Vtheta d.
# Population (AI 2016 Thm 2 as reconstructed + derived, see notes):
#   c_t = A + B1 + B0,   d = dtau_t/dtheta = A + B1 - B0f, with
#   A  = E[X f (mubar(1,p) - mubar(0,p) - tau_t)] / E[p]
#   B1 = E[f cov(X, mu(1,X) | p)] / E[p]
#   B0 = E[f p/(1-p) cov(X, mu(0,X) | p)] / E[p] = E[p^2 cov(X, mu(0,X)|p)] / E[p]
#   B0f= E[f cov(X, mu(0,X) | p)] / E[p]
# variant "score" (default): A + B1 estimated jointly by
#   S = (1/N1) sum_{W=1} X_i (1 - p_i)(Y_i - Yhat_i(0) - tau_t)
#   c_t = S + B0hat,  d = S - B0fhat                          (consistent)
# variant "plugin": A estimated by A1 = (1/N1) sum_i X_i f_i (Yhat_i(1) - Yhat_i(0) - tau_t),
#   c_t = A1 + B1hat + B0hat,  d = A1                         (literal plug-in;
#   A1 is not consistent for A when cov(X, mu | p) != 0, see notes)
# variant "plugin_mux": c_t = A1 + B1hat + B0hat, d = A1 + B1hat - B0fhat
ai2016_atet <- function(pr, variant = c("score", "plugin", "plugin_mux")) {
  variant <- match.arg(variant)
  with(pr, {
    cnt <- ai_counts(J[i1], N)
    tau <- mean(Y[i1] - Y0[i1])
    V_tauX <- sum((Y[i1] - Y0[i1] - tau)^2) / N1^2
    V_E <- sum(((cnt$K^2 - cnt$KK) * sig2)[i0]) / N1^2
    V_ai <- V_tauX + V_E
    S <- colSums(X[i1, , drop = FALSE] * ((1 - p[i1]) * (Y[i1] - Y0[i1] - tau))) / N1
    A1 <- colSums(X * (f * (Y1 - Y0 - tau))) / N1
    B1 <- colSums(f * cov1) / N1
    B0 <- colSums(p^2 * cov0) / N1
    B0f <- colSums(f * cov0) / N1
    if (variant == "score") { ct <- S + B0; dt <- S - B0f }
    if (variant == "plugin") { ct <- A1 + B1 + B0; dt <- A1 }
    if (variant == "plugin_mux") { ct <- A1 + B1 + B0; dt <- A1 + B1 - B0f }
    cVc <- q_form(ct, ps$Vtheta); dVd <- q_form(dt, ps$Vtheta)
    V_adj <- V_ai - cVc + dVd
    list(estimand = "ATET", variant = variant, est = tau, V_ai = V_ai, se_ai = sqrt(V_ai),
         V_tauX = V_tauX, V_E = V_E, c_t = ct, dtau_dtheta = dt, cVc = cVc, dVd = dVd,
         V_adj = V_adj, se_adj = if (V_adj > 0) sqrt(V_adj) else NA_real_,
         pieces = list(S = S, A1 = A1, B1 = B1, B0 = B0, B0f = B0f),
         matches_min = min(lengths(J[i1])), matches_max = max(lengths(J[i1])))
  })
}
