#!/usr/bin/env python3
"""Reference numbers from the Python peers for synthetic control (SC) and synthetic
difference-in-differences (SDID) on California Proposition 99.

Writes benches/peers/fixtures/sc_prop99_python.json (or --out). See sc_peers_notes.md for
what each peer computes and where the peers disagree with each other and with the papers.

Peers (versions are recorded in the JSON):
  pysyncon 1.7.0   ADH (2010) synthetic control with covariates on prop99_smoking.csv:
                   default nested V (Nelder-Mead from equal V), a second fit from its "ols"
                   start, a diagnostic with diff-diff's V held fixed, and PlaceboTest.
  diff-diff 3.13.0 SyntheticDiD on california_prop99.csv (placebo / jackknife / bootstrap SE)
                   and SyntheticControl (ADH, nested V) on prop99_smoking.csv + in_space_placebo.
  synthdid 0.10.1  (PyPI, d2cml-ai port) SDID / SC / DiD on california_prop99.csv, placebo SE
                   (its vcov: 50 reps; and its placebo_se with 200 reps), jackknife (raises for
                   one treated unit), and a reconstruction of R's sc_estimate from its solver.
                   synthdid 0.10.1 needs pandas < 3, so that part runs in a subprocess under
                   --synthdid-python (default /tmp/venvs/synthdid312/bin/python).

Usage:
  /tmp/venvs/all312/bin/python benches/peers/sc_prop99_python.py
      [--out FILE] [--seed 42] [--reps 200] [--synthdid-python PY]
      [--pysyncon-placebo-from DETAIL.json | --pysyncon-placebo] [--workers 2]
  --pysyncon-placebo-from takes the --detail-out file of
      `sc_bench_python.py --prop99 --workers N --detail-out DETAIL.json` (same code path: the
      pysyncon PlaceboTest with the same Dataprep), so the ~30-60 min placebo run is not repeated.
  With --pysyncon-placebo, PlaceboTest runs here with max_workers = --workers. By default the
  pysyncon placebo test is NOT run (not feasible in reasonable time here, see sc_peers_notes.md);
  the fixture then records why under pysyncon.placebo_in_space.

Environment used for the committed fixture: see sc_peers_notes.md (venv set-up commands are in
sc_bench_python.py's docstring).
"""

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("SC_REFDATA", "/work/shared/reference-data")
CAL = os.path.join(REF, "california_prop99.csv")
SMOKING = os.path.join(REF, "prop99_smoking.csv")
PRE = list(range(1970, 1989))
POST = list(range(1989, 2001))
ADH_PRED = ["lnincome", "retprice", "age15to24"]
ADH_PRED_YEARS = list(range(1980, 1989))
ADH_SPECIAL = [
    ("beer", list(range(1984, 1989)), "mean"),
    ("cigsale", [1975], "mean"),
    ("cigsale", [1980], "mean"),
    ("cigsale", [1988], "mean"),
]
PRED_LABELS = ["lnincome (mean 1980-88)", "retprice (mean 1980-88)", "age15to24 (mean 1980-88)",
               "beer (mean 1984-88)", "cigsale 1975", "cigsale 1980", "cigsale 1988"]


def _version(dist):
    import importlib.metadata as md

    try:
        return md.version(dist)
    except Exception:
        return None


def _sha16(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]


def _env():
    return {"python": sys.version.split()[0], **{d: _version(d) for d in ("numpy", "pandas", "scipy")}}


# =========================================================================== synthdid part
# Runs under the synthdid venv (pandas < 3); prints one JSON document on stdout.


