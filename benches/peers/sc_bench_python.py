#!/usr/bin/env python3
"""Time the Python synthetic-control peers, each in its own process, with a per-peer timeout.

Two modes.

  sc_bench_python.py PATH.csv [--peers diff-diff,synthdid] [--reps 200] [--seed 1]
                     [--timeout 900] [--python PY] [--synthdid-python PY]
      PATH.csv: balanced panel with columns unit,time,outcome,treated (integer unit ids,
      integer times; treated = 1 for treated units in their post-treatment periods, 0
      otherwise; all treated units start together). For each peer: SDID point estimate
      + placebo SE with --reps replications (Arkhangelsky et al. 2021, Algorithm 4).
        diff-diff  SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=seed).fit(...)
                   with treatment = ever-treated indicator and post_periods = the times with
                   treated == 1 (the input format diff-diff wants). Its fit also runs
                   min(reps, 20) placebo pre-fit draws for its poor-fit diagnostic.
        synthdid   (PyPI synthdid, d2cml-ai port) Synthdid(df, "unit", "time", "treated",
                   "outcome").fit() and then synthdid.vcov.placebo_se(data_ref, n_reps=reps)
                   after np.random.seed(seed). The module function is called directly because
                   the package's own Synthdid.vcov(method="placebo", n_reps=...) ignores n_reps
                   and always runs 50 replications (synthdid 0.10.1, vcov.py).
                   synthdid 0.10.1 does not run under pandas 3 (its groupby().apply() loses the
                   grouping column), so it runs under --synthdid-python, a venv with pandas<3.

  sc_bench_python.py --prop99 [--peers pysyncon,diff-diff-sc] [--workers 1]
                     [--data prop99_smoking.csv] [--detail-out FILE.json] [--timeout 900]
      California Proposition 99, ADH (2010) specification: predictors lnincome, retprice,
      age15to24 (mean 1980-1988), beer (mean 1984-1988), cigsale 1975, 1980, 1988; outcome fit
      1970-1988; treatment from 1989.
        pysyncon      Synth().fit(dataprep) with its defaults (outer Nelder-Mead over V from the
                      equal start, maxiter 1000; inner SLSQP for W), then
                      PlaceboTest().fit(dataprep, Synth(), max_workers=--workers): the 38 donor
                      placebos (each against the 37 other donors) + one refit of California.
        diff-diff-sc  diff_diff.SyntheticControl(v_method="nested", seed=seed) (4 starts, Nelder-
                      Mead + Powell polish; inner exact NNLS), then results.in_space_placebo()
                      (38 placebos, each against the 38 other units, California included).
      Measured on the shared 2-core machine (load 5-7): diff-diff-sc 162 s in total; pysyncon's
      PlaceboTest with --workers 2 had done 12 of 38 placebo fits after 82 min (each ~13 min), so
      with the default --timeout 900 pysyncon is reported as a timeout (see sc_peers_notes.md).

Output: one JSON line per peer on stdout:
  {"peer", "version", "units", "periods", "seconds", "estimate", "se", "status", ...}
"seconds" is timed inside the worker with perf_counter: reading the CSV + estimate + SE (imports
excluded; "t_import", "t_read", "t_fit", "t_se" give the split where the peer allows it, and
"wall_process" the whole worker process). A peer that does not finish within --timeout is
killed (its whole process group) and reported with "status": "timeout", "seconds": the timeout.

Environment defaults: SC_PEERS_PYTHON (diff-diff / pysyncon interpreter; default this one),
SC_SYNTHDID_PYTHON (default /tmp/venvs/synthdid312/bin/python). Set up with, e.g.:
  python3.12 -m venv /tmp/venvs/all312
  /tmp/venvs/all312/bin/pip install diff-diff==3.13.0 pysyncon==1.7.0
  python3.12 -m venv /tmp/venvs/synthdid312
  /tmp/venvs/synthdid312/bin/pip install "pandas==2.3.3" numpy scipy matplotlib
  /tmp/venvs/synthdid312/bin/pip install --no-deps synthdid==0.10.1
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROP99 = os.environ.get(
    "SC_PROP99_CSV",
    os.path.join(HERE, "..", "..", "..", "shared", "reference-data", "prop99_smoking.csv"),
)
if not os.path.exists(DEFAULT_PROP99):
    DEFAULT_PROP99 = "/work/shared/reference-data/prop99_smoking.csv"

ADH = dict(
    predictors=["lnincome", "retprice", "age15to24"],
    predictor_years=list(range(1980, 1989)),
    special=[
        ("beer", list(range(1984, 1989)), "mean"),
        ("cigsale", [1975], "mean"),
        ("cigsale", [1980], "mean"),
        ("cigsale", [1988], "mean"),
    ],
    pre_years=list(range(1970, 1989)),
    post_years=list(range(1989, 2001)),
)


def _version(dist):
    import importlib.metadata as md

    try:
        return md.version(dist)
    except Exception:
        return None


def _env_versions():
    out = {"python": sys.version.split()[0]}
    for d in ("numpy", "pandas", "scipy"):
        out[d] = _version(d)
    return out


# --------------------------------------------------------------------------- workers


def work_diffdiff(csv, reps, seed):
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import warnings
    from diff_diff import SyntheticDiD
    from diff_diff._backend import HAS_RUST_BACKEND

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    df = pd.read_csv(csv)
    t_read = time.perf_counter() - t1
    t2 = time.perf_counter()
    treated_units = df.loc[df["treated"] == 1, "unit"].unique()
    post = sorted(df.loc[df["treated"] == 1, "time"].unique().tolist())
    df["ever"] = df["unit"].isin(treated_units).astype(int)
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        r = SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=seed).fit(
            df, outcome="outcome", treatment="ever", unit="unit", time="time", post_periods=post
        )
    t_est = time.perf_counter() - t2
    return {
        "peer": "diff-diff",
        "version": _version("diff-diff"),
        "estimate": float(r.att),
        "se": float(r.se),
        "se_method": f"placebo, {reps} reps, numpy default_rng(seed={seed}) permutations",
        "seconds": t_read + t_est,
        "seconds_excl_read": t_est,
        "t_import": t_import,
        "t_read": t_read,
        "t_fit_plus_se": t_est,
        "rust_backend": bool(HAS_RUST_BACKEND),
        "warnings": sorted({str(w.message)[:200] for w in wlist}),
        "env": _env_versions(),
    }


def work_synthdid(csv, reps, seed):
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import warnings

    warnings.simplefilter("ignore")
    from synthdid.synthdid import Synthdid
    from synthdid.vcov import placebo_se

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    df = pd.read_csv(csv)
    t_read = time.perf_counter() - t1
    t2 = time.perf_counter()
    m = Synthdid(df, unit="unit", time="time", treatment="treated", outcome="outcome").fit()
    t_fit = time.perf_counter() - t2
    t3 = time.perf_counter()
    np.random.seed(seed)
    se = placebo_se(m.data_ref, n_reps=reps)
    t_se = time.perf_counter() - t3
    info = m.att_info
    unrounded = float(np.dot(info["att_time"].to_numpy(), info["att_wt"].to_numpy()))
    return {
        "peer": "synthdid",
        "version": _version("synthdid"),
        "estimate": unrounded,
        "estimate_package_rounded": float(m.att),
        "se": float(se),
        "se_method": (
            f"placebo, {reps} reps via synthdid.vcov.placebo_se (np.random.seed({seed}); "
            "pseudo-treated drawn with np.random.choice, i.e. WITH replacement; "
            "noise/zeta re-derived on every placebo panel)"
        ),
        "seconds": t_read + t_fit + t_se,
        "seconds_excl_read": t_fit + t_se,
        "t_import": t_import,
        "t_read": t_read,
        "t_fit": t_fit,
        "t_se": t_se,
        "env": _env_versions(),
    }


def _adh_dataprep(df):
    from pysyncon import Dataprep

    controls = sorted(set(df["state"]) - {"California"})
    return Dataprep(
        foo=df,
        predictors=ADH["predictors"],
        predictors_op="mean",
        time_predictors_prior=ADH["predictor_years"],
        special_predictors=[(v, yrs, op) for v, yrs, op in ADH["special"]],
        dependent="cigsale",
        unit_variable="state",
        time_variable="year",
        treatment_identifier="California",
        controls_identifier=controls,
        time_optimize_ssr=ADH["pre_years"],
    )


def _ratio_table(gaps_by_unit, pre, post):
    """post/pre RMSPE ratio per unit from gap series (pre and post years disjoint)."""
    import numpy as np

    out = {}
    for u, g in gaps_by_unit.items():
        pre_mspe = float(np.mean([g[y] ** 2 for y in pre]))
        post_mspe = float(np.mean([g[y] ** 2 for y in post]))
        out[u] = {
            "pre_rmspe": pre_mspe ** 0.5,
            "post_rmspe": post_mspe ** 0.5,
            "ratio": (post_mspe / pre_mspe) ** 0.5 if pre_mspe > 0 else float("inf"),
        }
    return out


def work_pysyncon_prop99(data, workers, seed):
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import warnings

    warnings.simplefilter("ignore")
    from pysyncon import Synth
    from pysyncon.utils import PlaceboTest

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    df = pd.read_csv(data)
    t_read = time.perf_counter() - t1
    t2 = time.perf_counter()
    dp = _adh_dataprep(df)
    s = Synth()
    s.fit(dataprep=dp)
    t_fit = time.perf_counter() - t2
    att = s.att(time_period=ADH["post_years"])["att"]
    t3 = time.perf_counter()
    pt = PlaceboTest()
    with contextlib.redirect_stdout(sys.stderr):
        pt.fit(dataprep=dp, scm=Synth(), max_workers=workers, verbose=False)
    t_placebo = time.perf_counter() - t3
    gaps = {c: pt.gaps[c].to_dict() for c in pt.gaps.columns}
    gaps["California"] = pt.treated_gap.to_dict()
    ratios = _ratio_table(gaps, ADH["pre_years"], ADH["post_years"])
    tr = ratios["California"]["ratio"]
    n_ge_placebo = sum(1 for u, r in ratios.items() if u != "California" and r["ratio"] >= tr)
    res = {
        "peer": "pysyncon",
        "version": _version("pysyncon"),
        "estimate": float(att),
        "se": None,
        "method": "ADH nested V (Nelder-Mead from equal V, maxiter 1000; inner SLSQP) + PlaceboTest (38 donor placebos, pool = other 37 donors) + treated refit",
        "seconds": t_read + t_fit + t_placebo,
        "t_import": t_import,
        "t_read": t_read,
        "t_fit": t_fit,
        "t_placebo": t_placebo,
        "workers": workers,
        "n_placebos": int(pt.gaps.shape[1]),
        "pre_rmspe": float(s.loss_V) ** 0.5,
        "p_value_pysyncon_pvalue_1989": float(pt.pvalue(treatment_time=1989)),
        "p_value_adh_rank": (1 + n_ge_placebo) / len(ratios),
        "california_ratio_rank": 1 + n_ge_placebo,
        "env": _env_versions(),
    }
    detail = {
        "weights_fit": {k: float(v) for k, v in zip(dp.controls_identifier, s.W)},
        "V_fit": [float(v) for v in s.V],
        "loss_V_fit": float(s.loss_V),
        "placebo_ratios": ratios,
        "placebo_gaps": {u: {int(y): float(v) for y, v in g.items()} for u, g in gaps.items()},
    }
    return res, detail


def work_diffdiff_sc_prop99(data, workers, seed):
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import warnings
    from diff_diff import SyntheticControl

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    df = pd.read_csv(data)
    t_read = time.perf_counter() - t1
    t2 = time.perf_counter()
    df["D"] = ((df["state"] == "California") & (df["year"] >= 1989)).astype(int)
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        r = SyntheticControl(v_method="nested", seed=seed).fit(
            df,
            outcome="cigsale",
            treatment="D",
            unit="state",
            time="year",
            predictors=ADH["predictors"],
            predictor_window=ADH["predictor_years"],
            special_predictors=ADH["special"],
        )
        t_fit = time.perf_counter() - t2
        t3 = time.perf_counter()
        pdf = r.in_space_placebo()
        t_placebo = time.perf_counter() - t3
    res = {
        "peer": "diff-diff-sc",
        "version": _version("diff-diff"),
        "estimate": float(r.att),
        "se": None,
        "method": f"SyntheticControl nested V (n_starts=4, seed={seed}; Nelder-Mead + Powell polish; inner NNLS) + in_space_placebo (38 placebos, pool = all 38 other units incl. California)",
        "seconds": t_read + t_fit + t_placebo,
        "t_import": t_import,
        "t_read": t_read,
        "t_fit": t_fit,
        "t_placebo": t_placebo,
        "workers": 1,
        "n_placebos": int(r.n_placebos),
        "pre_rmspe": float(r.pre_rmspe),
        "placebo_p_value": float(r.placebo_p_value),
        "warnings": sorted({str(w.message)[:200] for w in wlist}),
        "env": _env_versions(),
    }
    detail = {
        "weights_fit": {str(k): float(v) for k, v in r.donor_weights.items()},
        "placebo_df": json.loads(pdf.to_json(orient="records")),
    }
    return res, detail


WORKERS = {
    "diff-diff": work_diffdiff,
    "synthdid": work_synthdid,
}
PROP99_WORKERS = {
    "pysyncon": work_pysyncon_prop99,
    "diff-diff-sc": work_diffdiff_sc_prop99,
}


# --------------------------------------------------------------------------- parent


def _panel_shape(csv):
    units, times = set(), set()
    with open(csv) as fh:
        header = fh.readline().strip().split(",")
        iu, it = header.index("unit"), header.index("time")
        for line in fh:
            parts = line.split(",")
            units.add(parts[iu])
            times.add(parts[it])
    return len(units), len(times)


def run_worker(py, argv, timeout):
    """Run `py this_file --worker ...` in its own session; returns (result dict | None, status, wall, rss_mb, stderr tail)."""
    fd, res_path = tempfile.mkstemp(prefix="sc_bench_", suffix=".json")
    os.close(fd)
    err = tempfile.TemporaryFile(mode="w+")
    cmd = [py, os.path.abspath(__file__)] + argv + ["--result", res_path]
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    status, rss_mb = None, None
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(st)
            rss_mb = ru.ru_maxrss / 1024.0
            status = "ok" if p.returncode == 0 else f"error (exit {p.returncode})"
            break
        if time.perf_counter() - start > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            _, st, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(st)
            status = "timeout"
            break
        time.sleep(0.1)
    wall = time.perf_counter() - start
    err.seek(0)
    tail = err.read()[-1500:]
    err.close()
    result = None
    if status == "ok":
        with open(res_path) as fh:
            result = json.load(fh)
    os.unlink(res_path)
    return result, status, wall, rss_mb, tail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="?", help="panel CSV unit,time,outcome,treated")
    ap.add_argument("--prop99", action="store_true", help="Prop 99 ADH mode (pysyncon / diff-diff SC + placebos)")
    ap.add_argument("--data", default=DEFAULT_PROP99, help="prop99_smoking.csv for --prop99")
    ap.add_argument("--peers", default=None, help="comma list (default: diff-diff,synthdid; with --prop99: pysyncon,diff-diff-sc)")
    ap.add_argument("--reps", type=int, default=200, help="placebo replications (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per peer (default 900)")
    ap.add_argument("--workers", type=int, default=1, help="--prop99: pysyncon PlaceboTest max_workers (default 1)")
    ap.add_argument("--python", default=os.environ.get("SC_PEERS_PYTHON", sys.executable))
    ap.add_argument("--synthdid-python", default=os.environ.get("SC_SYNTHDID_PYTHON", "/tmp/venvs/synthdid312/bin/python"))
    ap.add_argument("--detail-out", default=None, help="--prop99: write per-state placebo details (JSON) here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:  # child process
        if a.prop99:
            res, detail = PROP99_WORKERS[a.worker](a.data, a.workers, a.seed)
            res["detail"] = detail
        else:
            res = WORKERS[a.worker](a.csv, a.reps, a.seed)
        with open(a.result, "w") as fh:
            json.dump(res, fh)
        return

    if a.prop99:
        peers = (a.peers or "pysyncon,diff-diff-sc").split(",")
        units, periods = 39, 31
        details = {}
        for peer in peers:
            py = a.python
            argv = ["--prop99", "--worker", peer, "--data", a.data, "--workers", str(a.workers), "--seed", str(a.seed)]
            res, status, wall, rss, tail = run_worker(py, argv, a.timeout)
            line = {"peer": peer, "version": None, "units": units, "periods": periods, "seconds": None, "estimate": None, "se": None}
            if res is not None:
                details[peer] = res.pop("detail")
                line.update(res)
            else:
                line["seconds"] = a.timeout if status == "timeout" else None
                line["stderr_tail"] = tail
            line.update({"units": units, "periods": periods, "status": status, "wall_process": wall, "max_rss_mb": rss, "timeout": a.timeout})
            print(json.dumps(line), flush=True)
        if a.detail_out:
            with open(a.detail_out, "w") as fh:
                json.dump(details, fh, indent=1)
        return

    if not a.csv:
        ap.error("give PATH.csv or --prop99")
    peers = (a.peers or "diff-diff,synthdid").split(",")
    units, periods = _panel_shape(a.csv)
    for peer in peers:
        py = a.synthdid_python if peer == "synthdid" else a.python
        argv = [a.csv, "--worker", peer, "--reps", str(a.reps), "--seed", str(a.seed)]
        res, status, wall, rss, tail = run_worker(py, argv, a.timeout)
        line = {"peer": peer, "version": None, "units": units, "periods": periods, "seconds": None, "estimate": None, "se": None}
        if res is not None:
            line.update(res)
        else:
            line["seconds"] = a.timeout if status == "timeout" else None
            line["stderr_tail"] = tail
        line.update({"units": units, "periods": periods, "reps": a.reps, "seed": a.seed, "status": status, "wall_process": wall, "max_rss_mb": rss, "timeout": a.timeout, "loadavg_after": open("/proc/loadavg").read().split()[:3]})
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
