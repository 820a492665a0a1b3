#!/usr/bin/env python3
"""Callaway & Sant'Anna on mpdta with analytic SEs clustered by state: diff-diff's values.

Produces tests/fixtures/mpdta_clustered_reference.json: ATT(g,t) cells, the simple overall
effect, the event-time and the group effects, each with its analytic cluster-robust SE.
The cluster is the state, countyreal // 1000 (the first two digits of the county FIPS code,
29 states); the test derives the same column. Setting: outcome lemp, unit countyreal, time year,
group first_treat (0 = never treated), no covariates, est_method "dr", never-treated comparison
units, varying base period, no bootstrap.

Rerun (from the repo root; the venv of py_csdid_reference.py):
  /tmp/venvs/all312/bin/python benches/peers/py_diffdiff_clustered.py
"""

import importlib.metadata as md_meta
import json
import platform
import warnings
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def main():
    from diff_diff import CallawaySantAnna

    warnings.filterwarnings("ignore")
    df = pd.read_csv(REPO / "tests/fixtures/mpdta.csv")
    df["state"] = df["countyreal"] // 1000
    cs = CallawaySantAnna(control_group="never_treated", estimation_method="dr", base_period="varying",
                          cluster="state", n_bootstrap=0)
    r = cs.fit(df, outcome="lemp", unit="countyreal", time="year", first_treat="first_treat",
               aggregate="all")
    pair = lambda d: {"att": float(d["effect"]), "se": float(d["se"])}
    document = {
        "description": "Callaway & Sant'Anna on mpdta (lemp, no covariates, dr, never-treated, varying "
                       "base), analytic SEs clustered by state = countyreal // 1000.",
        "generator": "benches/peers/py_diffdiff_clustered.py",
        "python": platform.python_version(),
        "library_versions": {p: md_meta.version(p) for p in ["diff-diff", "numpy", "pandas"]},
        "n_clusters": int(df["state"].nunique()),
        "cells": [{"group": int(g), "time": int(t), **pair(v)} for (g, t), v in r.group_time_effects.items()],
        "overall": {"att": float(r.overall_att), "se": float(r.overall_se)},
        "event": [{"e": int(e), **pair(v)} for e, v in r.event_study_effects.items()],
        "group": [{"group": int(g), **pair(v)} for g, v in r.group_effects.items()],
    }
    path = REPO / "tests/fixtures/mpdta_clustered_reference.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
