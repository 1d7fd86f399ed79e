"""dmkit.rules.mine and baskets_from_subscriptions: hand-checked baskets, mlxtend equality, errors."""
from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlxtend.frequent_patterns import association_rules, fpgrowth

import dmkit.rules as R
from dmkit.errors import ParameterError, SchemaError
from dmkit.rules import mining


def _baskets(rows: list[str], items: str = "abcd") -> pd.DataFrame:
    return pd.DataFrame([[i in r for i in items] for r in rows], columns=list(items))


def _key(rules: pd.DataFrame) -> pd.DataFrame:
    out = rules.assign(_a=rules["antecedents"].map(lambda s: tuple(sorted(map(str, s)))),
                       _c=rules["consequents"].map(lambda s: tuple(sorted(map(str, s)))))
    return out.sort_values(["_a", "_c"]).reset_index(drop=True)


def _exact_reference_thresholds(n, min_support, min_confidence):
    """The thresholds to give mlxtend so that it decides on integer counts as dmkit does.

    mlxtend prunes multi-item itemsets at ceil(min_support * n) and compares float
    confidences, so 0.07 * 100 = 7.000000000000001 drops itemsets held by exactly 7 of 100
    baskets. Half a basket below the exact count c (and a confidence 1e-9 lower, far below
    the gap between ratios of small counts) keeps exactly the itemsets and rules with
    count >= min_support * n and count(AC) >= min_confidence * count(A).
    """
    c = mining.min_count(min_support, n)
    return (c - 0.5) / n, min_confidence * (1 - 1e-9)


def _assert_same_as_mlxtend(df, min_support, min_confidence=0.0, max_len=None):
    rs = R.mine(df, min_support=min_support, min_confidence=min_confidence, max_len=max_len)
    ref_support, ref_confidence = _exact_reference_thresholds(len(df), min_support, min_confidence)
    fp = fpgrowth(df, min_support=ref_support, use_colnames=True, max_len=max_len)
    ours = dict(zip(rs.itemsets["itemset"], rs.itemsets["support"], strict=True))
    theirs = dict(zip(fp["itemsets"], fp["support"], strict=True))
    assert ours.keys() == theirs.keys()
    for s, v in ours.items():
        assert v == pytest.approx(theirs[s], rel=1e-12, abs=0)
    np.testing.assert_array_equal(rs.itemsets["count"].to_numpy(),
                                  np.rint(rs.itemsets["support"].to_numpy() * len(df)).astype(int))
    if not len(fp):
        assert rs.rules.empty
        return rs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ar = association_rules(fp, num_itemsets=len(df), metric="confidence", min_threshold=ref_confidence)
    assert list(rs.rules.columns) == list(ar.columns)
    x, y = _key(rs.rules), _key(ar)
    assert len(x) == len(y)
    assert x["_a"].tolist() == y["_a"].tolist() and x["_c"].tolist() == y["_c"].tolist()
    for m in mining.METRICS:
        np.testing.assert_allclose(x[m].to_numpy(float), y[m].to_numpy(float), rtol=1e-12, atol=1e-15,
                                   err_msg=m)
    return rs


# ---------------------------------------------------------------------------- hand-checked
def test_hand_checked_basket():
    # 5 baskets: a in 4, b in 3, ab in 3, c in 2, ac in 2, bc in 1, d in 1
    df = _baskets(["ab", "ab", "abc", "ac", "d"])
    rs = R.mine(df, min_support=0.4, min_confidence=0.5)
    sup = dict(zip(rs.itemsets["itemset"], rs.itemsets["support"], strict=True))
    assert sup == {frozenset("a"): 0.8, frozenset("b"): 0.6, frozenset("ab"): 0.6, frozenset("c"): 0.4,
                   frozenset("ac"): 0.4}
    r = _key(rs.rules)
    assert list(zip(r["_a"], r["_c"], strict=True)) == [(("a",), ("b",)), (("a",), ("c",)),
                                                       (("b",), ("a",)), (("c",), ("a",))]
    assert r.iloc[1]["confidence"] == pytest.approx(0.5)
    a_b = r.iloc[0]
    assert a_b["confidence"] == pytest.approx(0.6 / 0.8)
    assert a_b["lift"] == pytest.approx(0.75 / 0.6)
    assert a_b["leverage"] == pytest.approx(0.6 - 0.8 * 0.6)
    b_a = r.iloc[2]
    assert b_a["confidence"] == pytest.approx(1.0) and np.isinf(b_a["conviction"])
    assert rs.n_distinct == 4 and rs.n_baskets == 5


