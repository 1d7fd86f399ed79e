"""Tests of dmkit.propensity: J2-style tree rules, the calibrated scoring model, helpers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import propensity
from dmkit.errors import NotFittedError, ParameterError, SchemaError


def _j2_like(n=20_000, seed=0, p_in=0.6, p_out=0.03):
    """Planted J2 rule: call_days > 28.5 and monternet_sms > 2.5 -> p_in, else p_out."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "call_days": rng.integers(0, 32, n),
        "monternet_sms": rng.poisson(2.5, n),
        "sms_fee": rng.gamma(2.0, 10.0, n),
        "recharges": rng.poisson(1.0, n),
    }, index=pd.Index(np.arange(n) + 1000, name="user_id"))
    inside = (X["call_days"] > 28.5) & (X["monternet_sms"] > 2.5)
    y = pd.Series((rng.uniform(size=n) < np.where(inside, p_in, p_out)).astype(int), index=X.index)
    return X, y, inside


def test_tree_rules_recover_planted_thresholds():
    X, y, _ = _j2_like()
    res = propensity.tree_rules(X, y, max_depth=3)
    top = res.rules.iloc[0]
    conds = {(f, op): t for f, op, t in top["conditions"]}
    assert_allclose(conds[("call_days", ">")], 28.5, atol=0.5)
    assert_allclose(conds[("monternet_sms", ">")], 2.5, atol=0.5)
    assert "call_days > 28.5" in top["rule"] and "monternet_sms > 2.5" in top["rule"]
    # support, precision, recall and lift match an independent count
    mask = np.ones(len(X), bool)
    for f, op, t in top["conditions"]:
        mask &= (X[f] > t).to_numpy() if op == ">" else (X[f] <= t).to_numpy()
    assert top["n"] == mask.sum()
    assert_allclose(top["precision"], y[mask].mean())
    assert_allclose(top["recall"], y[mask].sum() / y.sum())
    assert_allclose(top["lift"], y[mask].mean() / y.mean())
    assert_allclose(res.rules["support"].sum(), 1.0)
    assert_allclose(res.rules["recall"].sum(), 1.0)
    assert res.rules["lift"].is_monotonic_decreasing


def test_tree_rules_handles_heavy_imbalance():
    # J2: 100k subscribers vs 10k non-subscribers -> reverse imbalance; here 1.5% positives
    X, y, _ = _j2_like(n=30_000, p_in=0.12, p_out=0.004, seed=2)
    res = propensity.tree_rules(X, y)
    pos = res.positive_rules()
    assert len(pos) >= 1
    assert "call_days > 28.5" in pos.iloc[0]["rule"]
    assert pos.iloc[0]["lift"] > 4


def test_tree_rules_errors():
    X, y, _ = _j2_like(n=500)
    with pytest.raises(ParameterError, match="single class"):
        propensity.tree_rules(X, np.zeros(len(X), int))
    with pytest.raises(SchemaError, match="missing values"):
        propensity.tree_rules(X, y.astype(float).where(y.index != y.index[3]))
    with pytest.raises(SchemaError, match=r"column 'brand'.*numeric.*encode"):
        propensity.tree_rules(X.assign(brand="mzone"), y)
    with pytest.raises(ParameterError, match="0/1"):
        propensity.tree_rules(X, y * 2)


@pytest.fixture(scope="module")
def fitted():
    X, y, inside = _j2_like(n=20_000, p_in=0.3, p_out=0.02, seed=5)
    return propensity.fit(X, y, model="hgb", seed=1, n_threads=1), X, y, inside


