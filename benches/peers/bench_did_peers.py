#!/usr/bin/env python3
"""Time one Python Callaway-Sant'Anna peer on one panel CSV, or compare results with cominev.

Used by benches/peers/run_did_peers.sh (which runs every call in its own process under
`timeout` and `ulimit -v`). Needs the Python 3.12 venv with the peers, e.g.

  python3.12 -m venv /tmp/venvs/all312
  /tmp/venvs/all312/bin/pip install moderndid==0.4.1 csdid==0.4.3 differences==0.3.0 diff-diff==3.13.0

Sub-commands

  run --tool T --csv panel_N.csv --mode analytic|boot --out peer.json [--biters 999] [--seed S] [--jobs J]
      Times, in this order and inside one process:
        t_read   reading the CSV (polars for moderndid, which takes Arrow-backed frames natively;
                 pandas.read_csv for csdid, differences and diff-diff, which need pandas)
        t_est    ATT(g,t) + the simple and the dynamic (event-study) aggregation, with analytic SEs
                 (mode analytic) or with the package's multiplier bootstrap (mode boot, --biters
                 draws, uniform bands where the package offers them, as cominev computes them),
                 including any reshaping the package needs (e.g. differences' index / NaN cohort).
      Setting, for every tool: no covariates, never-treated controls, varying base period,
      est_method "dr" (= difference in means without covariates), anticipation 0,
      unit-level influence functions (no clustering beyond the unit).
      Writes JSON: timings, versions, and the estimates (ATT(g,t) with SE, simple overall,
      dynamic overall, event-time effects), taken from the package's result objects.
      The import of the package is timed separately (t_import) and is not in t_read / t_est.

  compare --cominev out.json --peer peer.json [--analytic cominev_analytic.json]
      Prints JSON with the largest absolute difference from cominev of the point estimates
      and of the SEs over ATT(g,t), the simple overall (cominev "overall"), the dynamic overall
      (cominev "event:overall") and the event-time rows ("event:e"). With --analytic (for bootstrap
      runs, whose SEs are Monte Carlo estimates from different random draws), also the largest
      relative deviation of cominev's and of the peer's bootstrap SEs from cominev's analytic SEs.
"""

import argparse
import contextlib
import importlib.metadata as md_meta
import io
import json
import math
import os
import sys
import time
import warnings

TOOLS = ["moderndid", "csdid", "differences", "diff-diff"]


def fnum(x):
    if x is None:
        return None
    try:
        import numpy as np
        x = np.asarray(x, dtype=float).ravel()
        if x.size != 1:
            return None
        x = x[0]
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def version(dist):
    try:
        return md_meta.version(dist)
    except md_meta.PackageNotFoundError:
        return None


def empty_result():
    return {"att_gt": [], "simple": {"att": None, "se": None}, "dynamic": {"att": None, "se": None},
            "event": [], "notes": []}


# --------------------------------------------------------------------------------------- peers
# Each runner: (csv, boot, biters, seed, jobs) -> (t_read, t_est, result)

def run_moderndid(csv, boot, biters, seed, jobs):
    import moderndid
    import numpy as np
    import polars as pl

    t0 = time.perf_counter()
    df = pl.read_parquet(csv) if csv.endswith(".parquet") else pl.read_csv(csv)
    t1 = time.perf_counter()
    r = moderndid.att_gt(data=df, yname="y", tname="period", idname="unit", gname="first_treated",
                         xformla=None, control_group="nevertreated", base_period="varying", est_method="dr",
                         anticipation=0, boot=boot, biters=biters, cband=boot, random_state=seed, n_jobs=jobs)
    kw = dict(boot=boot, biters=biters, cband=boot, random_state=seed)
    a_simple = moderndid.aggte(r, type="simple", **kw)
    a_dyn = moderndid.aggte(r, type="dynamic", **kw)
    t2 = time.perf_counter()

    out = empty_result()
    for g, t, a, s in zip(r.groups, r.times, r.att_gt, r.se_gt):
        out["att_gt"].append({"g": int(g), "t": int(t), "att": fnum(a), "se": fnum(s)})
    out["simple"] = {"att": fnum(a_simple.overall_att), "se": fnum(a_simple.overall_se)}
    out["dynamic"] = {"att": fnum(a_dyn.overall_att), "se": fnum(a_dyn.overall_se)}
    out["event"] = [{"e": int(e), "att": fnum(a), "se": fnum(s)}
                    for e, a, s in zip(a_dyn.event_times, a_dyn.att_by_event, a_dyn.se_by_event)]
    out["notes"].append(f"att_gt(est_method='dr', boot={boot}, biters={biters}, cband={boot}, n_jobs={jobs}); "
                        f"aggte(type='simple'|'dynamic', boot={boot}, cband={boot}); data read with polars")
    return t1 - t0, t2 - t1, out