def test_multi_item_consequents_and_max_consequent_len():
    df = _baskets(["abc"] * 6 + ["a", "b", "c", "ab"])
    rs = R.mine(df, min_support=0.5)
    assert frozenset("bc") in set(rs.rules["consequents"])
    single = R.mine(df, min_support=0.5, max_consequent_len=1)
    assert single.rules["consequents"].map(len).max() == 1
    assert len(single.rules) == len(rs.filter(max_consequent_len=1).rules)


def test_min_lift_filter_sort_and_top():
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.random((400, 6)) < 0.4, columns=list("abcdef"))
    df["f"] = df["a"] & (rng.random(400) < 0.9)
    rs = R.mine(df, min_support=0.05, min_lift=1.2)
    assert (rs.rules["lift"] >= 1.2).all() and len(rs.rules)
    assert rs.rules["lift"].is_monotonic_decreasing
    by_conf = rs.sort("confidence")
    assert by_conf.rules["confidence"].is_monotonic_decreasing
    sub = rs.filter(consequent="f")
    assert sub.rules["consequents"].map(lambda s: "f" in s).all() and len(sub.rules)
    top = rs.top(3)
    assert list(top.columns) == ["rule", "support", "confidence", "lift", "users"] and len(top) == 3


def test_recommend_scores_users_who_fire_rules():
    df = _baskets(["ab"] * 8 + ["a"] * 2 + ["c"] * 5)
    rs = R.mine(df, min_support=0.1)
    score = rs.recommend(df, "b")
    assert score.iloc[-1] == 0.0  # 'c' only: no rule fires
    assert score.iloc[8] == pytest.approx(0.8)  # holds a, not b: confidence of a => b
    assert score.iloc[0] == 0.0  # already holds b


@pytest.mark.parametrize("k", [7, 70])
def test_recommend_all_is_the_best_fired_rule_per_item(k):
    # brute force on the rows themselves: the best confidence of a rule A => {item} whose A the row
    # holds, 0 when none fires or the row holds the item (more than 64 items: two mask words)
    rng = np.random.default_rng(k)
    df = pd.DataFrame(rng.random((600, k)) < rng.uniform(0.05, 0.5, k), columns=[f"s{i}" for i in range(k)])
    rs = R.mine(df, min_support=0.05, min_confidence=0.1, max_len=3)
    items = ["s1", "s5", "s6"]
    got = rs.recommend_all(df, items)
    assert list(got.columns) == items and got.index.equals(df.index)
    assert (got.to_numpy() > 0).any()
    for item in items:
        rules = [(ant, float(c)) for ant, con, c in zip(rs.rules["antecedents"], rs.rules["consequents"],
                                                         rs.rules["confidence"], strict=True) if con == frozenset([item])]
        want = np.array([0.0 if row[item] else max([c for ant, c in rules if all(row[a] for a in ant)], default=0.0)
                         for _, row in df.iterrows()])
        np.testing.assert_array_equal(got[item].to_numpy(), want)
        np.testing.assert_array_equal(rs.recommend(df, item).to_numpy(), want)
    with pytest.raises(ParameterError):
        rs.recommend_all(df, ["nope"])