def part_synthdid(seed, reps):
    import numpy as np
    import pandas as pd
    import warnings

    warnings.simplefilter("ignore")
    from synthdid.synthdid import Synthdid
    from synthdid.vcov import placebo_se
    from synthdid.solver import sc_weight_fw
    from synthdid.utils import sparsify_function, varianza, collapse_form

    df = pd.read_csv(CAL)
    out = {"peer": "synthdid", "version": _version("synthdid"), "env": _env(), "data": "california_prop99.csv"}

    def fit(**kw):
        t = time.perf_counter()
        m = Synthdid(df, unit="state", time="year", treatment="treated", outcome="packs_per_capita").fit(**kw)
        el = time.perf_counter() - t
        info = m.att_info
        units = list(m.Y_units[0])
        om = np.asarray(m.weights["omega"][0], float)
        lam = np.asarray(m.weights["lambda"][0], float)
        N0, T0 = int(info["N0"][0]), int(info["T0"][0])
        return m, {
            "estimate_package": float(m.att),
            "estimate_package_note": "Synthdid.att is round(., 5) in the package",
            "estimate_unrounded": float(np.dot(info["att_time"], info["att_wt"])),
            "unit_weights": {u: float(w) for u, w in zip(units[:N0], om) if w != 0.0},
            "n_nonzero_unit_weights": int(np.sum(om != 0)),
            "time_weights": {int(y): float(w) for y, w in zip(range(1970, 1970 + T0), lam) if w != 0.0},
            "N0": N0, "T0": T0, "N1": int(info["N1"][0]), "T1": int(info["T1"][0]),
            "seconds": el,
        }

    m_sdid, out["sdid"] = fit()
    m_sc, out["sc"] = fit(synth=True)
    m_did, out["did"] = fit(did=True)

    # Regularisation as the package derives it (re-computed here with the package's own
    # functions; fit() overwrites any user-supplied noise/zeta/min_decrease arguments).
    Y = m_sdid.data_ref.query("tyear in [1989.0, 0.0]").pivot_table(
        index="unit", columns="time", values="outcome", sort=False)
    N0, T0 = out["sdid"]["N0"], out["sdid"]["T0"]
    N1, T1 = out["sdid"]["N1"], out["sdid"]["T1"]
    prediff = Y.iloc[:N0, :T0].apply(lambda x: x.diff(), axis=1).iloc[:, 1:]
    noise = float(np.sqrt(varianza(np.array(prediff).flatten())))
    eta_omega = (N1 * T1) ** 0.25
    reg = {
        "noise_level": noise,
        "noise_level_formula": "sd (ddof=1) of all first differences over time of the control units' pre-period outcomes (N0 x (T0-1) values)",
        "eta_omega": eta_omega, "zeta_omega": eta_omega * noise,
        "eta_lambda": 1e-6, "zeta_lambda": 1e-6 * noise,
        "min_decrease": 1e-5 * noise,
        "max_iter_pre_sparsify": 100, "max_iter": 10000,
        "omega_intercept": True, "lambda_intercept": True,
    }
    out["regularisation"] = reg
    out["sc"]["convention"] = ("synth=True: omega from the SAME problem as SDID (zeta_omega=(N1*T1)^(1/4)*noise, intercept=True); "
                               "lambda fixed uniform 1/T0 (not 0 as in R sc_estimate); so tau = SDID formula with uniform lambda")
    out["did"]["convention"] = "did=True: omega = 1/N0, lambda = 1/T0"

    # Placebo SE via the package's vcov (hard-codes n_reps=50 whatever is passed).
    def vcov_se(m, label):
        np.random.seed(seed)
        t = time.perf_counter()
        m.vcov(method="placebo", n_reps=reps)
        return {"se": float(m.se), "method": "placebo", "reps": 50,
                "reps_note": f"Synthdid.vcov(method='placebo', n_reps={reps}) runs placebo_se(data_ref, n_reps=50): n_reps is ignored",
                "seed": f"np.random.seed({seed}) before the call", "seconds": time.perf_counter() - t,
                "what": f"{label} fit; the placebo replications always re-estimate SDID (sdid()), whatever the fit mode"}

    out["sdid"]["se_placebo_vcov50"] = vcov_se(m_sdid, "SDID")
    out["sc"]["se_placebo_vcov50"] = vcov_se(m_sc, "SC (synth=True)")
    out["did"]["se_placebo_vcov50"] = vcov_se(m_did, "DiD (did=True)")
    np.random.seed(seed)
    t = time.perf_counter()
    se200 = placebo_se(m_sdid.data_ref, n_reps=reps)
    out["sdid"]["se_placebo_reps"] = {
        "se": float(se200), "method": "placebo (synthdid.vcov.placebo_se called directly)", "reps": reps,
        "seed": f"np.random.seed({seed}) before the call", "seconds": time.perf_counter() - t,
        "formula": "sqrt(1/r * sum (tau_b - mean tau_b)^2) (= sqrt((r-1)/r) * sd)"}
    for key, m in (("sdid", m_sdid), ("sc", m_sc), ("did", m_did)):
        try:
            m.vcov(method="jackknife")
            out[key]["se_jackknife"] = {"se": float(m.se)}
        except Exception as e:  # one treated unit
            out[key]["se_jackknife"] = {"se": None, "error": f"{type(e).__name__}: {e}"}
    out["bootstrap"] = "not run: needs >1 treated unit (R returns NA); synthdid 0.10.1 bootstrap_se also ignores n_reps (50) and discards its retry result"

    # Reconstruction of R's sc_estimate with the package's own solver (NOT a package API):
    # eta.omega = 1e-6 -> zeta_omega = 1e-6*noise, omega.intercept = FALSE, lambda = 0 (fixed),
    # same two-pass sparsified Frank-Wolfe, min_decrease = 1e-5*noise.
    Yc = collapse_form(Y, N0, T0)
    Ao, bo = Yc.T.iloc[:T0, :N0], Yc.T.iloc[:T0, N0]
    z = 1e-6 * noise
    o1 = sc_weight_fw(Ao, bo, None, intercept=False, zeta=z, min_decrease=1e-5 * noise, max_iter=100)
    o2 = sc_weight_fw(Ao, bo, sparsify_function(o1["params"]), intercept=False, zeta=z, min_decrease=1e-5 * noise, max_iter=10000)
    om = np.asarray(o2["params"], float)
    Yn = Y.to_numpy()
    tau = float(Yn[N0:, T0:].mean() - om @ Yn[:N0, T0:].mean(axis=1))
    units = list(Y.index)
    out["sc_R_convention_reconstruction"] = {
        "what": "R synthdid::sc_estimate conventions rebuilt from synthdid.solver.sc_weight_fw (not a package entry point)",
        "estimate": tau,
        "unit_weights": {u: float(w) for u, w in zip(units[:N0], om) if w != 0.0},
        "zeta_omega": z, "omega_intercept": False, "lambda": "0 (tau = mean post gap)",
        "fw_iterations_second_pass": int(len(o2["vals"])),
    }
    json.dump(out, sys.stdout)


