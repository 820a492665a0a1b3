#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# sc_r_install.sh -- build R `synthdid` (and R `Synth`) from source into a
# private R library, for benches/peers/sc_r_prop99.R and
# benches/peers/sc_r_synth_prop99.R.
#
# Why: neither synthdid nor Synth is packaged by Debian (there is no
# r-cran-synthdid / r-cran-synth), and neither is reachable through a package
# registry from this machine. Their dependencies ARE in Debian bookworm:
#   synthdid 0.0.9  Imports: mvtnorm            -> r-cran-mvtnorm 1.1-3
#   Synth 1.1-8     Imports: kernlab, optimx, rgenoud
#                   -> r-cran-kernlab 0.9-32, r-cran-optimx 2022-4.30,
#                      r-cran-rgenoud 5.9-0.3 (optimx pulls r-cran-numderiv)
# Both packages are pure R (NeedsCompilation: no), so the build is just
# R CMD INSTALL (a few seconds each).
#
# Usage:
#   benches/peers/sc_r_install.sh SYNTHDID_SRC [SYNTH_SRC] [LIB]
#     SYNTHDID_SRC  source of synth-inference/synthdid: either an unpacked
#                   source tree (has DESCRIPTION) or a (bare) git directory.
#                   Used: commit 70c1ce3eac58e28c30b67435ca377bb48baa9b8a
#                   (2024-01-15, "enhancing stopping criterion in
#                   sc.weight.fw.covariates (#117)"), Version 0.0.9.
#     SYNTH_SRC     source of Synth (CRAN release mirror cran/Synth), same
#                   forms. Used: commit 8e171751211b4ff3c8686933b412d05021799162
#                   ("version 1.1-8", CRAN 2023-06-02). Pass "-" or omit to
#                   skip Synth.
#     LIB           target library folder (default /root/R-lib)
#   For a git directory the pinned commit above is archived if the
#   repository has it (override with SYNTHDID_COMMIT= / SYNTH_COMMIT=),
#   else HEAD (with a warning). A source tree from a bare clone by hand:
#     mkdir -p /tmp/build/synthdid && git --git-dir=synthdid.git archive 70c1ce3 | tar -x -C /tmp/build/synthdid
#   Keep sources outside the repository; never commit them.
#
# Idempotent: the Debian step installs only missing packages (skip it with
# SKIP_APT=1); R CMD INSTALL replaces an existing installation in LIB; a
# package whose installed copy already records the same source tree hash
# (LIB/<pkg>/SC_R_SOURCE) is skipped unless FORCE=1.
#
# Then, from the repository root:
#   Rscript benches/peers/sc_r_prop99.R          # synthdid / SC / DiD
#   Rscript benches/peers/sc_r_synth_prop99.R    # ADH Synth (needs Synth)
# ---------------------------------------------------------------------------
set -euo pipefail

if [ "$#" -lt 1 ]; then
  sed -n '2,45p' "$0" >&2
  exit 2
fi

SYNTHDID_SRC=$1
SYNTH_SRC=${2:--}
LIB=${3:-/root/R-lib}
SYNTHDID_COMMIT=${SYNTHDID_COMMIT:-70c1ce3eac58e28c30b67435ca377bb48baa9b8a}
SYNTH_COMMIT=${SYNTH_COMMIT:-8e171751211b4ff3c8686933b412d05021799162}

WORK=$(mktemp -d /tmp/sc_r_install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Turn SRC (source tree or git dir) into a source tree; print its path.
as_tree() {
  local src=$1 name=$2 commit=$3
  if [ -f "$src/DESCRIPTION" ]; then
    echo "$src"; return
  fi
  if git --git-dir="$src" rev-parse --git-dir >/dev/null 2>&1 ||
     git --git-dir="$src/.git" rev-parse --git-dir >/dev/null 2>&1; then
    local gd=$src
    [ -d "$src/.git" ] && gd=$src/.git
    local rev=$commit
    if ! git --git-dir="$gd" cat-file -e "$commit^{commit}" 2>/dev/null; then
      echo "warning: $name commit $commit not in $gd; using HEAD" >&2
      rev=HEAD
    fi
    mkdir -p "$WORK/$name"
    git --git-dir="$gd" archive "$rev" | tar -x -C "$WORK/$name"
    echo "$WORK/$name"; return
  fi
  echo "not an R source tree or git directory: $src" >&2
  exit 1
}

# 1. Debian packages (R 4.2.2 on bookworm): only what is missing.
DEB_PKGS="r-base-core r-cran-jsonlite r-cran-mvtnorm"
[ "$SYNTH_SRC" != "-" ] && DEB_PKGS="$DEB_PKGS r-cran-kernlab r-cran-optimx r-cran-rgenoud r-cran-numderiv"
if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=""
  for p in $DEB_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends $missing
  fi
fi

mkdir -p "$LIB"
export R_LIBS="$LIB"

# 2. Build and install a package source tree into LIB (skip if unchanged).
install_pkg() {
  local tree=$1 pkg=$2
  grep -q "^Package: $pkg\$" "$tree/DESCRIPTION" || { echo "$tree is not $pkg" >&2; exit 1; }
  local hash
  hash=$(cd "$tree" && find DESCRIPTION NAMESPACE R data -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
  if [ "${FORCE:-0}" != 1 ] && [ -f "$LIB/$pkg/SC_R_SOURCE" ] && [ "$(cat "$LIB/$pkg/SC_R_SOURCE")" = "$hash" ]; then
    echo "$pkg: already installed from this source ($hash), skipping"
    return
  fi
  R CMD INSTALL --no-docs --no-multiarch -l "$LIB" "$tree"
  echo "$hash" > "$LIB/$pkg/SC_R_SOURCE"
}

install_pkg "$(as_tree "$SYNTHDID_SRC" synthdid "$SYNTHDID_COMMIT")" synthdid
if [ "$SYNTH_SRC" != "-" ]; then
  install_pkg "$(as_tree "$SYNTH_SRC" Synth "$SYNTH_COMMIT")" Synth
fi

# 3. Smoke test.
Rscript -e ".libPaths(c('$LIB', .libPaths()));
  suppressPackageStartupMessages(library(synthdid));
  cat('synthdid', as.character(packageVersion('synthdid')), 'from', find.package('synthdid'),
      '| mvtnorm', as.character(packageVersion('mvtnorm')), '\n');
  if ('$SYNTH_SRC' != '-') {
    suppressPackageStartupMessages(library(Synth));
    cat('Synth', as.character(packageVersion('Synth')), 'from', find.package('Synth'),
        '| kernlab', as.character(packageVersion('kernlab')),
        '| optimx', as.character(packageVersion('optimx')),
        '| rgenoud', as.character(packageVersion('rgenoud')), '\n')
  }"