@pytest.mark.parametrize("k", [7, 70])
def test_recommend_baskets_scores_each_distinct_basket_once_and_maps_back(k):
    # per-basket scoring equals per-user scoring: the brute force on every row (as above), and
    # the table has one row per distinct basket, users of one basket sharing its row
    rng = np.random.default_rng(100 + k)
    df = pd.DataFrame(rng.random((800, k)) < rng.uniform(0.05, 0.4, k), columns=[f"s{i}" for i in range(k)],
                      index=pd.Index(rng.permutation(np.arange(5000, 5800)), name="user_id"))
    df = pd.concat([df, df.iloc[:200].set_axis(df.index[:200] + 10_000)])   # repeated baskets
    rs = R.mine(df, min_support=0.05, min_confidence=0.1, max_len=3)
    items = ["s0", "s3", "s4", "s6"]
    bs = rs.recommend_baskets(df, items)
    assert isinstance(bs, R.BasketScores) and bs.index.equals(df.index) and list(bs.columns) == items
    assert bs.n_baskets == len(df.drop_duplicates()) < len(df)
    rows = df.to_numpy()
    same = (rows[:, None, :] == rows[None, :, :]).all(axis=2)
    np.testing.assert_array_equal(same, bs.codes[:, None] == bs.codes[None, :])
    frame, fired = bs.to_frame(), 0
    for item in items:
        rules = [(ant, float(c)) for ant, con, c in zip(rs.rules["antecedents"], rs.rules["consequents"],
                                                         rs.rules["confidence"], strict=True) if con == frozenset([item])]
        want = np.array([0.0 if row[item] else max([c for ant, c in rules if all(row[a] for a in ant)], default=0.0)
                         for _, row in df.iterrows()])
        fired += int((want > 0).sum())
        np.testing.assert_array_equal(bs[item].to_numpy(), want)
        np.testing.assert_array_equal(frame[item].to_numpy(), want)
    assert fired > 0
    pd.testing.assert_frame_equal(frame, rs.recommend_all(df, items))
    twice = rs.recommend_baskets(df, ["s3", "s0", "s3"]).to_frame()       # an item asked twice: the same column twice
    np.testing.assert_array_equal(twice.to_numpy(), frame[["s3", "s0", "s3"]].to_numpy())
    np.testing.assert_allclose(bs.mean().to_numpy(), frame.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(bs.max().to_numpy(), frame.max().to_numpy())


def test_basket_scores_columns_set_per_user_and_reindex():
    df = _baskets(["ab"] * 8 + ["a"] * 2 + ["c"] * 5).set_axis(pd.Index(np.arange(15) * 3, name="user_id"))
    bs = R.mine(df, min_support=0.1).recommend_baskets(df)
    assert bs.n_baskets == 3 and len(bs) == 15
    own = pd.Series(np.linspace(0, 1, 15), index=df.index[::-1])          # aligned on the index, not by position
    bs["p"] = own
    assert list(bs.columns) == ["a", "b", "c", "d", "p"]
    np.testing.assert_array_equal(bs["p"].to_numpy(), own.reindex(df.index).to_numpy())
    uid = np.array([42, 3, 999, 0])                                       # 999 is not a user: NaN, as DataFrame.reindex
    pd.testing.assert_frame_equal(bs.reindex(uid).to_frame(), bs.to_frame().reindex(uid))
    pd.testing.assert_series_equal(bs.reindex(uid).mean(), bs.to_frame().reindex(uid).mean(), rtol=1e-12)
    pd.testing.assert_series_equal(bs.reindex(uid).max(), bs.to_frame().reindex(uid).max())
    with pytest.raises(ParameterError, match="values"):
        bs["q"] = np.zeros(3)
    with pytest.raises(ParameterError, match="name"):
        bs.values("nope")
    with pytest.raises(ParameterError, match="codes"):
        R.BasketScores(df.index, np.full(15, 3), bs.table)


def test_summary_and_plots():
    df = _baskets(["ab", "abc", "bc", "abd", "cd", "ab"])
    rs = R.mine(df, min_support=0.3)
    text = str(rs.summary())
    assert "top 10 rules by lift" in text and "frequent itemsets" in text
    assert rs.plot().get_xlabel() == "support"
    assert rs.plot(kind="graph").get_title().startswith("top")
    assert rs.to_frame().shape == rs.rules.shape


def test_more_than_64_items():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.random((300, 70)) < 0.15, columns=[f"s{j}" for j in range(70)])
    bundle = rng.random(300) < 0.3
    for c in ("s1", "s66", "s69"):
        df[c] |= bundle
    _assert_same_as_mlxtend(df, 0.05, 0.2)