# =========================================================================== pysyncon part


def _adh_dataprep(df, treated="California", controls=None):
    from pysyncon import Dataprep

    if controls is None:
        controls = sorted(set(df["state"]) - {treated})
    return Dataprep(foo=df, predictors=ADH_PRED, predictors_op="mean", time_predictors_prior=ADH_PRED_YEARS,
                    special_predictors=ADH_SPECIAL, dependent="cigsale", unit_variable="state",
                    time_variable="year", treatment_identifier=treated, controls_identifier=controls,
                    time_optimize_ssr=PRE)


def _pysyncon_record(s, dp, seconds, settings):
    import numpy as np

    Z0, Z1 = dp.make_outcome_mats(time_period=list(range(1970, 2001)))
    gaps = (Z1 - Z0 @ s.W)
    X0, X1 = dp.make_covariate_mats()
    synth = X0.to_numpy() @ s.W
    W = {c: float(w) for c, w in zip(dp.controls_identifier, s.W)}
    pre_mspe = float(np.mean([gaps[y] ** 2 for y in PRE]))
    return {
        "settings": settings,
        "unit_weights_gt_1e-6": {k: v for k, v in sorted(W.items(), key=lambda kv: -kv[1]) if v > 1e-6},
        "unit_weights_all": W,
        "V": {lab: float(v) for lab, v in zip(PRED_LABELS, s.V)},
        "loss_V_mspe_1970_1988": float(s.loss_V),
        "pre_rmspe_1970_1988": pre_mspe ** 0.5,
        "loss_W": float(s.loss_W),
        "avg_gap_1989_2000": float(np.mean([gaps[y] for y in POST])),
        "gap_2000": float(gaps[2000]),
        "pysyncon_att_se": s.att(time_period=POST)["se"],
        "pysyncon_att_se_note": "Synth.att()['se'] = sd(post gaps, ddof=1)/sqrt(12): a descriptive spread of the 12 gaps, not an inferential SE",
        "gaps": {int(y): float(g) for y, g in gaps.items()},
        "predictor_balance": {lab: {"treated": float(X1.iloc[i]), "synthetic": float(synth[i]),
                                    "donor_mean": float(X0.iloc[i].mean())}
                              for i, lab in enumerate(PRED_LABELS)},
        "seconds": seconds,
    }


