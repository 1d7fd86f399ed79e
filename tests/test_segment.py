"""Tests of dmkit.segment: clusters recover planted groups, the V matrix, strategies, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import adjusted_rand_score

from dmkit import segment
from dmkit.errors import DmkitError, ParameterError, SchemaError
from dmkit.synth import generate as synth_generate


def three_groups(n: int = 6_000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Low / normal / high SMS users: skewed counts, planted group per row."""
    rng = np.random.default_rng(seed)
    g = rng.choice(3, size=n, p=[0.35, 0.45, 0.20])
    sms = rng.poisson(np.array([5, 60, 300])[g] * rng.lognormal(0, 0.3, n))
    contacts = np.minimum(sms, rng.poisson(np.array([2, 10, 35])[g] * rng.lognormal(0, 0.2, n)))
    idx = pd.Index(rng.permutation(n) + 10_000, name="user_id")
    return pd.DataFrame({"sms_p2p": sms, "sms_contacts": contacts}, index=idx), g


@pytest.fixture(scope="module")
def fixture():
    X, g = three_groups()
    return X, g, segment.cluster(X, k_range=range(2, 6), sample_size=2_000, seed=3)


# -- cluster ----------------------------------------------------------------------------

def test_recovers_planted_groups_and_chooses_k_by_silhouette(fixture):
    X, g, res = fixture
    assert res.k == 3
    assert res.silhouette.loc[res.silhouette["silhouette"].idxmax(), "k"] == 3
    assert adjusted_rand_score(g, res.labels.to_numpy()) >= 0.9
    # ordered labels: label 0 is the planted low group, 2 the high one
    assert (pd.crosstab(res.labels.to_numpy(), g).to_numpy().argmax(axis=1) == [0, 1, 2]).all()


def test_labels_keep_the_input_index_and_are_ordered_by_the_first_feature(fixture):
    X, _, res = fixture
    assert res.labels.index.equals(X.index)
    means = X.groupby(res.labels)["sms_p2p"].mean()
    assert means.is_monotonic_increasing


def test_profile_matches_an_independent_groupby(fixture):
    X, _, res = fixture
    p = res.profile
    expect = X.assign(s=res.labels).groupby("s")
    assert_allclose(p["sms_p2p_mean"], expect["sms_p2p"].mean())
    assert_allclose(p["sms_contacts_median"], expect["sms_contacts"].median())
    assert p["size"].tolist() == expect.size().tolist()
    assert_allclose(p["share"].sum(), 1.0)


def test_names_describe_the_centres(fixture):
    _, _, res = fixture
    assert set(res.names[0].split(", ")) == {"low volume", "narrow circle"}
    assert set(res.names[2].split(", ")) == {"high volume", "wide circle"}
    assert res.names.is_unique


def test_same_seed_same_labels_and_row_order_does_not_matter():
    X, _ = three_groups(3_000, seed=5)
    a = segment.cluster(X, k=3, seed=11)
    b = segment.cluster(X, k=3, seed=11)
    pd.testing.assert_series_equal(a.labels, b.labels)
    c = segment.cluster(X.sample(frac=1, random_state=2), k=3, seed=11)
    assert adjusted_rand_score(a.labels, c.labels.reindex(X.index)) > 0.99
    assert (a.labels == c.labels.reindex(X.index)).mean() > 0.99  # same numbering, not only same partition


def test_predict_applies_the_fitted_segments_to_new_rows(fixture):
    X, _, res = fixture
    pd.testing.assert_series_equal(res.predict(X), res.labels, check_dtype=False)
    nxt = pd.DataFrame({"sms_p2p": [0, 70, 900], "sms_contacts": [1, 9, 60]}, index=[1, 2, 3])
    assert res.predict(nxt).tolist() == [0, 1, 2]


def test_log_auto_picks_skewed_counts_only():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"sms_p2p": rng.lognormal(3, 1.2, 2_000).round(),
                      "call_days": rng.integers(1, 31, 2_000)})
    res = segment.cluster(X, k=2, seed=0)
    assert res.model.log_columns_ == ("sms_p2p",)
    assert segment.cluster(X, k=2, log=False).model.log_columns_ == ()
    # centres back in original units: within the data range
    assert ((res.centers["call_days"] >= 1) & (res.centers["call_days"] <= 30)).all()


def test_minibatch_on_every_row_also_recovers_the_groups():
    X, g = three_groups(8_000, seed=2)
    res = segment.cluster(X, k=3, algorithm="minibatch", seed=0)
    assert res.model.algorithm_ == "minibatch" and res.model.n_fit_ == 8_000
    assert adjusted_rand_score(g, res.labels) >= 0.9