def test_fit_auc_gains_and_calibration(fitted):
    m, X, y, inside = fitted
    # the Bayes-optimal score is the planted indicator: AUC of the truth on the test part
    from sklearn.metrics import roc_auc_score

    best = roc_auc_score(m.y_test_, inside.loc[m.test_index_].astype(float))
    assert m.auc > best - 0.03
    g = m.gains().table
    assert len(g) == 10
    assert_allclose(g["cum_gain"].iloc[-1], 1.0)
    assert g["n"].sum() == len(m.test_index_)
    # independent top-decile rate
    order = np.argsort(-m.p_test_, kind="stable")
    k = len(order) // 10
    assert_allclose(g["rate"].iloc[0], m.y_test_[order[:k]].mean(), atol=1e-12)
    assert g["lift"].iloc[0] > 3
    # calibrated despite class_weight="balanced": mean score ~ base rate, reliability close
    assert_allclose(m.p_test_.mean(), m.y_test_.mean(), atol=0.01)
    cal = m.calibration()
    assert (cal["mean_score"] - cal["observed_rate"]).abs().max() < 0.06


def test_uncalibrated_balanced_scores_are_inflated():
    X, y, _ = _j2_like(n=8_000, p_in=0.3, p_out=0.02, seed=6)
    raw = propensity.fit(X, y, model="logit", calibrate=False)
    assert raw.p_test_.mean() > 3 * raw.y_test_.mean()
    cal = propensity.fit(X, y, model="logit", calibrate=True)
    assert abs(cal.p_test_.mean() - cal.y_test_.mean()) < 0.01


def test_precision_reach_tradeoff(fitted):
    m, *_ = fitted
    pr = m.precision_reach(population=5_000_000).set_index("share")
    # precision falls with the list size (in expectation; compare far-apart sizes) and ends at the base rate
    assert pr.loc[0.05, "precision"] > 2 * pr.loc[0.5, "precision"] > 2 * pr.loc[1.0, "precision"]
    assert_allclose(pr.loc[1.0, "precision"], m.y_test_.mean())
    # independent: the top 10% of held-out scores
    order = np.argsort(-m.p_test_, kind="stable")[: round(0.1 * len(m.p_test_))]
    assert_allclose(pr.loc[0.1, "precision"], m.y_test_[order].mean())
    assert pr["recall"].is_monotonic_increasing
    assert_allclose(pr["recall"].iloc[-1], 1.0)
    assert pr["n_targets"].iloc[-1] == 5_000_000


def test_top_and_select(fitted):
    m, X, y, inside = fitted
    top = m.top(X, 500)
    assert len(top) == 500 and top["score"].is_monotonic_decreasing
    # most of the top 500 are inside the planted rule region
    assert inside.loc[top.index].mean() > 0.9
    sel = m.select(X, budget=1000)
    assert len(sel) == 1000
    sel2 = m.select(X, min_precision=0.2)
    assert (sel2["expected_precision"] >= 0.2).all() and len(sel2) > 0
    assert_allclose(sel2["expected_precision"].iloc[-1], sel2["score"].mean())
    with pytest.raises(ParameterError, match="exactly one"):
        m.select(X)


def test_predict_proba_checks_columns(fitted):
    m, X, *_ = fitted
    p = m.predict_proba(X.iloc[:10])
    assert p.shape == (10, 2)
    assert_allclose(p.sum(axis=1), 1.0)
    # column order does not matter
    assert_allclose(m.predict_proba(X.iloc[:10, ::-1]), p)
    with pytest.raises(SchemaError, match=r"column 'monternet_sms'.*missing"):
        m.predict_proba(X.drop(columns=["monternet_sms"]))
    with pytest.raises(SchemaError, match=r"column 'age'.*extra"):
        m.predict_proba(X.assign(age=30))


def test_chunked_scoring_equals_one_shot(fitted):
    m, X, *_ = fitted
    a = m.predict_proba(X, chunk_size=3_000)[:, 1]
    b = m.estimator_.predict_proba(X.to_numpy(dtype=float))[:, 1]
    assert_allclose(a, b)


def test_importance_ranks_planted_features(fitted):
    m, *_ = fitted
    imp = m.importance(n_repeats=3, max_rows=4000)
    assert set(imp["feature"].iloc[:2]) == {"call_days", "monternet_sms"}