def part_pysyncon(seed, placebo_from, run_placebo, workers, dd_v):
    import numpy as np
    import pandas as pd
    import warnings

    warnings.simplefilter("ignore")
    from pysyncon import Synth
    from pysyncon.utils import PlaceboTest

    df = pd.read_csv(SMOKING)
    dp = _adh_dataprep(df)
    out = {"peer": "pysyncon", "version": _version("pysyncon"), "env": _env(), "data": "prop99_smoking.csv"}
    base = ("Predictors row-standardised by X.std(axis=1) (pandas, ddof=1) over treated + 38 donors; "
            "V = |x|/sum|x| (diagonal); inner W: scipy SLSQP on 0.5 w'Pw - q'w, P = X0'VX0, q = X1'VX0, "
            "bounds [0,1], sum w = 1, start uniform 1/38, maxiter 1000; outer loss = mean over 1970-1988 of (Z1 - Z0 w)^2")

    t = time.perf_counter(); s = Synth(); s.fit(dataprep=dp)
    out["adh_default"] = _pysyncon_record(s, dp, time.perf_counter() - t,
        "Synth.fit defaults: optim_method='Nelder-Mead', optim_initial='equal' (x0 = 1/7 each), optim_options={'maxiter': 1000}; single start. " + base)
    t = time.perf_counter(); s2 = Synth(); s2.fit(dataprep=dp, optim_initial="ols")
    out["adh_ols_start"] = _pysyncon_record(s2, dp, time.perf_counter() - t,
        "Synth.fit(optim_initial='ols'): Nelder-Mead from V0 proportional to diag(beta beta') of an OLS of outcomes on predictors; maxiter 1000. " + base)
    if dd_v is not None:
        t = time.perf_counter(); s3 = Synth(); s3.fit(dataprep=dp, custom_V=np.asarray(dd_v))
        out["diagnostic_custom_V_from_diff_diff"] = _pysyncon_record(s3, dp, time.perf_counter() - t,
            "Synth.fit(custom_V = diff-diff SyntheticControl's nested V): only the inner SLSQP runs. " + base)

    pre, post = PRE, POST
    if placebo_from:
        det = json.load(open(placebo_from))["pysyncon"]
        gaps = {u: {int(y): v for y, v in g.items()} for u, g in det["placebo_gaps"].items()}
        src = f"from {os.path.basename(placebo_from)} (sc_bench_python.py --prop99 --detail-out; same Dataprep and PlaceboTest call)"
        secs = None
    elif run_placebo:
        t = time.perf_counter()
        pt = PlaceboTest()
        with contextlib.redirect_stdout(sys.stderr):
            pt.fit(dataprep=dp, scm=Synth(), max_workers=workers, verbose=False)
        secs = time.perf_counter() - t
        gaps = {c: {int(y): float(v) for y, v in pt.gaps[c].items()} for c in pt.gaps.columns}
        gaps["California"] = {int(y): float(v) for y, v in pt.treated_gap.items()}
        src = f"run here, PlaceboTest.fit(max_workers={workers})"
    else:
        gaps = None
        out["placebo_in_space"] = {
            "not_run": ("pysyncon PlaceboTest not run for this fixture: `sc_bench_python.py --prop99 --workers 2` had finished "
                        "12 of the 38 placebo fits after 82 min wall (2 processes at ~65% CPU each on the shared 2-core machine, "
                        "load average 5-7) and was stopped; see sc_peers_notes.md. Use --pysyncon-placebo to run it."),
        }
    if gaps is not None:
        ratios = {}
        for u, g in gaps.items():
            a = np.mean([g[y] ** 2 for y in pre]); b = np.mean([g[y] ** 2 for y in post])
            ratios[u] = {"pre_rmspe": float(a ** 0.5), "post_rmspe": float(b ** 0.5), "ratio": float((b / a) ** 0.5)}
        order = sorted(ratios, key=lambda u: -ratios[u]["ratio"])
        tr = ratios["California"]["ratio"]
        n_ge = sum(1 for u in ratios if u != "California" and ratios[u]["ratio"] >= tr)

        # pysyncon's own PlaceboTest.pvalue(treatment_time), re-implemented on the same gaps
        # (its .loc[:tt] and .loc[tt:] both include tt; MSPE ratio; placebos >= treated / all units)
        def pys_p(tt):
            import pandas as pd
            allg = pd.DataFrame(gaps).sort_index()
            den = (allg.loc[:tt] ** 2).sum(); num = (allg.loc[tt:] ** 2).sum()
            T = allg.shape[0]; t0 = allg.loc[:tt].shape[0]
            r = (num / (T - t0)) / (den / t0)
            return float((r.drop("California") >= r["California"]).sum() / len(r))

        out["placebo_in_space"] = {
            "source": src, "seconds": secs,
            "pool": "each of the 38 donors treated in turn, donors = the other 37 donors (California excluded); plus a refit of California",
            "ratio_definition": "sqrt(mean post gap^2 1989-2000 / mean pre gap^2 1970-1988), computed here from the placebo gap paths",
            "ratios": ratios, "rank_by_ratio_desc": order,
            "california_rank": 1 + n_ge,
            "p_value_adh": (1 + n_ge) / len(ratios),
            "p_value_adh_formula": "(1 + #placebos with ratio >= California's) / 39",
            "pysyncon_pvalue_1989": pys_p(1989),
            "pysyncon_pvalue_1988": pys_p(1988),
            "pysyncon_pvalue_note": ("PlaceboTest.pvalue(tt): pre = years <= tt and post = years >= tt (tt in both), "
                                     "statistic = MSPE ratio with post divisor T - t0, p = #placebos >= treated / #all units "
                                     "(treated not counted in the numerator), so its minimum is 0, not 1/39"),
        }
    return out