def test_past_the_threshold_centres_from_a_stratified_sample_and_every_row_assigned(monkeypatch):
    X, g = three_groups(8_000, seed=2)
    monkeypatch.setattr(segment, "_CHUNK", 3_000)  # the chunked standardisation and assignment
    res = segment.cluster(X, k=None, k_range=range(2, 5), minibatch_threshold=2_000, seed=0)
    m = res.model
    assert m.algorithm_ == "kmeans-sample" and m.n_fit_ == pytest.approx(2_000, abs=10) and res.k == 3
    assert adjusted_rand_score(g, res.labels) >= 0.9
    # every row labelled by its nearest centre; standardisation and sizes over every row
    np.testing.assert_array_equal(res.labels.to_numpy(), m.predict(X))
    R = m._raw(X)
    np.testing.assert_allclose(m.mean_, R.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m.scale_, R.std(axis=0), rtol=1e-12)
    assert res.profile["size"].sum() == 8_000
    assert any("stratified sample of" in n for n in res.summary().notes)


def test_stratified_rows_keep_each_deciles_share():
    key = np.random.default_rng(0).lognormal(size=100_000)
    rows = segment._stratified_rows(key, 10_000, np.random.default_rng(1))
    assert abs(len(rows) - 10_000) <= 10 and (np.diff(rows) > 0).all()
    share = np.bincount(np.searchsorted(np.quantile(key, np.linspace(0, 1, 11)[1:-1]), key[rows], side="right"))
    assert (np.abs(share / len(rows) - 0.1) < 0.002).all()


def test_from_centers_rebuilds_the_same_result(fixture):
    X, _, res = fixture
    m = res.model
    shuffled = m.centers_[[2, 0, 1]]
    again = segment.from_centers(X, shuffled, log_columns=m.log_columns_, mean=m.mean_, scale=m.scale_)
    pd.testing.assert_series_equal(again.labels, res.labels, check_dtype=False)
    assert again.names.tolist() == res.names.tolist()


def test_summary_and_plots(fixture):
    _, _, res = fixture
    s = res.summary()
    assert "profile" in str(s) and s.table("profile").shape[0] == 3
    for kind in ("profile", "silhouette", "scatter"):
        assert res.plot(kind=kind) is not None
    assert res.to_frame().equals(res.profile)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 1}, ParameterError, "parameter 'k'"),
        ({"k": 50}, ParameterError, r"parameter 'k': expected at most the number of rows \(20\)"),
        ({"columns": ["sms_p2p", "nope"]}, SchemaError, "no column.*nope"),
        ({"k_range": [1, 2]}, ParameterError, "k_range"),
        ({"order_by": "arpu"}, ParameterError, "order_by"),
        ({"algorithm": "dbscan"}, ParameterError, "algorithm"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    X, _ = three_groups(20)
    with pytest.raises(error, match=match):
        segment.cluster(X, **kwargs)


def test_bad_features():
    X, _ = three_groups(50)
    with pytest.raises(SchemaError, match="at least 1 row"):
        segment.cluster(X.iloc[:0])
    with pytest.raises(SchemaError, match="column 'brand': expected a numeric column"):
        segment.cluster(X.assign(brand="mzone"))
    with pytest.raises(SchemaError, match="column 'sms_p2p': expected finite values"):
        segment.cluster(X.assign(sms_p2p=np.where(np.arange(50) == 3, np.nan, 1.0)))
    with pytest.raises(SchemaError, match="values >= 0 for a log transform"):
        segment.cluster(X.assign(sms_p2p=-X["sms_p2p"] - 1), log=True)
    with pytest.raises(DmkitError, match="not fitted"):
        segment.Segmenter(3).predict(X)


# -- matrix ---------------------------------------------------------------------------

def test_matrix_counts_match_pd_cut_and_use_v_names():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"sms_p2p": rng.integers(0, 400, 5_000), "arpu": rng.uniform(0, 300, 5_000)})
    df.loc[:3, "sms_p2p"] = [50, 49, 200, 0]  # edges: 50 -> second bin, 200 -> third
    m = segment.matrix(df, x="sms_p2p", y="arpu", x_bins=[0, 50, 200], y_bins=[0, 50, 150])
    xb = pd.cut(df["sms_p2p"], [0, 50, 200, np.inf], right=False)
    yb = pd.cut(df["arpu"], [0, 50, 150, np.inf], right=False)
    expect = pd.crosstab(xb, yb).to_numpy()
    assert (m.counts.to_numpy() == expect).all()
    assert_allclose(m.shares.to_numpy().sum(), 1.0)
    assert m.names.iat[0, 0] == "double-low" and m.names.iat[2, 2] == "double-high"
    expect_names = m.names.to_numpy()[xb.cat.codes.to_numpy(), yb.cat.codes.to_numpy()]
    assert (m.assignment.astype(str).to_numpy() == expect_names).all()
    assert m.assignment.iloc[0] == m.names.iat[1, int(yb.cat.codes.iloc[0])]  # 50 sms -> 50–200 row