# ---------------------------------------------------------------------------- vs mlxtend
@st.composite
def basket_tables(draw):
    n = draw(st.integers(1, 120))
    k = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=k)
    x = rng.random((n, k)) < p
    if k > 2 and draw(st.booleans()):  # a planted bundle
        take = rng.random(n) < 0.3
        x[np.ix_(take, [0, k - 1])] = True
    return pd.DataFrame(x, columns=[f"i{j}" for j in range(k)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=basket_tables(),
       min_support=st.one_of(st.sampled_from([0.01, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0]),
                             st.floats(0.001, 1.0)),
       min_confidence=st.sampled_from([0.0, 0.25, 0.5, 2 / 3, 0.8, 1.0]),
       max_len=st.sampled_from([None, None, 1, 2, 3]))
def test_same_as_mlxtend_on_random_baskets(df, min_support, min_confidence, max_len):
    _assert_same_as_mlxtend(df, min_support, min_confidence, max_len)


def test_same_as_mlxtend_on_many_users_few_items():
    rng = np.random.default_rng(11)
    n, k = 20_000, 15
    p = np.sort(rng.beta(0.7, 3, size=k))[::-1]
    x = rng.random((n, k)) < p
    x[np.ix_(rng.random(n) < 0.05, [2, 7, 9])] = True
    df = pd.DataFrame(x, columns=[f"svc{j}" for j in range(k)])
    rs = _assert_same_as_mlxtend(df, 0.01, 0.3)
    assert rs.n_distinct < n
    assert frozenset(["svc7", "svc9"]) in set(rs.itemsets["itemset"])


# ---------------------------------------------------------------------------- exact thresholds
def _brute_force_itemsets(df: pd.DataFrame, min_count: int) -> dict:
    x = df.to_numpy(dtype=bool)
    out = {}
    for size in range(1, x.shape[1] + 1):
        for cols in combinations(range(x.shape[1]), size):
            c = int(x[:, list(cols)].all(axis=1).sum())
            if c >= min_count:
                out[frozenset(df.columns[list(cols)])] = c
    return out


def _boundary_baskets(seed: int = 0) -> pd.DataFrame:
    """100 baskets of 8 items with pairs and a triple held by exactly 7 baskets."""
    rng = np.random.default_rng(seed)
    x = rng.random((100, 8)) < 0.2
    x[:, :4] = False
    x[0:7, [0, 1]] = True      # ab: exactly 7
    x[10:17, [2, 3]] = True    # cd: exactly 7
    x[20:27, [0, 2, 3]] = True  # acd: exactly 7 (cd then in 14)
    x[30:36, [1, 3]] = True    # bd: 6, below the threshold
    return pd.DataFrame(x, columns=list("abcdefgh"))


def test_support_threshold_is_exact_at_the_boundary():
    # 0.07 * 100 == 7.000000000000001: the itemsets held by exactly 7 baskets must stay
    assert 0.07 * 100 > 7 and mining.min_count(0.07, 100) == 7
    df = _boundary_baskets()
    rs = R.mine(df, min_support=0.07)
    ours = dict(zip(rs.itemsets["itemset"], rs.itemsets["count"], strict=True))
    ref = _brute_force_itemsets(df, 7)
    assert ours == ref
    assert ours[frozenset("ab")] == 7 and ours[frozenset("acd")] == 7 and frozenset("bd") not in ours
    assert min(ours.values()) == 7
    # Borgelt's apriori (absolute support 7) agrees
    fim = pytest.importorskip("fim")
    tracts = [[c for c in df.columns if row[c]] for _, row in df.iterrows()]
    borgelt = {frozenset(s): int(c) for s, c in fim.apriori(tracts, target="s", supp=-7, zmin=1, report="a")}
    assert ours == borgelt
    # mlxtend given the share itself drops them (the bug dmkit does not copy)
    fp = fpgrowth(df, min_support=0.07, use_colnames=True)
    assert frozenset("ab") not in set(fp["itemsets"]) and len(fp) < len(ref)


@pytest.mark.parametrize("n,share", [(100, 0.07), (1000, 0.007), (30, 0.1), (70, 0.1), (3, 1 / 3), (49, 0.29)])
def test_min_count_is_the_smallest_count_reaching_the_share(n, share):
    from fractions import Fraction

    c = mining.min_count(share, n)
    exact = Fraction(share) * n                      # the share as the float it is, times n
    # the tolerance only forgives the float rounding: c is ceil of the exact product, or
    # one below it when the product is an integer plus a rounding error
    assert c == math.ceil(exact) or (c == math.ceil(exact) - 1 and float(exact - c) < 1e-9 * float(exact))
    assert mining.reaches(c, share, n) and not mining.reaches(c - 1, share, n)


def test_confidence_threshold_is_exact_at_the_boundary():
    # 50 baskets: a in 7, ab in 5. mlxtend's float confidence 0.7142857142857142 is below
    # 5 / 7 = 0.7142857142857143; on counts the rule reaches min_confidence = 5 / 7
    df = _baskets(["ab"] * 5 + ["a"] * 2 + ["b"] * 10 + ["c"] * 33, items="abc")
    rs = R.mine(df, min_support=0.05, min_confidence=5 / 7)
    a_b = rs.rules[(rs.rules["antecedents"] == frozenset("a")) & (rs.rules["consequents"] == frozenset("b"))]
    assert len(a_b) == 1
    assert not len(R.mine(df, min_support=0.05, min_confidence=5 / 7 + 1e-6).rules.pipe(
        lambda r: r[r["antecedents"] == frozenset("a")]))
    fp = fpgrowth(df, min_support=0.05, use_colnames=True)
    ar = association_rules(fp, num_itemsets=len(df), metric="confidence", min_threshold=5 / 7)
    assert not ((ar["antecedents"] == frozenset("a")) & (ar["consequents"] == frozenset("b"))).any()


# ---------------------------------------------------------------------------- errors
def test_empty_baskets_raise():
    with pytest.raises(SchemaError, match=r"table 'baskets'.*at least one row"):
        R.mine(pd.DataFrame({"a": pd.Series([], dtype=bool)}), min_support=0.1)


def test_non_boolean_basket_raises_naming_column():
    df = pd.DataFrame({"a": [True, False], "b": [1, 0]})
    with pytest.raises(SchemaError, match=r"column 'b': expected a boolean.*int64"):
        R.mine(df, min_support=0.1)
    nullable = pd.DataFrame({"a": pd.array([True, None], dtype="boolean")})
    with pytest.raises(SchemaError, match=r"column 'a': expected a boolean column without missing values"):
        R.mine(nullable, min_support=0.1)
    ok = R.mine(nullable.fillna(False), min_support=0.1)
    assert ok.itemsets["count"].tolist() == [1]
    with pytest.raises(SchemaError, match="expected a pandas DataFrame"):
        R.mine(np.ones((3, 2), dtype=bool), min_support=0.1)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5])
