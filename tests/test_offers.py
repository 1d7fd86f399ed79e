"""dm.offers: hand-checkable plans per constraint kind, decompose against exact, infeasible minimums.

Every plan is checked by ``violations`` below, an independent checker written from the
issue's semantics with pandas joins only (it shares no code with dmkit.offers).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dmkit as dm
from dmkit.errors import DmkitError, ParameterError, SchemaError
from dmkit.offers import InfeasiblePlanError


def _codes(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        return None if v.strip().upper() in ("ALL", "") else {s.strip() for s in v.split(";")}
    if isinstance(v, (list, tuple, set)):
        return {str(s) for s in v}
    return {str(v)}


def _services(v):
    return {s.strip() for s in v.split(";")} if isinstance(v, str) else {str(s) for s in v}


def _matches(acts: pd.DataFrame, channels, services, start=None, end=None) -> pd.Series:
    ch, sv = _codes(channels), _codes(services)
    ok = pd.Series(True, index=acts.index)
    if ch is not None:
        ok &= acts["channel"].astype(str).isin(ch)
    if sv is not None:
        ok &= acts["services"].map(lambda s: bool(_services(s) & sv))
    if start is not None and not (isinstance(start, float) and math.isnan(start)):
        ok &= acts["day"] >= start
    if end is not None and not (isinstance(end, float) and math.isnan(end)):
        ok &= acts["day"] <= end
    return ok


def violations(assignments: pd.DataFrame, candidates: pd.DataFrame, activities: pd.DataFrame,
               constraints: pd.DataFrame | None = None, conflicts: pd.DataFrame | None = None,
               tol: float = 1e-6) -> list[str]:
    """Every broken hard rule of the plan, as text (empty: the plan is valid)."""
    out = []
    key = ["user_id", "activity_id"]
    if assignments.duplicated(key).any():
        out.append("a contact appears twice")
    m = assignments[key].merge(candidates, on=key, how="left", indicator=True)
    if (m["_merge"] != "both").any():
        out.append("a contact that is not a candidate")
    d = m.merge(activities, on="activity_id", how="left")
    for i, r in (constraints if constraints is not None else pd.DataFrame()).iterrows():
        r = r.to_dict()
        ok = _matches(d, r.get("channels"), r.get("services"), r.get("start"), r.get("end"))
        sel = d[ok.to_numpy()]
        kind, b = r["kind"], float(r["bound"])
        if kind == "max_contacts_per_user":
            worst = sel.groupby("user_id").size().max() if len(sel) else 0
            if worst > b:
                out.append(f"constraints[{i}] {kind}: a user has {worst} > {b}")
            continue
        val = {"min_contacts": len(sel), "max_contacts": len(sel), "budget": sel["cost"].sum(),
               "min_sales": sel["p_response"].sum(), "max_sales": sel["p_response"].sum()}[kind]
        t = tol * max(1.0, abs(b))
        if kind.startswith("min") and val < b - t:
            out.append(f"constraints[{i}] {kind}: {val} < {b}")
        if not kind.startswith("min") and val > b + t:
            out.append(f"constraints[{i}] {kind}: {val} > {b}")
    for i, r in (conflicts if conflicts is not None else pd.DataFrame()).iterrows():
        r = r.to_dict()
        s1 = d[_matches(d, r.get("channel_1"), r.get("services_1")).to_numpy()]
        s2 = d[_matches(d, r.get("channel_2"), r.get("services_2")).to_numpy()]
        pair = s1[["user_id", "activity_id", "day"]].merge(s2[["user_id", "activity_id", "day"]], on="user_id")
        gap = pair["day_y"] - pair["day_x"]
        bad = pair[(pair["activity_id_x"] != pair["activity_id_y"]) & (gap >= 0) & (gap < float(r["lag"]))]
        if len(bad):
            out.append(f"conflicts[{i}]: {len(bad)} pairs, e.g. user {bad['user_id'].iloc[0]}")
    return out


# ---------------------------------------------------------------------------- helpers
def acts(*rows) -> pd.DataFrame:
    """activities from (id, day, channel, services, cost) tuples."""
    return pd.DataFrame(rows, columns=["activity_id", "day", "channel", "services", "cost"])


def cands(*rows) -> pd.DataFrame:
    """candidates from (user, activity, value, p) tuples."""
    return pd.DataFrame(rows, columns=["user_id", "activity_id", "value", "p_response"])


def cons(*rows) -> pd.DataFrame:
    cols = ["kind", "start", "end", "channels", "services", "bound"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


def solve(c, a, k=None, f=None, method="exact"):
    plan = dm.offers.optimize(c, activities=a, constraints=k, conflicts=f, method=method)
    if plan.feasible:
        assert violations(plan.assignments, c, a, k, f) == []
    return plan


ONE = acts(("x", 1, "sms", "fetion", 1.0))

# (name, candidates, activities, constraints, conflicts, optimum)
HAND = [
    ("max_contacts", cands((1, "x", 5, .1), (2, "x", 3, .1), (3, "x", 1, .1)), ONE,
     cons(("max_contacts", None, None, "sms", None, 2)), None, 8.0),
    ("min_contacts forces a negative value",
     cands((1, "x", -1, .1), (2, "x", -2, .1), (3, "x", -3, .1)), ONE,
     cons(("min_contacts", None, None, None, "fetion", 2)), None, -3.0),
    # knapsack: greedy by value takes the 6 and stops; the optimum is the two 4s
    ("budget", cands((1, "big", 6, .1), (2, "small", 4, .1), (3, "small", 4, .1)),
     acts(("big", 1, "hall", "mms", 4.0), ("small", 1, "hall", "mms", 2.0)),
     cons(("budget", None, None, None, None, 4)), None, 8.0),
    # only both s1 contacts reach 0.5 sales of s1 (one contact per user)
    ("min_sales", cands((1, "s1", 1, .4), (1, "s2", 3, .1), (2, "s1", 2, .3), (2, "s2", 2.5, .2)),
     acts(("s1", 1, "sms", "crbt", 0.0), ("s2", 1, "sms", "wap", 0.0)),
     cons(("min_sales", None, None, None, "crbt", 0.5), ("max_contacts_per_user", None, None, None, None, 1)),
     None, 3.0),
    ("max_sales", cands((1, "x", 5, .5), (2, "x", 4, .4), (3, "x", 3, .3)), ONE,
     cons(("max_sales", None, None, None, None, 0.8)), None, 8.0),
    # per-user cap on days 1-10 only: the day-20 contact is free
    ("max_contacts_per_user in a window", cands((1, "d1", 3, .1), (1, "d5", 2, .1), (1, "d20", 1, .1)),
     acts(("d1", 1, "sms", "a", 0.0), ("d5", 5, "sms", "a", 0.0), ("d20", 20, "sms", "a", 0.0)),
     cons(("max_contacts_per_user", 1, 10, None, None, 1)), None, 4.0),
    # sms days 1 and 2 conflict (lag 3); day 2 and 5 do not (5 - 2 = 3 is not < 3)
    ("conflict", cands((1, "d1", 2, .1), (1, "d2", 3, .1), (1, "d5", 1, .1)),
     acts(("d1", 1, "sms", "a", 0.0), ("d2", 2, "sms", "a", 0.0), ("d5", 5, "sms", "a", 0.0)),
     None, pd.DataFrame([dict(channel_1="sms", services_1=None, channel_2="sms", services_2=None, lag=3)]), 4.0),
    # a conflict is directed in time: hall 2 days after sms conflicts, hall 2 days before does not
    ("directed conflict", cands((1, "s", 1, .1), (1, "h_before", 1, .1), (2, "s", 1, .1), (2, "h_after", 2, .1)),
     acts(("s", 5, "sms", "a", 0.0), ("h_before", 3, "hall", "b", 0.0), ("h_after", 7, "hall", "b", 0.0)),
     None, pd.DataFrame([dict(channel_1="sms", services_1="a", channel_2="hall", services_2="ALL", lag=3)]), 4.0),
]


@pytest.mark.parametrize("name,c,a,k,f,opt", HAND, ids=[h[0] for h in HAND])
def test_hand_instances_solved_to_their_optimum(name, c, a, k, f, opt):
    exact = solve(c, a, k, f, "exact")
    assert exact.feasible and exact.objective == pytest.approx(opt, abs=1e-9)
    assert exact.bound == pytest.approx(opt, rel=1e-6, abs=1e-9)
    dec = solve(c, a, k, f, "decompose")
    assert dec.feasible
    assert dec.objective <= opt + 1e-9 and dec.bound >= opt - 1e-9
    greedy = solve(c, a, k, f, "greedy")
    assert greedy.objective <= opt + 1e-9


@pytest.mark.parametrize("name", ["max_contacts", "min_contacts forces a negative value", "min_sales",
                                  "max_contacts_per_user in a window", "conflict"])
def test_decompose_reaches_the_optimum_where_the_relaxation_is_tight(name):
    _, c, a, k, f, opt = next(h for h in HAND if h[0] == name)
    assert solve(c, a, k, f, "decompose").objective == pytest.approx(opt, abs=1e-9)


def test_greedy_by_value_misses_the_knapsack_optimum():
    _, c, a, k, f, _ = next(h for h in HAND if h[0] == "budget")
    assert solve(c, a, k, f, "greedy").objective == pytest.approx(6.0)


def test_greedy_by_priority_column():
    c = cands((1, "x", 5, .1), (2, "x", 3, .1), (3, "x", 1, .1)).assign(priority=[3, 2, 1])
    plan = solve(c, ONE, cons(("max_contacts", None, None, None, None, 2)), method="greedy")
    assert sorted(plan.assignments["user_id"]) == [2, 3]


def test_infeasible_minimum_is_reported_by_name():
    c = cands((1, "x", 1, .2), (2, "x", 1, .2), (3, "x", 1, .2))
    k = cons(("max_contacts", None, None, None, None, 10), ("min_contacts", None, None, "sms", None, 5))
    for method in ("exact", "decompose", "greedy"):
        plan = solve(c, ONE, k, method=method)
        assert not plan.feasible and math.isnan(plan.bound)
        row = plan.constraints.loc[1]
        assert row["shortfall"] == pytest.approx(2.0) and not row["ok"]
        assert plan.constraints.loc[0, "ok"]
        with pytest.raises(InfeasiblePlanError, match=r"constraints\[1\] \(min_contacts channels=sms\).*short by 2"):
            plan.require_feasible()
    assert plan.require_feasible.__self__ is plan


def test_infeasible_exact_comes_as_close_as_possible_then_best_value():
    # the minimum of 3 sales-units cannot be met; exact takes every contact that counts,
    # and of the others only those of positive value
    c = cands((1, "x", -1, .5), (2, "x", -2, .5), (3, "y", 4, .5), (4, "y", -4, .5))
    a = acts(("x", 1, "sms", "crbt", 0.0), ("y", 1, "hall", "mms", 0.0))
    plan = solve(c, a, cons(("min_sales", None, None, None, "crbt", 3)))
    assert not plan.feasible
    assert plan.constraints.loc[0, "shortfall"] == pytest.approx(2.0)
    assert sorted(plan.assignments["user_id"]) == [1, 2, 3]


def test_feasible_plan_requires_nothing():
    _, c, a, k, f, _ = HAND[0]
    plan = solve(c, a, k, f)
    assert plan.require_feasible() is plan and plan.shortfall.empty


# ---------------------------------------------------------------------------- random instances
def random_instance(seed: int, n_users: int = 150, n_acts: int = 8):
    rng = np.random.default_rng(seed)
    channels, services = ["sms", "hall", "web"], ["fetion", "mms", "crbt", "wap"]
    a = pd.DataFrame({"activity_id": np.arange(n_acts) * 10, "day": rng.integers(1, 31, n_acts),
                      "channel": rng.choice(channels, n_acts),
                      "services": [";".join(rng.choice(services, rng.integers(1, 3), replace=False))
                                   for _ in range(n_acts)],
                      "cost": rng.uniform(0.2, 2.0, n_acts).round(2)})
    rows = []
    for u in range(n_users):
        for ai in rng.choice(n_acts, rng.integers(1, 5), replace=False):
            rows.append((f"u{u}", int(a["activity_id"][ai]), round(rng.normal(1.0, 1.0), 3),
                         round(rng.uniform(0.02, 0.4), 3)))
    c = pd.DataFrame(rows, columns=["user_id", "activity_id", "value", "p_response"])
    n = len(c)
    k = cons(("max_contacts", None, None, "sms", None, int(0.25 * n)),
             ("budget", None, None, None, None, round(0.3 * n, 1)),
             ("min_sales", None, None, None, "crbt", round(0.02 * n, 2)),
             ("max_sales", 1, 20, None, None, round(0.08 * n, 2)),
             ("min_contacts", 10, 25, "hall;web", None, int(0.05 * n)),
             ("max_contacts_per_user", None, None, None, None, 2))
    f = pd.DataFrame([dict(channel_1="sms", services_1=None, channel_2="sms", services_2=None, lag=5),
                      dict(channel_1="hall", services_1="mms", channel_2="ALL", services_2=None, lag=3)])
    return c, a, k, f


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_decompose_close_to_exact_on_random_instances(seed):
    c, a, k, f = random_instance(seed)
    exact = solve(c, a, k, f, "exact")
    dec = solve(c, a, k, f, "decompose")
    greedy = solve(c, a, k, f, "greedy")
    if not exact.feasible:                     # proved: no method can meet the minimums
        assert not dec.feasible and not greedy.feasible
        return
    assert dec.feasible
    assert dec.objective <= exact.objective + 1e-6
    assert dec.bound >= exact.objective - 1e-6          # a valid bound
    assert dec.objective >= exact.objective - 0.03 * abs(exact.objective)
    if greedy.feasible:
        assert greedy.objective <= exact.objective + 1e-6


def test_decompose_on_many_users_is_within_its_gap():
    c, a, k, f = random_instance(3, n_users=3000, n_acts=12)
    exact = solve(c, a, k, f, "exact")
    dec = solve(c, a, k, f, "decompose")
    assert exact.feasible and dec.feasible
    assert dec.objective >= 0.995 * exact.objective
    assert dec.gap == pytest.approx((dec.bound - dec.objective) / abs(dec.bound))


def test_users_with_many_candidates_use_the_greedy_subproblem(monkeypatch):
    import dmkit.offers.decompose as dec_mod

    monkeypatch.setattr(dec_mod, "MAX_L", 2)
    c, a, k, f = random_instance(5, n_users=200)
    exact = solve(c, a, k, f, "exact")
    dec = solve(c, a, k, f, "decompose")
    assert dec.feasible and dec.bound >= exact.objective - 1e-6
    assert dec.objective <= exact.objective + 1e-6


# ---------------------------------------------------------------------------- inputs and result
def test_codes_lists_strings_and_integers_are_the_same_filter():
    c, a, k, f = random_instance(1, n_users=60)
    a_list = a.assign(services=a["services"].str.split(";"))
    k_list = k.assign(channels=k["channels"].map(lambda v: v.split(";") if isinstance(v, str) else v))
    p1 = dm.offers.optimize(c, activities=a, constraints=k, conflicts=f, method="exact")
    p2 = dm.offers.optimize(c, activities=a_list, constraints=k_list, conflicts=f, method="exact")
    assert p1.objective == pytest.approx(p2.objective, abs=1e-9)
    assert violations(p2.assignments, c, a, k, f) == []


def test_plan_contact_lists_summary_and_plot():
    c, a, k, f = random_instance(2, n_users=80)
    plan = solve(c, a, k, f)
    lists = plan.contact_lists()
    assert set(lists) == set(a.loc[a["activity_id"].isin(plan.assignments["activity_id"]), "channel"])
    assert sum(len(d) for d in lists.values()) == len(plan.assignments)
    for ch, d in lists.items():
        assert list(d.columns) == ["user_id", "service", "day", "activity_id"]
        assert set(a.set_index("activity_id").loc[d["activity_id"], "channel"]) == {ch}
    assert plan.by_channel()["value"].sum() == pytest.approx(plan.objective)
    assert plan.expected_sales == pytest.approx(plan.assignments["p_response"].sum())
    assert "constraints" in str(plan.summary()) and plan.to_frame().equals(plan.assignments)
    assert plan.plot() is not None
    table = plan.constraints
    assert list(table.columns[-6:]) == ["bound", "achieved", "slack", "shortfall", "binding", "ok"]


@pytest.mark.parametrize("change,err,match", [
    (lambda c, a, k: (c.assign(p_response=1.5), a, k), SchemaError, "p_response.*in \\[0, 1\\]"),
    (lambda c, a, k: (pd.concat([c, c.iloc[:1]]), a, k), SchemaError, "one row per \\(user_id, activity_id\\)"),
    (lambda c, a, k: (c.assign(activity_id=999), a, k), SchemaError, "unknown activities"),
    (lambda c, a, k: (c, a.assign(cost=-1.0), k), SchemaError, "cost.*>= 0"),
    (lambda c, a, k: (c, a, k.assign(kind="max_cost")), ParameterError, r"constraints\[0\].kind"),
    (lambda c, a, k: (c, a, k.assign(bound=-1)), ParameterError, r"constraints\[0\].bound"),
    (lambda c, a, k: (c.drop(columns="value"), a, k), SchemaError, "value"),
])
def test_bad_inputs_raise_named_errors(change, err, match):
    c, a, k, _ = random_instance(0, n_users=10)
    c2, a2, k2 = change(c, a, k)
    with pytest.raises(err, match=match):
        dm.offers.optimize(c2, activities=a2, constraints=k2)


def test_bad_method_and_lag():
    c, a, k, f = random_instance(0, n_users=10)
    with pytest.raises(ParameterError, match="method"):
        dm.offers.optimize(c, activities=a, method="milp")
    with pytest.raises(ParameterError, match=r"conflicts\[0\].lag"):
        dm.offers.optimize(c, activities=a, conflicts=f.assign(lag=-1))


def test_warm_start_from_a_sample_keeps_a_valid_bound():
    from dmkit.offers.decompose import solve_decompose
    from dmkit.offers.problem import build_problem
    from dmkit.offers.solve import make_plan

    c, a, k, f = random_instance(7, n_users=2000, n_acts=10)
    exact = solve(c, a, k, f, "exact")
    prob = build_problem(c, a, k, f)
    out = solve_decompose(prob, warm_users=500)
    plan = make_plan(prob, out["x"], bound=out["bound"], method="decompose", iterations=out["iterations"], seconds=0)
    assert plan.feasible and violations(plan.assignments, c, a, k, f) == []
    assert out["bound"] >= exact.objective - 1e-6
    assert plan.objective >= 0.98 * exact.objective


def test_subsets_up_to_the_per_user_cap_match_brute_force():
    import itertools as it

    from dmkit.offers.decompose import Subproblems
    from dmkit.offers.problem import build_problem

    rng = np.random.default_rng(11)
    a = pd.DataFrame({"activity_id": np.arange(9), "day": rng.integers(1, 31, 9), "channel": rng.choice(["sms", "hall"], 9),
                      "services": ["fetion"] * 9, "cost": 0.1})
    c = pd.DataFrame([(f"u{u}", ai, round(rng.normal(0.5, 1.0), 3), 0.1) for u in range(40)
                      for ai in rng.choice(9, 8, replace=False)], columns=["user_id", "activity_id", "value", "p_response"])
    f = pd.DataFrame([dict(channel_1="sms", channel_2="sms", lag=6)])
    prob = build_problem(c, a, cons(("max_contacts_per_user", None, None, None, None, 3)), f)
    sub = Subproblems(prob)
    assert len(sub.big_users) == 0 and [g[5] for g in sub.groups] == [93]   # 8 candidates, at most 3: 93 subsets
    x, total = sub.solve(prob.v)
    best = 0.0
    for k in range(40):
        lo, hi = prob.starts[k], prob.starts[k + 1]
        ok = [s for n in range(4) for s in it.combinations(range(lo, hi), n)
              if not any(prob.conflict[prob.a[i], prob.a[j]] for i, j in it.combinations(s, 2))]
        best += max(prob.v[list(s)].sum() for s in ok)
    assert total == pytest.approx(best) and prob.v[x].sum() == pytest.approx(best)


def test_warm_sample_is_stratified_by_candidates_per_user():
    from dmkit.offers.decompose import subsample
    from dmkit.offers.problem import build_problem

    c, a, k, f = random_instance(2, n_users=2000, n_acts=10)
    prob = build_problem(c, a, k, f)
    small = subsample(prob, 0.1, seed=0)
    full, part = np.bincount(np.diff(prob.starts)), np.bincount(np.diff(small.starts), minlength=len(np.bincount(np.diff(prob.starts))))
    assert np.all(np.abs(part - 0.1 * full) <= 0.5 + 1e-9)


@pytest.mark.parametrize("int_ids", [False, True])
def test_with_candidates_matches_a_merge_on_the_pair(int_ids):
    c, a, k, f = random_instance(5, n_users=120)
    if int_ids:
        c = c.assign(user_id=c["user_id"].str[1:].astype("int64") * 1000)
    c = c.assign(source=np.where(c.index % 3 == 0, "rule", "model"), tag=np.arange(len(c)) * 7)
    plan = solve(c, a, k, f)
    assert len(plan.assignments) > 0
    merged = plan.assignments.merge(c[["user_id", "activity_id", "source", "tag"]], on=["user_id", "activity_id"],
                                    how="left")
    shuffled = c.sample(frac=1.0, random_state=1)          # not sorted by the pair: found all the same
    for cands_in in (c, shuffled):
        got = plan.with_candidates(cands_in, ["source", "tag"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), merged, check_dtype=False)


def test_with_candidates_refuses_foreign_or_duplicated_candidates():
    c, a, k, f = random_instance(6, n_users=60)
    plan = solve(c, a, k, f)
    first = plan.assignments.iloc[0]
    foreign = c[~((c["user_id"] == first["user_id"]) & (c["activity_id"] == first["activity_id"]))]
    with pytest.raises(DmkitError, match="not candidates.*" + str(first["user_id"])):
        plan.with_candidates(foreign, ["value"])
    with pytest.raises(DmkitError, match="more than once"):
        plan.with_candidates(pd.concat([c, c.iloc[:1]]), ["value"])
    with pytest.raises(DmkitError, match="missing column.*source"):
        plan.with_candidates(c, ["source"])


def test_with_candidates_reads_categorical_activity_ids():
    c, a, k, f = random_instance(7, n_users=80)
    plan = solve(c, a, k, f)
    coded = c.assign(activity_id=c["activity_id"].astype("category"), row=np.arange(len(c)))
    got = plan.with_candidates(coded, ["row"])
    assert (c["activity_id"].to_numpy()[got["row"]] == got["activity_id"].to_numpy()).all()
    assert (c["user_id"].to_numpy()[got["row"]] == got["user_id"].to_numpy()).all()
