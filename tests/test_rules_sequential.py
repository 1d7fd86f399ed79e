"""dmkit.rules.sequential: hand-checked orders, a brute-force reference, planted sequences."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
import dmkit.rules as R
from dmkit import catalog
from dmkit.errors import ParameterError, SchemaError


def _subs(rows):
    df = pd.DataFrame(rows, columns=["user_id", "service", "start"])
    return df.assign(start=pd.to_datetime(df["start"]), end=pd.NaT, channel="sms", source="organic")


def test_hand_checked_order_window_and_gap():
    subs = _subs([
        (1, "crbt", "2009-01-01"), (1, "music", "2009-02-01"),   # 31 days: counts
        (2, "crbt", "2009-01-01"), (2, "music", "2009-06-01"),   # 151 days: outside 90D
        (3, "music", "2009-01-01"), (3, "crbt", "2009-01-15"),   # reverse order
        (4, "crbt", "2009-03-01"), (4, "music", "2009-03-21"),   # 20 days: counts
        (4, "crbt", "2009-05-01"),                               # a later crbt: first start is used
        (5, "wap", "2009-01-01"),
    ])
    r = R.sequential(subs, window="90D", min_support=0.01)
    ab = r.pair("crbt", "music")
    assert ab["count"] == 2 and ab["n_first"] == 4
    assert ab["confidence"] == pytest.approx(0.5)
    assert ab["support"] == pytest.approx(2 / 5)
    assert ab["base_rate"] == pytest.approx(4 / 5)
    assert ab["lift"] == pytest.approx(0.5 / 0.8)
    assert ab["median_gap_days"] == pytest.approx((31 + 20) / 2)
    assert ab["reverse_confidence"] == pytest.approx(1 / 4)
    ba = r.pair("music", "crbt")
    assert ba["count"] == 1 and ba["median_gap_days"] == pytest.approx(14)
    longer = R.sequential(subs, window="200D", min_support=0.01)
    assert longer.pair("crbt", "music")["count"] == 3


def test_same_day_starts_are_not_ordered():
    subs = _subs([(1, "crbt", "2009-01-01"), (1, "music", "2009-01-01")])
    r = R.sequential(subs, window="90D", min_support=0.01)
    assert r.rules.empty


def _brute_force(subs, window_days, n_users):
    first = subs.groupby(["user_id", "service"])["start"].min().reset_index()
    out = {}
    for _, g in first.groupby("user_id"):
        for a in g.itertuples():
            for b in g.itertuples():
                gap = (b.start - a.start) / pd.Timedelta(days=1)
                if a.service != b.service and 0 < gap <= window_days:
                    out.setdefault((a.service, b.service), []).append(gap)
    n_first = first.groupby("service").size()
    return {k: (len(v), len(v) / n_first[k[0]], float(np.median(v)), len(v) / n_users) for k, v in out.items()}


def _assert_same_rules(r, ref):
    """The rules of ``r`` are those of the brute force ``ref``: counts exact, shares and gaps to 1e-12."""
    got = {(x.first, x.then): (x.count, x.confidence, x.median_gap_days, x.support) for x in r.rules.itertuples()}
    assert got.keys() == ref.keys()
    for k, v in ref.items():
        assert got[k][0] == v[0]
        np.testing.assert_allclose(got[k][1:], v[1:], rtol=1e-12)
    return got


def test_matches_brute_force_on_random_histories():
    rng = np.random.default_rng(2)
    n = 300
    svc = ["crbt", "music", "wap", "newspaper", "fetion"]
    rows = []
    for u in range(n):
        for s in rng.choice(svc, size=rng.integers(1, 5), replace=True):
            rows.append((u, s, pd.Timestamp("2009-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))))
    subs = _subs(rows).drop_duplicates(["user_id", "service", "start"])
    r = R.sequential(subs, window="60D", min_support=1e-9)
    ref = _brute_force(subs, 60, n)
    got = {(x.first, x.then): (x.count, x.confidence, x.median_gap_days, x.support)
           for x in r.rules.itertuples()}
    assert got.keys() == ref.keys()
    for k, v in ref.items():
        assert got[k][0] == v[0]
        np.testing.assert_allclose(got[k][1:], v[1:], rtol=1e-12)


def test_thresholds_filter_and_outputs():
    subs = _subs([(u, "crbt", "2009-01-01") for u in range(10)]
                 + [(u, "music", "2009-02-01") for u in range(6)]
                 + [(10, "wap", "2009-01-01"), (10, "music", "2009-01-20")])
    r = R.sequential(subs, window="90D", min_support=0.2, min_confidence=0.5)
    assert list(r.rules[["first", "then"]].itertuples(index=False, name=None)) == [("crbt", "music")]
    assert "crbt → music" in str(r.summary())
    assert r.plot().get_xlabel().startswith("confidence")
    assert r.filter(first="wap").rules.empty
    assert R.sequential(subs, window="90D", min_support=0.01, n_users=100).n_users == 100


def test_bad_inputs():
    subs = _subs([(1, "crbt", "2009-01-01")])
    with pytest.raises(ParameterError, match="parameter 'window'"):
        R.sequential(subs, window="soon", min_support=0.1)
    with pytest.raises(ParameterError, match="parameter 'min_support'"):
        R.sequential(subs, min_support=0)
    with pytest.raises(SchemaError, match="start"):
        R.sequential(subs.drop(columns="start"), min_support=0.1)


@pytest.fixture(scope="module")
def province():
    return dm.synth.generate("yunnan", month="2009-06", n_users=30_000, seed=3)


def test_recovers_planted_sequences(province):
    truth = province.truth.sequences
    r = R.sequential(province.subscriptions, window="365D", min_support=0.001,
                     n_users=len(province.users))
    for row in truth.itertuples():
        found = r.pair(row.first, row.then)
        assert found is not None, f"planted {row.first} -> {row.then} not found"
        # B follows A more often than B's base rate (crbt is held by most users, so its
        # lift stays modest), and the reverse order is much weaker
        assert found["lift"] > 1.05
        assert found["reverse_confidence"] < 0.2 * found["confidence"]
        assert found["median_gap_days"] == pytest.approx(row.median_gap_days, rel=0.15)
        assert found["confidence"] == pytest.approx(row.p_follow, abs=0.03)


def test_planted_sequences_rank_high_at_90_days(province):
    r = R.sequential(province.subscriptions, window="90D", min_support=0.002, min_confidence=0.05,
                     n_users=len(province.users))
    planted = set(zip(province.truth.sequences["first"], province.truth.sequences["then"], strict=True))
    found = set(zip(r.rules["first"], r.rules["then"], strict=True))
    assert planted <= found
    assert not ({(b, a) for a, b in planted} & set(zip(r.filter(min_lift=1.5).rules["first"],
                                                        r.filter(min_lift=1.5).rules["then"], strict=True)))
    assert set(r.rules["first"]) <= set(catalog.SERVICES)


def test_support_and_confidence_thresholds_are_exact_counts():
    # 100 users; 7 take crbt then music (7 / 100 = min_support 0.07, whose product with 100
    # is 7.000000000000001 in floating point); crbt is held by 49: confidence 7 / 49 = 1 / 7
    rows = [(u, "crbt", "2009-01-01") for u in range(49)] + [(u, "music", "2009-02-01") for u in range(7)]
    rows += [(u, "wap", "2009-01-01") for u in range(49, 100)]
    subs = _subs(rows)
    assert 0.07 * 100 > 7
    r = R.sequential(subs, window="90D", min_support=0.07, min_confidence=1 / 7)
    assert r.pair("crbt", "music")["count"] == 7
    assert R.sequential(subs, window="90D", min_support=0.0701).pair("crbt", "music") is None
    assert R.sequential(subs, window="90D", min_support=0.07, min_confidence=1 / 7 + 1e-6).rules.empty


# ---------------------------------------------------------------------------- any log, SPADE's count
# Zaki (2001), "SPADE: an efficient algorithm for mining frequent sequences", Machine Learning
# 42, Figure 1: customers (sid), event times (eid) and the items bought together
SPADE_DB = [(1, 10, "CD"), (1, 15, "ABC"), (1, 20, "ABF"), (1, 25, "ACDF"), (2, 15, "ABF"), (2, 20, "E"),
            (3, 10, "ABF"), (4, 10, "DGH"), (4, 20, "BF"), (4, 25, "AGH")]


def _spade_log() -> pd.DataFrame:
    return pd.DataFrame([(sid, eid, it) for sid, eid, items in SPADE_DB for it in items],
                        columns=["sid", "eid", "item"])


def test_spade_paper_example_every_occurrence():
    log = _spade_log()
    r = R.sequential(log, user="sid", item="item", time="eid", window=None, min_support=0.5,
                     occurrences="all")
    # the paper's frequent 2-sequences with min_sup 2 of 4 customers: B->A, D->A, F->A, D->B, D->F
    got = {(x.first, x.then): x.count for x in r.rules.itertuples()}
    assert got == {("B", "A"): 2, ("D", "A"): 2, ("F", "A"): 2, ("D", "B"): 2, ("D", "F"): 2}
    assert r.pair("B", "A")["support"] == pytest.approx(0.5)
    assert r.pair("B", "A")["n_first"] == 4                      # every customer bought B
    assert r.gap_column == "median_gap" and "median_gap" in r.rules and r.time_unit == "time units"
    # customer 1: B at 15 -> A at 20 (gap 5); customer 4: B at 20 -> A at 25 (gap 5)
    assert r.pair("B", "A")["median_gap"] == pytest.approx(5)
    # first occurrences only (the default): customer 1's first A and first B are both at 15
    first = R.sequential(log, user="sid", item="item", time="eid", window=None, min_support=0.25)
    assert first.pair("B", "A")["count"] == 1
    # a window of 4 time units leaves no B -> A; of 5 keeps both customers
    assert R.sequential(log, user="sid", item="item", time="eid", window=4, min_support=0.25,
                        occurrences="all").pair("B", "A") is None
    assert R.sequential(log, user="sid", item="item", time="eid", window=5, min_support=0.25,
                        occurrences="all").pair("B", "A")["count"] == 2
    assert "occurrences counted" in str(r.summary()) and r.plot() is not None


def _brute_force_all(log, window, n_users):
    out = {}
    for _, g in log.groupby("user"):
        best = {}
        for a in g.itertuples():
            for b in g.itertuples():
                gap = (b.time - a.time) / pd.Timedelta(days=1)
                if a.item != b.item and 0 < gap <= window:
                    best[(a.item, b.item)] = min(best.get((a.item, b.item), np.inf), gap)
        for k, gap in best.items():
            out.setdefault(k, []).append(gap)
    n_item = log.groupby("item")["user"].nunique()
    return {k: (len(v), len(v) / n_item[k[0]], float(np.median(v)), len(v) / n_users) for k, v in out.items()}


def test_every_occurrence_matches_brute_force_on_an_operator_log():
    # an operator's own product codes (not in the simulator catalog), string user ids,
    # its own column names and repeated purchases
    rng = np.random.default_rng(8)
    codes = ["PRD-0001", "PRD-0417", "VAS_MUSIC_PLUS", "套餐A", "9001"]
    rows = []
    for u in range(150):
        for _ in range(rng.integers(1, 7)):
            rows.append((f"u{u:04d}", rng.choice(codes),
                         pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))))
    log = pd.DataFrame(rows, columns=["user", "item", "time"]).drop_duplicates()
    assert not set(codes) & set(catalog.SERVICES)
    r = R.sequential(log, user="user", item="item", time="time", window="30D", min_support=1e-9,
                     occurrences="all")
    ref = _brute_force_all(log, 30, 150)
    got = {(x.first, x.then): (x.count, x.confidence, x.median_gap_days, x.support) for x in r.rules.itertuples()}
    assert got.keys() == ref.keys() and len(got) == 20
    for k, v in ref.items():
        assert got[k][0] == v[0]
        np.testing.assert_allclose(got[k][1:], v[1:], rtol=1e-12)
    # every occurrence counts at least the users the first occurrences count
    first = R.sequential(log, user="user", item="item", time="time", window="30D", min_support=1e-9)
    for x in first.rules.itertuples():
        assert got[(x.first, x.then)][0] >= x.count


def test_first_occurrence_default_unchanged_on_an_operator_log():
    # the default count on an outside-catalog log is the brute force of first starts
    rng = np.random.default_rng(4)
    rows = [(f"c{u}", f"SKU{rng.integers(0, 4)}", pd.Timestamp("2020-03-01") + pd.Timedelta(days=int(d)))
            for u in range(200) for d in rng.integers(0, 90, size=rng.integers(1, 5))]
    log = pd.DataFrame(rows, columns=["user_id", "service", "start"])
    r = R.sequential(log, window="45D", min_support=1e-9)
    ref = _brute_force(log, 45, 200)
    _assert_same_rules(r, ref)


def test_any_log_bad_inputs():
    log = _spade_log()
    with pytest.raises(SchemaError, match=r"table 'events'.*column 'when'"):
        R.sequential(log, user="sid", item="item", time="when", min_support=0.5)
    with pytest.raises(ParameterError, match=r"parameter 'window'.*number"):
        R.sequential(log, user="sid", item="item", time="eid", window="90D", min_support=0.5)
    with pytest.raises(ParameterError, match=r"parameter 'occurrences'"):
        R.sequential(log, user="sid", item="item", time="eid", window=None, min_support=0.5, occurrences="each")
    with pytest.raises(SchemaError, match=r"column 'eid'.*timestamps"):
        R.sequential(log.assign(eid=log["eid"].astype(str)), user="sid", item="item", time="eid", min_support=0.5)
    with pytest.raises(SchemaError, match=r"column 'item'.*missing"):
        R.sequential(log.assign(item=log["item"].where(log.index != 3)), user="sid", item="item", time="eid",
                     window=None, min_support=0.5)


def test_an_operator_extract_with_its_own_codes_goes_through_sequential():
    # the GBK extract of tests/fixtures/operator_extract (codes XW001, CL100, ... outside the
    # simulator catalog) read through its mapping, against the brute force on a plain pandas read
    from pathlib import Path

    from dmkit import io

    fixture = Path(__file__).parent / "fixtures" / "operator_extract"
    subs = io.read_table(fixture / "subscriptions.csv", "subscriptions", mapping=fixture / "mapping.yaml")
    raw = pd.read_csv(fixture / "subscriptions.csv", encoding="gbk", dtype=str)
    raw = pd.DataFrame({"user_id": raw["用户号码"], "service": raw["业务代码"],
                        "start": pd.to_datetime(raw["订购时间"], format="%Y%m%d%H%M%S")})
    assert not set(raw["service"]) & set(catalog.SERVICES)
    r = R.sequential(subs, window="365D", min_support=1e-9)
    ref = _brute_force(raw, 365, raw["user_id"].nunique())
    got = {(x.first, x.then): (x.count, x.confidence, x.median_gap_days, x.support) for x in r.rules.itertuples()}
    assert got.keys() == ref.keys() and len(got) > 0
    for k, v in ref.items():
        assert got[k][0] == v[0]
        np.testing.assert_allclose(got[k][1:], v[1:], rtol=1e-12)


def test_off_grid_times_and_sparse_user_ids_match_brute_force():
    # times to the nanosecond over years (no common grid: the dense-rank path) and user ids far
    # apart (factorized rather than shifted), against the brute force
    rng = np.random.default_rng(5)
    svc = ["crbt", "music", "wap", "newspaper"]
    base = pd.Timestamp("2005-01-01").value
    rows = [(13_800_000_000 + 7_919 * u, s, pd.Timestamp(base + int(rng.integers(0, 4 * 365 * 86400 * 10**9))))
            for u in range(250) for s in rng.choice(svc, size=rng.integers(1, 5))]
    subs = _subs(rows)
    r = R.sequential(subs, window="400D", min_support=1e-9)
    ref = _brute_force(subs, 400, 250)
    assert len(_assert_same_rules(r, ref)) == 12


@pytest.mark.parametrize("occurrences", ["first", "all"])
def test_users_paired_in_chunks_give_the_same_rules(monkeypatch, occurrences):
    # a province's rows are paired a chunk of whole users at a time: chunks of ~40 rows
    # (dozens of chunks) give the rules of one pass
    rng = np.random.default_rng(11)
    svc = ["crbt", "music", "wap", "newspaper", "fetion"]
    rows = [(u, s, pd.Timestamp("2009-01-01") + pd.Timedelta(days=int(d)))
            for u in range(400) for s, d in zip(rng.choice(svc, size=rng.integers(1, 6)), rng.integers(0, 150, size=6), strict=False)]
    subs = _subs(rows)
    one = R.sequential(subs, window="45D", min_support=1e-9, occurrences=occurrences, n_users=400)
    monkeypatch.setattr(sys.modules["dmkit.rules.sequential"], "_CHUNK_ROWS", 40)
    chunked = R.sequential(subs, window="45D", min_support=1e-9, occurrences=occurrences, n_users=400)
    assert len(one.rules) > 10
    pd.testing.assert_frame_equal(one.rules, chunked.rules)
    if occurrences == "first":
        _assert_same_rules(chunked, _brute_force(subs, 45, 400))


def test_first_times_in_user_time_order_when_the_key_is_coarsened():
    # users over 2**21 codes and times over 2**58 ns do not fit one 62-bit key: the time is
    # coarsened; rows of one user a few ns apart in the same coarse step, put the wrong way
    # round, take the exact fallback. Same rows and order as a pandas group-by and sort.
    seq = sys.modules["dmkit.rules.sequential"]
    rng = np.random.default_rng(3)
    n = 5_000
    u = rng.integers(0, 2 ** 21, size=n)
    code = rng.integers(0, 7, size=n)
    t = rng.integers(0, 2 ** 58, size=n)
    u[:2], code[:2], t[:2] = 5, [4, 1], [10 ** 15 + 1, 10 ** 15 + 2]  # item 1 after item 4 by 1 ns
    got = seq._first_by_user_time(u.astype(np.int64), code.astype(np.int64), t.astype(np.int64), 7)
    first = pd.DataFrame({"u": u, "code": code, "t": t}).groupby(["u", "code"], as_index=False)["t"].min()
    want = first.sort_values(["u", "t"], kind="stable")
    for g, w in zip(got, (want["u"], want["code"], want["t"]), strict=True):
        np.testing.assert_array_equal(g, w.to_numpy())
    # without a tie the coarse key already gives that order
    ok = seq._first_by_user_time(u[2:].astype(np.int64), code[2:].astype(np.int64), t[2:].astype(np.int64), 7)
    assert np.all(np.diff(ok[0]) >= 0)
