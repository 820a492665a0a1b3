#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# install_matchit.sh -- build MatchIt 4.7.x (and what Debian lacks) from
# source into a private R library, for benches/peers/r_matchit_reference.R.
#
# Why: Debian's r-cran-matchit (4.5.1) has known-wrong nearest-neighbour
# matching, and MatchIt >= 4.7 needs chk (not in Debian) and rlang >= 1.1.0
# (Debian bookworm ships 1.0.6). So these three are built from their GitHub
# sources; everything else comes from Debian.
#
# Usage:
#   benches/peers/install_matchit.sh MATCHIT_SRC CHK_SRC RLANG_SRC [LIB]
#     MATCHIT_SRC  unpacked source tree of kosukeimai/MatchIt
#                  (used: 4.7.2, commit bccb2fc)
#     CHK_SRC      unpacked source tree of poissonconsulting/chk (used: tag v0.10.0)
#     RLANG_SRC    unpacked source tree of r-lib/rlang (used: tag v1.1.4;
#                  any >= 1.1.0 that still supports the installed R works)
#     LIB          target library folder (default /root/R-lib)
#   A source tree is a plain checkout, e.g. from a bare clone:
#     mkdir -p /tmp/build/MatchIt && git --git-dir=MatchIt.git archive HEAD | tar -x -C /tmp/build/MatchIt
#     mkdir -p /tmp/build/chk && git --git-dir=chk.git archive v0.10.0 | tar -x -C /tmp/build/chk
#     mkdir -p /tmp/build/rlang && git --git-dir=rlang.git archive v1.1.4 | tar -x -C /tmp/build/rlang
#   (keep these outside the repository; never commit them).
#
# Then, from the repository root:
#   Rscript benches/peers/r_matchit_reference.R
#
# Steps (each also runnable by hand):
#   1. Debian packages: R, a C++ toolchain and MatchIt's Debian-available
#      dependencies, plus what the reference script uses.
#   2. R CMD INSTALL -l LIB  rlang, then chk, then MatchIt (in that order;
#      R_LIBS=LIB so later builds see the earlier ones). Installing from a
#      source directory does not build vignettes, so knitr/rmarkdown are not
#      needed.
#   3. A smoke test that LIB's MatchIt loads and is >= 4.7.
# ---------------------------------------------------------------------------
set -euo pipefail

if [ "$#" -lt 3 ]; then
  sed -n '2,40p' "$0" >&2
  exit 2
fi

MATCHIT_SRC=$1
CHK_SRC=$2
RLANG_SRC=$3
LIB=${4:-/root/R-lib}

for dir in "$MATCHIT_SRC" "$CHK_SRC" "$RLANG_SRC"; do
  if [ ! -f "$dir/DESCRIPTION" ]; then
    echo "not an R package source tree (no DESCRIPTION): $dir" >&2
    exit 1
  fi
done
grep -q '^Package: MatchIt' "$MATCHIT_SRC/DESCRIPTION" || { echo "$MATCHIT_SRC is not MatchIt" >&2; exit 1; }
grep -q '^Package: chk' "$CHK_SRC/DESCRIPTION" || { echo "$CHK_SRC is not chk" >&2; exit 1; }
grep -q '^Package: rlang' "$RLANG_SRC/DESCRIPTION" || { echo "$RLANG_SRC is not rlang" >&2; exit 1; }

# 1. Debian packages (R 4.2.2 on bookworm). Skip with SKIP_APT=1 if present.
if [ "${SKIP_APT:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends \
    r-base-core r-base-dev g++ make \
    r-cran-rcpp r-cran-rcppprogress r-cran-backports r-cran-lifecycle \
    r-cran-rlang r-cran-sandwich r-cran-jsonlite
fi

# 2. Build and install into LIB.
mkdir -p "$LIB"
export R_LIBS="$LIB"
R CMD INSTALL -l "$LIB" "$RLANG_SRC"
R CMD INSTALL -l "$LIB" "$CHK_SRC"
R CMD INSTALL -l "$LIB" "$MATCHIT_SRC"

# 3. Smoke test.
Rscript -e ".libPaths(c('$LIB', .libPaths()));
  suppressPackageStartupMessages(library(MatchIt));
  v <- packageVersion('MatchIt');
  if (v < '4.7.0') stop('MatchIt ', v, ' found; need >= 4.7.0');
  cat('MatchIt', as.character(v), 'from', find.package('MatchIt'),
      '| rlang', as.character(packageVersion('rlang')),
      '| chk', as.character(packageVersion('chk')), '\n')"