def test_other_models_on_threshold_truth():
    X, y, inside = _j2_like(n=6_000, p_in=0.4, p_out=0.03, seed=8)
    tree = propensity.fit(X, y, model="tree", seed=3)
    logit = propensity.fit(X, y, model="logit", seed=3)
    # a conjunction of thresholds is a tree's home ground; a linear score only ranks it partly
    from sklearn.metrics import roc_auc_score

    best = roc_auc_score(tree.y_test_, inside.loc[tree.test_index_].astype(float))
    assert tree.auc > best - 0.04
    assert logit.auc > 0.55


def test_fit_errors():
    X, y, _ = _j2_like(n=600)
    with pytest.raises(ParameterError, match="model"):
        propensity.fit(X, y, model="forest")
    with pytest.raises(SchemaError, match=r"column 'call_days'.*NaN"):
        propensity.fit(X.assign(call_days=X["call_days"].where(X.index != X.index[0])), y, model="logit")
    with pytest.raises(NotFittedError):
        propensity.ScoringModel().predict_proba(X)
    with pytest.raises(ParameterError, match="single class"):
        propensity.fit(X, pd.Series(True, index=X.index))


def test_plots(fitted):
    m, *_ = fitted
    for kind in ("gains", "lift", "calibration"):
        assert m.plot(kind=kind) is not None
    assert str(m.summary())


def test_gains_table_known_values():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    s = np.arange(10, 0, -1, dtype=float)  # rows already in score order
    g = propensity.gains_table(y, s, n_bins=5).table
    assert g["positives"].tolist() == [1, 1, 0, 0, 1]
    assert_allclose(g["lift"], [0.5 / 0.3, 0.5 / 0.3, 0, 0, 0.5 / 0.3])
    assert_allclose(g["cum_gain"], [1 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0])


# --------------------------------------------------------------------------- planted truth (simulator)
@pytest.fixture(scope="module")
def province():
    import dmkit as dm

    return dm.synth.generate("jiangsu", month="2009-06", n_users=20_000, seed=7)


def _close(found: float, planted: float) -> bool:
    """A recovered split is the planted one: within 0.5 (integer counts) or 2% (amounts)."""
    return abs(found - planted) <= max(0.5, 0.02 * abs(planted))


@pytest.mark.parametrize("service", ["newspaper", "mail_notify", "fetion"])
def test_tree_rules_recover_simulator_thresholds(province, service):
    spec = province.truth.propensity[service]
    X = propensity.build_features(province.usage, month=spec.get("month", "2009-06"))
    y = propensity.service_target(province.subscriptions, index=X.index, service=service, month="2009-06")
    res = propensity.tree_rules(X, y, max_depth=3)
    top = res.rules.iloc[0]
    assert top["positive"]
    found = {(f, op): t for f, op, t in top["conditions"]}
    for feature, op, threshold in spec["rules"][0]:
        assert (feature, op) in found, f"{service}: {feature} {op} {threshold} not in {top['rule']}"
        assert _close(found[(feature, op)], threshold), (service, feature, found[(feature, op)])
    assert len(found) == len(spec["rules"][0])  # no spurious extra condition
    # precision inside the recovered rule ~ the planted take-up inside the region
    assert abs(top["precision"] - spec["p_in"]) < 0.06


def test_scoring_model_on_simulator(province):
    spec = province.truth.propensity["newspaper"]
    X = propensity.build_features(province.usage, province.users, month="2009-06")
    y = propensity.service_target(province.subscriptions, index=X.index, service="newspaper", month="2009-06")
    m = propensity.fit(X, y, n_threads=1, seed=2)
    # the planted p_newspaper is the best possible score: the model gets close to its AUC
    from sklearn.metrics import roc_auc_score

    truth = province.truth.user_truth.set_index("user_id")["p_newspaper"]
    best = roc_auc_score(m.y_test_, truth.loc[m.test_index_])
    assert m.auc > best - 0.03
    assert m.gains().table["lift"].iloc[0] > 0.8 * spec["p_in"] / m.base_rate_
    # calibrated: mean score over all users ~ take-up rate
    assert abs(m.predict_proba(X)[:, 1].mean() - y.mean()) < 0.01
    # helper: holders at month end are a subset of the subscriptions of the service
    holders = set(province.subscriptions.loc[province.subscriptions["service"] == "newspaper", "user_id"])
    assert set(y.index[y == 1]) <= holders