def test_min_support_outside_unit_interval_raises(bad):
    with pytest.raises(ParameterError, match=r"parameter 'min_support': expected a value in \(0.0, 1.0\]"):
        R.mine(_baskets(["ab", "a"]), min_support=bad)


def test_other_parameters_checked():
    with pytest.raises(ParameterError, match="min_confidence"):
        R.mine(_baskets(["ab"]), min_support=0.5, min_confidence=1.5)
    with pytest.raises(ParameterError, match="max_len"):
        R.mine(_baskets(["ab"]), min_support=0.5, max_len=0)
    with pytest.raises(ParameterError, match="'by'"):
        R.mine(_baskets(["ab"]), min_support=0.5).sort("nope")


# ---------------------------------------------------------------------------- baskets
def _subs():
    ts = pd.to_datetime
    return pd.DataFrame({
        "user_id": [1, 1, 2, 2, 3],
        "service": ["crbt", "music", "crbt", "fetion", "wap"],
        "start": ts(["2009-01-05", "2009-03-01", "2009-02-01", "2009-07-01", "2009-01-01"]),
        "end": ts([None, "2009-05-01", None, None, None]),
        "channel": ["sms"] * 5,
        "source": ["organic"] * 5,
    })


def test_baskets_from_subscriptions_active_at_month_end():
    b = R.baskets_from_subscriptions(_subs(), month="2009-06")
    assert b.shape == (3, 35) and (b.dtypes == np.dtype(bool)).all()
    assert b.loc[1, "crbt"] and not b.loc[1, "music"]  # music ended in May
    assert not b.loc[2, "fetion"]  # started after June
    ever = R.baskets_from_subscriptions(_subs(), month="2009-06", active_only=False)
    assert ever.loc[1, "music"]
    base = R.baskets_from_subscriptions(_subs(), month="2009-06", users=[1, 2, 3, 4])
    assert len(base) == 4 and not base.loc[4].any()


