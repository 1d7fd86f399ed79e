"""The offer plan (dm.offers.optimize): exact against HiGHS, decompose at province scale beside greedy.

Three parts, side by side in one run:

1. exactness — generated instances of 10,000-20,000 customers x 50-75 activities with every
   constraint kind and conflicts: ``method="exact"`` against HiGHS's optimum on an independent
   formulation built here from the frames (``scipy.optimize.milp``, HiGHS inside); then
   ``method="decompose"`` against the best bound HiGHS proves when given 10x decompose's time.
2. hit rate — greedy and decompose on a simulated world (p_response: a noisy estimate of the
   simulator's planted probabilities), both sent with ``dm.loop.simulate_plan`` (``dm.synth.respond``):
   hit rate, expected vs planted vs realised take-ups.
3. scale — customers x 35 services x 11 channels (about 3 candidates per customer, 100
   activities over a month, channel caps, weekly caps, budgets, minimum and maximum sales,
   a per-customer cap of 3, a weekly phone cap of 1, conflicts): decompose and greedy, each in
   a fresh subprocess that builds the instance, then times the call; peak memory is the
   process's peak RSS (VmHWM, instance included), ``call_GiB`` its growth during the call.

    .venv/bin/python benchmarks/bench_offers.py                          # all three parts (scale at 100k and 1M)
    .venv/bin/python benchmarks/bench_offers.py --part scale --sizes 12000000
    .venv/bin/python benchmarks/bench_offers.py --part exactness --exact-sizes 10000x50,20000x75
    .venv/bin/python benchmarks/bench_offers.py --part hitrate --hit-users 100000

Exactness and hit rate as measured on 2026-12-02 (load 14-17 on 2 cores): benchmarks/README.md,
section "bench_offers.py". 10000x50: dm exact 35,176.671 (its own gap 1.0e-6, 102 s) lies inside
what HiGHS on the independent formulation proves in 1200 s (incumbent 35,176.659, bound
35,176.705); decompose 35,174.006 in 3.7 s = 99.992% of HiGHS's final bound and of the LP bound
(35,176.750); HiGHS given 10x decompose's time proves no finite bound. 20000x75 (seed 0): its LP
relaxation is infeasible as generated (the tight minimum sales cannot be met), so the script halves
the minimum sales until the LP is feasible (min_sales_scale 0.5): dm exact 52,134.514 (236 s) =
HiGHS's proved optimum 52,134.513 (315 s) to 1.5e-8; decompose 52,131.300 in 7.3 s = 99.994% of it
and 99.992% of the LP bound; again no finite HiGHS bound in 10x decompose's time.

Scale, ``--part scale --sizes 100000,1000000`` and, once, ``--sizes 12000000`` (2026-12-01, 22:32-22:54 UTC):

 customers    method  candidates  time_s  cpu_s  peak_GiB  call_GiB   objective       bound     gap  feasible  iterations
    100000 decompose      293790    24.5   24.2     0.16      0.04     219,399     219,569  0.077%      True         300
    100000    greedy      293790     0.8    0.5     0.15      0.03     213,146           -       -      True           -
   1000000 decompose     2935919    89.3   83.8     0.61      0.38   2,257,269   2,264,783  0.332%      True     10 (+ sample)
   1000000    greedy     2935919    10.7    8.5     0.42      0.19   2,131,452           -       -      True           -
  12000000 decompose    35199293   522.0  222.3     5.30      3.88  29,903,322  29,954,522  0.171%      True     10 (+ sample)
  12000000    greedy    35199293   447.2  222.1     3.63      2.21  2.6978e+07           -       -      True           -

decompose is 2.9% (100k), 5.9% (1M) and 10.8% (12M) above greedy on the same instance, with
a proved gap under 0.4%, in under 10 minutes and 5.3 GiB at 12M customers.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: G3's eleven channels (the set of dmkit.catalog.G3_CHANNELS; this order matches CHANNEL_SHARE)
CHANNELS = ("sms", "web", "queue", "hall", "hotline", "outbound", "wap_push", "ussd", "kiosk", "topup", "retail")
#: cost of one contact per channel (yuan): messages are cheap, people are not
CHANNEL_COST = {"sms": 0.05, "web": 0.02, "queue": 0.03, "hall": 1.5, "hotline": 0.8, "outbound": 1.2,
                "wap_push": 0.06, "ussd": 0.04, "kiosk": 0.3, "topup": 0.2, "retail": 0.9}
#: how often a channel carries an activity
CHANNEL_SHARE = np.array([20, 8, 8, 10, 6, 8, 12, 6, 6, 6, 10], dtype=float)


def make_instance(n_users: int, *, n_acts: int = 100, n_services: int = 35, cand_mean: float = 3.0,
                  seed: int = 0, world=None, month: str | None = None) -> dict:
    """Candidates (sorted by user; int32 / float32 columns), activities, constraints, conflicts.

    With a simulated ``world`` (n_users users) and the ``month`` of the contacts, ``p_response`` is a
    model's estimate of the simulator's planted probability of a subscription (true take-up of the
    activity's first service x the channel's delivery and effect, times a lognormal error of sd 0.5),
    so a plan's expectation can be checked against what the simulator answers.
    """
    from dmkit import catalog

    rng = np.random.default_rng(seed)
    services = np.array(catalog.SERVICES[:n_services])
    ch = rng.choice(len(CHANNELS), size=n_acts, p=CHANNEL_SHARE / CHANNEL_SHARE.sum())
    day = rng.integers(1, 31, size=n_acts)
    first = rng.integers(0, n_services, size=n_acts)
    second = rng.integers(0, n_services, size=n_acts)
    two = rng.random(n_acts) < 0.3
    svc = [[services[f]] + ([services[s]] if t and s != f else []) for f, s, t in zip(first, second, two, strict=True)]
    cost = np.array([CHANNEL_COST[CHANNELS[c]] for c in ch]) * rng.uniform(0.8, 1.2, n_acts)
    activities = pd.DataFrame({"activity_id": np.arange(n_acts, dtype=np.int32), "day": day,
                               "channel": [CHANNELS[c] for c in ch], "services": svc, "cost": cost.round(3)})
    margin = rng.uniform(8.0, 40.0, size=n_services)          # value of a take-up, per service
    k = np.minimum(1 + rng.poisson(cand_mean - 1.0, size=n_users), 8)
    uid = np.repeat(np.arange(n_users, dtype=np.int64), k)
    pop = rng.gamma(2.0, 1.0, size=n_acts)
    act = rng.choice(n_acts, size=len(uid), p=pop / pop.sum())
    key = np.unique(uid * n_acts + act)                       # sorted by user, then activity
    del uid, act
    user = (key // n_acts).astype(np.int32)
    act = (key % n_acts).astype(np.int32)
    del key
    p = rng.beta(1.2, 22.0, size=len(user)).astype(np.float32)
    if world is not None:
        import importlib

        R = importlib.import_module("dmkit.synth.respond")   # the module (dm.synth.respond is the function)
        truth = R.take_up_probability(world, month=month, services=list(services))
        col = truth.columns.get_indexer([f"p_{services[f]}" for f in first])[act]
        ch_of = np.array([CHANNELS[c] for c in ch])[act]
        planted = truth.to_numpy()[user, col] * np.array([R.DELIVERY[x] * R.CHANNEL_EFFECT[x] for x in ch_of])
        p = np.clip(planted * np.exp(rng.normal(0.0, 0.5, len(user)) - 0.125), 0, 1).astype(np.float32)
    value = (p * margin[first][act] - activities["cost"].to_numpy()[act]).astype(np.float32)
    candidates = pd.DataFrame({"user_id": user, "activity_id": act, "value": value, "p_response": p})
    constraints = _constraints(candidates, activities, services, rng)
    conflicts = pd.DataFrame([
        dict(channel_1="sms", services_1=None, channel_2="sms", services_2=None, lag=3),
        dict(channel_1="outbound", services_1=None, channel_2="hotline;outbound", services_2=None, lag=7),
        dict(channel_1="hotline", services_1=None, channel_2="outbound", services_2=None, lag=7),
        dict(channel_1="wap_push", services_1=None, channel_2="sms;wap_push", services_2=None, lag=2),
    ])
    return {"candidates": candidates, "activities": activities, "constraints": constraints, "conflicts": conflicts}


def _constraints(c: pd.DataFrame, acts: pd.DataFrame, services: np.ndarray, rng) -> pd.DataFrame:
    a = c["activity_id"].to_numpy()
    pos = c["value"].to_numpy() > 0
    A = len(acts)
    n_pos = np.bincount(a[pos], minlength=A)
    p_all = np.bincount(a, weights=c["p_response"].to_numpy(np.float64), minlength=A)
    p_pos = np.bincount(a[pos], weights=c["p_response"].to_numpy(np.float64)[pos], minlength=A)
    cost = acts["cost"].to_numpy()
    chan = acts["channel"].to_numpy()
    day = acts["day"].to_numpy()
    rows = []
    for chn in CHANNELS:                                       # monthly channel capacities
        m = chan == chn
        if n_pos[m].sum():
            rows.append(("max_contacts", None, None, chn, None, int(0.6 * n_pos[m].sum())))
    for w in range(4):                                         # weekly outbound call-centre capacity
        m = (chan == "outbound") & (day >= 1 + 7 * w) & (day <= 7 + 7 * w)
        if n_pos[m].sum():
            rows.append(("max_contacts", 1 + 7 * w, 7 + 7 * w, "outbound", None, int(0.4 * n_pos[m].sum())))
    rows.append(("budget", None, None, None, None, round(0.45 * float((n_pos * cost).sum()), 2)))
    m = np.isin(chan, ["hall", "retail", "kiosk"])
    rows.append(("budget", None, None, "hall;retail;kiosk", None, round(0.35 * float((n_pos * cost)[m].sum()), 2)))
    has = {s: np.array([s in v for v in acts["services"]]) for s in services}
    by_sales = sorted(services, key=lambda s: -p_all[has[s]].sum())
    for i, s in enumerate(by_sales[:8]):                       # KPI targets: minimum sales, 3 tight
        rows.append(("min_sales", None, None, None, s, round((0.9 if i < 3 else 0.6) * float(p_pos[has[s]].sum()), 3)))
    for s in by_sales[8:10]:                                   # stock limits: maximum sales
        rows.append(("max_sales", None, None, None, s, round(0.5 * float(p_pos[has[s]].sum()), 3)))
    m = (chan == "hall") & (day <= 15)
    if n_pos[m].sum():                                         # half of the hall's share of its capacity
        rows.append(("min_contacts", 1, 15, "hall", None, int(0.5 * 0.6 * n_pos[m].sum())))
    rows.append(("max_contacts_per_user", None, None, None, None, 3))
    rows.append(("max_contacts_per_user", 1, 31, "outbound;hotline", None, 1))
    return pd.DataFrame(rows, columns=["kind", "start", "end", "channels", "services", "bound"])


# ---------------------------------------------------------------------------- independent HiGHS model
def _codes(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return set(v.split(";")) if isinstance(v, str) else set(v)


def _match(acts: pd.DataFrame, channels, services, start=None, end=None) -> np.ndarray:
    ok = np.ones(len(acts), dtype=bool)
    ch, sv = _codes(channels), _codes(services)
    if ch is not None:
        ok &= acts["channel"].isin(ch).to_numpy()
    if sv is not None:
        ok &= np.array([bool(set(s) & sv) for s in acts["services"]])
    if start is not None and not pd.isna(start):
        ok &= acts["day"].to_numpy() >= start
    if end is not None and not pd.isna(end):
        ok &= acts["day"].to_numpy() <= end
    return ok


def reference_model(inst: dict):
    """The same problem written directly as ``(c, A, lower, upper)`` for scipy (maximise ``c @ x``), from the frames."""
    import scipy.sparse as sp

    c, acts = inst["candidates"], inst["activities"]
    n = len(c)
    a = c["activity_id"].to_numpy()
    pos = pd.Index(acts["activity_id"]).get_indexer(a)
    user = c["user_id"].to_numpy()
    p = c["p_response"].to_numpy(np.float64)
    cost = acts["cost"].to_numpy()[pos]
    blocks, lo, hi = [], [], []
    for r in inst["constraints"].to_dict("records"):
        m = _match(acts, r["channels"], r["services"], r["start"], r["end"])[pos]
        if r["kind"] == "max_contacts_per_user":
            idx = np.flatnonzero(m)
            uu, inv = np.unique(user[idx], return_inverse=True)
            blocks.append(sp.csr_matrix((np.ones(len(idx)), (inv, idx)), shape=(len(uu), n)))
            lo.append(np.full(len(uu), -np.inf)), hi.append(np.full(len(uu), r["bound"]))
            continue
        w = {"min_contacts": 1.0, "max_contacts": 1.0, "budget": cost, "min_sales": p, "max_sales": p}[r["kind"]]
        row = np.where(m, w, 0.0)
        blocks.append(sp.csr_matrix(row[None, :]))
        lo.append([r["bound"] if r["kind"].startswith("min") else -np.inf])
        hi.append([np.inf if r["kind"].startswith("min") else r["bound"]])
    day = acts["day"].to_numpy()[pos]
    for r in inst["conflicts"].to_dict("records"):
        m1 = _match(acts, r["channel_1"], r["services_1"])[pos]
        m2 = _match(acts, r["channel_2"], r["services_2"])[pos]
        i1, i2 = np.flatnonzero(m1), np.flatnonzero(m2)
        d1 = pd.DataFrame({"u": user[i1], "i": i1})
        d2 = pd.DataFrame({"u": user[i2], "j": i2})
        pr = d1.merge(d2, on="u")
        gap = day[pr["j"].to_numpy()] - day[pr["i"].to_numpy()]
        pr = pr[(pr["i"] != pr["j"]) & (gap >= 0) & (gap < r["lag"])]
        P = len(pr)
        if P:
            rows = np.repeat(np.arange(P), 2)
            cols = np.stack([pr["i"].to_numpy(), pr["j"].to_numpy()], axis=1).ravel()
            blocks.append(sp.csr_matrix((np.ones(2 * P), (rows, cols)), shape=(P, n)))
            lo.append(np.full(P, -np.inf)), hi.append(np.ones(P))
    A = sp.vstack(blocks, format="csr")
    return c["value"].to_numpy(np.float64), A, np.concatenate(lo), np.concatenate(hi)


def highs_reference(inst: dict, time_limit: float, *, relax: bool = False, model=None) -> dict:
    """HiGHS (``scipy.optimize.milp``) on the independent model: incumbent, proved bound, status, seconds.

    ``relax=True`` solves the LP relaxation (every x in [0, 1]); its optimum is an upper bound of the MIP.
    ``bound`` is NaN when HiGHS proved no finite bound within ``time_limit``.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    v, A, lo, hi = model if model is not None else reference_model(inst)
    t0 = time.perf_counter()
    res = milp(-v, integrality=np.zeros(len(v)) if relax else np.ones(len(v)), bounds=Bounds(0, 1),
               constraints=LinearConstraint(A, lo, hi),
               options={"time_limit": float(time_limit), "mip_rel_gap": 1e-6, "disp": False})
    obj = -res.fun if res.x is not None else float("nan")
    if relax:
        bound = obj if res.status == 0 else float("nan")
    else:
        dual = getattr(res, "mip_dual_bound", None)
        bound = -dual if dual is not None and np.isfinite(dual) else float("nan")
    return {"objective": obj, "bound": bound, "optimal": res.status == 0, "seconds": time.perf_counter() - t0}