def test_churn_model_on_simulator(province):
    y = propensity.churn_target(province.subscriptions, service="crbt", as_of="2009-03", horizon=3)
    assert y.name == "churn_3m" and set(y.unique()) <= {0, 1}
    # independent count: CRBT holders at the end of March who end April-June
    s = province.subscriptions[province.subscriptions["service"] == "crbt"]
    t0, t1 = pd.Timestamp("2009-04-01"), pd.Timestamp("2009-07-01")
    held = s[(s["start"] < t0) & (s["end"].isna() | (s["end"] >= t0))]
    churned = held[held["end"].notna() & (held["end"] < t1)]["user_id"].unique()
    assert set(y.index[y == 1]) == set(churned)
    m = propensity.fit_churn(province.usage, province.subscriptions, province.users, service="crbt",
                             as_of="2009-03", horizon=3, model="logit", n_threads=1)
    # planted: complaints double the hazard and under-25s churn more; the model ranks above chance
    assert m.auc > 0.55


def test_refit_with_responses(province):
    X = propensity.build_features(province.usage, month="2009-06")
    y = propensity.service_target(province.subscriptions, index=X.index, service="newspaper", month="2009-06")
    before = propensity.fit(X, y, model="tree", n_threads=1)
    res = propensity.refit_with_responses(before, province.contacts, X)
    comp = res.comparison
    assert list(comp.index) == ["before", "after"]
    assert {"auc", "top_decile_lift"} <= set(comp.columns)
    # both evaluated on the same held-out contacts
    assert len(res.after.y_test_) > 100
    assert set(res.importance["feature"]) == set(X.columns)
    assert "Feedback" in str(res.summary())
    # too few responders is said in the summary's notes (not printed as a warning)
    c = province.contacts[(province.contacts["group"] == "target") & province.contacts["delivered"]]
    responders = int(c.groupby("user_id")["subscribed_at"].apply(lambda s: s.notna().any())
                     .loc[lambda s: s.index.isin(X.index)].sum())
    assert bool(res.notes) == (0 < responders < 30)
    assert all(f"only {responders} responders" in n for n in res.notes)


@pytest.mark.parametrize("kind", ["hgb", "tree", "logit"])
def test_refit_importance_equals_the_models_permutation_importance(fitted, kind):
    """refit's batched permutation importance: the values of ScoringModel.importance (scikit-
    learn's permutation_importance, one scoring call per repeat), on the held-out rows
    (sampled to max_rows) and on rows given, for a calibrated hgb, a tree and a logit."""
    from dmkit.propensity.refit import _importance

    _, X, y, _ = fitted
    m = propensity.fit(X, y, model=kind, seed=3, n_threads=1)
    for args, rows in (((), 3000), ((), 50_000), ((X.iloc[:4000], y.iloc[:4000]), 5000)):
        want = m.importance(*args, n_repeats=3, max_rows=rows)
        got = _importance(m, *args, n_repeats=3, max_rows=rows)
        pd.testing.assert_frame_equal(got.set_index("feature").loc[want["feature"]].reset_index(), want,
                                      check_exact=False, rtol=0, atol=1e-12)
        assert (want["importance"].abs() > 1e-3).any()  # the permutations change the ranking


