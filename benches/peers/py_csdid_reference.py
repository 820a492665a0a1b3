#!/usr/bin/env python3
"""Callaway & Sant'Anna (2021) reference values on mpdta from Python peers.

Produces tests/fixtures/mpdta_reference.json (full-precision doubles; Python's
json writes the shortest repr that round-trips, i.e. every bit of the double).

Setting (the R `did` package defaults except for the bootstrap):
  outcome lemp, unit countyreal, time year, group first_treat (0 = never treated),
  no covariates (xformla ~1), est_method "dr" (reduces to unconditional 2x2
  difference-in-means comparisons without covariates), panel, no anticipation,
  base_period "varying" (primary) and "universal" (secondary block),
  control group "nevertreated" and "notyettreated",
  ANALYTIC standard errors from the influence function (no bootstrap),
  unit-level (countyreal) clustering = the default panel influence function.

Peers (all installed in ONE Python 3.12 venv; moderndid >= 0.3 needs Python >= 3.12):
  moderndid   0.4.1   (port of R did; the reference we trust most)
  csdid       0.4.3
  differences 0.3.0
  diff-diff   3.13.0
  with numpy 2.5.5, pandas 3.1.1, scipy 1.18.1, polars 2.1.0, statsmodels 0.15.0,
  formulaic 1.2.2 (pip resolution on the day this file was written).
A fifth block, "numpy_formulas", is an independent re-implementation of the
did-package formulas in plain numpy (no peer code), used to verify the
conventions written down for the Rust implementation.

How to rerun (from the repo root):
  python3.12 -m venv /tmp/venvs/all312
  /tmp/venvs/all312/bin/pip install csdid==0.4.3 differences==0.3.0 \
      diff-diff==3.13.0 moderndid==0.4.1
  /tmp/venvs/all312/bin/python benches/peers/py_csdid_reference.py \
      [--data tests/fixtures/mpdta.csv] [--out tests/fixtures/mpdta_reference.json]
A package that is not importable is recorded as {"error": ...} and skipped.

Published did-package values on this example (never-treated, varying base):
  Wald pre-test p = 0.16812; aggregates simple -0.0400, dynamic -0.0772,
  group -0.0310, calendar -0.0417.
"""

import argparse
import contextlib
import importlib.metadata as md_meta
import io
import json
import math
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
CONTROL_GROUPS = ["nevertreated", "notyettreated"]
BASE_PERIODS = ["varying", "universal"]