# =========================================================================== diff-diff part


def part_diffdiff(seed, reps):
    import numpy as np
    import pandas as pd
    import warnings
    from diff_diff import SyntheticDiD, SyntheticControl
    from diff_diff._backend import HAS_RUST_BACKEND

    out = {"peer": "diff-diff", "version": _version("diff-diff"), "env": _env(), "rust_backend": bool(HAS_RUST_BACKEND)}
    df = pd.read_csv(CAL)
    df["ever"] = (df["state"] == "California").astype(int)
    sd = {"data": "california_prop99.csv",
          "call": "SyntheticDiD(variance_method=M, n_bootstrap=reps, seed=seed).fit(df, outcome='packs_per_capita', treatment=<ever-treated 0/1>, unit='state', time='year', post_periods=1989..2000)"}
    for vm in ("placebo", "jackknife", "bootstrap"):
        with warnings.catch_warnings(record=True) as wl:
            warnings.simplefilter("always")
            t = time.perf_counter()
            r = SyntheticDiD(variance_method=vm, n_bootstrap=reps, seed=seed).fit(
                df, outcome="packs_per_capita", treatment="ever", unit="state", time="year", post_periods=POST)
            el = time.perf_counter() - t
        ve = r.variance_effects
        sd[f"se_{vm}"] = {
            "se": None if not np.isfinite(r.se) else float(r.se), "reps": reps if vm != "jackknife" else None,
            "seed": f"np.random.default_rng({seed})" if vm != "jackknife" else None,
            "p_value": None if not np.isfinite(r.p_value) else float(r.p_value),
            "n_effects": None if ve is None else int(len(ve)),
            "mean_effects": None if ve is None else float(np.mean(ve)),
            "warnings": sorted({str(w.message)[:300] for w in wl}), "seconds": el,
        }
        if vm == "placebo":
            sd["estimate"] = float(r.att)
            sd["unit_weights"] = {str(k): float(v) for k, v in r.unit_weights.items() if v != 0.0}
            sd["n_nonzero_unit_weights"] = int(sum(1 for v in r.unit_weights.values() if v != 0.0))
            sd["time_weights"] = {int(k): float(v) for k, v in r.time_weights.items() if v != 0.0}
            sd["noise_level"] = float(r.noise_level)
            sd["zeta_omega"] = float(r.zeta_omega)
            sd["zeta_lambda"] = float(r.zeta_lambda)
            sd["min_decrease_original_scale"] = 1e-5 * float(r.noise_level)
            sd["pre_treatment_fit_shape_rmse"] = float(r.pre_treatment_fit)
            sd["pre_treatment_level_gap"] = float(r.pre_treatment_level_gap)
            sd["pre_fit_placebo_pvalue"] = r.pre_fit_placebo_pvalue
    sd["se_bootstrap"]["note"] = ("one treated unit: R returns NA for the bootstrap; diff-diff still reports a number "
                                  "(draws without the treated unit are retried) with FW non-convergence warnings - not a valid SE")
    # numpy vs Rust Frank-Wolfe backend: same point estimate?
    code = ("import pandas as pd; from diff_diff import SyntheticDiD; df=pd.read_csv(%r); df['ever']=(df.state=='California').astype(int); "
            "r=SyntheticDiD(variance_method='jackknife').fit(df,outcome='packs_per_capita',treatment='ever',unit='state',time='year',post_periods=list(range(1989,2001))); print(repr(float(r.att)))") % CAL
    with contextlib.suppress(Exception):
        p = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                           env={**os.environ, "DIFF_DIFF_BACKEND": "python"}, timeout=300)
        sd["estimate_numpy_backend"] = float(p.stdout.strip().splitlines()[-1])
    # Replay of R's 200 placebo permutations (from the R fixture written by sc_r_prop99.R, if
    # present) through diff-diff's private test seam _placebo_indices, with the same fit-time
    # quantities diff-diff's fit() computes (normalised Y, auto zetas, min_decrease, warm starts).
    rfix = os.path.join(HERE, "fixtures", "sc_r_prop99.json")
    if os.path.exists(rfix):
        from diff_diff.utils import (_compute_regularization, _compute_noise_level,
                                     compute_sdid_unit_weights, compute_time_weights)
        R = json.load(open(rfix))
        est = SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=seed)
        controls = sorted(set(df["state"]) - {"California"})
        pre_p = [y for y in sorted(df["year"].unique()) if y not in POST]
        Ypc, Ypoc, Yptr, Ypotr = est._create_outcome_matrices(df, "packs_per_capita", "state", "year",
                                                             pre_p, POST, ["California"], controls)
        sh, sc_ = float(np.mean(Ypc)), float(np.std(Ypc))
        n = lambda M: (M - sh) / sc_
        zo, zl = _compute_regularization(n(Ypc), 1, len(POST))
        md = 1e-5 * _compute_noise_level(n(Ypc))
        trm, trpm = np.mean(n(Yptr), axis=1), np.mean(n(Ypotr), axis=1)
        om = compute_sdid_unit_weights(n(Ypc), trm, zeta_omega=zo, min_decrease=md)
        la = compute_time_weights(n(Ypc), n(Ypoc), zeta_lambda=zl, min_decrease=md)
        runits = R["setup"]["units"]
        idx = np.array([[controls.index(runits[i - 1]) for i in row] for row in R["placebo_permutations"]["draws"]])
        se_n, eff_n = est._placebo_variance_se(n(Ypc), n(Ypoc), trm, trpm, n_treated=1, zeta_omega=zo, zeta_lambda=zl,
                                               min_decrease=md, replications=len(idx), init_omega=om, init_lambda=la,
                                               _placebo_indices=idx)
        r_eff = np.asarray(R["estimators"]["synthdid"]["placebo_estimates"], float)
        sd["se_placebo_R_permutations"] = {
            "what": "diff-diff SyntheticDiD._placebo_variance_se fed R's 200 permutations (fixtures/sc_r_prop99.json, set.seed(12345)) via its private _placebo_indices seam",
            "se": float(se_n * sc_), "R_se": R["estimators"]["synthdid"]["se"]["placebo"],
            "max_abs_diff_placebo_estimates_vs_R": float(np.max(np.abs(np.asarray(eff_n) * sc_ - r_eff))),
        }
    out["SyntheticDiD"] = sd

    # Classic ADH synthetic control
    sm = pd.read_csv(SMOKING)
    sm["D"] = ((sm["state"] == "California") & (sm["year"] >= 1989)).astype(int)
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        t = time.perf_counter()
        r = SyntheticControl(v_method="nested", seed=seed).fit(
            sm, outcome="cigsale", treatment="D", unit="state", time="year",
            predictors=ADH_PRED, predictor_window=ADH_PRED_YEARS, special_predictors=ADH_SPECIAL)
        el_fit = time.perf_counter() - t
        t = time.perf_counter()
        pdf = r.in_space_placebo()
        el_pl = time.perf_counter() - t
    bal = r.predictor_balance
    ratios = {str(row.unit): {"pre_rmspe": float(np.sqrt(row.pre_mspe)), "post_rmspe": float(np.sqrt(row.post_mspe)),
                              "ratio": float(row.rmspe_ratio), "status": row.status} for row in pdf.itertuples()}
    out["SyntheticControl"] = {
        "data": "prop99_smoking.csv",
        "settings": (f"SyntheticControl(v_method='nested', n_starts=4, seed={seed}, standardize='std'): predictors row-standardised by "
                     "sd (ddof=1) over donors+treated; V = softmax(theta); starts: uniform, inverse raw-predictor variance, "
                     "univariate-fit (1/MSPE with V = e_i), Dirichlet(1) draws; each start Nelder-Mead (maxiter 1000, xatol=fatol=1e-8), "
                     "then a Powell polish from the best; inner W exact (NNLS on the simplex); loss = mean pre-period (1970-1988) squared gap"),
        "estimate_avg_gap_1989_2000": float(r.att),
        "gap_2000": float(r.gap_path[2000]),
        "unit_weights_ge_1e-6": {str(k): float(v) for k, v in sorted(r.donor_weights.items(), key=lambda kv: -kv[1])},
        "V": {lab: float(v) for lab, v in zip(PRED_LABELS, r.v_weights.values())},
        "mspe_v_1970_1988": float(r.mspe_v),
        "pre_rmspe_1970_1988": float(r.pre_rmspe),
        "rmspe_ratio": float(r.rmspe_ratio),
        "predictor_balance": {lab: {"treated": float(bal.treated[i]), "synthetic": float(bal.synthetic[i]),
                                    "donor_mean": float(bal.donor_mean[i])} for i, lab in enumerate(PRED_LABELS)},
        "gaps": {int(k): float(v) for k, v in r.gap_path.items()},
        "placebo_in_space": {
            "pool": "each donor treated in turn against ALL other 38 units (California included), same nested procedure",
            "placebo_p_value": float(r.placebo_p_value), "n_placebos": int(r.n_placebos), "n_failed": int(r.n_failed),
            "ratios": ratios, "rank_by_ratio_desc": sorted(ratios, key=lambda u: -ratios[u]["ratio"]),
            "seconds": el_pl,
        },
        "warnings": sorted({str(w.message)[:300] for w in wl}),
        "seconds_fit": el_fit,
    }
    return out, [float(v) for v in r.v_weights.values()]


