"""Tests of dmkit.health (the Y1 score): planted-structure recovery, ranks, errors (the factor
analysis itself is checked against R psych in tests/test_factors.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import health
from dmkit.errors import ParameterError, SchemaError
from dmkit.synth import generate as synth_generate

# --------------------------------------------------------------------------------------
# Planted structure: a hand-made kpis table with known loadings and health
# --------------------------------------------------------------------------------------

INDICATORS = list(health.DEFAULT_INDICATORS)
PLANTED = pd.DataFrame(
    [[0.85, 0.10, 0.05], [0.80, 0.15, 0.00], [0.75, 0.05, 0.20], [0.10, 0.85, 0.10],
     [0.15, 0.80, 0.05], [0.05, 0.10, 0.80], [0.15, 0.05, 0.75]],
    index=INDICATORS, columns=["scale", "engagement", "momentum"],
)
SERVICES = ("sms_p2p", "mms", "crbt", "newspaper", "music", "fetion")
RAW = {  # standardised indicator -> raw scale (affine, never clipped for |x| < 5)
    "penetration": (0.45, 0.08), "revenue_share": (0.45, 0.08), "usage_per_user": (60.0, 12.0),
    "retention": (0.5, 0.08), "activity": (0.5, 0.08), "growth": (0.05, 0.05), "loyalty": (0.5, 0.08),
}


def planted_kpis(n_regions: int = 16, services=SERVICES, months=("2009-05", "2009-06"), seed: int = 0,
                 loadings: pd.DataFrame = PLANTED):
    """kpis rows region × service × month; indicators = loadings · factors + noise."""
    rng = np.random.default_rng(seed)
    keys = pd.MultiIndex.from_product([[f"r{i:02d}" for i in range(n_regions)], services, months],
                                      names=["region", "service", "month"]).to_frame(index=False)
    n = len(keys)
    f = rng.standard_normal((n, loadings.shape[1]))
    lam = loadings.to_numpy()
    noise = rng.standard_normal((n, len(lam))) * np.sqrt(1 - (lam**2).sum(1))
    x = f @ lam.T + noise
    df = keys.copy()
    for j, c in enumerate(loadings.index):
        a, b = RAW.get(c, (0.0, 1.0))
        df[c] = a + b * x[:, j]
    ss = (lam**2).sum(0)
    truth = keys.copy()
    truth["health"] = f @ (ss / ss.sum())
    return df, truth


@pytest.fixture(scope="module")
def planted():
    return planted_kpis()


@pytest.fixture(scope="module")
def fitted(planted):
    return health.score(planted[0], n_iter=30)


def test_planted_loadings_recovered_with_parallel_analysis(fitted):
    assert fitted.factors.n_factors_rule == "parallel"
    assert fitted.factors.n_factors == 3
    assert fitted.factors.n_factors_kaiser <= 3
    c = health.congruence(fitted.factors.loadings, PLANTED)
    assert (c["congruence"] >= 0.95).all(), c
    assert c["estimated"].nunique() == 3


def test_index_tracks_planted_health(planted, fitted):
    truth = planted[1]
    s = fitted.scores.merge(truth, on=["region", "service", "month"])
    rho = s["index"].corr(s["health"], method="spearman")
    assert rho > 0.9
    assert s["index"].min() == pytest.approx(0) and s["index"].max() == pytest.approx(100)


def test_ranks_are_within_service_and_month(fitted):
    s = fitted.scores
    for _, g in s.groupby(["service", "month"]):
        assert sorted(g["rank"]) == list(range(1, len(g) + 1))
        assert g.sort_values("rank")["index"].is_monotonic_decreasing
    top = fitted.ranks(service="crbt", month="2009-06")
    assert top["rank"].iloc[0] == 1 and len(top) == 16


def test_index_is_linear_in_indicators_with_the_reported_coefficients(fitted):
    recon = fitted.intercept + fitted.z.to_numpy() @ fitted.coefficients.to_numpy()
    assert_allclose(recon, fitted.scores["index"].to_numpy(), atol=1e-8)
    # weights are the factors' shares of explained variance
    v = fitted.factors.variance
    assert_allclose(v["explained"], v["ss_loadings"] / v["ss_loadings"].sum())
    assert fitted.factors.weights.sum() == pytest.approx(1)


def test_weak_indicators_find_the_planted_short_plank():
    df, _ = planted_kpis(seed=5)
    # make r03's crbt in 2009-06 a strong performer except for activity, set very low
    mask = (df.region == "r03") & (df.service == "crbt") & (df.month == "2009-06")
    for c in INDICATORS:
        df.loc[mask, c] = RAW[c][0] + 1.0 * RAW[c][1]
    df.loc[mask, "activity"] = RAW["activity"][0] - 3.5 * RAW["activity"][1]
    res = health.score(df, n_factors=3, n_iter=10)
    w = res.weak_indicators("r03", service="crbt", month="2009-06")
    assert w.index[0] == "activity"
    assert w["weak"].iloc[0] and not w["weak"].drop("activity").any()
    peers = res.ranks(service="crbt", month="2009-06")
    me = peers.loc[peers.region == "r03", "index"].item()
    assert w["contribution"].sum() == pytest.approx(me - peers["index"].mean(), abs=1e-8)


def test_rank_changes_follow_a_planted_improvement():
    df, _ = planted_kpis(seed=2)
    m5 = (df.region == "r07") & (df.service == "sms_p2p") & (df.month == "2009-05")
    m6 = (df.region == "r07") & (df.service == "sms_p2p") & (df.month == "2009-06")
    for c in INDICATORS:
        df.loc[m5, c] = RAW[c][0] - 2.0 * RAW[c][1]   # worst in May
        df.loc[m6, c] = RAW[c][0] + 0.8 * RAW[c][1]   # good in June
    res = health.score(df, n_factors=3, n_iter=10)
    ch = res.rank_changes("2009-05", "2009-06")
    row = ch[(ch.region == "r07") & (ch.service == "sms_p2p")].iloc[0]
    assert row["rank_from"] == 16 and row["rank_to"] <= 5
    assert row["change"] == row["rank_from"] - row["rank_to"] > 10
    assert ch["change"].iloc[0] == ch["change"].max()
    # compare() on two separate fits gives the same kind of table
    a = health.score(df, month="2009-05", n_factors=3, n_iter=10)
    b = health.score(df, month="2009-06", n_factors=3, n_iter=10)
    cmp = health.compare(a, b)
    assert cmp.loc[(cmp.region == "r07") & (cmp.service == "sms_p2p"), "change"].item() > 10


def test_lower_is_better_indicator_is_reversed():
    lam = pd.concat([PLANTED, pd.DataFrame([[-0.7, -0.3, 0.0]], index=["complaints"], columns=PLANTED.columns)])
    df, truth = planted_kpis(seed=4, loadings=lam)
    df["complaints"] = 5.0 + df["complaints"]
    res = health.score(df, indicators=INDICATORS + ["complaints"], lower_is_better=["complaints"],
                       n_factors=3, n_iter=10)
    assert (res.factors.loadings.loc["complaints"] > 0).any()
    assert res.coefficients["complaints"] > 0  # reversed: fewer complaints, higher index
    s = res.scores.merge(truth, on=["region", "service", "month"])
    assert s["index"].corr(s["health"], method="spearman") > 0.9


def test_factors_oriented_so_higher_is_healthier(planted):
    df = planted[0].copy()
    res = health.score(df, n_factors=3, rotation="promax", n_iter=10)
    assert (res.factors.loadings.sum() > 0).all()
    # every indicator moves with the index (regression weights of a single indicator may
    # be ~0 or slightly negative when another indicator of its factor is a Heywood case)
    assert (res.z.corrwith(res.scores["index"]) > 0.2).all()
    neg = [f"neg_{c}" for c in INDICATORS]   # an operator's own KPIs, all "lower is better"
    flipped = df[["region", "service", "month"]].assign(**{n: -df[c] for n, c in zip(neg, INDICATORS, strict=True)})
    res2 = health.score(flipped, indicators=neg, n_factors=3, rotation="promax", n_iter=10,
                        lower_is_better=neg)
    assert_allclose(res2.scores["index"], res.scores["index"], atol=1e-6)


def test_single_service_and_prefecture_column(planted):
    df = planted[0].rename(columns={"region": "prefecture"})
    one = df[df.service == "sms_p2p"]
    res = health.score(one, by="prefecture", n_factors=2, n_iter=10)
    assert list(res.keys) == ["prefecture", "service", "month"]
    assert res.scores.groupby("month")["rank"].max().tolist() == [16, 16]
    w = res.weak_indicators("r00")  # one service: no service argument needed
    assert len(w) == 7


def test_summary_and_plots(fitted):
    s = fitted.summary()
    text = str(s)
    assert "健康度评估" in text and "KMO" in text and "parallel analysis (factors)" in text
    assert s.table("loadings (minres, varimax)").shape == (7, 5)
    assert "<table" in fitted._repr_html_()
    import matplotlib.axes

    for kind in ("index", "scree", "loadings", "contributions"):
        assert isinstance(fitted.plot(kind=kind), matplotlib.axes.Axes)
    ax = fitted.plot_contributions("r01", service="mms", month="2009-05")
    assert len(ax.patches) == 7
    assert len(fitted.plot_index(service="mms").patches) == 16


def test_summary_warns_on_inadequate_data():
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.standard_normal((40, 6)), columns=list("abcdef"))
    res = health.factor_analysis(noise, n_factors=1, n_iter=10)
    notes = " ".join(res.summary().notes)
    assert "KMO" in notes and "< 0.6" in notes
    assert "Bartlett" in notes and "> 0.05" in notes


# --------------------------------------------------------------------------------------
# Degenerate inputs and errors
# --------------------------------------------------------------------------------------


def test_constant_indicator_dropped_with_warning(planted):
    df = planted[0].copy()
    df["retention"] = 0.9
    with pytest.warns(UserWarning, match="'retention' dropped .*constant"):
        res = health.score(df, n_factors=2, n_iter=10)
    assert "retention" not in res.factors.indicators
    assert "retention" in res.factors.dropped
    assert any("retention" in n for n in res.summary().notes)


def test_collinear_indicators_dropped_with_warning(planted):
    df = planted[0].copy()
    df["activity"] = 0.5 * df["penetration"] + 0.1           # an exact copy, rescaled
    with pytest.warns(UserWarning, match="'activity' dropped .*perfectly correlated with 'penetration'"):
        res = health.score(df, n_factors=2, n_iter=10)
    assert "activity" not in res.factors.indicators
    df = planted[0].copy()
    df["loyalty"] = df["retention"] + df["growth"]            # a linear combination
    with pytest.warns(UserWarning, match="'loyalty' dropped .*linear combination"):
        health.score(df, n_factors=2, n_iter=10)


def test_fewer_rows_than_indicators_raises(planted):
    df = planted[0]
    tiny = df[(df.service == "crbt") & (df.month == "2009-06")].head(6)
    with pytest.raises(SchemaError, match="more observations .* than indicators \\(7\\); found 6 rows"):
        health.score(tiny)


def test_bad_inputs_raise_documented_errors(planted):
    df = planted[0]
    with pytest.raises(SchemaError, match="column 'prefecture'.*by='region'"):
        health.score(df, by="prefecture")
    bad = df.copy()
    bad.loc[3, "penetration"] = np.nan
    with pytest.raises(SchemaError, match="penetration"):
        health.score(bad)
    bad = df.copy()
    bad["extra"] = "x"
    with pytest.raises(SchemaError, match="column 'extra'.*numeric"):
        health.score(bad, indicators=["extra", "penetration", "growth"])
    with pytest.raises(SchemaError, match="one row per"):
        health.score(pd.concat([df, df.head(2)]))
    with pytest.raises(ParameterError, match="parameter 'service'.*'wap'"):
        health.score(df, service="wap")
    with pytest.raises(ParameterError, match="parameter 'rotation'"):
        health.score(df, rotation="equamax")
    with pytest.raises(ParameterError, match="parameter 'n_factors'.*got 7"):
        health.score(df, n_factors=7)
    with pytest.raises(ParameterError, match="parameter 'lower_is_better'"):
        health.score(df, lower_is_better=["complaints"])
    with pytest.raises(ParameterError, match="parameter .from_month."):
        health.score(df, n_factors=2, n_iter=10).rank_changes("2009-01", "2009-06")
    with pytest.raises(SchemaError, match="at least 3 usable indicators"):
        health.score(df, indicators=["penetration", "growth"])


def test_weak_indicators_errors(fitted):
    with pytest.raises(ParameterError, match="parameter 'service'.*several services"):
        fitted.weak_indicators("r01")
    with pytest.raises(ParameterError, match="parameter 'region'"):
        fitted.weak_indicators("atlantis", service="mms")


# --------------------------------------------------------------------------------------
# Truth recovery on the province simulator
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_province():
    return synth_generate("jiangsu", month="2009-06", n_users=5_000, seed=7)


def test_simulator_loadings_and_health_recovered(synth_province):
    d = synth_province
    res = health.score(d.kpis, n_iter=30)
    assert res.factors.n_factors == len(d.truth.kpi_loadings.columns) == 3
    c = health.congruence(res.factors.loadings, d.truth.kpi_loadings)
    assert (c["congruence"] >= 0.95).all(), c
    s = res.scores.merge(d.truth.kpi_health, on=["region", "service", "month"])
    assert s["index"].corr(s["health"], method="spearman") > 0.85
    assert res.factors.kmo > 0.6 and res.factors.bartlett_p < 1e-10