def run_csdid(csv, boot, biters, seed, jobs):
    import numpy as np
    import pandas as pd
    from csdid.att_gt import ATTgt

    if seed is not None:
        np.random.seed(seed)  # csdid draws from numpy's global RNG
    t0 = time.perf_counter()
    df = pd.read_parquet(csv) if csv.endswith(".parquet") else pd.read_csv(csv)
    t1 = time.perf_counter()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):  # csdid prints its tables
        m = ATTgt(yname="y", tname="period", idname="unit", gname="first_treated", data=df,
                  control_group="nevertreated", xformla=None, anticipation=0, cband=boot, biters=biters,
                  cores=jobs)
        m.fit(est_method="dr", base_period="varying", bstrap=boot)
        a_simple = m.aggte(typec="simple", bstrap=boot, biters=biters, cband=boot).atte
        a_dyn = m.aggte(typec="dynamic", bstrap=boot, biters=biters, cband=boot).atte
    t2 = time.perf_counter()

    res = m.results
    out = empty_result()
    for g, t, a, s in zip(res["group"], res["year"], res["att"], res["se"]):
        out["att_gt"].append({"g": int(g), "t": int(t), "att": fnum(a), "se": fnum(s)})
    out["simple"] = {"att": fnum(a_simple["overall_att"]), "se": fnum(a_simple["overall_se"])}
    out["dynamic"] = {"att": fnum(a_dyn["overall_att"]), "se": fnum(a_dyn["overall_se"])}
    # with the bootstrap, csdid returns the SEs as arrays of shape (1,) and (1, K)
    out["event"] = [{"e": int(e), "att": fnum(a), "se": fnum(s)}
                    for e, a, s in zip(np.ravel(a_dyn["egt"]), np.ravel(a_dyn["att_egt"]), np.ravel(a_dyn["se_egt"]))]
    out["notes"].append(f"ATTgt(cband={boot}, biters={biters}, cores={jobs}).fit(est_method='dr', "
                        f"base_period='varying', bstrap={boot}); aggte(typec='simple'|'dynamic', bstrap={boot}, "
                        f"cband={boot}); data read with pandas")
    return t1 - t0, t2 - t1, out


def _flat_columns(x):
    x.columns = ["_".join(str(y) for y in c if str(y)).strip("_") if isinstance(c, tuple) else c
                 for c in x.columns]
    return x


def run_differences(csv, boot, biters, seed, jobs):
    import numpy as np
    import pandas as pd
    from differences import ATTgt

    it = biters if boot else 0
    t0 = time.perf_counter()
    df = pd.read_parquet(csv) if csv.endswith(".parquet") else pd.read_csv(csv)
    t1 = time.perf_counter()
    # the package wants NaN for never-treated units and a (unit, time) index
    df["cohort"] = np.where(df["first_treated"] == 0, np.nan, df["first_treated"])
    df = df.set_index(["unit", "period"])
    att = ATTgt(data=df, cohort_column="cohort", base_period="varying", anticipation=0)
    att.fit(formula="y", est_method="dr", control_group="never_treated", progress_bar=False,
            boot_iterations=it, random_state=seed, n_jobs=jobs)
    res = att.results()
    simple = att.aggregate("simple", boot_iterations=it, random_state=seed, n_jobs=jobs)
    ev = att.aggregate("event", boot_iterations=it, random_state=seed, n_jobs=jobs)
    ev_overall = att.aggregate("event", overall=True, boot_iterations=it, random_state=seed, n_jobs=jobs)
    t2 = time.perf_counter()

    def cols(x):
        return ([c for c in x.columns if c.endswith("ATT")][0], [c for c in x.columns if c.endswith("std_error")][0])

    out = empty_result()
    res = _flat_columns(res.reset_index())
    a, s = cols(res)
    for _, row in res.iterrows():
        out["att_gt"].append({"g": int(row["cohort"]), "t": int(row["time"]), "att": fnum(row[a]), "se": fnum(row[s])})
    x = _flat_columns(simple.reset_index())
    a, s = cols(x)
    out["simple"] = {"att": fnum(x[a].iloc[0]), "se": fnum(x[s].iloc[0])}
    x = _flat_columns(ev_overall.reset_index())
    a, s = cols(x)
    out["dynamic"] = {"att": fnum(x[a].iloc[0]), "se": fnum(x[s].iloc[0])}
    x = _flat_columns(ev.reset_index())
    a, s = cols(x)
    out["event"] = [{"e": int(r["relative_period"]), "att": fnum(r[a]), "se": fnum(r[s])} for _, r in x.iterrows()]
    out["notes"].append(f"ATTgt(base_period='varying').fit('y', est_method='dr', control_group='never_treated', "
                        f"boot_iterations={it}, n_jobs={jobs}); aggregate('simple'), aggregate('event'), "
                        f"aggregate('event', overall=True) with boot_iterations={it}; data read with pandas")
    return t1 - t0, t2 - t1, out