# =========================================================================== main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "sc_prop99_python.json"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--synthdid-python", default=os.environ.get("SC_SYNTHDID_PYTHON", "/tmp/venvs/synthdid312/bin/python"))
    ap.add_argument("--pysyncon-placebo-from", default=None)
    ap.add_argument("--pysyncon-placebo", action="store_true",
                    help="run pysyncon's PlaceboTest here (very slow: 12 of 38 placebos took 82 min with 2 workers on the loaded 2-core machine)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.part == "synthdid":
        part_synthdid(a.seed, a.reps)
        return

    t0 = time.perf_counter()
    res = {
        "what": "Python peer reference numbers for SC / SDID on California Proposition 99 (see sc_peers_notes.md)",
        "generated_by": "benches/peers/sc_prop99_python.py",
        "generated_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "seed": a.seed, "reps": a.reps,
        "data": {"california_prop99.csv": _sha16(CAL), "prop99_smoking.csv": _sha16(SMOKING)},
        "published": {
            "adh2010_weights": {"Utah": 0.334, "Nevada": 0.234, "Montana": 0.199, "Colorado": 0.164, "Connecticut": 0.069},
            "adh2010_p_value": 1 / 39,
            "arkhangelsky2021_R_synthdid": {"sdid": -15.604, "sc": -19.620, "did": -27.349,
                                            "placebo_se": {"sdid": 8.4, "sc": 9.9, "did": 17.7}},
        },
    }
    print("diff-diff ...", file=sys.stderr)
    res["diff_diff"], dd_v = part_diffdiff(a.seed, a.reps)
    print("synthdid ...", file=sys.stderr)
    p = subprocess.run([a.synthdid_python, os.path.abspath(__file__), "--part", "synthdid", "--seed", str(a.seed),
                        "--reps", str(a.reps)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("synthdid part failed:\n" + p.stderr[-3000:])
    res["synthdid"] = json.loads(p.stdout)
    print("pysyncon ...", file=sys.stderr)
    res["pysyncon"] = part_pysyncon(a.seed, a.pysyncon_placebo_from, a.pysyncon_placebo, a.workers, dd_v)
    res["seconds_total"] = time.perf_counter() - t0
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1, sort_keys=False)
        fh.write("\n")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