def test_baskets_bad_month():
    with pytest.raises(ParameterError, match="parameter 'month'"):
        R.baskets_from_subscriptions(_subs(), month="June")


# ---------------------------------------------------------------------------- RuleSet.filter
def _brute_force_rules(df: pd.DataFrame) -> dict:
    """Every rule A => C of disjoint non-empty itemsets with count(A ∪ C) > 0: its integer counts."""
    from fractions import Fraction

    x = df.to_numpy(dtype=bool)
    items = range(x.shape[1])

    def count(cols) -> int:
        return int(x[:, list(cols)].all(axis=1).sum())

    out = {}
    for size in range(2, x.shape[1] + 1):
        for full in combinations(items, size):
            c_ac = count(full)
            if not c_ac:
                continue
            for k in range(1, size):
                for ant in combinations(full, k):
                    con = tuple(i for i in full if i not in ant)
                    key = (frozenset(df.columns[list(ant)]), frozenset(df.columns[list(con)]))
                    c_a, c_c = count(ant), count(con)
                    out[key] = {"support": Fraction(c_ac, len(df)), "confidence": Fraction(c_ac, c_a),
                                "lift": Fraction(c_ac * len(df), c_a * c_c)}
    return out


def _rule_keys(rules: pd.DataFrame) -> set:
    return set(zip(rules["antecedents"], rules["consequents"], strict=True))


def test_filter_thresholds_are_exact_at_the_boundary():
    # every threshold below is the exact share, confidence or lift of some rule, written as
    # the float a user would type (k / n): the rules that reach it on counts must all stay
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.random((49, 5)) < 0.45, columns=list("abcde"))
    rs = R.mine(df, min_support=1 / 49)
    ref = _brute_force_rules(df)
    assert _rule_keys(rs.rules) == set(ref)
    lost_by_floats = 0
    for metric in ("support", "confidence", "lift"):
        for exact in sorted({v[metric] for v in ref.values()}):
            threshold = exact.numerator / exact.denominator
            got = _rule_keys(rs.filter(**{f"min_{metric}": threshold}).rules)
            want = {k for k, v in ref.items() if v[metric] >= exact}
            assert got == want, (metric, exact)
            lost_by_floats += len(want) - int((rs.rules[metric].to_numpy() >= threshold).sum())
    # the plain float comparison the filter used to make loses rules at these boundaries
    assert lost_by_floats > 0


def test_filter_at_the_hand_checked_confidence_boundary():
    # a in 7 baskets, ab in 5: the rule's float confidence 0.7142857142857142 is below 5 / 7
    df = _baskets(["ab"] * 5 + ["a"] * 2 + ["b"] * 10 + ["c"] * 33, items="abc")
    rs = R.mine(df, min_support=0.05)
    a_b = (frozenset("a"), frozenset("b"))
    conf = rs.rules.loc[(rs.rules["antecedents"] == a_b[0]) & (rs.rules["consequents"] == a_b[1]), "confidence"]
    assert conf.item() < 5 / 7
    assert a_b in _rule_keys(rs.filter(min_confidence=5 / 7).rules)
    assert a_b not in _rule_keys(rs.filter(min_confidence=5 / 7 + 1e-6).rules)
    assert len(rs.filter(min_support=0.1).rules) == len(rs.filter(min_support=5 / 50).rules)
    with pytest.raises(ParameterError, match="min_lift"):
        rs.filter(min_lift=-1.0)