def exactness(sizes: list[tuple[int, int]], seed: int, *, exact_limit: float, highs_limit: float) -> list[dict]:
    """One row per size: decompose, HiGHS in 10x its time, the LP relaxation, dm exact, HiGHS to its limit.

    Shares are decompose's objective over each bound: HiGHS's best bound after 10x decompose's time
    (NaN when HiGHS proved none), HiGHS's final bound (its optimum when ``highs_optimal``), and the
    LP relaxation's optimum.
    """
    import dmkit as dm

    out = []
    for n_users, n_acts in sizes:
        inst = make_instance(n_users, n_acts=n_acts, cand_mean=4.0, seed=seed)
        # a generated instance whose LP relaxation is infeasible (its tight minimum sales cannot be met)
        # says nothing about exactness: halve the minimum sales until the LP is feasible, and say so
        scale = 1.0
        for _ in range(4):
            model = reference_model(inst)
            lp = highs_reference(inst, time_limit=highs_limit, relax=True, model=model)
            if np.isfinite(lp["bound"]):
                break
            print(f"{n_users}x{n_acts}: LP relaxation infeasible with min_sales x{scale:g}; halving them", flush=True)
            scale *= 0.5
            k = inst["constraints"]
            inst["constraints"] = k.assign(bound=k["bound"].where(k["kind"] != "min_sales", (k["bound"] * 0.5).round(3)))
        kw = {k: inst[k] for k in ("activities", "constraints", "conflicts")}
        row = {"customers": n_users, "activities": n_acts, "candidates": len(inst["candidates"]),
               "constraints": len(inst["constraints"]), "min_sales_scale": scale}
        t = time.perf_counter()
        de = dm.offers.optimize(inst["candidates"], method="decompose", **kw)
        t_de = time.perf_counter() - t
        row.update(dec_obj=de.objective, dec_bound=de.bound, dec_gap=de.gap, dec_s=t_de, dec_feasible=de.feasible)
        r10 = highs_reference(inst, time_limit=max(1.0, 10 * t_de), model=model)
        row.update(highs10x_s=r10["seconds"], highs10x_obj=r10["objective"], highs10x_bound=r10["bound"],
                   lp_bound=lp["bound"], lp_s=lp["seconds"])
        print(json.dumps(row), flush=True)
        t = time.perf_counter()
        ex = dm.offers.optimize(inst["candidates"], method="exact", time_limit=exact_limit, **kw)
        t_ex = time.perf_counter() - t
        row.update(exact_obj=ex.objective, exact_bound=ex.bound, exact_gap=ex.gap, exact_s=t_ex,
                   exact_feasible=ex.feasible)
        print(json.dumps(row), flush=True)
        ref = highs_reference(inst, time_limit=highs_limit, model=model)
        row.update(highs_obj=ref["objective"], highs_bound=ref["bound"], highs_optimal=ref["optimal"],
                   highs_s=ref["seconds"], exact_vs_highs=ex.objective / ref["objective"] - 1,
                   dec_share_highs10x_bound=de.objective / r10["bound"],
                   dec_share_highs_bound=de.objective / ref["bound"],
                   dec_share_lp_bound=de.objective / lp["bound"],
                   dec_share_best_bound=de.objective / np.nanmin([ref["bound"], ex.bound, r10["bound"],
                                                                   lp["bound"], de.bound]))
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def exactness_tables(ex: pd.DataFrame) -> str:
    """The exactness part as two printed tables with their reading (what each column is)."""
    f = lambda v: f"{v:.6g}"  # noqa: E731
    t1 = ex[["customers", "activities", "candidates", "constraints", "min_sales_scale", "exact_obj", "exact_bound", "exact_s",
             "highs_obj", "highs_bound", "highs_optimal", "highs_s", "exact_vs_highs"]]
    t2 = ex[["customers", "activities", "dec_obj", "dec_bound", "dec_gap", "dec_s", "highs10x_s", "highs10x_bound",
             "dec_share_highs10x_bound", "highs_bound", "dec_share_highs_bound", "lp_bound", "lp_s",
             "dec_share_lp_bound", "dec_share_best_bound"]]
    lines = ["\nexactness (1): dm exact (highspy) vs HiGHS on an independent formulation (scipy.milp); "
             "*_bound = the upper bound each proved; highs_optimal = HiGHS proved optimality (rel. gap 1e-6) "
             "within its limit",
             t1.to_string(index=False, float_format=f),
             "\nexactness (2): decompose's objective as a share of each bound -- HiGHS's best bound after 10x "
             "decompose's time (NaN: HiGHS proved no finite bound in that time), HiGHS's final bound, the LP "
             "relaxation's optimum (computed by HiGHS), and the tightest of all bounds",
             t2.to_string(index=False, float_format=f)]
    for r in ex.to_dict("records"):
        if not np.isfinite(r["highs10x_bound"]):
            lines.append(f"{r['customers']}x{r['activities']}: HiGHS proved no finite bound in 10x decompose's "
                         f"time ({r['highs10x_s']:.1f} s); compare to the final and LP bounds instead")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- next month's hit rate
