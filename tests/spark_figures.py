"""The Spark-capable methods on both engines, figure by figure, with the tolerance each must meet.

Shared by tests/test_spark_cluster.py (on a standalone cluster) and
``benchmarks/bench_spark.py --cluster`` (which prints the rows side by side). Every row:
method, figure, pandas value, Spark value, tolerance (``exact`` or ``abs <= t``), ok,
pandas seconds, Spark seconds (the method's seconds, on the row of its first figure).

Data: one simulated Jiangsu month (``dm.synth.generate``) — usage features for
segments and the newspaper target model, subscriptions and users for the health KPIs,
the campaign's contacts for the funnel, a candidate table built from the target model's
scores for the offer step — and planted baskets for the rules.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import dmkit as dm

MONTH = "2009-06"
KPI_MONTHS = ["2009-04", "2009-05", "2009-06"]
SEGMENT_FEATURES = ["sms_p2p", "sms_contacts", "arpu"]


def baskets(n: int, k: int = 12, seed: int = 3) -> pd.DataFrame:
    """Skewed penetrations and two planted bundles (rules of several sizes)."""
    rng = np.random.default_rng(seed)
    p = np.sort(rng.uniform(0.01, 0.5, k))[::-1]
    X = rng.random((n, k)) < p
    X[:, 1] |= X[:, 0] & (rng.random(n) < 0.6)
    X[:, 3] |= X[:, 2] & X[:, 1] & (rng.random(n) < 0.7)
    return pd.DataFrame(X, columns=[f"svc{j:02d}" for j in range(k)],
                        index=pd.Index(np.arange(n), name="user_id"))


def offer_problem(n_users: int, seed: int = 0):
    """An offer problem of ``n_users`` customers × up to 5 of 8 activities, with caps and conflicts."""
    from dmkit.offers.problem import build_problem

    rng = np.random.default_rng(seed)
    acts = pd.DataFrame({"activity_id": np.arange(8), "day": rng.integers(1, 31, 8),
                         "channel": rng.choice(["sms", "hall", "web"], 8),
                         "services": rng.choice(["crbt", "mms", "fetion;wap"], 8),
                         "cost": rng.uniform(0.2, 2.0, 8).round(2)})
    m = rng.integers(1, 6, n_users)
    user = np.repeat(np.arange(n_users), m)
    act = np.concatenate([rng.choice(8, k, replace=False) for k in m])
    cands = pd.DataFrame({"user_id": user, "activity_id": act, "value": rng.normal(1, 1, len(user)).round(3),
                          "p_response": rng.uniform(0.02, 0.4, len(user)).round(3)})
    n = len(cands)
    cons = pd.DataFrame([
        dict(kind="max_contacts", channels="sms", bound=int(0.25 * n)),
        dict(kind="budget", bound=round(0.3 * n, 1)),
        dict(kind="min_sales", services="crbt", bound=round(0.02 * n, 2)),
        dict(kind="max_contacts_per_user", bound=2)])
    conf = pd.DataFrame([dict(channel_1="sms", channel_2="sms", lag=5)])
    return build_problem(cands, activities=acts, constraints=cons, conflicts=conf)


def _timed(fn: Callable):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def compare(spark, *, n_users: int = 20_000, n_baskets: int = 50_000, seed: int = 5,
            run: Callable[[Callable], object] | None = None) -> pd.DataFrame:
    """Every Spark twin (and the offer step) against its pandas method, on ``spark``.

    ``run(job)`` runs each Spark call (e.g. a :meth:`dmkit.spark.cluster.Cluster.run` with a
    deadline); default: called directly.

    Returns
    -------
    DataFrame
        method, figure, pandas, spark, tolerance, ok, pandas_s, spark_s.
    """
    from sklearn.metrics import adjusted_rand_score

    import dmkit.offers.decompose as decompose
    from dmkit import panel
    from dmkit.spark import campaign as sp_campaign
    from dmkit.spark import health as sp_health
    from dmkit.spark import propensity as sp_propensity
    from dmkit.spark import rules as sp_rules
    from dmkit.spark import segment as sp_segment
    from dmkit.spark.io import from_pandas
    from dmkit.spark.offers import SparkSubproblems

    run = run or (lambda job: job())
    rows: list[dict] = []

    def add(method, figure, pd_value, sp_value, tol, pd_s=np.nan, sp_s=np.nan):
        if tol == "exact":
            ok = bool(pd_value == sp_value)
        else:
            ok = bool(abs(float(pd_value) - float(sp_value)) <= tol)
        rows.append(dict(method=method, figure=figure, pandas=pd_value, spark=sp_value,
                         tolerance=tol if tol == "exact" else f"abs <= {tol:g}", ok=ok,
                         pandas_s=pd_s, spark_s=sp_s))

    d = dm.synth.generate("jiangsu", month=MONTH, n_users=n_users, seed=seed)

    # rules: the same RuleSet
    b = baskets(n_baskets)
    ref, t_pd = _timed(lambda: dm.rules.mine(b, min_support=0.02, min_confidence=0.2))
    sdf = spark.createDataFrame(b.reset_index())
    got, t_sp = _timed(lambda: run(lambda: sp_rules.mine(sdf, min_support=0.02, min_confidence=0.2)))
    add("rules.mine", "itemsets", len(ref.itemsets), len(got.itemsets), "exact", t_pd, t_sp)
    add("rules.mine", "rules", len(ref.rules), len(got.rules), "exact")
    same = ref.rules.equals(got.rules) and ref.itemsets.equals(got.itemsets)
    add("rules.mine", "identical RuleSet", True, same, "exact")

    # segments: Spark ML KMeans vs the pandas k-means
    u = d.usage[d.usage["month"] == MONTH].set_index("user_id")[SEGMENT_FEATURES].astype(float)
    ref, t_pd = _timed(lambda: dm.segment.cluster(u, k=3, seed=0))
    fsdf = from_pandas(u.reset_index(), spark=spark)
    got, t_sp = _timed(lambda: run(lambda: sp_segment.cluster(fsdf, k=3, seed=0)))
    ari = adjusted_rand_score(ref.labels, got.labels.reindex(ref.labels.index))
    add("segment.cluster", "adjusted Rand index vs pandas", 1.0, round(float(ari), 4), 0.1, t_pd, t_sp)
    for name, a_share, b_share in zip(ref.names, ref.profile["share"], got.profile["share"], strict=True):
        add("segment.cluster", f"share of {name}", round(float(a_share), 4), round(float(b_share), 4), 0.03)

    # propensity: logistic model AUC on its held-out part
    X = dm.propensity.build_features(d.usage, month=MONTH).astype(float)
    y = dm.propensity.service_target(d.subscriptions, X.index, service="newspaper", month=MONTH)
    ref, t_pd = _timed(lambda: dm.propensity.fit(X, y, model="logit", seed=0, calibrate=False))
    got, t_sp = _timed(lambda: run(lambda: sp_propensity.fit(X, y, model="logit", seed=0, spark=spark)))
    add("propensity.fit", "held-out AUC", round(float(ref.auc), 4), round(float(got.auc), 4), 0.05, t_pd, t_sp)

    # health KPIs: identical numbers
    ref, t_pd = _timed(lambda: panel.service_kpis(d.subscriptions, d.users, months=KPI_MONTHS))
    got, t_sp = _timed(lambda: run(lambda: sp_health.kpis(d.subscriptions, d.users, months=KPI_MONTHS,
                                                          spark=spark)))
    add("health.kpis", "rows", len(ref), len(got), "exact", t_pd, t_sp)
    add("health.kpis", "holders (sum)", int(ref["holders"].sum()), int(got["holders"].sum()), "exact")
    diff = float(np.nanmax(np.abs(got["penetration"].to_numpy() - ref["penetration"].to_numpy())))
    add("health.kpis", "penetration, largest difference", 0.0, diff, 1e-12)

    # campaign funnel: identical counts
    contacts = d.contacts.astype({"campaign_id": str, "service": str, "group": str})
    ref, t_pd = _timed(lambda: dm.campaign.funnel(contacts))
    csdf = from_pandas(contacts, spark=spark)
    got, t_sp = _timed(lambda: run(lambda: sp_campaign.funnel(csdf)))
    for i, col in enumerate(("sent", "replied", "subscribed")):
        add("campaign.funnel", f"{col} (overall)", int(ref.overall[col].sum()),
            int(got.overall[col].sum()), "exact", t_pd if i == 0 else np.nan, t_sp if i == 0 else np.nan)
    try:
        pd.testing.assert_frame_equal(got.overall.reset_index(drop=True), ref.overall.reset_index(drop=True),
                                      check_dtype=False)
        same = True
    except AssertionError:
        same = False
    add("campaign.funnel", "identical overall table", True, same, "exact")

    # offers: the decomposition's per-customer step for given multipliers
    prob = offer_problem(n_users)
    mu = np.random.default_rng(seed).exponential(0.3, prob.K)
    r = decompose._adjusted(prob, mu)
    (x_ref, tot_ref), t_pd = _timed(lambda: decompose.Subproblems(prob).solve(r))
    sub = run(lambda: SparkSubproblems(prob, spark=spark))
    try:
        (x, tot), t_sp = _timed(lambda: run(lambda: sub.solve(r)))
    finally:
        sub.close()
    add("offers per-customer step", "candidates chosen", int(x_ref.sum()), int(x.sum()), "exact", t_pd, t_sp)
    add("offers per-customer step", "same choice per customer", True, bool((x == x_ref).all()), "exact")
    add("offers per-customer step", "bound (sum of adjusted values)", round(tot_ref, 6), round(tot, 6),
        1e-6 * max(1.0, abs(tot_ref)))
    return pd.DataFrame(rows)