def run_diffdiff(csv, boot, biters, seed, jobs):
    import numpy as np
    import pandas as pd
    from diff_diff import CallawaySantAnna

    t0 = time.perf_counter()
    df = pd.read_parquet(csv) if csv.endswith(".parquet") else pd.read_csv(csv)
    t1 = time.perf_counter()
    cs = CallawaySantAnna(control_group="never_treated", estimation_method="dr", base_period="varying",
                          anticipation=0, n_bootstrap=biters if boot else 0, bootstrap_weights="mammen",
                          cband=boot, seed=seed)
    r = cs.fit(df, outcome="y", unit="unit", time="period", first_treat="first_treated")
    s = r.aggregate("simple")
    es = r.aggregate("event_study")
    t2 = time.perf_counter()

    out = empty_result()
    gt = r.to_dataframe("group_time")
    for _, row in gt.iterrows():
        out["att_gt"].append({"g": int(row["group"]), "t": int(row["time"]), "att": fnum(row["effect"]),
                              "se": fnum(row["se"])})
    out["simple"] = {"att": fnum(np.asarray(s.att, float).item()), "se": fnum(np.asarray(s.se, float).item())}
    by = [{"e": int(e), "att": fnum(a), "se": fnum(se)} for e, a, se in zip(np.asarray(es.event_time), es.att, es.se)]
    out["event"] = by
    # The package reports no dynamic overall; derive R's mean of ES(e), e >= 0, with SE sqrt(w'Vw) from its
    # event-study vcov (analytic only; outside the timed region).
    if not boot:
        vidx = list(np.asarray(es.vcov_index))
        post = [e for e in vidx if e >= 0]
        w = np.array([1.0 / len(post) if e >= 0 else 0.0 for e in vidx])
        out["dynamic"] = {"att": float(np.mean([d["att"] for d in by if d["e"] >= 0])),
                          "se": float(np.sqrt(w @ np.asarray(es.vcov) @ w)), "derived": True}
        out["notes"].append("dynamic overall not reported by diff-diff: derived from its event-study vcov")
    else:
        out["notes"].append("dynamic overall not reported by diff-diff (not derived for the bootstrap)")
    out["notes"].append(f"CallawaySantAnna(estimation_method='dr', n_bootstrap={biters if boot else 0}, "
                        f"bootstrap_weights='mammen', cband={boot}).fit(...); results.aggregate('simple'|"
                        f"'event_study'); data read with pandas")
    return t1 - t0, t2 - t1, out


RUNNERS = {"moderndid": run_moderndid, "csdid": run_csdid, "differences": run_differences,
           "diff-diff": run_diffdiff}
IMPORTS = {"moderndid": "moderndid", "csdid": "csdid.att_gt", "differences": "differences",
           "diff-diff": "diff_diff"}