def hit_rate(n_users: int, seed: int, *, province: str = "guangdong", month: str = "2009-07") -> pd.DataFrame:
    """Greedy and decompose plans on a simulated world, sent with dm.loop.simulate_plan (dm.synth.respond)."""
    import dmkit as dm

    world = dm.synth.generate(province, month=str(pd.Period(month, "M") - 1), n_users=n_users, seed=seed, n_months=3)
    inst = make_instance(n_users, seed=seed, world=world, month=month)
    # the planted probabilities put the take-ups on fewer candidates than the scale part's random ones:
    # the generated minimum sales at half their level keep the plans feasible
    k = inst["constraints"]
    inst["constraints"] = k.assign(bound=k["bound"].where(k["kind"] != "min_sales", (k["bound"] * 0.5).round(3)))
    rows = []
    for method in ("greedy", "decompose"):
        t0 = time.perf_counter()
        plan = dm.offers.optimize(inst["candidates"], activities=inst["activities"], constraints=inst["constraints"],
                                  conflicts=inst["conflicts"], method=method, seed=seed)
        t_plan = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim = dm.loop.simulate_plan(plan, world, month=month, seed=seed)
        p = sim.contacts["p_planted"].to_numpy()
        rows.append({"customers": n_users, "method": method, "objective": plan.objective, "feasible": plan.feasible,
                     "contacts": sim.contacted, "hits": sim.hits, "hit_rate": sim.hit_rate,
                     "expected_take_ups": sim.expected, "planted_take_ups": sim.planted,
                     "realised_take_ups": sim.hits, "realised_vs_planted_sd": (sim.hits - p.sum()) /
                     max(np.sqrt((p * (1 - p)).sum()), 1e-9), "plan_s": t_plan, "simulate_s": time.perf_counter() - t0})
        print(json.dumps(rows[-1]), flush=True)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- scale (one subprocess per run)
