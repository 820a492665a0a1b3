#!/usr/bin/env python3
"""Callaway & Sant'Anna with covariates on mpdta (conditional parallel trends), from moderndid.

Produces tests/fixtures/mpdta_covariates_reference.json: every ATT(g,t) with its analytic SE and the
simple and dynamic aggregates, for est_method "dr" (Sant'Anna & Zhao doubly robust, the R did
default), "reg" (outcome regression) and "ipw" (normalised inverse probability weighting), with
xformla ~ lpop, never-treated controls, varying base period, no anticipation, analytic SEs.

Rerun from the repository root with the Python 3.12 environment that has moderndid 0.4.1:
    python benches/peers/py_csdid_covariates.py
"""
import json
import importlib.metadata as md

import numpy as np
import pandas as pd
import moderndid

df = pd.read_csv("tests/fixtures/mpdta.csv")
out = {
    "generated_by": "benches/peers/py_csdid_covariates.py",
    "versions": {"moderndid": md.version("moderndid"), "numpy": np.__version__, "pandas": pd.__version__},
    "setting": "xformla ~lpop, control never treated, base period varying, anticipation 0, analytic SEs",
    "results": {},
}
for method in ["dr", "reg", "ipw"]:
    r = moderndid.att_gt(data=df, yname="lemp", tname="year", idname="countyreal", gname="first_treat",
                         xformla="~lpop", control_group="nevertreated", base_period="varying",
                         est_method=method, boot=False, cband=False, anticipation=0)
    block = {"att_gt": [{"group": int(g), "time": int(t), "att": float(a), "se": float(s)}
                        for g, t, a, s in zip(r.groups, r.times, r.att_gt, r.se_gt)]}
    for ty in ["simple", "dynamic"]:
        a = moderndid.aggte(r, type=ty, boot=False, cband=False)
        block[ty] = {"att": float(a.overall_att), "se": float(a.overall_se)}
    out["results"][method] = block
with open("tests/fixtures/mpdta_covariates_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps({m: out["results"][m]["simple"] for m in out["results"]}, indent=1))