def cmd_run(args):
    warnings.simplefilter("ignore")
    import importlib

    t0 = time.perf_counter()
    importlib.import_module(IMPORTS[args.tool])
    import numpy, pandas, polars  # noqa: F401  (imported before the clock starts, for every tool)
    t_import = time.perf_counter() - t0
    boot = args.mode == "boot"
    t_read, t_est, res = RUNNERS[args.tool](args.csv, boot, args.biters, args.seed, args.jobs)
    out = {
        "tool": args.tool, "version": version(args.tool), "mode": args.mode, "biters": args.biters if boot else 0,
        "csv": args.csv, "jobs": args.jobs, "t_import": t_import, "t_read": t_read, "t_est": t_est,
        "t_total": t_read + t_est, "python": sys.version.split()[0],
        "versions": {p: version(p) for p in ["numpy", "pandas", "polars", "scipy", "pyarrow"]},
        "result": res,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
    print(f"tool={args.tool} mode={args.mode} t_read={t_read:.3f} t_est={t_est:.3f} t_total={t_read + t_est:.3f}")


# ------------------------------------------------------------------------------------- compare
def cominev_rows(path):
    d = json.load(open(path))
    return {r["target"]: (r["estimate"], r["std_error"]) for r in d["results"]}


def peer_rows(path):
    r = json.load(open(path))["result"]
    rows = {f"gt:{c['g']}:{c['t']}": (c["att"], c["se"]) for c in r["att_gt"]}
    rows["overall"] = (r["simple"]["att"], r["simple"]["se"])
    if r["dynamic"]["att"] is not None:
        rows["event:overall"] = (r["dynamic"]["att"], r["dynamic"]["se"])
    for c in r["event"]:
        rows[f"event:{c['e']}"] = (c["att"], c["se"])
    return rows


def cmd_compare(args):
    c = cominev_rows(args.cominev)
    p = peer_rows(args.peer)
    common = sorted(set(c) & set(p))
    out = {"n_common": len(common), "only_cominev": len([k for k in c if k.startswith(("gt:", "event:", "overall"))
                                                         and k not in p]),
           "only_peer": sorted(set(p) - set(c))}
    for name, i in (("est", 0), ("se", 1)):
        best = (0.0, None, None)
        rel = (0.0, None)
        for k in common:
            a, b = c[k][i], p[k][i]
            if a is None or b is None:
                continue
            d = abs(a - b)
            if d > best[0] or best[1] is None:
                best = (d, k, (a, b))
            if abs(a) > 0 and d / abs(a) > rel[0]:
                rel = (d / abs(a), k)
        out[f"max_abs_diff_{name}"] = best[0]
        out[f"max_abs_diff_{name}_at"] = best[1]
        out[f"max_abs_diff_{name}_values"] = best[2]
        out[f"max_rel_diff_{name}"] = rel[0]
        out[f"max_rel_diff_{name}_at"] = rel[1]
        out[f"n_missing_{name}"] = sum(1 for k in common if c[k][i] is None or p[k][i] is None)
    if args.analytic:
        # bootstrap SEs are Monte Carlo estimates (different RNGs): compare each with the analytic SE
        a = cominev_rows(args.analytic)
        for who, rows in (("cominev", c), ("peer", p)):
            worst, at, n, ss = 0.0, None, 0, 0.0
            for k in common:
                if k not in a or a[k][1] is None or rows[k][1] is None or a[k][1] <= 0:
                    continue
                n += 1
                d = abs(rows[k][1] / a[k][1] - 1.0)
                ss += d * d
                if d > worst:
                    worst, at = d, k
            out[f"{who}_boot_vs_analytic_se_rms_rel"] = math.sqrt(ss / n) if n else None
            out[f"{who}_boot_vs_analytic_se_max_rel"] = worst
            out[f"{who}_boot_vs_analytic_se_max_rel_at"] = at
            out[f"{who}_boot_vs_analytic_n"] = n
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tool", choices=TOOLS, required=True)
    r.add_argument("--csv", required=True, help="the panel: a .csv file, or a .parquet file")
    r.add_argument("--mode", choices=["analytic", "boot"], default="analytic")
    r.add_argument("--biters", type=int, default=999)
    r.add_argument("--seed", type=int, default=20261126)
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--cominev", required=True)
    c.add_argument("--peer", required=True)
    c.add_argument("--analytic", help="cominev analytic JSON: also compare bootstrap SEs with the analytic ones")
    args = ap.parse_args()
    {"run": cmd_run, "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