def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20  # GiB
    return float("nan")


def worker(method: str, n_users: int, seed: int) -> dict:
    import dmkit as dm

    inst = make_instance(n_users, seed=seed)
    gc.collect()
    base_peak = _status("VmHWM")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    base = _status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    plan = dm.offers.optimize(inst["candidates"], activities=inst["activities"],
                              constraints=inst["constraints"], conflicts=inst["conflicts"], method=method,
                              time_limit=600.0)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status("VmHWM")
    return {"customers": n_users, "method": method, "candidates": len(inst["candidates"]),
            "constraints": len(inst["constraints"]), "time_s": dt, "cpu_s": cpu,
            "peak_GiB": max(peak, base_peak), "call_GiB": peak - base, "objective": plan.objective,
            "bound": plan.bound, "gap": plan.gap, "feasible": plan.feasible, "iterations": plan.iterations,
            "contacts": len(plan.assignments), "expected_sales": plan.expected_sales}


def scale(sizes: list[int], seed: int, methods: list[str], timeout: float) -> list[dict]:
    out = []
    for n in sizes:
        for method in methods:
            cmd = [sys.executable, __file__, "--worker", method, "--n", str(n), "--seed", str(seed)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                      env=dict(os.environ, OMP_NUM_THREADS="2"))
            except subprocess.TimeoutExpired:
                print(f"{method} n={n:,}: did not finish in {timeout} s", flush=True)
                continue
            if proc.returncode != 0:
                print(f"{method} n={n:,}: failed: {proc.stderr[-600:]}", flush=True)
                continue
            out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["exactness", "scale", "hitrate", "both"], default="both")
    ap.add_argument("--hit-users", type=int, default=100_000, help="customers of the hit-rate part")
    ap.add_argument("--sizes", default="100000,1000000", help="customers of the scale part")
    ap.add_argument("--exact-sizes", default="10000x50,20000x75", help="customers x activities, exactness part")
    ap.add_argument("--exact-time-limit", type=float, default=1200.0, help="seconds for dm exact (exactness part)")
    ap.add_argument("--highs-time-limit", type=float, default=1200.0,
                    help="seconds for the reference HiGHS MIP and its LP relaxation (exactness part)")
    ap.add_argument("--methods", default="decompose,greedy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.seed)))
        return
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    if args.part in ("exactness", "both"):
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.exact_sizes.split(",")]
        ex = pd.DataFrame(exactness(sizes, args.seed, exact_limit=args.exact_time_limit,
                                    highs_limit=args.highs_time_limit))
        print(exactness_tables(ex))
    if args.part in ("hitrate", "both"):
        hr = hit_rate(args.hit_users, args.seed)
        print("\nnext month's hit rate on the simulator (dm.loop.simulate_plan -> dm.synth.respond): hits = contacts whose "
              "customer subscribed to the offered service; expected = the plan's p_response, planted = the "
              "simulator's probabilities, realised = hits; realised_vs_planted_sd = (realised - planted) / sd")
        print(hr.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    if args.part in ("scale", "both"):
        sc = pd.DataFrame(scale([int(s) for s in args.sizes.split(",")], args.seed, args.methods.split(","),
                                args.timeout))
        if len(sc):
            cols = ["customers", "method", "candidates", "constraints", "time_s", "cpu_s", "peak_GiB", "call_GiB",
                    "objective", "bound", "gap", "feasible", "iterations", "contacts", "expected_sales"]
            print("\nscale: decompose beside greedy on the same instance (35 services x 11 channels, ~3 "
                  "candidates per customer, 100 activities)")
            print(sc[cols].to_string(index=False, float_format=lambda v: f"{v:.6g}"))


if __name__ == "__main__":
    main()