def test_build_features_equals_an_independent_join(province):
    usage, users = province.usage, province.users
    assert isinstance(usage["month"].dtype, pd.CategoricalDtype)
    X = propensity.build_features(usage, users, month="2009-03")
    # independent: the month's rows by string comparison, users joined on user_id, brand by value
    u = usage[usage["month"].astype(str) == "2009-03"].set_index("user_id")
    want = u[list(propensity.USAGE_FEATURES)].join(
        users.set_index("user_id")[["age", "tenure_months", "student", "term_mms", "term_wap",
                                    "term_java", "term_fetion"]])
    for b in ("gotone", "mzone", "easyown"):
        want[f"brand_{b}"] = (users.set_index("user_id")["brand"].astype(str) == b).reindex(u.index).to_numpy()
    pd.testing.assert_frame_equal(X, want, check_exact=True)
    assert X["brand_gotone"].sum() > 0 and X["brand_mzone"].sum() > 0
    # the same X from string (not categorical) month and brand columns
    X2 = propensity.build_features(usage.assign(month=usage["month"].astype(str)),
                                   users.assign(brand=users["brand"].astype(str)), month="2009-03")
    pd.testing.assert_frame_equal(X, X2, check_exact=True)
    # a bad value in a used column of that month is named; a month absent from usage too
    bad = usage.copy()
    bad.loc[(bad["month"] == "2009-03").to_numpy().nonzero()[0][:3], "call_days"] = -1
    with pytest.raises(SchemaError, match="call_days"):
        propensity.build_features(bad, month="2009-03")
    with pytest.raises(SchemaError, match="month"):
        propensity.build_features(usage, month="2001-01")


def test_tree_rules_on_a_stratified_sample_count_every_row():
    X, y, inside = _j2_like(n=30_000, seed=3)
    full = propensity.tree_rules(X, y, max_depth=3, sample_size=None)
    samp = propensity.tree_rules(X, y, max_depth=3, sample_size=8_000, min_samples_leaf=300)
    assert full.n_fit is None and samp.n_fit == 8_000
    assert propensity.tree_rules(X, y, max_depth=3).n_fit is None  # 30,000 rows <= the default 200,000
    top = samp.rules.iloc[0]
    conds = {(f, op): t for f, op, t in top["conditions"]}
    assert_allclose(conds[("call_days", ">")], 28.5, atol=0.5)
    assert_allclose(conds[("monternet_sms", ">")], 2.5, atol=0.5)
    # the rules' figures are counted on all 30,000 rows, not on the sample
    mask = np.ones(len(X), bool)
    for f, op, t in top["conditions"]:
        mask &= (X[f] > t).to_numpy() if op == ">" else (X[f] <= t).to_numpy()
    assert top["n"] == mask.sum() and top["positives"] == y[mask].sum()
    assert samp.rules["n"].sum() == len(X)
    assert_allclose(samp.base_rate, y.mean())
    # an int min_samples_leaf is a count of all rows: scaled to the sample (300 * 8,000 / 30,000 = 80)
    assert samp.tree.min_samples_leaf == 80
    # the sample keeps the target's share, and the summary states it
    assert "stratified sample of 8,000 of the 30,000 rows" in " ".join(samp.summary().notes)
    with pytest.raises(ParameterError, match="sample_size"):
        propensity.tree_rules(X, y, sample_size=0)


def test_build_features_from_a_province_reads_the_month_only(province, tmp_path):
    from dmkit.contract.province import ProvinceData

    want = propensity.build_features(province.usage, province.users, month="2009-03")
    lazy = ProvinceData.load(province.save(tmp_path / "p"), lazy=True)
    for pdata in (province, lazy):  # in memory, and Parquet projection + month pushdown
        pd.testing.assert_frame_equal(propensity.build_features(pdata, pdata, month="2009-03"), want,
                                      check_exact=True)
        pd.testing.assert_frame_equal(propensity.build_features(pdata, month="2009-03"),
                                      want[list(propensity.USAGE_FEATURES)], check_exact=True)
    assert "usage" in lazy.__dict__["_pending"]  # the six months were never read whole
    with pytest.raises(SchemaError, match="month"):
        propensity.build_features(lazy, month="2001-01")
    with pytest.raises(ParameterError, match="columns"):
        propensity.build_features(lazy, month="2009-03", columns=("arpu", "nope"))
    with pytest.raises(ParameterError, match="usage"):
        propensity.build_features(province.usage.to_numpy(), month="2009-03")
    a = propensity.fit_churn(province.usage, province.subscriptions, province.users, service="crbt",
                             as_of="2009-03", model="logit", seed=1)
    b = propensity.fit_churn(lazy, province.subscriptions, lazy, service="crbt", as_of="2009-03",
                             model="logit", seed=1)
    assert a.auc == b.auc and a.n_train_ == b.n_train_
