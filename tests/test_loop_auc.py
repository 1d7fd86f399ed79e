"""dm.loop: the model AUC measured on the exploration slice, its interval, the planted AUC,
and the health index's scale."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import dmkit as dm
from dmkit.loop.policy import plan_month
from dmkit.loop.revise import SHARED, score, shared_design
from dmkit.loop.runner import (
    SERVICES,
    _auc_interval,
    _balanced_weights,
    _design,
    _expected_auc,
    _health_rows,
)
from dmkit.loop.store import ModelStore

N = 6000


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    """Three months with a large exploration slice (a third of the budget), so it has
    subscribers, and enough offers a month for the out-of-time revision."""
    root = tmp_path_factory.mktemp("loop-auc")
    return dm.loop.run(province="guangdong", start="2009-01", months=3, n_users=N, seed=5, explore=0.35,
                       budget=1200, out=root / "model", cache_dir=root / "cache")


def test_model_auc_is_computed_on_the_exploration_contacts_only(explored):
    for _, row in explored.monthly.iterrows():
        folder = explored.out / "months" / row["month"]
        plan = pd.read_parquet(folder / "plan.parquet")
        c = pd.read_parquet(folder / "contacts.parquet")
        c = c[(c["group"].astype(str) == "target") & c["delivered"]]
        m = c.assign(service=c["service"].astype(str)).merge(plan, on=["user_id", "service"], how="left")
        y = m["subscribed_at"].notna().to_numpy()
        ex = m["explore"].to_numpy(dtype=bool)
        assert 100 < ex.sum() < len(ex) and row["explore_delivered"] == ex.sum()
        assert row["explore_subscribed"] == y[ex].sum() >= 5
        assert row["model_auc"] == pytest.approx(roc_auc_score(y[ex], m["score_model"][ex]), abs=1e-12)
        assert row["model_auc_contacts"] == pytest.approx(roc_auc_score(y, m["score_model"]), abs=1e-12)
        assert row["model_auc"] != pytest.approx(row["model_auc_contacts"], abs=1e-9)
        assert row["model_auc_low"] < row["model_auc"] < row["model_auc_high"]
        assert 0.5 < row["model_auc_planted"] < 1         # the planted population AUC
        assert 0.5 < row["base_auc_planted"] < 1
    # month 1 plans with the base model itself
    first = explored.monthly.iloc[0]
    assert first["model_auc_planted"] == pytest.approx(first["base_auc_planted"], abs=1e-12)


def test_oracle_auc_is_the_planted_probability_on_the_same_contacts(explored):
    """oracle_auc / oracle_auc_slice: the AUC of the planted P(subscribe | delivered) =
    min(1, p_true x channel effect x fatigue**k), recomputed from the month's truth rows, on
    the rows and outcomes of model_auc_contacts / model_auc."""
    from dmkit.synth.respond import CHANNEL_EFFECT, FATIGUE

    for _, row in explored.monthly.iterrows():
        folder = explored.out / "months" / row["month"]
        plan = pd.read_parquet(folder / "plan.parquet")
        truth = pd.read_parquet(folder / "truth.parquet")
        c = pd.read_parquet(folder / "contacts.parquet")
        c = c[(c["group"].astype(str) == "target") & c["delivered"]]
        m = (c.assign(service=c["service"].astype(str))
             .merge(plan[["user_id", "service", "explore"]], on=["user_id", "service"], how="left")
             .merge(truth[["user_id", "service", "p_true", "fatigue_contacts"]].astype({"service": str}),
                    on=["user_id", "service"], how="left"))
        q = np.minimum(1.0, m["p_true"] * m["channel"].astype(str).map(CHANNEL_EFFECT)
                       * FATIGUE ** m["fatigue_contacts"])
        y = m["subscribed_at"].notna().to_numpy()
        ex = m["explore"].to_numpy(dtype=bool)
        assert row["oracle_auc"] == pytest.approx(roc_auc_score(y, q), abs=1e-9)
        assert row["oracle_auc_slice"] == pytest.approx(roc_auc_score(y[ex], q[ex]), abs=1e-9)
        assert row["oracle_auc"] > row["model_auc_contacts"] - 0.05


def test_the_ceilings_bound_the_model_and_the_share_is_their_ratio(explored):
    """Ranking by the planted P(subscribe | delivered) maximises the expected AUC (each pair
    ordered by its q), so the oracle ceiling is above the model, the base and the observable
    ceiling (q without the per-user effect); the attainable share is the documented ratio."""
    m = explored.monthly
    for c in ("model_auc_planted", "base_auc_planted", "observable_auc_planted"):
        assert (m["oracle_auc_planted"] >= m[c] - 1e-12).all(), c
    assert (m["observable_auc_planted"] > 0.6).all() and (m["oracle_auc_planted"] < 1).all()
    np.testing.assert_allclose(m["model_auc_attainable"],
                               (m["model_auc_planted"] - 0.5) / (m["observable_auc_planted"] - 0.5), rtol=1e-12)


def test_the_revision_is_chosen_out_of_time_and_refitted_on_every_offer(explored):
    """From the second month of responses: challengers fitted on the months before are compared
    on the newest month's offers (AUC and weighted AUC, recomputed here for the base model
    from the training rows), the winner is the challenger with the best AUC there and is
    refitted on every offer so far."""
    store = ModelStore(explored.out / "models")
    months = explored.monthly["month"].tolist()
    train = pd.concat([pd.read_parquet(explored.out / "months" / mo / "training.parquet") for mo in months],
                      ignore_index=True)
    seen = 0
    for s in SERVICES:
        for v in store.months(province="guangdong", service=s)[1:]:
            rec = store.record(province="guangdong", service=s, month=v)
            mt = rec["metrics"]
            if mt.get("selection") != 1.0:
                continue
            seen += 1
            d = rec["data_month"]
            T = train[(train["service"] == s) & (train["month"] <= d)]
            new = T[T["month"] == d]
            assert mt["n_train"] == len(T)                      # refitted on every offer so far
            w = _balanced_weights(new)
            assert mt["auc_holders_next_month_weighted"] == pytest.approx(
                roc_auc_score(new["y"], new["base_score"], sample_weight=w), abs=1e-12)
            assert mt["auc_holders_next_month"] == pytest.approx(roc_auc_score(new["y"], new["base_score"]),
                                                                 abs=1e-12)
            chal = {k: mt[f"auc_{k}_next_month"] for k in ("responses_logit", "recalibrated", SHARED)
                    if f"auc_{k}_next_month" in mt}
            assert SHARED in chal                               # the shared model is a candidate
            # ... fitted on every service's offers of the months before d only (out of time)
            past = train[train["month"] < d]
            feats = [c for c in past.columns if c not in ("user_id", "service", "base_score", "weight", "y", "month")]
            sm = dm.propensity.fit(shared_design(past[feats], past["base_score"].to_numpy(), past["service"].to_numpy(),
                                                 SERVICES), past["y"].to_numpy(), model="logit", test_size=None,
                                   calibrate=False, class_weight=None, seed=5)
            p = score(sm, new[feats], new["base_score"].to_numpy(), s)
            assert chal[SHARED] == pytest.approx(roc_auc_score(new["y"], p), abs=1e-9)
            assert rec["kind"] == max(chal, key=chal.get)
            assert mt["auc"] == pytest.approx(mt[f"auc_{rec['kind']}_next_month"])
            model = store.load(province="guangdong", service=s, month=v)
            # the per-service challengers refitted on every offer of s so far, the shared one on every service's
            everyone = train[train["month"] <= d]
            assert model.n_train_ == (len(everyone) if rec["kind"] == SHARED else len(T))
    assert seen >= 1  # at 6,000 users most services lack 30 subscribers in one month


def test_the_revision_design_reads_log_usage_and_the_base_log_odds():
    X = pd.DataFrame({"voice_minutes": [0.0, np.e - 1], "age": [20, 30], "contacts_90d": [0, 1],
                      "channel_ivr": [True, False]}, index=[3, 4])
    D = _design(X, np.array([0.5, 0.9]))
    assert list(D.columns) == ["base_logit", "log_voice_minutes", "age", "contacts_90d", "channel_ivr"]
    np.testing.assert_allclose(D["base_logit"], [0.0, np.log(9.0)])
    np.testing.assert_allclose(D["log_voice_minutes"], [0.0, 1.0])
    np.testing.assert_allclose(D[["age", "contacts_90d", "channel_ivr"]].to_numpy(), [[20, 0, 1], [30, 1, 0]])
    assert D.index.tolist() == [3, 4]


def test_the_exploration_slice_is_a_uniform_draw_of_the_eligible_users():
    """Drawn before the top is taken: the slice's scores look like the eligible users', top included."""
    rng = np.random.default_rng(0)
    n = 20_000
    S = pd.DataFrame(rng.random((n, 2)), columns=["newspaper", "fetion"])
    E = pd.DataFrame(rng.random((n, 2)) < 0.7, columns=S.columns)
    plan = plan_month(S, eligible=E, budget=4000, month="2009-02", rng=np.random.default_rng(1),
                      preferred=pd.Series(["sms"] * n), channels=("sms",), explore=0.5)
    ex, top = plan[plan["explore"]], plan[~plan["explore"]]
    assert len(ex) == 2000 and len(top) == 2000 and not plan["user_id"].duplicated().any()
    # a uniform draw from the eligible: its users' best score is spread like everyone's
    best = S.where(E).max(axis=1).dropna()
    assert abs(best.loc[ex["user_id"]].mean() - best.mean()) < 0.02
    # some explored users would have been at the top of the ranking
    assert (best.loc[ex["user_id"]] > best.quantile(0.9)).mean() > 0.05
    # the top is the best of the users not explored
    rest = best.drop(ex["user_id"])
    assert top["score"].min() >= rest.sort_values().iloc[-2000] - 1e-12


def test_expected_auc_is_the_pairwise_definition():
    rng = np.random.default_rng(3)
    s = np.round(rng.random(40), 1)                     # ties
    p = rng.random(40)
    wt = rng.integers(1, 4, 40) / 3.0                   # row weights
    for weights in (None, wt):
        v = np.ones(40) if weights is None else weights
        num = den = 0.0
        for i in range(40):
            for j in range(40):
                if i != j:
                    w = v[i] * v[j] * p[i] * (1 - p[j])
                    num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
                    den += w
        assert _expected_auc(s, p, weights) == pytest.approx(num / den, rel=1e-12)
    y = rng.random(40) < 0.3                            # outcomes known: the observed AUC
    assert _expected_auc(s, y.astype(float)) == pytest.approx(roc_auc_score(y, s), rel=1e-12)


def test_auc_interval_matches_the_hanley_mcneil_standard_error():
    rng = np.random.default_rng(4)
    y = np.r_[np.ones(300, bool), np.zeros(1700, bool)]
    s = np.r_[rng.normal(0.8, 1, 300), rng.normal(0, 1, 1700)]
    a = roc_auc_score(y, s)
    lo, hi = _auc_interval(y, s, np.random.default_rng(0))
    n1, n0 = 300, 1700
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    assert lo < a < hi
    assert (hi - lo) / (2 * 1.96 * se) == pytest.approx(1, abs=0.15)
    assert np.isnan(_auc_interval(y[:301], s[:301], np.random.default_rng(0))).all()  # one negative


def test_health_index_is_on_the_baselines_scale(tmp_path):
    """The baseline's rows project back to their 0-100 index; a month healthier than every
    baseline unit scores above 100 (documented: the scale is kept so months compare)."""
    world = dm.synth.generate("guangdong", month="2008-12", n_users=3000, seed=5, n_months=3)
    h = dm.health.score(world.kpis, by="region")
    back = _health_rows(h, world.kpis)
    np.testing.assert_allclose(back["index"].to_numpy(), h.scores["index"].to_numpy(), atol=1e-8)
    assert back["index"].min() == pytest.approx(0, abs=1e-8) and back["index"].max() == pytest.approx(100)
    best = world.kpis.iloc[[int(np.argmax(back["index"].to_numpy()))]].copy()
    used = list(h.factors.indicators)
    step = np.sign(h.coefficients.reindex(used).to_numpy()) * h.factors.scale[used].to_numpy()
    best[used] = best[used].to_numpy(float) + step
    assert _health_rows(h, best)["index"].iloc[0] > 100