def test_matrix_compare_against_published_shares():
    names = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]
    df = pd.DataFrame({"x": [1, 1, 60, 300], "y": [1, 100, 100, 200]})
    m = segment.matrix(df, x="x", y="y", x_bins=[0, 50, 200], y_bins=[0, 50, 150], names=names)
    cmp = m.compare({"a": 0.25, "e": 0.5})
    assert_allclose(cmp.loc["a", "share"], 0.25)
    assert_allclose(cmp.loc["e", "difference"], 0.25 - 0.5)
    with pytest.raises(ParameterError, match="published"):
        m.compare({"zz": 0.1})
    v = segment.matrix(df.rename(columns={"x": "sms_p2p", "y": "arpu"}))
    assert set(v.compare().index) == set(segment.V_PUBLISHED)
    assert v.plot() is not None


def test_matrix_errors_and_warnings():
    df = pd.DataFrame({"sms_p2p": [1.0, np.nan, 300], "arpu": [10.0, 20, 30]})
    with pytest.warns(UserWarning, match="1 of 3 rows left out"):
        m = segment.matrix(df)
    assert m.counts.to_numpy().sum() == 2
    with pytest.raises(SchemaError, match="no column.*spend"):
        segment.matrix(df, y="spend")
    with pytest.raises(ParameterError, match="x_bins"):
        segment.matrix(df, x_bins=[0, 200, 50])
    with pytest.raises(ParameterError, match="names"):
        segment.matrix(df, names=[["a", "b"], ["c", "d"]])
    with pytest.raises(SchemaError, match="at least 1 row"):
        segment.matrix(df.iloc[:0])


# -- strategies -----------------------------------------------------------------------

def test_assign_strategies_by_position_and_by_name(fixture):
    X, _, res = fixture
    s = segment.assign_strategies(res)
    assert s.index.equals(X.index)
    assert (s["segment"].to_numpy() == np.array(["low", "normal", "high"])[res.labels.to_numpy()]).all()
    assert s.loc[res.labels == 2, "strategy"].str.contains("Fetion").all()
    named = segment.assign_strategies(pd.Series(["high", "low"], index=[7, 8]),
                                      strategies={"low": "call them", "high": "keep them"})
    assert named["strategy"].tolist() == ["keep them", "call them"]
    with pytest.raises(ParameterError, match="segments among"):
        segment.assign_strategies(pd.Series(["medium"]))
    with pytest.raises(ParameterError, match=r"labels 0..2"):
        segment.assign_strategies(pd.Series([0, 3]))


# -- planted truth from the simulator ----------------------------------------------------

@pytest.fixture(scope="module")
def synth():
    return synth_generate("yunnan", month="2009-06", n_users=20_000, seed=3)


def _month_usage(data) -> pd.DataFrame:
    u = data.usage
    return u[u["month"] == data.truth.month].set_index("user_id")


def test_recovers_the_simulators_sms_segments(synth):
    u = _month_usage(synth)
    res = segment.cluster(u[["sms_p2p", "sms_contacts"]], k=3, seed=0)
    truth = synth.truth.user_truth.set_index("user_id")["sms_segment"].reindex(u.index)
    assert adjusted_rand_score(truth, res.labels) >= 0.8
    # label order follows volume: 0 = low, 2 = high
    top = pd.crosstab(res.labels, truth).idxmax(axis=1)
    assert top.tolist() == ["low", "normal", "high"]


def test_matrix_shares_match_the_planted_matrix(synth):
    u = _month_usage(synth)
    m = segment.matrix(u, x="sms_p2p", y="arpu", x_bins=[0, 50, 200], y_bins=[0, 50, 150])
    planted = synth.truth.sms_matrix.groupby("name")["share"].sum()
    got = m.by_name()["share"].reindex(planted.index)
    assert_allclose(got.to_numpy(), planted.to_numpy(), atol=0.02)


def test_rank_levels_spreads_ordered_segments_over_low_normal_high():
    lab = pd.Series([0, 1, 2, 3, 3], index=list("abcde"))
    assert segment.rank_levels(lab).tolist() == ["low", "normal", "normal", "high", "high"]
    assert segment.rank_levels(pd.Series([0, 1, 2])).tolist() == ["low", "normal", "high"]
    assert segment.rank_levels(pd.Series([0, 1])).tolist() == ["low", "high"]
    with pytest.raises(ParameterError, match="segments"):
        segment.rank_levels(pd.Series(["x"]))