def fnum(x):
    """float or None (NaN / None -> None)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def version(dist):
    try:
        return md_meta.version(dist)
    except md_meta.PackageNotFoundError:
        return None


def empty_block(package, cg, bp):
    return {
        "package": package,
        "version": version(package) if package != "numpy_formulas" else None,
        "control_group": cg,
        "base_period": bp,
        "se_type": "analytic",
        "att_gt": [],  # [{"group", "time", "att", "se"}]
        "aggregates": {
            "simple": {"overall_att": None, "overall_se": None},
            "group": {"overall_att": None, "overall_se": None, "by": []},
            "dynamic": {"overall_att": None, "overall_se": None, "by": []},
            "calendar": {"overall_att": None, "overall_se": None, "by": []},
        },
        "wald_pretest": {"stat": None, "df": None, "p_value": None, "p_value_as_reported": None},
        "notes": [],
    }


def wald_from(W, q, reported=None):
    return {
        "stat": fnum(W),
        "df": int(q),
        # full-precision p from the package's own statistic: 1 - pchisq(W, q)
        "p_value": float(stats.chi2.sf(float(W), int(q))),
        "p_value_as_reported": fnum(reported),
    }


# --------------------------------------------------------------------------
# numpy re-implementation of the did-package formulas (no covariates, panel)
# --------------------------------------------------------------------------
def numpy_formulas(df, cg, bp, anticipation=0):
    wide = df.pivot(index="countyreal", columns="year", values="lemp").sort_index()
    G = df.groupby("countyreal")["first_treat"].first().loc[wide.index].to_numpy()
    Y = wide.to_numpy()
    tlist = np.array(wide.columns)
    n = len(G)
    glist = np.sort(np.unique(G[G > 0]))

    cells, ifs = [], []
    for g in glist:
        pre_idx = np.where(tlist + anticipation < g)[0]
        pret_g = pre_idx[-1]
        t_range = range(1, len(tlist)) if bp == "varying" else range(len(tlist))
        for ti in t_range:
            cur = tlist[ti]
            post = g <= cur
            if bp == "varying" and not post:
                base_i = ti - 1          # short (adjacent) difference
            else:
                base_i = pret_g          # long difference from g-1-anticipation
            base = tlist[base_i]
            if base == cur:              # universal reference cell: 0 by construction
                cells.append((g, cur, 0.0, True))
                ifs.append(np.zeros(n))
                continue
            D = G == g
            if cg == "nevertreated":
                C = G == 0
            else:
                thr = max(cur, base) + anticipation
                C = (G == 0) | ((G > thr) & (G != g))
            dy = Y[:, ti] - Y[:, base_i]
            m1, m0 = dy[D].mean(), dy[C].mean()
            att = m1 - m0
            # influence function on the full sample of n units (zero outside D u C):
            # psi_i = n * [ D_i (dy_i - m1)/n_D - C_i (dy_i - m0)/n_C ]
            psi = np.zeros(n)
            psi[D] = n * (dy[D] - m1) / D.sum()
            psi[C] = -n * (dy[C] - m0) / C.sum()
            cells.append((g, cur, att, False))
            ifs.append(psi)
    group = np.array([c[0] for c in cells], dtype=float)
    tt = np.array([c[1] for c in cells], dtype=float)
    att = np.array([c[2] for c in cells])
    ref = np.array([c[3] for c in cells])
    IF = np.column_stack(ifs)                      # n x K
    V = IF.T @ IF / n
    se = np.sqrt(np.diag(V) / n)
    se_out = np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)

    pg_all = np.array([np.mean(G == g) for g in glist])
    pg = pg_all[np.searchsorted(glist, group)]

    def wif(keepers, pgv, grp):
        S = pgv[keepers].sum()
        centered = np.column_stack([(G == grp[k]).astype(float) - pgv[k] for k in keepers])
        return centered / S - np.outer(centered.sum(axis=1), pgv[keepers] / S**2)

    def agg_if(attv, IFm, keep, w, wf=None):
        out = IFm[:, keep] @ w
        if wf is not None:
            out = out + wf @ attv[keep]
        return out

    def getse(f):
        return float(np.sqrt(np.mean(f**2) / n))

    b = empty_block("numpy_formulas", cg, bp)
    b["version"] = f"numpy {np.__version__}"
    for g, t, a, s in zip(group, tt, att, se_out):
        b["att_gt"].append({"group": int(g), "time": int(t), "att": float(a), "se": fnum(s)})

    keepers = np.where(group <= tt)[0]
    simple = (att[keepers] * pg[keepers]).sum() / pg[keepers].sum()
    f = agg_if(att, IF, keepers, pg[keepers] / pg[keepers].sum(), wif(keepers, pg, group))
    b["aggregates"]["simple"] = {"overall_att": float(simple), "overall_se": getse(f)}

    att_g, if_g = [], []
    for g in glist:
        w = np.where((group == g) & (g <= tt))[0]
        att_g.append(att[w].mean())
        if_g.append(agg_if(att, IF, w, pg[w] / pg[w].sum()))
    att_g, IFg = np.array(att_g), np.column_stack(if_g)
    kk = np.arange(len(glist))
    f = agg_if(att_g, IFg, kk, pg_all / pg_all.sum(), wif(kk, pg_all, glist))
    b["aggregates"]["group"] = {
        "overall_att": float((att_g * pg_all).sum() / pg_all.sum()), "overall_se": getse(f),
        "by": [{"group": int(g), "att": float(a), "se": getse(IFg[:, i])} for i, (g, a) in enumerate(zip(glist, att_g))],
    }

    eseq = np.unique(tt - group)
    att_e, if_e = [], []
    for e in eseq:
        w = np.where(tt - group == e)[0]
        att_e.append((att[w] * pg[w]).sum() / pg[w].sum())
        if_e.append(agg_if(att, IF, w, pg[w] / pg[w].sum(), wif(w, pg, group)))
    att_e, IFe = np.array(att_e), np.column_stack(if_e)
    epos = np.where(eseq >= 0)[0]
    f = agg_if(att_e, IFe, epos, np.full(len(epos), 1 / len(epos)))
    by = []
    for i, e in enumerate(eseq):
        s = getse(IFe[:, i])
        by.append({"e": int(e), "att": float(att_e[i]), "se": None if s <= np.sqrt(np.finfo(float).eps) * 10 else s})
    b["aggregates"]["dynamic"] = {"overall_att": float(att_e[epos].mean()), "overall_se": getse(f), "by": by}

    ctl = [t for t in tlist if t >= group.min() and np.any((tt == t) & (group <= tt))]
    att_c, if_c = [], []
    for t1 in ctl:
        w = np.where((tt == t1) & (group <= tt))[0]
        att_c.append((att[w] * pg[w]).sum() / pg[w].sum())
        if_c.append(agg_if(att, IF, w, pg[w] / pg[w].sum(), wif(w, pg, group)))
    att_c, IFc = np.array(att_c), np.column_stack(if_c)
    kk = np.arange(len(ctl))
    f = agg_if(att_c, IFc, kk, np.full(len(ctl), 1 / len(ctl)))
    b["aggregates"]["calendar"] = {
        "overall_att": float(att_c.mean()), "overall_se": getse(f),
        "by": [{"time": int(t), "att": float(a), "se": getse(IFc[:, i])} for i, (t, a) in enumerate(zip(ctl, att_c))],
    }

    pre = np.where((group > tt) & ~np.isnan(se_out))[0]
    preatt, preV = att[pre], V[np.ix_(pre, pre)]
    W = n * preatt @ np.linalg.solve(preV, preatt)
    b["wald_pretest"] = wald_from(W, len(pre))
    b["notes"].append("Independent numpy implementation of the R did formulas (see /tmp/notes/did_conventions.md).")
    # kept for cross-checks in main(), not written to JSON
    b["_IF"], b["_V"], b["_ids"] = IF, V, wide.index.to_numpy()
    return b


# --------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------
def run_moderndid(df, cg, bp):
    import moderndid

    b = empty_block("moderndid", cg, bp)
    r = moderndid.att_gt(data=df, yname="lemp", tname="year", idname="countyreal", gname="first_treat",
                         xformla=None, control_group=cg, base_period=bp, est_method="dr",
                         boot=False, cband=False, anticipation=0)
    for g, t, a, s in zip(r.groups, r.times, r.att_gt, r.se_gt):
        b["att_gt"].append({"group": int(g), "time": int(t), "att": float(a), "se": fnum(s)})
    q = int(np.sum((np.asarray(r.groups) > np.asarray(r.times)) & ~np.isnan(np.asarray(r.se_gt, dtype=float))))
    b["wald_pretest"] = wald_from(r.wald_stat, q, r.wald_pvalue)
    for ty in ["simple", "group", "dynamic", "calendar"]:
        a = moderndid.aggte(r, type=ty, boot=False, cband=False)
        d = {"overall_att": fnum(a.overall_att), "overall_se": fnum(a.overall_se)}
        if ty != "simple":
            key = {"group": "group", "dynamic": "e", "calendar": "time"}[ty]
            d["by"] = [{key: int(k), "att": fnum(v), "se": fnum(s)}
                       for k, v, s in zip(a.event_times, a.att_by_event, a.se_by_event)]
        b["aggregates"][ty] = d
    b["notes"].append("att_gt(boot=False, cband=False); aggte(type, boot=False, cband=False). "
                      "Package rounds its Wald p-value to 5 digits (as R does); p_value recomputed from its W.")
    b["_IF"], b["_V"] = np.asarray(r.influence_func), np.asarray(r.vcov_analytical)
    return b


def run_csdid(df, cg, bp):
    from csdid.att_gt import ATTgt

    b = empty_block("csdid", cg, bp)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        m = ATTgt(yname="lemp", tname="year", idname="countyreal", gname="first_treat", data=df,
                  control_group=cg, xformla=None, anticipation=0, cband=False)
        m.fit(est_method="dr", base_period=bp, bstrap=False)
        res = m.results
        for g, t, a, s in zip(res["group"], res["year"], res["att"], res["se"]):
            b["att_gt"].append({"group": int(g), "time": int(t), "att": float(a), "se": fnum(s)})
        if m.MP["W"] is not None:
            grp, yr = np.asarray(res["group"], float), np.asarray(res["year"], float)
            q = int(np.sum((grp > yr) & ~np.isnan(np.asarray(res["se"], float))))
            b["wald_pretest"] = wald_from(m.MP["W"], q, m.MP["Wpval"])
        for ty in ["simple", "group", "dynamic", "calendar"]:
            a = m.aggte(typec=ty, bstrap=False, cband=False).atte
            d = {"overall_att": fnum(a["overall_att"]), "overall_se": fnum(a["overall_se"])}
            if ty != "simple":
                key = {"group": "group", "dynamic": "e", "calendar": "time"}[ty]
                d["by"] = [{key: int(k), "att": fnum(v), "se": fnum(s)}
                           for k, v, s in zip(a["egt"], a["att_egt"], a["se_egt"])]
            b["aggregates"][ty] = d
    b["notes"].append("ATTgt(..., cband=False).fit(est_method='dr', base_period, bstrap=False); "
                      "aggte(typec, bstrap=False, cband=False). Wald p rounded to 5 digits by the package.")
    return b


def run_differences(df, cg, bp):
    from differences import ATTgt
    from differences.models.attgt.utility_ntl import (filter_ntl, get_att_from_ntl, get_vcv_from_if,
                                                      stack_influence_funcs, wald_pre_test)

    b = empty_block("differences", cg, bp)
    d = df.copy()
    d["cohort"] = np.where(d.first_treat == 0, np.nan, d.first_treat)  # package wants NaN for never-treated
    d = d.set_index(["countyreal", "year"])
    att = ATTgt(data=d, cohort_column="cohort", base_period=bp, anticipation=0)
    res = att.fit(formula="lemp", est_method="dr",
                  control_group={"nevertreated": "never_treated", "notyettreated": "not_yet_treated"}[cg],
                  progress_bar=False, boot_iterations=0)
    res = att.results().reset_index()  # fit() returns an ATTgtResult; results() is the DataFrame
    res.columns = ["_".join(str(x) for x in c if str(x)).strip("_") if isinstance(c, tuple) else c for c in res.columns]
    acol = [c for c in res.columns if c.endswith("ATT")][0]
    scol = [c for c in res.columns if c.endswith("std_error")][0]
    for _, row in res.iterrows():
        b["att_gt"].append({"group": int(row["cohort"]), "time": int(row["time"]),
                            "att": float(row[acol]), "se": fnum(row[scol])})
    b["att_gt"].sort(key=lambda c: (c["group"], c["time"]))

    # The public ATTgt.wald_pre_test() raises TypeError in 0.3.0 (calls results(sample_name=...)).
    # Use the package's own helpers on the fitted named tuples instead.
    ntl = att._result_dict["full_sample"]["ATTgt_ntl"]
    rounded = wald_pre_test(ntl)
    pre_ntl = filter_ntl(ntl=ntl, pre=True, non_zero_influence_func=True)
    pre_att = np.array(get_att_from_ntl(pre_ntl))
    pre_vcv, n = get_vcv_from_if(inf_funcs=stack_influence_funcs(pre_ntl), return_n_obs=True)
    W = n * pre_att.T @ np.linalg.inv(pre_vcv) @ pre_att
    b["wald_pretest"] = wald_from(W, len(pre_ntl), rounded["p_value"])

    def frame(ty, overall):
        x = att.aggregate(ty, overall=overall).reset_index()
        x.columns = ["_".join(str(y) for y in c if str(y)).strip("_") if isinstance(c, tuple) else c for c in x.columns]
        return x

    def cols(x):
        return [c for c in x.columns if c.endswith("ATT")][0], [c for c in x.columns if c.endswith("std_error")][0]

    x = frame("simple", False)
    a, s = cols(x)
    b["aggregates"]["simple"] = {"overall_att": float(x[a].iloc[0]), "overall_se": float(x[s].iloc[0])}
    for ty, ours, key, idx in [("cohort", "group", "group", "cohort"), ("event", "dynamic", "e", "relative_period"),
                               ("time", "calendar", "time", "time")]:
        x = frame(ty, False)
        a, s = cols(x)
        o = frame(ty, True)
        oa, os_ = cols(o)
        b["aggregates"][ours] = {
            "overall_att": float(o[oa].iloc[0]), "overall_se": float(o[os_].iloc[0]),
            "by": [{key: int(r[idx]), "att": float(r[a]), "se": fnum(r[s])} for _, r in x.iterrows()],
        }
    b["notes"].append("ATTgt(data, cohort_column, base_period).fit('lemp', est_method='dr', control_group); "
                      "aggregate(type, overall). Public wald_pre_test() is broken in 0.3.0 (TypeError); W recomputed "
                      "with the package's own utility_ntl helpers; its helper rounds W and p to 6 digits.")
    return b


def run_diffdiff(df, cg, bp):
    from diff_diff import CallawaySantAnna

    b = empty_block("diff-diff", cg, bp)
    cs = CallawaySantAnna(control_group={"nevertreated": "never_treated", "notyettreated": "not_yet_treated"}[cg],
                          estimation_method="dr", base_period=bp, n_bootstrap=0, anticipation=0)
    r = cs.fit(df, outcome="lemp", unit="countyreal", time="year", first_treat="first_treat")
    gt = r.to_dataframe("group_time")
    for _, row in gt.iterrows():
        b["att_gt"].append({"group": int(row["group"]), "time": int(row["time"]),
                            "att": fnum(row["effect"]), "se": fnum(row["se"])})
    s = r.aggregate("simple")
    b["aggregates"]["simple"] = {"overall_att": np.asarray(s.att, float).item(),
                                 "overall_se": np.asarray(s.se, float).item()}
    g = r.aggregate("group")
    b["aggregates"]["group"] = {"overall_att": None, "overall_se": None,
                                "by": [{"group": int(k), "att": float(a), "se": fnum(se)}
                                       for k, a, se in zip(g.label, g.att, g.se)]}
    es = r.aggregate("event_study")
    et = np.asarray(es.event_time)
    by = [{"e": int(e), "att": fnum(a), "se": fnum(se)} for e, a, se in zip(et, es.att, es.se)]
    # Derived: R's dynamic overall = mean of ES(e), e >= 0, whose IF is the mean of the ES(e) IFs (no wif),
    # so its SE is sqrt(w' V w) with the package's event-study vcov (V already divided by n).
    vidx = list(np.asarray(es.vcov_index))
    post = [e for e in vidx if e >= 0]
    w = np.array([1.0 / len(post) if e >= 0 else 0.0 for e in vidx])
    dyn_att = float(np.mean([d["att"] for d in by if d["e"] >= 0]))
    dyn_se = float(np.sqrt(w @ np.asarray(es.vcov) @ w))
    b["aggregates"]["dynamic"] = {"overall_att": dyn_att, "overall_se": dyn_se, "overall_derived": True, "by": by}
    b["aggregates"]["calendar"] = {"overall_att": None, "overall_se": None, "by": []}
    b["notes"] += [
        "CallawaySantAnna(control_group, estimation_method='dr', base_period, n_bootstrap=0).fit(...); "
        "results.aggregate('simple'|'group'|'event_study').",
        "No calendar aggregation (aggregate('calendar') raises ValueError: not implemented for this estimator).",
        "No group-overall aggregate (aggregate('group') returns only the per-group effects).",
        "Dynamic overall is NOT reported by the package; derived here as mean(ES(e), e>=0) with SE sqrt(w'Vw) "
        "from the package's event_study vcov.",
        "No Wald pre-test of parallel trends for CallawaySantAnna results.",
    ]
    return b


PEERS = [("moderndid", run_moderndid), ("csdid", run_csdid), ("differences", run_differences),
         ("diff-diff", run_diffdiff)]


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------
def flatten(b):
    out = {}
    for c in b["att_gt"]:
        out[f"att_gt[{c['group']},{c['time']}].att"] = c["att"]
        out[f"att_gt[{c['group']},{c['time']}].se"] = c["se"]
    for ty, d in b["aggregates"].items():
        out[f"{ty}.overall.att"] = d.get("overall_att")
        out[f"{ty}.overall.se"] = d.get("overall_se")
        for r in d.get("by", []):
            k = [v for kk, v in r.items() if kk not in ("att", "se")][0]
            out[f"{ty}[{k}].att"] = r["att"]
            out[f"{ty}[{k}].se"] = r["se"]
    w = b["wald_pretest"]
    out["wald.stat"], out["wald.df"], out["wald.p_value"] = w["stat"], w["df"], w["p_value"]
    return out


def compare(blocks, ref_name="numpy_formulas", tol=1e-9):
    flat = {b["package"]: flatten(b) for b in blocks if "error" not in b}
    ref = flat.get(ref_name, {})
    keys = sorted(set().union(*[set(f) for f in flat.values()]))
    rows, missing = [], []
    for k in keys:
        vals = {p: f.get(k) for p, f in flat.items()}
        have = {p: v for p, v in vals.items() if v is not None}
        miss = sorted(p for p, v in vals.items() if v is None)
        if miss and k in ref and ref[k] is not None:
            missing.append({"quantity": k, "not_reported_by": miss})
        if len(have) < 2:
            continue
        r = ref.get(k)
        devs = {p: (v - r) for p, v in have.items()} if r is not None else {}
        spread = max(have.values()) - min(have.values())
        rows.append({"quantity": k, "values": have, "max_abs_spread": spread,
                     "deviation_from_numpy_formulas": devs})
    return {
        "reference_for_deviations": ref_name,
        "tolerance": tol,
        "max_abs_spread_over_all_quantities": max((r["max_abs_spread"] for r in rows), default=None),
        "disagreements": [r for r in rows if r["max_abs_spread"] > tol],
        "all": [{"quantity": r["quantity"], "max_abs_spread": r["max_abs_spread"]} for r in rows],
        "not_reported": missing,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO / "tests/fixtures/mpdta.csv"))
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/mpdta_reference.json"))
    args = ap.parse_args()
    df = pd.read_csv(args.data)
    warnings.simplefilter("ignore")

    out = {
        "description": "Callaway & Sant'Anna (2021) ATT(g,t), aggregations (analytic IF-based SEs, unit-level "
                       "clustering) and Wald pre-test on mpdta (lemp, no covariates, est_method dr, anticipation 0).",
        "generator": "benches/peers/py_csdid_reference.py",
        "python": platform.python_version(),
        "library_versions": {p: version(p) for p in ["moderndid", "csdid", "differences", "diff-diff", "numpy",
                                                     "pandas", "scipy", "polars", "statsmodels", "formulaic"]},
        "data": {"file": "tests/fixtures/mpdta.csv", "n_units": int(df.countyreal.nunique()),
                 "years": sorted(int(y) for y in df.year.unique())},
        "published_did_values": {"control_group": "nevertreated", "base_period": "varying",
                                 "wald_p_value": 0.16812, "simple": -0.0400, "dynamic": -0.0772,
                                 "group": -0.0310, "calendar": -0.0417},
        "results": {},
        "comparison": {},
        "cross_checks": {},
    }
    for bp in BASE_PERIODS:
        for cg in CONTROL_GROUPS:
            key = f"{cg}/{bp}"
            blocks = [numpy_formulas(df, cg, bp)]
            for name, fn in PEERS:
                try:
                    blocks.append(fn(df, cg, bp))
                except Exception as e:  # record and continue
                    print(f"!! {name} failed on {key}: {type(e).__name__}: {e}", file=sys.stderr)
                    blocks.append({"package": name, "version": version(name), "control_group": cg,
                                   "base_period": bp, "error": f"{type(e).__name__}: {e}"})
            # cross-check the numpy influence function against moderndid's IF (order-invariant: V = IF'IF/n)
            npb = blocks[0]
            mdb = next((b for b in blocks if b["package"] == "moderndid" and "_V" in b), None)
            if mdb is not None:
                Vn, Vm = npb["_V"], mdb["_V"]
                colsort = lambda M: np.sort(M, axis=0)
                out["cross_checks"][key] = {
                    "max_abs_diff_V_numpy_vs_moderndid": float(np.max(np.abs(Vn - Vm))),
                    "max_abs_diff_sorted_IF_columns_numpy_vs_moderndid":
                        float(np.max(np.abs(colsort(npb["_IF"]) - colsort(mdb["_IF"])))),
                    "IF_mean_abs_max_numpy": float(np.max(np.abs(npb["_IF"].mean(axis=0)))),
                }
            for b in blocks:
                for k in [k for k in b if k.startswith("_")]:
                    del b[k]
            out["results"][key] = {b["package"]: b for b in blocks}
            out["comparison"][key] = compare(blocks)

    Path(args.out).write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")

    # human-readable summary
    for key, comp in out["comparison"].items():
        print(f"== {key}: max |spread| over all reported quantities = {comp['max_abs_spread_over_all_quantities']:.3e}")
        for r in comp["disagreements"]:
            vals = ", ".join(f"{p}={v:.10g}" for p, v in r["values"].items())
            print(f"   DISAGREE {r['quantity']}: spread {r['max_abs_spread']:.3e}  ({vals})")
        miss = {}
        for m in comp["not_reported"]:
            for p in m["not_reported_by"]:
                miss.setdefault(p, []).append(m["quantity"])
        for p, qs in miss.items():
            print(f"   {p} does not report {len(qs)} quantities: {', '.join(qs[:6])}{' ...' if len(qs) > 6 else ''}")
    print("cross-checks:", json.dumps(out["cross_checks"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
