#!/usr/bin/env python3
"""Callaway & Sant'Anna on mpdta with one period of anticipation: moderndid's values.

Produces tests/fixtures/mpdta_anticipation_reference.json, in the layout of
mpdta_reference.json (py_csdid_reference.py): results["<control>/varying"]["moderndid"] with
the ATT(g,t) cells, the four aggregations and the Wald pre-test, analytic SEs.

Setting: outcome lemp, unit countyreal, time year, group first_treat (0 = never treated), no
covariates, est_method "dr", base_period "varying", anticipation 1, control group
"nevertreated" and "notyettreated", analytic influence-function SEs (no bootstrap).

Rerun (from the repo root; the venv of py_csdid_reference.py):
  /tmp/venvs/all312/bin/python benches/peers/py_moderndid_anticipation.py
"""

import importlib.metadata as md_meta
import json
import math
import platform
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[2]


def number(x):
    """float, or None for NaN / None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def block(df, control):
    import moderndid

    r = moderndid.att_gt(data=df, yname="lemp", tname="year", idname="countyreal", gname="first_treat",
                         xformla=None, control_group=control, base_period="varying", est_method="dr",
                         boot=False, cband=False, anticipation=1)
    out = {"att_gt": [], "aggregates": {}}
    for g, t, a, s in zip(r.groups, r.times, r.att_gt, r.se_gt):
        out["att_gt"].append({"group": int(g), "time": int(t), "att": float(a), "se": number(s)})
    out["wald_pretest"] = {"statistic": number(r.wald_stat), "p_value_rounded": number(r.wald_pvalue)}
    for kind in ["simple", "group", "dynamic", "calendar"]:
        a = moderndid.aggte(r, type=kind, boot=False, cband=False)
        entry = {"overall_att": number(a.overall_att), "overall_se": number(a.overall_se)}
        if kind != "simple":
            key = {"group": "group", "dynamic": "e", "calendar": "time"}[kind]
            entry["by"] = [{key: int(k), "att": number(v), "se": number(s)}
                           for k, v, s in zip(a.event_times, a.att_by_event, a.se_by_event)]
        out["aggregates"][kind] = entry
    return out


def main():
    df = pl.read_csv(REPO / "tests/fixtures/mpdta.csv")
    results = {f"{control}/varying": {"moderndid": block(df, control)}
               for control in ["nevertreated", "notyettreated"]}
    document = {
        "description": "Callaway & Sant'Anna ATT(g,t), aggregations and Wald pre-test on mpdta "
                       "(lemp, no covariates, est_method dr, varying base period) with anticipation = 1; "
                       "analytic influence-function SEs, unit-level clustering.",
        "generator": "benches/peers/py_moderndid_anticipation.py",
        "python": platform.python_version(),
        "library_versions": {p: md_meta.version(p) for p in ["moderndid", "numpy", "polars"]},
        "results": results,
    }
    path = REPO / "tests/fixtures/mpdta_anticipation_reference.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