# ---------------------------------------------------------------------------- the mlxtend claim
def test_mlxtend_claim_of_the_docstring():
    # mine's docstring: (1) given thresholds that fall between counts, mlxtend's fpgrowth +
    # association_rules give the same itemsets, supports and metrics (the hypothesis test
    # above); (2) given the share itself, they differ only where min_support * n is an
    # integer that rounds above itself: mlxtend then drops exactly the multi-item itemsets
    # held by min_support * n baskets (single items are kept by both)
    df = _boundary_baskets()
    ours = dict(zip(*(R.mine(df, min_support=0.07).itemsets[c] for c in ("itemset", "count")), strict=True))
    fp = fpgrowth(df, min_support=0.07, use_colnames=True)
    theirs = set(fp["itemsets"])
    assert theirs <= set(ours)
    assert set(ours) - theirs == {s for s, c in ours.items() if c == 7 and len(s) > 1}
    assert {s for s, c in ours.items() if c == 7 and len(s) == 1} <= theirs
    # where the share times n is not an integer (0.065 * 100 = 6.5), both keep count >= 7
    fp = fpgrowth(df, min_support=0.065, use_colnames=True)
    assert set(fp["itemsets"]) == set(ours)


def _rare_item_baskets(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Five common items and a rare one whose odds are x4 per held item among a, b (planted)."""
    rng = np.random.default_rng(seed)
    b = pd.DataFrame({c: rng.random(n) < p for c, p in zip("abcde", [0.3, 0.4, 0.2, 0.5, 0.25], strict=True)})
    b["t"] = rng.random(n) < 0.005 * 4.0 ** (b["a"].astype(int) + b["b"].astype(int))
    return b


def test_rules_into_a_rare_item_match_mlxtend_below_the_mined_confidence():
    b = _rare_item_baskets()
    rs = R.mine(b, min_support=0.001, min_confidence=0.2)
    assert len(rs.filter(consequent="t").rules) == 0  # the rare item reaches no confidence of 20%
    into = rs.rules_into("t", min_lift=1.0)
    ref = association_rules(fpgrowth(b, min_support=0.001, use_colnames=True), num_itemsets=len(b),
                            metric="lift", min_threshold=1.0)
    ref = ref[ref["consequents"] == frozenset(["t"])]
    assert len(into.rules) == len(ref) > 0
    both = into.rules.merge(ref, on="antecedents", suffixes=("", "_mlxtend"))
    assert len(both) == len(ref)
    for col in ["support", "antecedent support", "confidence", "lift", "leverage", "conviction", "jaccard"]:
        np.testing.assert_allclose(both[col], both[f"{col}_mlxtend"], rtol=1e-12)
    # the planted drivers lead: the best single-item rules into t are {a} and {b}
    singles = into.rules[into.rules["antecedents"].map(len) == 1]
    assert set(map(next, map(iter, singles.head(2)["antecedents"]))) == {"a", "b"}
    assert (into.rules["lift"].to_numpy()[:-1] >= into.rules["lift"].to_numpy()[1:]).all()
    assert into.min_confidence == 0.0 and into.min_lift == 1.0


def test_rules_into_thresholds_on_counts_and_bad_item():
    b = _rare_item_baskets()
    rs = R.mine(b, min_support=0.001, min_confidence=0.0)
    for conf in (0.0, 0.03, 0.06):
        a = rs.rules_into("t", min_confidence=conf).rules
        f = rs.filter(consequent="t", max_consequent_len=1, min_confidence=conf).rules
        assert sorted(map(sorted, a["antecedents"])) == sorted(map(sorted, f["antecedents"]))
    with pytest.raises(ParameterError, match="item"):
        rs.rules_into("securities")
    with pytest.raises(ParameterError, match="min_lift"):
        rs.rules_into("t", min_lift=-1)
